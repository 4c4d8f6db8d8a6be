"""A stand-in for Entra ID, Microsoft Graph and SharePoint Online, speaking their wire formats.

`create_app(tenant)` returns one Flask app that serves all three services; which service a
request reaches is decided by its path (the three path spaces never overlap) and checked
against the tenant's configured origins. It never imports the product (`webapp`).
"""

from __future__ import annotations

import time
from typing import Protocol, TypedDict, Unpack

import jwt
from flask import Blueprint, Flask, Response, g, request

from m365_emulator.tenant import LoggedRequest, Origins, Tenant

__all__ = ["Origins", "Tenant", "create_app", "demo_tenant"]

# Headers worth keeping in the request log (never Authorization: tokens stay out of logs).
_LOGGED_HEADERS = ("User-Agent", "Accept", "Content-Type", "client-request-id", "X-AnchorMailbox")
# Short, so that a person trying the demo sees SharePoint's cached photo refresh by itself.
DEMO_PHOTO_CACHE_LIFETIME = 30.0


class _Service(Protocol):
    """What each service module (`entra`, `graph`, `sharepoint`) provides to the app."""

    bp: Blueprint

    def error_response(self, status: int, retry_after: int | None) -> Response: ...


class DemoOptions(TypedDict, total=False):
    """The `Tenant` options a caller of `demo_tenant` may override."""

    photo_pull_interval: float
    photo_cache_lifetime: float
    photo_model: str


def demo_tenant(origins: Origins | None = None, **options: Unpack[DemoOptions]) -> Tenant:
    """The demo tenant with its seeded users, with demo timings unless overridden."""
    from m365_emulator.seed import seed_demo_tenant

    options.setdefault("photo_pull_interval", 30.0)
    options.setdefault("photo_cache_lifetime", DEMO_PHOTO_CACHE_LIFETIME)
    return Tenant(origins or Origins.virtual(), seed=seed_demo_tenant, **options)


def create_app(tenant: Tenant | None = None) -> Flask:
    """The emulator as a WSGI app over `tenant` (default: the demo tenant, virtual hosts)."""
    from m365_emulator import entra, graph, sharepoint

    tenant = tenant or demo_tenant()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    app.extensions["m365_tenant"] = tenant
    services: dict[str, _Service] = {"entra": entra, "graph": graph, "sharepoint": sharepoint}
    for module in services.values():
        app.register_blueprint(module.bp)

    @app.before_request
    def _apply_fault_plan() -> Response | None:
        service = request.blueprint
        if service not in services:
            return None
        g.m365_log = LoggedRequest(
            at=tenant.clock.time(),
            service=service,
            method=request.method,
            path=request.path,
            query=request.query_string.decode("latin-1"),
            headers={h: request.headers[h] for h in _LOGGED_HEADERS if h in request.headers},
            user_oid=_peek_oid(),
        )
        g.m365_started = time.perf_counter()
        tenant.log(g.m365_log)
        delay = tenant.faults.latency(service)
        if delay:
            time.sleep(delay)
        fault = tenant.faults.take(service, g.m365_log.user_oid, request.path)
        if fault is not None:
            return services[service].error_response(fault.status, fault.retry_after)
        return None

    @app.after_request
    def _finish_log(response: Response) -> Response:
        entry = g.get("m365_log")
        if entry is not None:
            entry.status = response.status_code
            entry.duration = time.perf_counter() - g.m365_started
        return response

    return app


def _peek_oid() -> str | None:
    """The caller's object id from an unverified bearer token, only to match faults by user."""
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return None
    try:
        claims = jwt.decode(auth[7:], options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    oid = claims.get("oid")
    return oid if isinstance(oid, str) else None
