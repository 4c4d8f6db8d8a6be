"""Security events: sign-ins, photo and profile changes, refusals, CSRF failures, limits hit.

One JSON line each, at INFO, on the `profilefix.security` logger, so that a deployment can
route them apart from the request log (ASVS 16.2, 16.3). Use cases call `event()` without
Flask; the web layer (`webapp.web.observability`) completes each line with the time, the
request id, the route, the client's address and, unless given, the signed-in user. The user
is named only by `pseudonym()`; never a token, a photo, a name, an address or a field's value.
"""

from __future__ import annotations

import hashlib
import logging

security_logger = logging.getLogger("profilefix.security")

# The fields a web layer adds to every event (see webapp.web.observability).
EVENT_ATTRIBUTE = "security_event"


def pseudonym(account: str) -> str:
    """A short stable pseudonym for one account ("oid.tid"): joins log lines, names nobody."""
    return hashlib.sha256(account.encode()).hexdigest()[:16]


def event(name: str, *, account: str | None = None, **fields: str | int | None) -> None:
    """Log security event `name` (e.g. "photo.written") for `account` ("oid.tid"; None: the
    signed-in user of the request, if any) with plain `fields` (ids, codes, counts)."""
    data: dict[str, str | int | None] = {"event": name}
    if account is not None:
        data["user"] = pseudonym(account)
    data.update(fields)
    security_logger.info(name, extra={EVENT_ATTRIBUTE: data})
