"""Operability: a request id, one JSON log line per request, and Prometheus metrics at /metrics."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
)
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from webapp import audit
from webapp.auth.guard import current_user
from webapp.extensions import limiter
from webapp.microsoft.requester import UpstreamCall
from webapp.settings import SettingsError
from webapp.web import context
from webapp.web.errors import request_id
from webapp.web.middleware import trusted_client

# The request log has its own logger so that deployments can route it apart from app warnings.
request_logger = logging.getLogger("profilefix.request")

_START = "profilefix.started"

REQUEST_SECONDS = Histogram(
    "profilefix_request_duration_seconds",
    "Time to answer a request, by endpoint and HTTP status.",
    ["endpoint", "status"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
UPSTREAM_SECONDS = Histogram(
    "profilefix_upstream_duration_seconds",
    "Time of one HTTP exchange with Microsoft, by service and operation.",
    ["service", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0),
)
UPSTREAM_ERRORS = Counter(
    "profilefix_upstream_errors",
    "Exchanges with Microsoft that did not succeed, by service and status ('none': no answer).",
    ["service", "status"],
)
THROTTLE_WAIT_SECONDS = Histogram(
    "profilefix_throttle_wait_seconds",
    "Waits imposed by a service's Retry-After before calling it (count: waits; sum: seconds).",
    ["service"],
    buckets=(0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0),
)


def record_call(call: UpstreamCall) -> None:
    """`CallOptions.on_call`: metrics always; the request's log line when called inside it.

    Calls made on worker threads without the app context (a page's parallel reads) still
    count in the metrics; they join the log line when the view submits them with
    `contextvars.copy_context().run`, which carries Flask's context along.
    """
    UPSTREAM_SECONDS.labels(call.service, call.operation).observe(call.duration)
    if call.status is None or call.status >= 400:
        UPSTREAM_ERRORS.labels(call.service, str(call.status or "none")).inc()
    if has_app_context():
        g.setdefault("upstream_calls", []).append(call)


def record_throttle_wait(service: str, seconds: float) -> None:
    """The throttle gate's `on_wait` hook."""
    THROTTLE_WAIT_SECONDS.labels(service).observe(seconds)


def user_hash(account: str) -> str:
    """A short stable pseudonym for one account (`context.user_key()`): joins log lines,
    names nobody."""
    return audit.pseudonym(account)


class _SecurityLine(logging.Filter):
    """Makes each `audit.event` record one JSON line, completed from the request it happened
    in: time, request id, method, route, the client's address, and the signed-in user unless
    the event named one. Installed once on the security logger; outside a request the event's
    own fields are all there is."""

    def filter(self, record: logging.LogRecord) -> bool:
        data = getattr(record, audit.EVENT_ATTRIBUTE, None)
        if data is None:
            return True
        line: dict[str, Any] = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds")}
        line.update(data)
        if has_request_context():
            # A CSRF failure comes before the guard's own hook: load the user here.
            signed_in = current_user() is not None
            line.setdefault("user", user_hash(context.user_key()) if signed_in else None)
            trusted = context.settings().trusted_proxies
            line.update(
                request_id=request_id(),
                method=request.method,
                route=request.url_rule.rule if request.url_rule else request.path[:200],
                client=trusted_client(request.environ, trusted),
            )
        record.msg, record.args = json.dumps(line, separators=(",", ":")), ()
        return True


_SECURITY_LINE = _SecurityLine()


def _log_line(status: int, duration: float) -> str:
    user = g.get("user")
    calls: list[UpstreamCall] = g.get("upstream_calls", [])
    record: dict[str, Any] = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "request_id": request_id(),
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule else None,
        "endpoint": request.endpoint,
        "status": status,
        "duration_ms": round(duration * 1000, 1),
        "user": user_hash(context.user_key()) if user is not None else None,
        "upstream": [
            {
                "service": c.service,
                "operation": c.operation,
                "status": c.status,
                "duration_ms": round(c.duration * 1000, 1),
                "attempt": c.attempt,
            }
            for c in calls
        ],
        "pid": os.getpid(),
    }
    # json.dumps escapes CR/LF and other control characters: one request, one line.
    return json.dumps(record, separators=(",", ":"))


class _StartClock:
    """Notes when a request arrived, before Flask opens the session (which may fail)."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ[_START] = time.perf_counter()
        return self.wsgi_app(environ, start_response)


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise SettingsError(
                f"METRICS_ALLOWED_FROM has {entry!r}, which is not an IP address or network "
                "(e.g. 127.0.0.1,10.0.0.0/8)."
            ) from None
    return networks


def _exposition() -> bytes:
    """All workers' metrics under gunicorn (multiprocess files), else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def init_app(app: Flask) -> None:
    settings = app.extensions["settings"]
    allowed = _networks(settings.metrics_allowed_from)
    clocked = _StartClock(app.wsgi_app)
    app.wsgi_app = clocked  # type: ignore[method-assign]  # Flask's way to add middleware

    for logger in (request_logger, audit.security_logger):
        logger.setLevel(logging.INFO)
        if not logger.handlers and not logging.getLogger().handlers:
            # Nothing configured logging (gunicorn leaves the root logger alone): one JSON
            # object per line on stdout, where App Service and container runtimes collect it.
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
            logger.propagate = False
    if _SECURITY_LINE not in audit.security_logger.filters:
        audit.security_logger.addFilter(_SECURITY_LINE)

    @app.after_request
    def _observe(response: Response) -> Response:
        started = request.environ.get(_START)
        duration = time.perf_counter() - started if started is not None else 0.0
        response.headers.setdefault("X-Request-ID", request_id())
        REQUEST_SECONDS.labels(request.endpoint or "none", str(response.status_code)).observe(
            duration
        )
        request_logger.info(_log_line(response.status_code, duration))
        return response

    @limiter.exempt
    def metrics() -> Response:
        """Prometheus exposition, only for the addresses METRICS_ALLOWED_FROM lists: the
        client's, never a proxy's own (issue 16 item 12)."""
        try:
            client = ipaddress.ip_address(
                trusted_client(request.environ, settings.trusted_proxies) or ""
            )
        except ValueError:
            abort(403)
        if not any(client in network for network in allowed):
            abort(403)
        return current_app.response_class(_exposition(), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics)
