"""The app exactly as `./dev demo` runs it (no settings: the built-in demo tenant), served by
werkzeug on a free loopback port in a thread of this process."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from m365_emulator.entra import grant_consent
from m365_emulator.seed import GRAPH_THROTTLED_CALLS
from m365_emulator.tenant import Tenant
from m365_emulator.tokens import SigningKey
from webapp import create_app

# Settings an outer environment might hold: any of them would take the app off the demo tenant.
_SETTINGS = ("CLIENT_ID", "CLIENT_SECRET", "SHAREPOINT_URL", "AUTHORITY", "REDIS_URL")


@dataclass
class LiveServer:
    url: str
    app: Flask
    # The path of every request that reached the app, in order, noted as it arrived.
    paths: list[str]

    @property
    def tenant(self) -> Tenant:
        """The demo tenant the app runs on (its emulator, in-process)."""
        return self.app.extensions["demo_tenant"]


def create_demo_app(instance_path: Path) -> Flask:
    """`create_app()` as `./dev demo` calls it, whatever this process's environment holds."""
    saved = {name: os.environ.pop(name) for name in _SETTINGS if name in os.environ}
    saved_env_file = os.environ.get("PROFILEFIX_ENV_FILE")
    os.environ["PROFILEFIX_ENV_FILE"] = str(instance_path / "none.env")  # no .env either
    try:
        return create_app(instance_path=str(instance_path))
    finally:
        os.environ.update(saved)
        if saved_env_file is None:
            del os.environ["PROFILEFIX_ENV_FILE"]
        else:
            os.environ["PROFILEFIX_ENV_FILE"] = saved_env_file


@functools.cache
def _signing_key() -> SigningKey:
    """One token-signing key for every demo tenant of this process: an RSA key costs about
    70 ms to generate, and every e2e test builds a tenant of its own."""
    return SigningKey.generate()


@contextmanager
def serve_demo_app(instance_path: Path) -> Iterator[LiveServer]:
    """A fresh demo app (its own tenant, sessions, rate limits and throttle holds) on a port."""
    app = create_demo_app(instance_path)
    tenant: Tenant = app.extensions["demo_tenant"]
    tenant.signing_key = _signing_key()
    # Every demo user has consented already, as in a tenant whose admin granted the app's
    # permissions: a test's sign-in skips the consent page (tests/e2e/test_sign_in_e2e.py and
    # test_screens_e2e.py clear these to walk it).
    settings = app.extensions["settings"]
    for user in tenant.users.values():
        grant_consent(tenant, user.oid, settings.client_id, settings.sign_in_scopes)
    paths: list[str] = []

    def noting_paths(environ: dict, start_response: Callable) -> Iterable[bytes]:
        paths.append(environ["PATH_INFO"])
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, noting_paths, threaded=True)
    # `shutdown()` returns once the serving loop next looks, every `poll_interval` (0.5 s by
    # default): half a second at the end of every e2e test, about a minute over the suite.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="demo-app", daemon=True
    )
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, paths)
    finally:
        server.shutdown()
        server.server_close()


# The demo tenant's throttled users make the app wait out real Retry-After values (1 s three
# times for graph-throttled, 5 s for sharepoint-down), as people trying the demo should see.
# The tests script the same answers without a wait: a Retry-After of 0 is retried at once, and
# one longer than the in-request budget is not waited at all (the page says when to come back).
# The app also holds the user's later calls until that time, and waits out the rest of a hold
# once it fits the budget (10 s): 600 s keeps every test far from that, however slowly it runs.
SHAREPOINT_DOWN_RETRY_AFTER = 600


def script_throttled_users_without_waits(tenant: Tenant) -> None:
    """Replace the seeded fault plan of the demo users by the tests' own (see above)."""
    tenant.faults.clear()
    tenant.faults.fail_next(
        "graph", GRAPH_THROTTLED_CALLS, 429, 0, user_oid=tenant.user("graph-throttled").oid
    )
    tenant.faults.fail_always(
        "sharepoint",
        503,
        SHAREPOINT_DOWN_RETRY_AFTER,
        user_oid=tenant.user("sharepoint-down").oid,
    )
