"""What SharePoint shows: `userphoto.aspx` followed to its image, and only on the tenant's origin.

Two scripted HTTP listeners on loopback play SharePoint and a foreign host (the wire anomalies
the emulator does not produce, STYLE §3.8): a redirect must never carry the bearer token off
the configured origin (security.md 1.3.6).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from webapp.microsoft.errors import BadResponseError, ForbiddenError
from webapp.microsoft.requester import CallOptions, RetryPolicy
from webapp.microsoft.session import build_session
from webapp.microsoft.sharepoint import MAX_REDIRECTS, PLACEHOLDER_ACCOUNT, SharePointClient

JPEG = b"\xff\xd8\xff\xe0 a picture"


@dataclass
class Listener:
    """Answers with the next of `replies` (status, headers), then with `status` and `headers`
    for ever; the body is always `body`. Records each path and Authorization header."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "image/jpeg"})
    body: bytes = JPEG
    replies: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> None:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.seen.append((self.path, self.headers.get("Authorization")))
                status, headers = (
                    listener.replies.pop(0)
                    if listener.replies
                    else (listener.status, listener.headers)
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value.replace("{self}", listener.url))
                self.send_header("Content-Length", str(len(listener.body)))
                self.end_headers()
                self.wfile.write(listener.body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def _servers() -> Iterator[tuple[Listener, Listener]]:
    pair = (Listener(), Listener())
    for listener in pair:
        listener.start()
    yield pair
    for listener in pair:
        assert listener.server is not None
        listener.server.shutdown()
        listener.server.server_close()


@pytest.fixture
def listeners(_servers: tuple[Listener, Listener]) -> tuple[Listener, Listener]:
    """SharePoint (the configured origin) and another host, answering a picture."""
    for listener in _servers:
        listener.status, listener.body = 200, JPEG
        listener.headers = {"Content-Type": "image/jpeg"}
        listener.replies.clear()
        listener.seen.clear()
    return _servers


@pytest.fixture
def session() -> Iterator[requests.Session]:
    s = build_session()
    yield s
    s.close()


def client(url: str, session: requests.Session) -> SharePointClient:
    options = CallOptions(retry=RetryPolicy(budget=5.0, max_retries=0))
    return SharePointClient(url, lambda origin: f"token-for-{origin}", session, options)


def test_a_direct_image_is_what_sharepoint_shows(listeners, session) -> None:
    sharepoint, _ = listeners
    sharepoint.headers["Cache-Control"] = "private, max-age=1800"
    picture = client(sharepoint.url, session).served_picture("M", "AdeleV@contoso.com")
    assert picture.data == JPEG and picture.fresh_for == 1800
    [(path, token)] = sharepoint.seen
    assert path == "/_layouts/15/userphoto.aspx?size=M&accountname=AdeleV%40contoso.com"
    assert token == f"Bearer token-for-{sharepoint.url}"


def test_a_redirect_on_the_same_origin_is_followed_with_the_token(listeners, session) -> None:
    sharepoint, _ = listeners
    location = "/_vti_bin/afdcache.ashx/_userprofile/userphoto.jpg?_oat_=x&size=L"
    sharepoint.replies.append((302, {"Location": location}))
    picture = client(sharepoint.url, session).served_picture("L", "AdeleV@contoso.com")
    assert picture.data == JPEG and picture.fresh_for is None
    assert [path for path, _ in sharepoint.seen][1] == location
    assert {token for _, token in sharepoint.seen} == {f"Bearer token-for-{sharepoint.url}"}


@pytest.mark.parametrize(
    "location",
    [
        "{other}/_vti_bin/afdcache.ashx/userphoto.jpg",
        "//{other_host}/userphoto.jpg",
        "http://x@{self_host}/userphoto.jpg",
        "http://{other_host}\\@{self_host}/userphoto.jpg",
        "https://{self_host}/userphoto.jpg",  # another scheme is another origin
        "",
    ],
)
def test_a_redirect_off_the_tenant_is_refused_and_no_token_leaves(
    listeners, session, location: str
) -> None:
    sharepoint, other = listeners
    target = location.format(
        other=other.url,
        other_host=other.url.removeprefix("http://"),
        self_host=sharepoint.url.removeprefix("http://"),
    )
    sharepoint.status, sharepoint.headers = 302, {"Location": target}
    with pytest.raises(BadResponseError):
        client(sharepoint.url, session).served_picture("S", "AdeleV@contoso.com")
    assert other.seen == []
    assert len(sharepoint.seen) == 1


def test_a_redirect_loop_ends_after_a_few_hops(listeners, session) -> None:
    sharepoint, _ = listeners
    sharepoint.status, sharepoint.headers = 302, {"Location": "{self}/_layouts/15/again"}
    with pytest.raises(BadResponseError):
        client(sharepoint.url, session).served_picture("S", "AdeleV@contoso.com")
    assert len(sharepoint.seen) == MAX_REDIRECTS + 1


def test_a_page_instead_of_a_picture_is_a_bad_response(listeners, session) -> None:
    sharepoint, _ = listeners
    sharepoint.headers = {"Content-Type": "text/html"}
    sharepoint.body = b"<html>sign in</html>"
    with pytest.raises(BadResponseError):
        client(sharepoint.url, session).served_picture("S", "AdeleV@contoso.com")


def test_an_expired_time_limited_url_is_a_typed_refusal(listeners, session) -> None:
    # sp-dev-docs #7909: "ERROR 403: Time-Limited URL validation failed".
    sharepoint, _ = listeners
    sharepoint.status = 403
    sharepoint.headers = {"Content-Type": "text/plain"}
    sharepoint.body = b"ERROR 403: Time-Limited URL validation failed"
    with pytest.raises(ForbiddenError):
        client(sharepoint.url, session).served_picture("S", "AdeleV@contoso.com")


def test_the_placeholder_is_asked_for_an_account_that_cannot_exist(listeners, session) -> None:
    sharepoint, _ = listeners
    client(sharepoint.url, session).placeholder_picture("L")
    [(path, _)] = sharepoint.seen
    assert PLACEHOLDER_ACCOUNT.endswith(".invalid")  # RFC 2606: never a real domain
    assert path.endswith("size=L&accountname=" + PLACEHOLDER_ACCOUNT.replace("@", "%40"))


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("private, max-age=86400", 86400),
        ("max-age=0", 0),
        ('public, s-maxage=5, max-age="60"', 60),
        ("no-store", None),
        (None, None),
    ],
)
def test_cache_control_max_age_is_read(listeners, session, header, seconds) -> None:
    sharepoint, _ = listeners
    if header is not None:
        sharepoint.headers["Cache-Control"] = header
    picture = client(sharepoint.url, session).served_picture("S", "AdeleV@contoso.com")
    assert picture.fresh_for == seconds


def test_an_unknown_size_is_refused_before_any_call(listeners, session) -> None:
    sharepoint, _ = listeners
    with pytest.raises(ValueError):
        client(sharepoint.url, session).served_picture("XL", "AdeleV@contoso.com")
    assert sharepoint.seen == []
