"""Transport policy of the Microsoft clients: Retry-After, the in-request budget, throttle
holds, error mapping, and where a token may go.

A tiny scripted HTTP server on 127.0.0.1 plays the wire anomalies the emulator does not
produce (STYLE §3.8); our own modules are used as they are. Waits run on a fake clock
(`CallOptions.clock`/`.sleep`), so no test sleeps for a Retry-After.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

import webapp
from tests.support.clock import Clock
from webapp.microsoft.bearer import sends_to
from webapp.microsoft.errors import (
    AccessRefusedError,
    AuthRequiredError,
    BadRequestError,
    BadResponseError,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
    ThrottledError,
    UpstreamError,
    UpstreamTimeoutError,
)
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.models import GraphUser, PhotoMeta, SharePointProfile, normalise_origin
from webapp.microsoft.requester import (
    MAX_RETRY_AFTER,
    MIN_RETRY_READ,
    CallOptions,
    Requester,
    RetryPolicy,
    UpstreamCall,
    parse_retry_after,
    retry_after_from,
)
from webapp.microsoft.session import DEFAULT_TIMEOUT, build_session, decorated_user_agent
from webapp.microsoft.sharepoint import SharePointClient, my_site_origin
from webapp.microsoft.throttle import MAX_HOLD, LocalThrottleGate, holds_everyone

# -- the scripted server --------------------------------------------------------------------------


HANG_LIMIT = 10.0


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    hang: bool = False  # hold the answer until the test is over (a hung service)
    declared_length: int | None = None  # a Content-Length that lies (cut-off body)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Stub:
    """Answers each request with the next scripted Reply (200 `{}` when the script is empty)."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with stub.lock:
                    stub.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                    reply = stub.script.popleft() if stub.script else Reply()
                # Held until the test ends (or, if a client never gives up, for 10 s: then it
                # gets its answer and the test expecting a timeout fails).
                if reply.hang:
                    stub.released.wait(HANG_LIMIT)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                length = reply.declared_length or len(reply.body)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(reply.body)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def do_PUT(self) -> None:
                self._handle()

            def do_PATCH(self) -> None:
                self._handle()

            def do_DELETE(self) -> None:
                self._handle()

            def log_message(self, format: str, *args: object) -> None:
                return None

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                return None  # the client gave up (timeout tests); nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(
        self,
        status: int = 200,
        body: object = None,
        hang: bool = False,
        declared_length: int | None = None,
        **headers: str,
    ) -> None:
        raw = body if isinstance(body, bytes) else json.dumps({} if body is None else body).encode()
        sent = {"Content-Type": "application/json"} | {
            k.replace("_", "-"): v for k, v in headers.items()
        }
        self.script.append(Reply(status, raw, sent, hang, declared_length))

    def reset(self) -> None:
        with self.lock:
            self.script.clear()
            self.seen.clear()
            self.released = threading.Event()

    def release(self) -> None:
        """Let every held answer go."""
        self.released.set()


@pytest.fixture(scope="module")
def server() -> Iterator[Stub]:
    stub = Stub()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture
def stub(server: Stub) -> Iterator[Stub]:
    server.reset()
    yield server
    server.release()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    s = build_session(user_agent=decorated_user_agent("Contoso", "9.9"))
    yield s
    s.close()


FAST = RetryPolicy(budget=10.0, max_retries=3, backoff_base=0.05, backoff_max=1.0)


def requester(
    session: requests.Session,
    service: str = "graph",
    *,
    clock: Clock | None = None,
    account: str | None = None,
    **options,
) -> Requester:
    clock = clock or Clock()
    options.setdefault("retry", FAST)
    return Requester(
        session, service, CallOptions(clock=clock, sleep=clock.sleep, **options), account
    )


def call(req: Requester, method: str, url: str, token_provider, **kwargs) -> requests.Response:
    """One call whose token is for the URL's own origin."""
    return req.request(
        method,
        url,
        token_provider=token_provider,
        audience=normalise_origin(url),
        operation="test",
        **kwargs,
    )


def get(req: Requester, url: str, token: str = "tok", **kwargs) -> requests.Response:
    return call(req, "GET", url, lambda: token, **kwargs)


# -- Retry-After parsing ---------------------------------------------------------------------------

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("7", 7.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("315", 315.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # a date in the past: now
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("99999999999999999999", MAX_RETRY_AFTER),
        ("-5", None),
        ("-0", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("soon", None),
        ("1e3", None),
        ("Wed, 99 Foo 2015 07:28:00 GMT", None),
        ("0x10", None),
    ],
)
def test_retry_after_values_are_read_as_seconds_or_dates(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


@given(st.text(max_size=60))
def test_any_retry_after_text_gives_none_or_a_bounded_wait(value):
    result = parse_retry_after(value, now=NOW)
    assert result is None or 0.0 <= result <= MAX_RETRY_AFTER


@given(st.integers(min_value=0, max_value=10**30))
def test_integer_retry_after_is_that_many_seconds(n):
    assert parse_retry_after(str(n), now=NOW) == min(float(n), MAX_RETRY_AFTER)


@given(st.integers(min_value=1, max_value=10**6))
def test_negative_retry_after_is_ignored(n):
    assert parse_retry_after(f"-{n}", now=NOW) is None


@given(st.integers(min_value=-86_400, max_value=86_400))
def test_http_date_retry_after_counts_from_now(offset):
    value = email.utils.formatdate(NOW + offset, usegmt=True)
    assert parse_retry_after(value, now=NOW) == pytest.approx(max(0, offset), abs=1.0)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3", "RateLimit-Reset": "10"}, 10.0),
        ({"Retry-After": "30", "RateLimit-Reset": "10"}, 30.0),
        ({"RateLimit-Reset": "4"}, 4.0),
        ({"Retry-After": "junk", "RateLimit-Reset": "4"}, 4.0),
        ({}, None),
    ],
)
def test_sharepoint_ratelimit_reset_counts_when_larger(headers, expected):
    assert retry_after_from(headers, now=NOW) == expected


def test_backoff_doubles_within_the_jitter_band():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0, jitter=0.2)
    assert [policy.backoff(n, rand=lambda: 0.5) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.backoff(2, rand=lambda: 0.0) == pytest.approx(3.2)
    assert policy.backoff(2, rand=lambda: 1.0) == pytest.approx(4.8)


# -- session -------------------------------------------------------------------------------------


def test_session_applies_a_default_timeout(stub):
    stub.reply(hang=True)
    with build_session(timeout=(1.0, 0.2)) as s, pytest.raises(requests.ReadTimeout) as caught:
        s.get(stub.url + "/slow")
    assert "read timeout=0.2" in str(caught.value)


def test_default_timeout_is_the_security_bar():
    assert DEFAULT_TIMEOUT == (3.05, 20.0)


def test_session_never_follows_redirects(stub, session):
    stub.reply(302, Location=stub.url + "/elsewhere")
    resp = session.get(stub.url + "/start")
    assert resp.status_code == 302
    assert [s.path for s in stub.seen] == ["/start"]


def test_requests_ca_bundle_is_honoured_without_an_explicit_bundle(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/env-ca.pem")
    with build_session() as s, pytest.raises(OSError, match="env-ca.pem"):
        s.get("https://127.0.0.1:9/")


def test_an_explicit_ca_bundle_beats_the_environment(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/env-ca.pem")
    with (
        build_session(ca_bundle="/nonexistent/our-ca.pem") as s,
        pytest.raises(OSError, match="our-ca.pem"),
    ):
        s.get("https://127.0.0.1:9/")


def test_user_agent_is_decorated_for_sharepoint():
    assert decorated_user_agent("Contoso", "1.2.3") == "NONISV|Contoso|ProfileFix/1.2.3"
    assert decorated_user_agent("Contoso").startswith("NONISV|Contoso|ProfileFix/")
    with pytest.raises(ValueError):
        decorated_user_agent("Evil|Corp")


# -- headers -------------------------------------------------------------------------------------


def test_every_call_carries_bearer_user_agent_and_client_request_id(stub, session):
    stub.reply(429, Retry_After="0")
    stub.reply(200)
    get(requester(session), stub.url + "/me", token="t0ken")
    first, second = stub.seen
    for seen in stub.seen:
        assert seen.headers["Authorization"] == "Bearer t0ken"
        assert seen.headers["User-Agent"] == "NONISV|Contoso|ProfileFix/9.9"
        uuid.UUID(seen.headers["client-request-id"])
    # One logical call keeps its client-request-id across retries; retries are numbered.
    assert first.headers["client-request-id"] == second.headers["client-request-id"]
    assert "Retry-Attempt" not in first.headers
    assert second.headers["Retry-Attempt"] == "1"


def test_an_explicit_user_agent_wins(stub, session):
    get(requester(session, user_agent="ISV|Fabrikam|Other/2"), stub.url + "/me")
    assert stub.seen[0].headers["User-Agent"] == "ISV|Fabrikam|Other/2"


def test_an_undecorated_session_still_sends_a_decorated_user_agent(stub):
    with requests.Session() as plain:
        get(requester(plain), stub.url + "/me")
    assert stub.seen[0].headers["User-Agent"].startswith("NONISV|ProfileFix|ProfileFix/")


# -- retries and the budget (security.md C1–C4) --------------------------------------------------


def test_retry_after_is_honoured_then_the_call_succeeds(stub, session):
    stub.reply(429, Retry_After="1")
    stub.reply(429, Retry_After="1")
    stub.reply(200, {"ok": True})
    clock = Clock()
    resp = get(requester(session, clock=clock), stub.url + "/me")
    assert resp.json() == {"ok": True}
    assert len(stub.seen) == 3
    assert clock.slept == [1.0, 1.0]


def test_long_retry_after_raises_throttled_at_once(stub, session):
    stub.reply(429, {"error": {"code": "TooManyRequests", "message": "later"}}, Retry_After="120")
    clock = Clock()
    with pytest.raises(ThrottledError) as caught:
        get(requester(session, clock=clock), stub.url + "/me")
    assert clock.slept == []
    assert caught.value.retry_after == 120.0
    assert caught.value.code == "TooManyRequests"
    assert len(stub.seen) == 1


def test_http_date_retry_after_beyond_the_budget_raises(stub, session):
    stub.reply(429, Retry_After=email.utils.formatdate(time.time() + 300, usegmt=True))
    with pytest.raises(ThrottledError) as caught:
        get(requester(session), stub.url + "/me")
    assert 295 <= caught.value.retry_after <= 300


def test_waiting_stops_at_the_budget(stub, session):
    for _ in range(4):
        stub.reply(429, Retry_After="1")
    clock = Clock()
    with pytest.raises(ThrottledError) as caught:
        get(requester(session, clock=clock, retry=RetryPolicy(budget=2.5)), stub.url + "/me")
    # Waited 1 s twice; a third wait would end past 2.5 s.
    assert len(stub.seen) == 3
    assert clock.slept == [1.0, 1.0]
    assert caught.value.retry_after == 1.0


def test_a_retry_reads_only_for_what_is_left_of_the_budget(stub, session):
    stub.reply(429, Retry_After="1")
    # The retry's answer is held: the 20 s read timeout would wait for it, but only 1 s of
    # the budget is left, so the retry reads for MIN_RETRY_READ (2 s) and gives up.
    stub.reply(200, hang=True)
    clock = Clock()
    with pytest.raises(UpstreamTimeoutError) as caught:
        get(requester(session, clock=clock, retry=RetryPolicy(budget=2.0)), stub.url + "/me")
    assert clock.slept == [1.0]
    assert f"read timeout={MIN_RETRY_READ}" in str(caught.value.__cause__)


def test_503_without_retry_after_backs_off_three_times_then_fails(stub, session):
    for _ in range(5):
        stub.reply(503, b"<html>busy</html>", Content_Type="text/html")
    policy = RetryPolicy(backoff_base=0.1, backoff_max=1.0, jitter=0.0)
    clock = Clock()
    with pytest.raises(ServiceUnavailableError) as caught:
        get(requester(session, "sharepoint", clock=clock, retry=policy), stub.url + "/_api/x")
    assert len(stub.seen) == 4
    assert clock.slept == [0.1, 0.2, 0.4]
    assert caught.value.service == "sharepoint"
    assert caught.value.status == 503


def test_post_is_retried_with_the_same_body(stub, session):
    stub.reply(503, Retry_After="1")
    stub.reply(200, {"odata.null": True})
    call(requester(session, "sharepoint"), "POST", stub.url + "/pic", lambda: "t", data=b"\xffjpeg")
    assert [s.method for s in stub.seen] == ["POST", "POST"]
    assert stub.seen[0].body == stub.seen[1].body == b"\xffjpeg"


def test_ratelimit_reset_larger_than_retry_after_is_waited(stub, session):
    stub.reply(429, Retry_After="0", RateLimit_Reset="1")
    stub.reply(200)
    clock = Clock()
    get(requester(session, "sharepoint", clock=clock), stub.url + "/x")
    assert clock.slept == [1.0]


# -- throttle holds: per user, or for everyone when the app is throttled (issue 16 item 5) ------

ALICE, BOB = "alice-oid.tid", "bob-oid.tid"


def test_a_users_retry_after_holds_back_that_user_and_nobody_else(stub, session):
    clock = Clock()
    gate = LocalThrottleGate(clock)
    stub.reply(429, Retry_After="60")
    alice = requester(session, clock=clock, gate=gate, account=ALICE)
    with pytest.raises(ThrottledError):
        get(alice, stub.url + "/me")
    with pytest.raises(ThrottledError) as caught:
        get(alice, stub.url + "/me")
    assert len(stub.seen) == 1  # Alice's second call did not even ask
    assert caught.value.code == "ThrottledElsewhere"
    assert caught.value.retry_after == 60.0
    # Bob's calls go out at once, on this instance and (through the gate) every other.
    assert get(requester(session, clock=clock, gate=gate, account=BOB), stub.url + "/me").ok
    assert clock.slept == []
    assert gate.wait_time("graph", BOB) == 0.0
    assert gate.wait_time("graph", ALICE) == 60.0


def test_one_users_503_from_sharepoint_does_not_delay_another(stub, session):
    # The demo's `sharepoint-down`: 503 with Retry-After for one user, every time.
    clock = Clock()
    gate = LocalThrottleGate(clock)
    for _ in range(3):
        stub.reply(503, Retry_After="5")
    alice = requester(session, "sharepoint", clock=clock, gate=gate, account=ALICE)
    with pytest.raises(ThrottledError):
        get(alice, stub.url + "/_api/x")
    bob = requester(session, "sharepoint", clock=clock, gate=gate, account=BOB)
    waited = len(clock.slept)
    assert get(bob, stub.url + "/_api/x").ok
    assert clock.slept[waited:] == []


APP_WIDE = [
    pytest.param("graph", {"x-ms-throttle-scope": "Tenant_Application/ReadWrite/app/tenant"}),
    pytest.param("graph", {"x-ms-throttle-scope": "Application/Read/app/tenant"}),
    pytest.param("graph", {"x-ms-throttle-scope": "Tenant/Write/app/tenant"}),
    pytest.param(
        "sharepoint",
        {"RateLimit-Limit": "1200", "RateLimit-Remaining": "0", "RateLimit-Reset": "60"},
    ),
]


@pytest.mark.parametrize(("service", "signal"), APP_WIDE)
def test_a_throttle_on_the_whole_app_holds_back_every_user(stub, session, service, signal):
    clock = Clock()
    gate = LocalThrottleGate(clock)
    stub.reply(429, Retry_After="60", **{k.replace("-", "_"): v for k, v in signal.items()})
    with pytest.raises(ThrottledError):
        get(requester(session, service, clock=clock, gate=gate, account=ALICE), stub.url + "/x")
    with pytest.raises(ThrottledError) as caught:
        get(requester(session, service, clock=clock, gate=gate, account=BOB), stub.url + "/x")
    assert len(stub.seen) == 1  # Bob never reached the service
    assert caught.value.retry_after == 60.0
    other = "sharepoint" if service == "graph" else "graph"
    assert gate.wait_time(other, BOB) == 0.0  # the other service has its own budget


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Retry-After": "60"},
        {"x-ms-throttle-scope": "User/ReadWrite/app/user"},
        {"x-ms-throttle-information": "ResourceUnitLimitExceeded"},
    ],
)
def test_other_throttles_are_the_users_own(headers):
    assert not holds_everyone(headers)


def test_a_short_shared_hold_is_waited_out(stub, session):
    clock = Clock()
    gate = LocalThrottleGate(clock)
    gate.hold("graph", 0.5)
    get(requester(session, clock=clock, gate=gate, account=ALICE), stub.url + "/me")
    assert clock.slept == [0.5]
    assert len(stub.seen) == 1


def test_a_hold_never_shortens_and_ends_on_time():
    clock = Clock()
    gate = LocalThrottleGate(clock)
    gate.hold("graph", 10.0, ALICE)
    gate.hold("graph", 2.0, ALICE)  # a shorter hold never shortens a longer one
    assert gate.wait_time("graph", ALICE) == 10.0
    clock.now += 12.0
    assert gate.wait_time("graph", ALICE) == 0.0


def test_holds_are_capped():
    gate = LocalThrottleGate(Clock())
    gate.hold("sharepoint", 86_400.0)
    gate.hold("graph", 600.0, ALICE)
    assert gate.wait_time("sharepoint") == MAX_HOLD
    assert gate.wait_time("graph", ALICE) == MAX_HOLD


def test_an_enormous_retry_after_is_held_only_up_to_the_cap(stub, session):
    clock = Clock()
    gate = LocalThrottleGate(clock)
    stub.reply(503, Retry_After="86400")
    with pytest.raises(ThrottledError) as caught:
        get(requester(session, clock=clock, gate=gate, account=ALICE), stub.url + "/me")
    assert caught.value.retry_after == 86_400.0  # the page may still say what Microsoft said
    assert gate.wait_time("graph", ALICE) == MAX_HOLD


def test_each_exchange_is_reported_to_the_call_hook(stub, session):
    calls: list[UpstreamCall] = []
    stub.reply(503, Retry_After="0")
    stub.reply(404, {"error": {"code": "ImageNotFound", "message": "x"}})
    with pytest.raises(NotFoundError):
        get(requester(session, on_call=calls.append), stub.url + "/me/photo/$value")
    assert [(c.service, c.operation, c.method, c.status, c.attempt) for c in calls] == [
        ("graph", "test", "GET", 503, 0),
        ("graph", "test", "GET", 404, 1),
    ]
    assert all(c.duration >= 0 for c in calls)


# -- 401 and the token provider ------------------------------------------------------------------


class Tokens:
    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.forced = 0

    def __call__(self, force_refresh: bool = False) -> str:
        self.forced += force_refresh
        return self.tokens.pop(0) if len(self.tokens) > 1 else self.tokens[0]


def test_401_gets_one_fresh_token_and_a_retry(stub, session):
    stub.reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}})
    stub.reply(200)
    tokens = Tokens("old", "new")
    call(requester(session), "GET", stub.url + "/me", tokens)
    assert tokens.forced == 1
    assert [s.headers["Authorization"] for s in stub.seen] == ["Bearer old", "Bearer new"]


def test_401_twice_requires_sign_in(stub, session):
    for _ in range(2):
        stub.reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": "bad"}})
    with pytest.raises(AuthRequiredError) as caught:
        call(requester(session), "GET", stub.url + "/me", Tokens("a", "b"))
    assert caught.value.code == "InvalidAuthenticationToken"
    assert len(stub.seen) == 2


def test_401_is_not_resent_with_the_same_token(stub, session):
    stub.reply(401)
    with pytest.raises(AuthRequiredError):
        get(requester(session), stub.url + "/me")  # a provider without force_refresh
    assert len(stub.seen) == 1


def test_a_claims_challenge_goes_to_sign_in_with_its_claims(stub, session):
    claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
    encoded = __import__("base64").urlsafe_b64encode(claims.encode()).decode().rstrip("=")
    stub.reply(
        401,
        {"error": {"code": "InvalidAuthenticationToken", "message": "claims"}},
        WWW_Authenticate=f'Bearer realm="", error="insufficient_claims", claims="{encoded}"',
    )
    tokens = Tokens("a", "b")
    with pytest.raises(AuthRequiredError) as caught:
        call(requester(session), "GET", stub.url + "/me", tokens)
    assert caught.value.claims_challenge == claims
    assert tokens.forced == 0
    assert len(stub.seen) == 1


class ClaimsTokens:
    """A provider that can refresh with a claims challenge (what web/context.py hands in)."""

    def __init__(self) -> None:
        self.claims: list[str | None] = []

    def __call__(self, force_refresh: bool = False, claims_challenge: str | None = None) -> str:
        self.claims.append(claims_challenge)
        return "stepped-up" if claims_challenge else "plain"


def test_a_claims_challenge_is_answered_by_a_refresh_with_its_claims_and_one_retry(stub, session):
    claims = '{"access_token":{"nbf":{"essential":true, "value":"1700000000"}}}'
    encoded = __import__("base64").b64encode(claims.encode()).decode()
    stub.reply(
        401,
        {"error": {"code": "InvalidAuthenticationToken", "message": "CAE"}},
        WWW_Authenticate=f'Bearer realm="", error="insufficient_claims", claims="{encoded}"',
    )
    stub.reply(200)
    tokens = ClaimsTokens()
    call(requester(session), "GET", stub.url + "/me", tokens)
    assert tokens.claims == [None, claims]
    assert [s.headers["Authorization"] for s in stub.seen] == ["Bearer plain", "Bearer stepped-up"]


def test_sharepoints_diagnostics_travel_with_a_refused_token(stub, session):
    diagnostics = '3000006;reason="Token contains invalid signature.";category="invalid_client"'
    for _ in range(2):
        stub.reply(401, {"error": "invalid_client"}, x_ms_diagnostics=diagnostics)
    with pytest.raises(AuthRequiredError) as caught:
        call(requester(session, "sharepoint"), "GET", stub.url + "/_api/x", Tokens("a", "b"))
    assert caught.value.diagnostics == diagnostics


def test_a_loop_guard_turns_a_persistent_401_into_a_lasting_refusal(stub, session):
    for _ in range(2):
        stub.reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": "no"}})
    with pytest.raises(AccessRefusedError) as caught:
        call(
            requester(session, on_auth_failure=AccessRefusedError.after),
            "GET",
            stub.url + "/me",
            Tokens("a", "b"),
        )
    assert (caught.value.status, caught.value.code, caught.value.lasting) == (
        401,
        "InvalidAuthenticationToken",
        True,
    )


def test_a_call_can_narrow_which_statuses_are_retried(stub, session):
    stub.reply(502)
    stub.reply(200)
    with pytest.raises(ServiceUnavailableError):
        get(requester(session), stub.url + "/push", retry_on={429, 503})
    assert len(stub.seen) == 1


# -- status + body → error (STYLE §3.6) ----------------------------------------------------------

GRAPH_403 = {
    "error": {
        "code": "Authorization_RequestDenied",
        "message": "Insufficient privileges to complete the operation.",
        "innerError": {"date": "2024-07-03T10:12:41", "request-id": "rid-403"},
    }
}
SP_VERBOSE = {
    "error": {
        "code": "-2147024891, System.UnauthorizedAccessException",
        "message": {"lang": "en-US", "value": "Access denied."},
    }
}
SP_LIGHT = {
    "odata.error": {
        "code": "-2147024809, System.ArgumentException",
        "message": {"lang": "en-US", "value": "Parameter is not valid."},
    }
}
SP_NOT_EDITABLE = {
    "odata.error": {
        "code": "-1, Microsoft.Office.Server.UserProfiles.PropertyNotEditableException",
        "message": {"lang": "en-US", "value": "Property Not Editable"},
    }
}


E = ("status", "body", "headers", "cls", "code", "message", "request_id")
ERROR_CASES = [
    pytest.param(
        403,
        GRAPH_403,
        {},
        ForbiddenError,
        "Authorization_RequestDenied",
        "Insufficient",
        "rid-403",
        id="graph-403-field-not-yours",
    ),
    pytest.param(
        400,
        {"error": {"code": "BadRequest", "message": "not supported on the targeted entity set"}},
        {"request-id": "hdr-rid"},
        BadRequestError,
        "BadRequest",
        "not supported",
        "hdr-rid",
        id="graph-400-mixed-patch",
    ),
    pytest.param(
        404,
        {"error": {"code": "Request_ResourceNotFound", "message": "gone"}},
        {},
        NotFoundError,
        "Request_ResourceNotFound",
        "gone",
        None,
        id="graph-404",
    ),
    pytest.param(
        403,
        SP_VERBOSE,
        {"SPRequestGuid": "sp-guid"},
        ForbiddenError,
        SP_VERBOSE["error"]["code"],
        "Access denied.",
        "sp-guid",
        id="sharepoint-verbose-403",
    ),
    pytest.param(
        400,
        SP_LIGHT,
        {},
        BadRequestError,
        SP_LIGHT["odata.error"]["code"],
        "Parameter is not",
        None,
        id="sharepoint-light-400",
    ),
    pytest.param(
        500,
        SP_NOT_EDITABLE,
        {},
        UpstreamError,
        SP_NOT_EDITABLE["odata.error"]["code"],
        "Not Editable",
        None,
        id="sharepoint-500-not-editable",
    ),
    pytest.param(
        401,
        {"error": "invalid_token", "error_description": "Invalid JWT token."},
        {},
        AuthRequiredError,
        "invalid_token",
        "Invalid JWT",
        None,
        id="oauth-style-401",
    ),
    pytest.param(
        500,
        b"<html>oops</html>",
        {"Content-Type": "text/html"},
        UpstreamError,
        None,
        "Internal",
        None,
        id="html-500",
    ),
    pytest.param(409, b"", {}, UpstreamError, None, "Conflict", None, id="empty-409"),
    pytest.param(
        302,
        b"",
        {"Location": "https://elsewhere.example/"},
        BadResponseError,
        None,
        "redirect",
        None,
        id="redirect-not-followed",
    ),
    pytest.param(
        502,
        b"bad gateway",
        {"Content-Type": "text/plain", "Retry-After": "600"},
        ServiceUnavailableError,
        None,
        "Bad Gateway",
        None,
        id="502-long-retry-after",
    ),
]


@pytest.mark.parametrize(E, ERROR_CASES)
def test_error_bodies_become_typed_errors(
    stub, session, status, body, headers, cls, code, message, request_id
):
    stub.reply(status, body, **{k.replace("-", "_"): v for k, v in headers.items()})
    with pytest.raises(UpstreamError) as caught:
        get(requester(session, "sharepoint"), stub.url + "/x")
    error = caught.value
    assert type(error) is cls
    assert (error.service, error.status, error.code, error.request_id) == (
        "sharepoint",
        status,
        code,
        request_id,
    )
    assert message in error.message
    assert len(stub.seen) == 1  # the redirect was not followed, 502 RA 600 not waited


def test_errors_never_carry_the_token(stub, session):
    stub.reply(403, GRAPH_403)
    with pytest.raises(ForbiddenError) as caught:
        get(requester(session), stub.url + "/me", token="secret-token-value")
    assert "secret-token-value" not in str(caught.value)
    assert "Insufficient privileges" in str(caught.value)


# -- no answer -----------------------------------------------------------------------------------


def test_a_hung_service_times_out_within_the_read_timeout(stub, session):
    stub.reply(hang=True)
    with pytest.raises(UpstreamTimeoutError) as caught:
        get(requester(session, "sharepoint", timeout=(1.0, 0.3)), stub.url + "/hang")
    assert "read timeout=0.3" in str(caught.value.__cause__)
    assert caught.value.service == "sharepoint"
    assert len(stub.seen) == 1  # a timeout is not retried: the write may have happened


def test_connection_refused_is_retried_then_service_unavailable(session):
    with pytest.raises(ServiceUnavailableError) as caught:
        get(requester(session), "http://127.0.0.1:9/me")
    assert caught.value.code == "ConnectionFailed"
    assert caught.value.status is None


# -- wire anomalies through the clients ----------------------------------------------------------


def test_graph_answering_non_json_is_a_bad_response(stub, session):
    stub.reply(200, b"<feed/>", Content_Type="application/atom+xml")
    client = GraphClient(stub.url + "/v1.0", lambda: "t", session, CallOptions(retry=FAST))
    with pytest.raises(BadResponseError):
        client.me()
    assert stub.seen[0].path.startswith("/v1.0/me?$select=id,displayName,")
    assert stub.seen[0].headers["Accept"] == "application/json"


def test_verbose_sharepoint_profile_is_parsed_like_nometadata(stub, session):
    verbose = {
        "d": {
            "__metadata": {"type": "SP.UserProfiles.PersonProperties"},
            "AccountName": "i:0#.f|membership|adelev@contoso.com",
            "DisplayName": "Adele Vance",
            "Email": "AdeleV@contoso.com",
            "PersonalSiteHostUrl": "https://contoso-my.sharepoint.com:443/",
            "PictureUrl": "https://contoso-my.sharepoint.com:443/User%20Photos/Profile%20Pictures/"
            "87d3_MThumb.jpg?t=63783110969",
            "Title": None,
            "UserProfileProperties": {
                "results": [
                    {"__metadata": {"type": "SP.KeyValue"}, "Key": k, "Value": v}
                    for k, v in {
                        "SPS-PictureTimestamp": "63783110969",
                        "SPS-PicturePlaceholderState": "0",
                        "SPS-PictureExchangeSyncState": "1",
                        "Title": "Retail Manager",
                    }.items()
                ]
            },
        }
    }
    stub.reply(200, verbose)
    tokens: list[str] = []
    client = SharePointClient(stub.url, lambda origin: tokens.append(origin) or "t", session)
    profile = client.my_properties()
    assert stub.seen[0].headers["Accept"] == "application/json;odata=nometadata"
    assert tokens == [stub.url]
    assert profile.account_name == "i:0#.f|membership|adelev@contoso.com"
    assert profile.title == "Retail Manager"
    assert profile.picture_timestamp is not None
    assert profile.picture_timestamp.date().isoformat() == "2022-03-17"
    assert not profile.placeholder
    assert profile.exchange_sync_state == "1"
    assert profile.personal_site_host_url == "https://contoso-my.sharepoint.com:443/"


def test_picture_urls_on_foreign_hosts_are_never_fetched(stub, session):
    client = SharePointClient(stub.url, lambda origin: "t", session)
    profile = SharePointProfile(
        account_name="a",
        display_name=None,
        email=None,
        picture_url="https://attacker.example/User%20Photos/x_MThumb.jpg",
        title=None,
        personal_site_host_url="https://contoso-my.sharepoint.com/",
        properties={"SPS-PicturePlaceholderState": "0"},
    )
    with pytest.raises(BadResponseError):
        client.picture("L", profile)
    assert stub.seen == []


def test_pictures_on_the_my_site_host_get_a_token_for_that_host(stub, session):
    my_site = stub.url.replace("127.0.0.1", "localhost")
    profile = SharePointProfile(
        account_name="a",
        display_name=None,
        email=None,
        picture_url=f"{my_site}/User%20Photos/Profile%20Pictures/x_MThumb.jpg?t=1",
        title=None,
        personal_site_host_url=my_site + "/",
        properties={"SPS-PicturePlaceholderState": "0"},
    )
    stub.reply(200, b"\xff\xd8small", Content_Type="image/jpeg", ETag='"1"')
    origins: list[str] = []
    client = SharePointClient(
        stub.url, lambda origin: origins.append(origin) or "t", session, my_site_url=my_site
    )
    photo = client.picture("S", profile)
    assert photo is not None and photo.data == b"\xff\xd8small" and photo.etag == '"1"'
    assert stub.seen[0].path == "/User%20Photos/Profile%20Pictures/x_SThumb.jpg?t=1"
    assert origins == [my_site]


def test_a_picture_served_as_html_is_a_bad_response(stub, session):
    profile = SharePointProfile("a", None, None, stub.url + "/p/x_MThumb.jpg", None, None, {})
    stub.reply(200, b"<html>sign in</html>", Content_Type="text/html")
    client = SharePointClient(stub.url, lambda origin: "t", session)
    with pytest.raises(BadResponseError):
        client.picture("M", profile)


def test_a_503_naming_a_long_wait_is_throttling(stub, session):
    # SharePoint throttles with 503 + Retry-After as well as 429 (reference §4.8).
    stub.reply(503, Retry_After="300")
    with pytest.raises(ThrottledError) as caught:
        get(requester(session, "sharepoint"), stub.url + "/_api/x")
    assert (caught.value.status, caught.value.retry_after) == (503, 300.0)
    assert len(stub.seen) == 1


def test_a_cut_off_body_is_a_bad_response(stub, session):
    stub.reply(200, b"\xff\xd8 half a photo", declared_length=10_000, Content_Type="image/jpeg")
    with pytest.raises(BadResponseError) as caught:
        get(requester(session), stub.url + "/me/photo/$value")
    assert caught.value.code == "BrokenBody"


def test_a_netrc_entry_never_replaces_the_bearer(stub, session, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    get(requester(session), stub.url + "/me", token="t0ken")
    assert stub.seen[0].headers["Authorization"] == "Bearer t0ken"


# -- where a token may go (issue 16 item 1) -------------------------------------------------------

TENANT = "https://contoso.sharepoint.com"
MY_SITE = "https://contoso-my.sharepoint.com"
LIBRARY = "/User%20Photos/Profile%20Pictures"


def picture_profile(picture_url: str, personal_site: str | None = MY_SITE + ":443/"):
    return SharePointProfile(
        account_name="i:0#.f|membership|adelev@contoso.com",
        display_name=None,
        email=None,
        picture_url=picture_url,
        title=None,
        personal_site_host_url=personal_site,
        properties={"SPS-PicturePlaceholderState": "0"},
    )


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        ("https://contoso.sharepoint.com", "https://contoso-my.sharepoint.com"),
        ("https://contoso.sharepoint.us", "https://contoso-my.sharepoint.us"),
        ("https://contoso.sharepoint.m365.test", "https://contoso-my.sharepoint.m365.test"),
        ("https://contoso-my.sharepoint.com", "https://contoso-my.sharepoint.com"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
        ("https://localhost:8443", "https://localhost:8443"),
    ],
)
def test_the_my_site_host_is_derived_from_the_sharepoint_origin(site, expected):
    assert my_site_origin(site) == expected


def test_picture_urls_are_rebuilt_on_the_configured_my_site_host(session):
    client = SharePointClient(TENANT, lambda origin: "t", session)
    profile = picture_profile(f"{MY_SITE}:443{LIBRARY}/adelev_contoso_com_MThumb.jpg?t=6378311")
    assert client.picture_url("L", profile) == (
        f"{MY_SITE}{LIBRARY}/adelev_contoso_com_LThumb.jpg?t=6378311"
    )
    oid = f"{MY_SITE}{LIBRARY}/306225cd-5f3b-4f45-9b1a-0c6bd8f8ed4b_MThumb.jpg"
    assert client.picture_url("S", picture_profile(oid)) == oid.replace("_MThumb", "_SThumb")


MY = "contoso-my.sharepoint.com"
HOSTILE_PICTURE_URLS = [
    pytest.param(f"https://other.example\\@{MY}{LIBRARY}/x_MThumb.jpg", id="backslash-at"),
    pytest.param(f"https://other.example\\.{MY}{LIBRARY}/x_MThumb.jpg", id="backslash"),
    pytest.param(f"https://user:pw@{MY}{LIBRARY}/x_MThumb.jpg", id="userinfo"),
    pytest.param(f"https://{MY}:8443{LIBRARY}/x_MThumb.jpg", id="other-port"),
    pytest.param(f"https://{MY}:99999{LIBRARY}/x_MThumb.jpg", id="bad-port"),
    pytest.param(f"http://{MY}{LIBRARY}/x_MThumb.jpg", id="plain-http"),
    pytest.param(f"https://fabrikam-my.sharepoint.com{LIBRARY}/x_MThumb.jpg", id="other-tenant"),
    pytest.param(f"https://other.example{LIBRARY}/x_MThumb.jpg", id="other-host"),
    pytest.param(f"https://{MY}/User%20Photos/../../_api/x_MThumb.jpg", id="dot-segments"),
    pytest.param(f"https://{MY}/User%20Photos%2F..%2F_api/x_MThumb.jpg", id="encoded-slash"),
    pytest.param(f"https://{MY}{LIBRARY}/x_MThumb.aspx", id="not-a-picture"),
    pytest.param(f"https://{MY}{LIBRARY}/x%40evil_MThumb.jpg", id="encoded-at"),
    pytest.param(f"https://{MY}{LIBRARY}/x_MThumb.jpg\r\nX-Injected: 1", id="header-injection"),
]  # fmt: skip


@pytest.mark.parametrize("url", HOSTILE_PICTURE_URLS)
def test_picture_urls_that_could_leave_the_tenant_are_refused(stub, session, url):
    client = SharePointClient(TENANT, lambda origin: "t", session)
    for size in ("S", "M", "L"):
        with pytest.raises(BadResponseError):
            client.picture(size, picture_profile(url))
    assert stub.seen == []


def test_a_personal_site_host_a_response_names_is_not_trusted(session):
    client = SharePointClient(TENANT, lambda origin: "t", session)
    profile = picture_profile(
        f"https://other.example{LIBRARY}/x_MThumb.jpg", personal_site="https://other.example/"
    )
    with pytest.raises(BadResponseError):
        client.picture_url("M", profile)


@pytest.mark.parametrize(
    ("url", "origin", "expected"),
    [
        ("https://contoso-my.sharepoint.com/User%20Photos/x.jpg", MY_SITE, True),
        ("https://contoso-my.sharepoint.com:443/x.jpg", MY_SITE, True),
        ("https://contoso-my.sharepoint.com/userphoto.aspx?accountname=a%40b.c", MY_SITE, True),
        ("https://other.example\\@contoso-my.sharepoint.com/x.jpg", MY_SITE, False),
        ("https://other.example/%5C@contoso-my.sharepoint.com/x.jpg", MY_SITE, False),
        ("https://a@contoso-my.sharepoint.com/x.jpg", MY_SITE, False),
        ("https://contoso-my.sharepoint.com:8443/x.jpg", MY_SITE, False),
        ("http://contoso-my.sharepoint.com/x.jpg", MY_SITE, False),
        ("https://contoso-my.sharepoint.com\t/x.jpg", MY_SITE, False),
        ("https://contoso.sharepoint.com/_api/x", MY_SITE, False),
    ],
)
def test_a_token_goes_only_to_the_origin_it_was_issued_for(url, origin, expected):
    assert sends_to(url, origin) is expected


def test_the_transport_refuses_to_carry_a_token_to_another_host(stub, session):
    # urllib.parse reads 127.0.0.1:9 here; urllib3 (which requests connects with) reads the stub.
    port = stub.url.rsplit(":", 1)[1]
    url = f"http://127.0.0.1:{port}\\@127.0.0.1:9/me"
    assert normalise_origin(url) == "http://127.0.0.1:9"
    req = requester(session)
    with pytest.raises(BadResponseError) as caught:
        req.request(
            "GET",
            url,
            token_provider=lambda: "secret",
            audience="http://127.0.0.1:9",
            operation="t",
        )
    assert caught.value.code == "ForeignHost"
    with pytest.raises(BadResponseError):
        req.request(
            "GET", stub.url + "/me", token_provider=lambda: "secret", audience=TENANT, operation="t"
        )
    assert stub.seen == []  # no request, let alone a token, reached the other host


def test_tokens_join_requests_in_one_place_only():
    # bearer.py is the one module that writes an Authorization header; every other outbound
    # call that wants a token must go through it (and so through its host check).
    root = Path(webapp.__file__).parent
    writers = [
        path.relative_to(root).as_posix()
        for path in root.rglob("*.py")
        if re.search(
            r"""["']Authorization["']\s*\]\s*=|["']Authorization["']\s*:""", path.read_text()
        )
    ]
    assert writers == ["microsoft/bearer.py"]


# -- whatever JSON arrives, parsing ends in a model or BadResponseError ---------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    ["id", "displayName", "businessPhones", "skills", "birthday", "width", "height",
     "@odata.mediaContentType", "AccountName", "PictureUrl", "PersonalSiteHostUrl",
     "UserProfileProperties", "d", "results", "Key", "Value"]
)  # fmt: skip
WIRE = st.dictionaries(KEYS | st.text(max_size=6), JSON, max_size=6)


@given(WIRE)
def test_any_wire_object_parses_or_is_a_bad_response(data):
    for parse in (GraphUser.from_graph, PhotoMeta.from_graph, SharePointProfile.from_sharepoint):
        with contextlib.suppress(BadResponseError):
            parse(data)


@given(st.dictionaries(st.sampled_from(["results"]), st.lists(WIRE, max_size=3)) | WIRE)
def test_any_user_profile_properties_parse_or_are_a_bad_response(properties):
    try:
        profile = SharePointProfile.from_sharepoint(
            {"AccountName": "i:0#.f|membership|a@b.c", "UserProfileProperties": properties}
        )
    except BadResponseError:
        return
    assert all(isinstance(v, str) for v in profile.properties.values())
    profile.picture_timestamp  # noqa: B018 (must not raise)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("63783110969", datetime(2022, 3, 17, 10, 49, 29, tzinfo=UTC)),
        ("", None),
        ("0", None),
        ("²", None),
        ("-5", None),
        ("9" * 40, None),
    ],
)
def test_picture_timestamp_counts_seconds_from_year_one(raw, expected):
    profile = SharePointProfile("a", None, None, None, None, None, {"SPS-PictureTimestamp": raw})
    assert profile.picture_timestamp == expected


def test_photo_metadata_needs_integer_dimensions():
    with pytest.raises(BadResponseError):
        PhotoMeta.from_graph({"id": "1x1", "width": True, "height": True})


def test_an_expired_token_refreshed_without_the_claims_gets_one_more_refresh_with_them(
    stub, session
):
    """The refresh after an expired token may lack an authentication context a policy wants;
    Graph's challenge then names it, and a refresh with those claims cures it (§9.2)."""
    claims = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}'
    encoded = __import__("base64").b64encode(claims.encode()).decode()
    stub.reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}})
    stub.reply(
        401,
        {"error": {"code": "InvalidAuthenticationToken", "message": "claims"}},
        WWW_Authenticate=f'Bearer realm="", error="insufficient_claims", claims="{encoded}"',
    )
    stub.reply(200)
    asked: list[str | None] = []

    def provider(force_refresh: bool = False, claims_challenge: str | None = None) -> str:
        asked.append(claims_challenge)
        if claims_challenge:
            return "stepped-up"
        return "refreshed" if force_refresh else "expired"

    call(requester(session), "GET", stub.url + "/me", provider)
    assert asked == [None, None, claims]
    assert [s.headers["Authorization"] for s in stub.seen] == [
        "Bearer expired",
        "Bearer refreshed",
        "Bearer stepped-up",
    ]
