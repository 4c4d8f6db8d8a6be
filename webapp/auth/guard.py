"""Who is signed in (`g.user`), the `login_required` decorator that keeps deep links, and the
loop guard: at most one sign-in round per service within a few minutes (issue 14).

A service that keeps refusing the user's tokens (a SharePoint without a licence for them, a
claims challenge no sign-in satisfies) must not send the browser through sign-in for ever:
reference §9.2 asks for at most one interactive round per resource and per few minutes, then
an explanation with the request id. The rounds started are kept in the session and carried
through the sign-in's flow record, because the callback (a cross-site POST) starts a fresh
session.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TypeVar

from flask import Flask, current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from webapp.auth.flow import USER_KEY, SignedInUser
from webapp.microsoft.errors import AccessRefusedError, AuthRequiredError, UpstreamError

F = TypeVar("F", bound=Callable[..., Any])

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

    def start(self, service: str) -> None:
        now = self._clock()
        recent = {s: at for s, at in self.started().items() if now - at < ROUND_WINDOW}
        self._memory[ROUNDS_KEY] = {**recent, service: now}

    def restore(self, started: object) -> None:
        """Carry the rounds of the session a sign-in started from into the new one."""
        self._memory[ROUNDS_KEY] = started if isinstance(started, Mapping) else {}

    def checked(self, error: AuthRequiredError) -> UpstreamError:
        """`error` while a sign-in round may still cure it; once the round was used, the
        lasting AccessRefusedError a page explains instead of sending the user round again."""
        if self.available(error.service):
            return error
        return AccessRefusedError.after(error)


def rounds() -> SignInRounds:
    """This session's sign-in rounds (bound to the session object itself, so that calls on
    worker threads can consult it)."""
    return SignInRounds(session._get_current_object())  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    @app.before_request
    def _load_user() -> None:
        g.user = None
        data = session.get(USER_KEY)
        if not data:
            return
        user = SignedInUser.from_dict(data)
        max_age = current_app.extensions["settings"].session_max_hours * 3600
        if time.time() - user.signed_in_at > max_age:
            # Absolute session lifetime (security.md A9); the idle limit is the cookie's.
            session.clear()
            return
        g.user = user


def sign_in_url() -> str:
    """The sign-in URL that brings the user back to the page they asked for."""
    return url_for("auth.login", next=request.full_path.rstrip("?"))


def sign_in_again(error: AuthRequiredError) -> Response | None:
    """A redirect through sign-in that brings the user back to this page (a GET page; forms go
    to it) with what `error` asks for: its claims, or consent (`prompt=consent`, once).

    None when this session already had its round for the service: the caller explains.
    """
    guard = rounds()
    if not guard.available(error.service):
        return None
    guard.start(error.service)
    session[PENDING_KEY] = {
        "service": error.service,
        "claims": error.claims_challenge,
        "consent": error.consent,
    }
    target = request.full_path.rstrip("?") if request.method == "GET" else request.path
    return redirect(url_for("auth.login", next=target))


def login_required(view: F) -> F:
    """Send signed-out visitors through sign-in and back to this exact page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(sign_in_url())
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
