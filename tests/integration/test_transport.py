"""The Microsoft transport as the app uses it (issue 16): a token never leaves the tenant's
hosts, and one user's throttling holds back only that user.

Waits run on a fake clock given to the app's call options (`CallOptions.clock`/`.sleep`), so
these tests assert which waits happened without sleeping them.
"""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask.testing import FlaskClient

from m365_emulator.tenant import Tenant
from tests.support.clock import Clock
from tests.support.emulator import Emulator
from tests.support.signin import SignIn


def verdict(page: str) -> str:
    match = re.search(r'data-verdict="([a-z_]+)"', page)
    assert match, "no verdict on the page"
    return match.group(1)


def overview(client: FlaskClient) -> str:
    response = client.get("/")
    assert response.status_code == 200, response.status_code
    return unescape(response.get_data(as_text=True))


# -- a token never goes to a host a response names (issue 16 item 1) ---------------------------


@dataclass
class Listener:
    """An HTTPS server on another port of 127.0.0.1 that records whatever reaches it."""

    url: str
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)


@pytest.fixture
def listener(emulator: Emulator) -> Iterator[Listener]:
    # The emulator's own certificate (for 127.0.0.1), so the app's TLS check passes and only
    # the token check can keep the request from arriving.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(
        emulator.ca_path.with_name("server.pem"), emulator.ca_path.with_name("server-key.pem")
    )
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"\xff\xd8\xff\xd9")

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    # A short poll: `shutdown()` waits for the serving loop's next look (0.5 s by default).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield Listener(f"https://127.0.0.1:{server.server_address[1]}", seen)
    server.shutdown()
    server.server_close()


def test_a_hostile_picture_url_never_takes_the_sharepoint_token_to_another_host(
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    emulator: Emulator,
    listener: Listener,
) -> None:
    user = tenant.user("in-sync")
    # urllib.parse reads the emulator's host (after the last "@"); urllib3, which requests
    # connects with, reads the listener's (the authority ends at the backslash).
    user.sharepoint.properties["PictureURL"] = (
        f"{listener.url}\\@{emulator.url.removeprefix('https://')}"
        f"/User%20Photos/Profile%20Pictures/{user.oid}_MThumb.jpg"
    )
    sign_in.as_user("in-sync")
    page = overview(client)
    stored = client.get("/pictures/sharepoint/stored?v=x")
    # Not one request reached the other host, let alone one with a bearer token.
    assert [(path, auth is not None) for path, auth in listener.seen] == []
    assert any("GetMyProperties" in r.path for r in tenant.requests_to("sharepoint"))
    # The verdict judges what SharePoint serves (reference §9.1); the library copy PictureURL
    # names is only a fact, here one that could not be read.
    assert verdict(page) == "in_sync"
    assert 'data-stored="unknown"' in page
    assert stored.status_code == 502


# -- one user's throttling holds back only that user (issue 16 item 5) --------------------------


@pytest.mark.parametrize(
    ("throttled", "service", "status", "wait"),
    [("graph-throttled", "graph", 429, 1.0), ("sharepoint-down", "sharepoint", 503, 5.0)],
)
def test_a_demo_users_retry_after_no_longer_slows_other_users(
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    clock: Clock,
    throttled: str,
    service: str,
    status: int,
    wait: float,
) -> None:
    sign_in.as_user(throttled)
    overview(client)
    assert wait in clock.slept  # that user's page honoured the Retry-After
    assert status in [r.status for r in tenant.requests_to(service)]
    clock.slept.clear()
    calls = len(tenant.requests_to(service))
    sign_in.as_user("in-sync")
    page = overview(client)
    assert clock.slept == []  # the colleague's page waited for nothing
    assert verdict(page) == "in_sync"
    assert len(tenant.requests_to(service)) > calls  # and asked the service itself
