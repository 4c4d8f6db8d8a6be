"""The Microsoft 365 emulator served over HTTPS on a free loopback port, as a real tenant's
hosts are reached: tests/integration, tests/production and the benchmarks talk to it over TLS."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from flask import Flask
from werkzeug.serving import make_server

from m365_emulator import create_app, demo_tenant, tls
from m365_emulator.tenant import ClientRegistration, Origins, Tenant

# The app registration the tests sign in with (seed.py registers the demo one).
TEST_CLIENT_ID = "7c3f0b8e-2a61-4d0e-9b7a-3e5d9a1c4f21"
TEST_CLIENT_SECRET = "test-secret"
TEST_REDIRECT_URI = "http://localhost:5000/auth/redirect"
TEST_POST_LOGOUT_URI = "http://localhost:5000/signed-out"


@dataclass
class Emulator:
    """The emulator on `url` (one origin for every service), its tenant and its CA."""

    url: str
    tenant: Tenant
    ca_path: Path
    app: Flask

    @property
    def authority(self) -> str:
        """The MSAL `authority` for this tenant (reference §1.3)."""
        return f"{self.url}/{self.tenant.tenant_id}"

    def session(self) -> requests.Session:
        """A `requests.Session` that trusts the emulator's CA (nothing global is set).

        `trust_env` is off because requests lets `REQUESTS_CA_BUNDLE` from the environment
        override `Session.verify`.
        """
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca_path)
        return session


@contextmanager
def serve_emulator(directory: Path, **tenant_options: object) -> Iterator[Emulator]:
    """The demo tenant over HTTPS on 127.0.0.1 (certificates made in `directory`);
    `tenant_options` as `demo_tenant` takes them."""
    certs = tls.generate(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert, certs.key)
    # The tenant's origins must name the port, which is known only once the server is bound:
    # bind first, then create the app the server forwards to.
    apps: list[Flask] = []
    server = make_server(
        "127.0.0.1",
        0,
        lambda environ, start_response: apps[0](environ, start_response),
        threaded=True,
        ssl_context=context,
    )
    url = f"https://127.0.0.1:{server.server_port}"
    tenant = demo_tenant(Origins.single(url), **tenant_options)
    apps.append(create_app(tenant))
    thread = threading.Thread(target=server.serve_forever, name="m365-emulator", daemon=True)
    thread.start()
    try:
        yield Emulator(url=url, tenant=tenant, ca_path=certs.ca, app=apps[0])
    finally:
        server.shutdown()
        server.server_close()


def register_test_client(tenant: Tenant) -> ClientRegistration:
    """Register the tests' app (TEST_CLIENT_ID) in `tenant`, redirecting to localhost:5000."""
    return tenant.add_client(
        ClientRegistration(
            client_id=TEST_CLIENT_ID,
            secret=TEST_CLIENT_SECRET,
            redirect_uris=[TEST_REDIRECT_URI],
            name="ProfileFix tests",
            post_logout_redirect_uris=[TEST_POST_LOGOUT_URI],
        )
    )
