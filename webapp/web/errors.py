"""App-wide error pages: branded, translated, no stack traces (security.md D9).

Re-authentication needs become a trip through sign-in that returns to the same page, at
most once per service within a few minutes (auth/guard.py), then a page that explains;
Entra not answering and a dead Redis become a 503 with Retry-After (security.md C7).
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from datetime import UTC, datetime

import redis
from flask import Flask, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, TooManyRequests
from werkzeug.wrappers import Response

from webapp import about, audit
from webapp.auth import guard
from webapp.auth.flow import EntraUnavailableError
from webapp.microsoft.errors import (
    AccessRefusedError,
    AuthRequiredError,
    ServiceUnavailableError,
    ThrottledError,
    UpstreamError,
)
from webapp.web.ticket import current_ticket
from webapp.wording import (
    access_refused,
    entra_unavailable,
    helpdesk_summary,
    refusal_findings,
    upstream_failure,
)

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


def named_wait(response: Response, seconds: int) -> None:
    """Tell the client how long to wait (`Retry-After`), and keep it that way to the end."""
    response.headers["Retry-After"] = str(seconds)
    g.retry_after = seconds


def keep_named_waits(app: Flask) -> None:
    """Register before the rate limiter: Flask runs after-request hooks last-registered first,
    so this runs after flask-limiter's, which sets `Retry-After` on every response to the
    later of its own window's reset and any value already there. A page that names a wait
    (Microsoft's Retry-After, the store's) keeps it."""

    @app.after_request
    def _named_wait(response: Response) -> Response:
        seconds = g.get("retry_after")
        if seconds is not None:
            response.headers["Retry-After"] = str(seconds)
        return response


def _page(template: str, status: int, **context: object) -> tuple[str, int]:
    return render_template(template, status=status, request_id=request_id(), **context), status


def _refused_page(exc: AccessRefusedError) -> Response:
    """What failed, Microsoft's references and what the helpdesk needs: instead of yet another
    round through sign-in (reference §9.2)."""
    logger.warning(
        "%s refused the token after a sign-in round: %s %s [%s] %s",
        exc.service,
        exc.status,
        exc.code,
        exc.request_id,
        exc.diagnostics or "",
    )
    audit.event("sign_in.refused_by_service", service=exc.service, status=exc.status, code=exc.code)
    user = g.get("user")
    summary = helpdesk_summary(
        refusal_findings(exc, request_id()),
        name=user.name if user else "",
        username=user.username if user else "",
        ticket=current_ticket(),
        taken_at=datetime.now(UTC),
        failures=[exc],
        version=about.VERSION,
    )
    body, status = _page(
        "auth/refused.html", 403, error=exc, message=access_refused(exc), summary=summary
    )
    return current_app.make_response((body, status))


def _retry_wait(exc: UpstreamError) -> int | None:
    """Whole seconds to wait before asking again (1–120), when Microsoft said how long."""
    if not isinstance(exc, ThrottledError | ServiceUnavailableError) or exc.retry_after is None:
        return None
    return max(1, min(MAX_AUTO_RETRY, math.ceil(exc.retry_after)))


def init_app(app: Flask) -> None:
    @app.errorhandler(AuthRequiredError)
    def _upstream_auth(exc: AuthRequiredError) -> Response:
        return guard.sign_in_again(exc) or _refused_page(AccessRefusedError.after(exc))

    @app.errorhandler(AccessRefusedError)
    def _access_refused(exc: AccessRefusedError) -> Response:
        return _refused_page(exc)

    @app.errorhandler(EntraUnavailableError)
    def _entra_unavailable(exc: EntraUnavailableError) -> Response:
        # Sign-in or a silent refresh met a network error or a 5xx at Entra (reference §1.8):
        # "Microsoft is unavailable", with the wait Entra named, never the generic 500.
        logger.warning("Entra unavailable: %s", exc)
        wait = max(1, min(MAX_AUTO_RETRY, exc.retry_after))
        response = app.make_response(
            _page(
                "errors/upstream.html",
                503,
                message=entra_unavailable(wait),
                unavailable=True,
                auto_retry=wait if request.method == "GET" else None,
            )
        )
        named_wait(response, wait)
        return response

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
            named_wait(response, wait)
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
            named_wait(response, STORE_RETRY_AFTER)
            return response
        logger.exception("unhandled error", exc_info=original)
        return app.make_response(_page("errors/http.html", 500, error=exc))
