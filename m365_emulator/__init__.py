"""A stand-in for Entra ID, Microsoft Graph and SharePoint Online, speaking their wire formats.

`create_app(tenant)` returns one Flask app that serves all three services; which service a
request reaches is decided by its path (the three path spaces never overlap) and checked
against the tenant's configured origins. It never imports the product (`webapp`).
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Protocol, TypedDict, Unpack

import jwt
from flask import Blueprint, Flask, Response, g, request

from m365_emulator.faults import Fault
from m365_emulator.tenant import LoggedRequest, Origins, Tenant
from m365_emulator.transport import DROPPED_CONNECTION

__all__ = ["Origins", "Tenant", "create_app", "demo_tenant"]

# Headers worth keeping in the request log (never Authorization: tokens stay out of logs).
_LOGGED_HEADERS = ("User-Agent", "Accept", "Content-Type", "client-request-id", "X-AnchorMailbox")
# Short, so that a person trying the demo sees SharePoint's cached photo refresh by itself.
DEMO_PHOTO_CACHE_LIFETIME = 30.0


class _Service(Protocol):
    """What each service module (`entra`, `graph`, `sharepoint`) provides to the app."""

    bp: Blueprint

    def error_response(self, fault: Fault) -> Response: ...


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
    from m365_emulator import entra, graph, graph_beta, sharepoint

    tenant = tenant or demo_tenant()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    app.extensions["m365_tenant"] = tenant
    services: dict[str, _Service] = {"entra": entra, "graph": graph, "sharepoint": sharepoint}
    # Blueprint name → the service it belongs to (Graph's beta endpoints are Graph too).
    service_of = {name: name for name in services} | {"graph_beta": "graph"}
    for module in (entra, graph, graph_beta, sharepoint):
        app.register_blueprint(module.bp)

    @app.before_request
    def _apply_fault_plan() -> Response | None:
        service = service_of.get(request.blueprint or "")
        if service is None:
            return None
        if service != "entra" and request.method in ("POST", "PUT", "PATCH"):
            # Read the whole body before any answer, as IIS does: a refusal sent while the
            # client is still uploading (a scripted fault, SharePoint refusing a picture) would
            # otherwise reach it as a reset connection instead of the answer. Cached, so the
            # handlers read it again; Entra's forms are left to form parsing.
            request.get_data()
        g.m365_log = LoggedRequest(
            at=tenant.clock.time(),
            service=service,
            method=request.method,
            path=request.path,
            query=request.query_string.decode("latin-1"),
            headers={h: request.headers[h] for h in _LOGGED_HEADERS if h in request.headers},
            user_oid=_peek_oid() if service != "entra" else entra.grant_owner(tenant),
            json_body=request.get_json(silent=True) if service != "entra" else None,
        )
        g.m365_started = time.perf_counter()
        tenant.log(g.m365_log)
        delay = tenant.faults.latency(service)
        if delay:
            time.sleep(delay)
        hang = tenant.faults.hang_time(service)
        if hang:
            tenant.faults.wait(hang)
        fault = tenant.faults.take(service, g.m365_log.user_oid, request.path)
        if fault is None:
            return None
        if fault.network == "hang":
            tenant.faults.wait(fault.hang_seconds)
        if fault.network is not None:
            return _drop_connection()
        return services[service].error_response(fault)

    @app.after_request
    def _finish_log(response: Response) -> Response:
        entry = g.get("m365_log")
        if entry is not None:
            entry.status = response.status_code
            entry.duration = time.perf_counter() - g.m365_started
        return response

    return app


def _drop_connection() -> Response:
    """End the call without an answer: shut the socket (the test server) or flag the environ
    for the in-process transport. Only a client with neither (Flask's test client) sees the
    empty 502 returned here."""
    request.environ[DROPPED_CONNECTION] = True
    connection = request.environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):  # the client is gone already
            connection.shutdown(socket.SHUT_RDWR)
    return Response(status=502)


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
