"""Who is signed in (`g.user`), the `login_required` decorator that keeps deep links, and the
round through sign-in an upstream refusal asks for, at most once (auth/rounds.py)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Flask, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from webapp.auth.flow import USER_KEY, SignedInUser
from webapp.microsoft.errors import AuthRequiredError
from webapp.web import context

P = ParamSpec("P")
R = TypeVar("R")


def current_user() -> SignedInUser | None:
    """Who is signed in, loaded once per request into `g.user`.

    Callable before the views' own before-request hooks: the rate limiter keys its check by
    the account, and runs first.
    """
    if "user" not in g:
        g.user = _load_user()
    user: SignedInUser | None = g.user
    return user


def _load_user() -> SignedInUser | None:
    data = session.get(USER_KEY)
    if not data:
        return None
    user = SignedInUser.from_dict(data)
    max_age = context.settings().session_max_hours * 3600
    if time.time() - user.signed_in_at > max_age:
        # Absolute session lifetime (security.md A9); the idle limit is the cookie's.
        session.clear()
        return None
    return user


def init_app(app: Flask) -> None:
    @app.before_request
    def _load() -> None:
        current_user()


def sign_in_url() -> str:
    """The sign-in URL that brings the user back to the page they asked for."""
    return url_for("auth.login", next=request.full_path.rstrip("?"))


def sign_in_again(error: AuthRequiredError) -> Response | None:
    """A redirect through sign-in that brings the user back to this page (a GET page; forms go
    to it) with what `error` asks for: its claims, or consent (`prompt=consent`, once).

    None when this session already had its round for the service: the caller explains.
    """
    rounds = context.sign_in_rounds()
    if not rounds.available(error.service):
        return None
    rounds.start(error.service, claims=error.claims_challenge, consent=error.consent)
    target = request.full_path.rstrip("?") if request.method == "GET" else request.path
    return redirect(url_for("auth.login", next=target))


def login_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Send signed-out visitors through sign-in and back to this exact page."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if g.get("user") is None:
            return redirect(sign_in_url())
        return view(*args, **kwargs)

    return wrapped
