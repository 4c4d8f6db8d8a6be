"""The loop guard: at most one sign-in round per service within a few minutes (issue 14).

A service that keeps refusing the user's tokens (a SharePoint without a licence for them, a
claims challenge no sign-in satisfies) must not send the browser through sign-in for ever:
reference §9.2 asks for at most one interactive round per resource and per few minutes, then
an explanation with the request id. The rounds started are kept in the session and carried
through the sign-in's flow record, because the callback (a cross-site POST) starts a fresh
session. No Flask here: the session mapping is passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from webapp.microsoft.errors import AccessRefusedError, AuthRequiredError, UpstreamError

# Where the session keeps the sign-in rounds started per service, and the next one's details.
ROUNDS_KEY = "auth.rounds"
PENDING_KEY = "auth.pending"
# "A few minutes" (reference §9.2): long enough that a refusal no sign-in can cure is explained
# on the next page instead of sending the user round again, short enough that a later visit
# (after the helpdesk fixed something) may try once more.
ROUND_WINDOW = 300.0


class SignInRounds:
    """The sign-in rounds this session started, per service ("graph", "sharepoint")."""

    def __init__(
        self, memory: MutableMapping[str, Any], clock: Callable[[], float] = time.time
    ) -> None:
        self._memory = memory
        self._clock = clock

    def started(self) -> dict[str, float]:
        """Service → when its latest round started (junk in the session is ignored)."""
        stored = self._memory.get(ROUNDS_KEY)
        if not isinstance(stored, Mapping):
            return {}
        return {
            str(service): float(at)
            for service, at in stored.items()
            if isinstance(at, int | float) and not isinstance(at, bool)
        }

    def available(self, service: str) -> bool:
        """Whether a sign-in round for `service` may still be started now."""
        last = self.started().get(service)
        return last is None or self._clock() - last >= ROUND_WINDOW

    def start(self, service: str, *, claims: str | None, consent: bool) -> None:
        """Record a round for `service` and what the sign-in must ask for."""
        now = self._clock()
        recent = {s: at for s, at in self.started().items() if now - at < ROUND_WINDOW}
        self._memory[ROUNDS_KEY] = {**recent, service: now}
        self._memory[PENDING_KEY] = {"service": service, "claims": claims, "consent": consent}

    def take_pending(self) -> dict[str, Any] | None:
        """What the round about to start asks for (claims, consent), once; None if none."""
        pending = self._memory.pop(PENDING_KEY, None)
        return pending if isinstance(pending, dict) else None

    def restore(self, started: object) -> None:
        """Carry the rounds of the session a sign-in started from into the new one."""
        self._memory[ROUNDS_KEY] = started if isinstance(started, Mapping) else {}

    def checked(self, error: AuthRequiredError) -> UpstreamError:
        """`error` while a sign-in round may still cure it; once the round was used, the
        lasting AccessRefusedError a page explains instead of sending the user round again."""
        if self.available(error.service):
            return error
        return AccessRefusedError.after(error)
