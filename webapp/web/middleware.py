"""Security headers on every response (security.md §3.8, checklist D1–D4)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, render_template, request

from webapp.web.errors import request_id
from webapp.web.health import PROBE_PATHS

logger = logging.getLogger(__name__)

# Headers a reverse proxy adds to say whom it forwards for (ProxyFix reads only the first).
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def is_forwarded(environ: dict[str, Any]) -> bool:
    """Whether the request says it came through a proxy (or a client pretends it did)."""
    return any(environ.get(name) for name in FORWARDING_HEADERS)


def trusted_client(environ: dict[str, Any], trusted_proxies: int) -> str | None:
    """The client's address as far as it can be known, else None.

    Without forwarding headers the peer is the client. With them, the peer is a proxy: the
    client is the address the trusted proxies report (ProxyFix put it in REMOTE_ADDR), which
    needs TRUSTED_PROXIES > 0 and at least that many X-Forwarded-For entries. Otherwise the
    only address left is a proxy's own, which says nothing about who is asking (a proxy on
    the same host would make every client look like 127.0.0.1).
    """
    remote = environ.get("REMOTE_ADDR")
    if not is_forwarded(environ):
        return remote
    hops = [h for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if trusted_proxies == 0 or len(hops) < trusted_proxies:
        return None
    return remote


def content_security_policy(authority: str) -> str:
    """Strict CSP: our own scripts and styles only; forms may post to us and, because
    Chromium applies form-action to the redirect after sign-out, to the authority
    (security.md §0 item 10)."""
    parts = urlsplit(authority)
    authority_origin = f"{parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; "
        f"form-action 'self' {authority_origin}"
    )


def init_app(app: Flask) -> None:
    settings = app.extensions["settings"]
    csp = content_security_policy(settings.authority)
    if settings.public_url is None and settings.trusted_proxies == 0 and not settings.demo:
        _refuse_unannounced_proxies(app)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", csp)
        h["X-Content-Type-Options"] = "nosniff"
        # Not no-referrer: Flask-WTF's SSL-strict CSRF check needs a same-origin Referer
        # (security.md §0 item 9).
        h["Referrer-Policy"] = "strict-origin-when-cross-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        h["X-Frame-Options"] = "DENY"
        if settings.secure_cookies:
            h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint != "static":
            # Personal data: never cached by browsers or proxies (security.md D3).
            h.setdefault("Cache-Control", "no-store")
            h.add("Vary", "Cookie")
        return response


def _refuse_unannounced_proxies(app: Flask) -> None:
    """With neither PUBLIC_URL nor TRUSTED_PROXIES, links and the redirect URI come from the
    request itself. Behind a proxy (which TLS-terminates and may rename the host) they would
    be wrong, and sign-in would fail at Microsoft with a redirect URI mismatch. The start-up
    check cannot see a proxy (except App Service's, settings.py); the first request that
    carries forwarding headers can: it gets a page naming the settings, and the log an error,
    once per process. Probes still answer: a replaced instance would be set up the same."""
    reported: list[bool] = []

    @app.before_request
    def _unannounced_proxy() -> tuple[str, int] | None:
        if request.path in PROBE_PATHS or not is_forwarded(request.environ):
            return None
        if not reported:
            reported.append(True)
            logger.error(
                "a request came through a reverse proxy (it carries X-Forwarded-For or "
                "Forwarded), but PUBLIC_URL is not set and TRUSTED_PROXIES is 0: set "
                "PUBLIC_URL to the address users open, or TRUSTED_PROXIES to the number of "
                "proxies in front of the app; until then every page answers 500"
            )
        return render_template("errors/proxy.html", request_id=request_id()), 500
