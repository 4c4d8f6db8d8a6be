"""Flask extensions, created unbound and bound to the app by `create_app()`."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import Babel
from flask_limiter import Limiter, RequestLimit
from flask_session import Session
from flask_wtf import CSRFProtect

from webapp import audit
from webapp.auth.guard import current_user
from webapp.web import context

LANGUAGES = ("en", "da")


def _rate_limit_key() -> str:
    """Signed-in users are limited per account (oid.tid), others per client address.

    The limiter checks before any view's hook runs, so the user is loaded here: keyed by
    address, everyone behind one company egress address would share one budget, and 300
    anonymous requests would lock out a signed-in colleague (issue 16 item 4).
    """
    if current_user() is not None:
        return f"user:{context.user_key()}"
    return f"ip:{request.remote_addr or 'unknown'}"


def select_locale() -> str:
    """The language the user picked (a cookie of its own, so that choosing it needs no
    session), else the browser's preference, else English."""
    chosen = request.cookies.get(current_app.config["LANGUAGE_COOKIE"])
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


server_session = Session()
csrf = CSRFProtect()
babel = Babel()


def _limit_hit(hit: RequestLimit) -> None:
    """A security event per refused request (the limit, never the key: it names the account)."""
    audit.event("rate_limit.hit", limit=str(hit.limit))


limiter = Limiter(key_func=_rate_limit_key, default_limits=["300 per minute"], on_breach=_limit_hit)
