"""The helpdesk ticket reference a deep link carries (`?ticket=INC0012345`), kept for the visit."""

from __future__ import annotations

import re

from flask import Flask, g, request, session

PARAMETER = "ticket"
SESSION_KEY = "helpdesk.ticket"
EXAMPLE = "INC0012345"
# Short and plain (security.md §3.9): nothing that needs escaping, fits on one line of a page.
PATTERN = re.compile(r"[A-Za-z0-9-]{3,32}")


def is_valid(value: str) -> bool:
    """Whether `value` is a ticket reference we accept."""
    return PATTERN.fullmatch(value) is not None


def _read() -> tuple[str | None, bool]:
    """(the visit's ticket, whether this request's `?ticket=` was malformed and ignored)."""
    if g.get("store_down"):  # the session store is unreachable: no ticket on the 503 page
        return None, False
    raw = request.args.get(PARAMETER, "")
    if raw and is_valid(raw):
        if session.get(SESSION_KEY) != raw:
            session[SESSION_KEY] = raw
        return raw, False
    remembered = session.get(SESSION_KEY)
    kept = remembered if isinstance(remembered, str) and is_valid(remembered) else None
    return kept, bool(raw)


def current_ticket() -> str | None:
    """This visit's ticket reference: a valid `?ticket=` on this request (then remembered in
    the session for the following pages), else the one remembered earlier, else None.

    A malformed value is ignored, never echoed; `ticket_rejected()` says it happened.
    """
    if "helpdesk_ticket" not in g:
        g.helpdesk_ticket = _read()
    return g.helpdesk_ticket[0]


def keep() -> dict[str, str]:
    """Link arguments that carry the visit's ticket on: `url_for(endpoint, **keep())`."""
    reference = current_ticket()
    return {PARAMETER: reference} if reference else {}


def ticket_rejected() -> bool:
    """Whether this request carried a `?ticket=` that is not a valid reference."""
    current_ticket()
    return g.helpdesk_ticket[1]


def init_app(app: Flask) -> None:
    @app.context_processor
    def _ticket_context() -> dict[str, object]:
        return {"helpdesk_ticket": current_ticket(), "ticket_rejected": ticket_rejected()}
