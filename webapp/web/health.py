"""Probes for load balancers: `/healthz` (the process lives) and `/readyz` (it can serve users).

Also the plain answer to a Host header outside `TRUSTED_HOSTS` (security.md A12).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, cast

from flask import Blueprint, Flask, jsonify
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import SecurityError
from werkzeug.wrappers import Response

from webapp import audit
from webapp.extensions import limiter
from webapp.settings import SettingsError
from webapp.web import context

bp = Blueprint("health", __name__)
limiter.exempt(bp)  # probes every few seconds must never be refused or count against users
logger = logging.getLogger(__name__)

# Paths that machines call: no session is opened for them and any Host is accepted.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
READY_RETRY_AFTER = 5


class _ProbeShim:
    """Strips cookies from probe requests (so the session store is never touched: a Redis
    outage must not fail `/healthz`) and answers them whatever Host they carry: Kubernetes
    and App Service probe instances by address, which `TRUSTED_HOSTS` would refuse."""

    def __init__(
        self, wsgi_app: Callable[..., Iterable[bytes]], trusted_hosts: list[str] | None
    ) -> None:
        self.wsgi_app = wsgi_app
        self.host = trusted_hosts[0] if trusted_hosts else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") in PROBE_PATHS:
            environ.pop("HTTP_COOKIE", None)
            if self.host is not None:
                environ.pop("HTTP_X_FORWARDED_HOST", None)
                environ["HTTP_HOST"] = self.host
        return self.wsgi_app(environ, start_response)


@bp.record_once
def _install_shim(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)  # typed as Flask's base class; blueprints here go on a Flask
    shim = _ProbeShim(app.wsgi_app, app.config.get("TRUSTED_HOSTS"))
    app.wsgi_app = shim  # type: ignore[method-assign]  # Flask's way to add middleware


@bp.app_errorhandler(SecurityError)
def _untrusted_host(exc: SecurityError) -> tuple[str, int, dict[str, str]]:
    """A Host we do not serve: no URL can be built for it, so the branded page cannot be."""
    audit.event("request.refused", status=400, reason="host")
    return "Bad Request: this host name is not served here.\n", 400, _PLAIN


_PLAIN = {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers; nothing else is checked (a dead Redis is /readyz's business)."""
    return jsonify(status="alive")


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when the settings hold and, with REDIS_URL, Redis answers a PING (< 1 s)."""
    checks: dict[str, str] = {}
    try:
        context.settings().validate()
        checks["settings"] = "ok"
    except SettingsError as exc:
        logger.error("not ready: %s", exc)
        checks["settings"] = "invalid"
    try:
        context.store().ping()
        checks["store"] = "ok"
    except Exception as exc:  # any failure to reach the store means "not ready"
        logger.warning("not ready: record store unavailable (%s)", type(exc).__name__)
        checks["store"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(status="ready" if ready else "unavailable", checks=checks)
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = str(READY_RETRY_AFTER)
    return response
