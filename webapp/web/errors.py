"""App-wide error pages: branded, translated, no stack traces (security.md D9).

Re-authentication needs become a trip through sign-in that returns to the same page;
a dead Redis becomes a 503 with Retry-After in well under a second (security.md C7).
"""

from __future__ import annotations

import logging
import math
import re
import uuid

import redis
from flask import Flask, current_app, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, TooManyRequests
from werkzeug.wrappers import Response

from webapp import audit
from webapp.auth.flow import InteractionRequiredError
from webapp.microsoft.errors import (
    AuthRequiredError,
    ServiceUnavailableError,
    ThrottledError,
    UpstreamError,
)
from webapp.wording import upstream_failure

logger = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
STORE_RETRY_AFTER = 5
# Statuses that mean "we refused this request" (security events; 404s and 429s are not here:
# the first is noise, the second has its own event).
REFUSALS = frozenset({400, 401, 403, 405, 413})
# Longest wait a page retries by itself; Microsoft has asked for 300 s (security.md §1.4).
MAX_AUTO_RETRY = 120


def request_id() -> str:
    """The correlation id shown on error pages and written to the logs.

    An incoming X-Request-ID is reused only when the app sits behind trusted proxies (one of
    them set it, so proxy and app logs join up); from a client directly it would let anyone
    choose the id their requests are logged under.
    """
    if "request_id" not in g:
        incoming = request.headers.get("X-Request-ID", "")
        trusted = current_app.extensions["settings"].trusted_proxies > 0
        believed = trusted and _REQUEST_ID.match(incoming)
        g.request_id = incoming if believed else uuid.uuid4().hex[:16]
    known: str = g.request_id
    return known


def _page(template: str, status: int, **context: object) -> tuple[str, int]:
    return render_template(template, status=status, request_id=request_id(), **context), status


def _reauthenticate(consent: bool = False) -> Response:
    """Back through sign-in to the page the user was on (a GET page; forms go to it)."""
    target = request.full_path.rstrip("?") if request.method == "GET" else request.path
    if consent:
        return redirect(url_for("auth.login", next=target, prompt="consent"))
    return redirect(url_for("auth.login", next=target))


def _retry_wait(exc: UpstreamError) -> int | None:
    """Whole seconds to wait before asking again (1–120), when Microsoft said how long."""
    if not isinstance(exc, ThrottledError | ServiceUnavailableError) or exc.retry_after is None:
        return None
    return max(1, min(MAX_AUTO_RETRY, math.ceil(exc.retry_after)))


def init_app(app: Flask) -> None:
    @app.errorhandler(InteractionRequiredError)
    def _interaction_required(exc: InteractionRequiredError) -> Response:
        return _reauthenticate(consent=exc.consent)

    @app.errorhandler(AuthRequiredError)
    def _upstream_auth(exc: AuthRequiredError) -> Response:
        return _reauthenticate()

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[str, int]:
        logger.warning("CSRF check failed: %s", exc.description)
        audit.event("csrf.failed", reason=exc.description)
        return _page("errors/csrf.html", 400)

    @app.errorhandler(UpstreamError)
    def _upstream(exc: UpstreamError) -> Response:
        logger.warning("upstream %s failed: %s %s", exc.service, exc.status, exc.code)
        wait = _retry_wait(exc)
        # A busy Microsoft (429/503 with Retry-After, or the shared hold of issue 8) is a 503
        # with Retry-After; a page the browser can simply ask again for retries by itself.
        auto_retry = wait if wait is not None and request.method == "GET" else None
        response = app.make_response(
            _page(
                "errors/upstream.html",
                503 if wait is not None else 502,
                message=upstream_failure(exc),
                auto_retry=auto_retry,
            )
        )
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response | tuple[str, int]:
        if exc.code is None or exc.code < 400:
            return exc.get_response()
        if exc.code in REFUSALS:
            audit.event("request.refused", status=exc.code)
        response_body, status = _page("errors/http.html", exc.code, error=exc)
        response = app.make_response((response_body, status))
        if isinstance(exc, TooManyRequests) and exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(InternalServerError)
    def _internal(exc: InternalServerError) -> Response:
        original = getattr(exc, "original_exception", None)
        if isinstance(original, redis.RedisError):
            # flask-session opens the session before any view; its failure reaches only the
            # 500 handler (security.md §3.7), so the 503 page is made here.
            logger.error("record store unavailable: %s", type(original).__name__)
            g.store_down = True
            response = app.make_response(_page("errors/unavailable.html", 503))
            response.headers["Retry-After"] = str(STORE_RETRY_AFTER)
            return response
        logger.exception("unhandled error", exc_info=original)
        return app.make_response(_page("errors/http.html", 500, error=exc))
