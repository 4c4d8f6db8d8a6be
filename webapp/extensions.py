"""Flask extensions, created unbound and bound to the app by `create_app()`."""

from __future__ import annotations

from flask import g, request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_session import Session
from flask_wtf import CSRFProtect

from webapp.web import context

LANGUAGES = ("en", "da")
LANGUAGE_KEY = "ui.language"


def _rate_limit_key() -> str:
    """Signed-in users are limited per account (oid.tid), others per client address."""
    if g.get("user") is not None:
        return f"user:{context.user_key()}"
    return f"ip:{request.remote_addr or 'unknown'}"


def select_locale() -> str:
    """The language the user picked, else the browser's preference, else English."""
    try:
        chosen = session.get(LANGUAGE_KEY)
    except Exception:  # the session store is down: the 503 page still needs a language
        chosen = None
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


server_session = Session()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=_rate_limit_key, default_limits=["300 per minute"])
