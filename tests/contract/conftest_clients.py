"""Fixtures for running our Graph and SharePoint clients against the emulator.

Imported by `test_clients.py`; they build on the suite's `emulator` and `tenant` fixtures.
Users are added per test (not taken from the demo seed) so each test states the state it needs.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from PIL import Image

from m365_emulator.tenant import Tenant, User
from m365_emulator.tokens import GRAPH_RESOURCE, issue_access_token
from tests.support.clock import Clock
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.requester import CallOptions, RetryPolicy
from webapp.microsoft.session import build_session, decorated_user_agent
from webapp.microsoft.sharepoint import SharePointClient
from webapp.microsoft.throttle import NoThrottleGate, ThrottleGate

CLIENT_ID = "contract-tests"
GRAPH_SCOPES = ["User.Read", "User.ReadWrite"]
SHAREPOINT_SCOPES = ["AllSites.Write"]
USER_AGENT = decorated_user_agent("Contoso", "1.0")
# Back-off short enough for tests, budget as in production (security.md §0 item 7).
TEST_RETRY = RetryPolicy(budget=10.0, max_retries=3, backoff_base=0.1, backoff_max=1.0)


def jpeg(size: tuple[int, int] = (300, 300), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def mean_colour(data: bytes) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        small = image.convert("RGB").resize((1, 1))
        return small.getpixel((0, 0))  # type: ignore[return-value]


@dataclass
class Tokens:
    """Access tokens for one user, issued by the emulator as Entra would (per resource)."""

    tenant: Tenant
    user: User
    issued: list[str] = field(default_factory=list)  # resources, in order
    forced: int = 0

    def graph(self, force_refresh: bool = False) -> str:
        self.forced += force_refresh
        self.issued.append(GRAPH_RESOURCE)
        return issue_access_token(self.tenant, self.user, CLIENT_ID, GRAPH_RESOURCE, GRAPH_SCOPES)

    def sharepoint(self, origin: str, force_refresh: bool = False) -> str:
        self.forced += force_refresh
        self.issued.append(origin)
        return issue_access_token(self.tenant, self.user, CLIENT_ID, origin, SHAREPOINT_SCOPES)


@dataclass
class Clients:
    """Our two clients signed in as one emulator user."""

    user: User
    tokens: Tokens
    graph: GraphClient
    sharepoint: SharePointClient


def add_user(
    tenant: Tenant, *, has_mailbox: bool = True, directory: dict[str, object] | None = None
) -> User:
    """A fresh directory user with an empty SharePoint profile."""
    name = f"user{uuid.uuid4().hex[:8]}"
    upn = f"{name}@{tenant.domain}"
    user = User(
        key=name,
        oid=str(uuid.uuid4()),
        upn=upn,
        directory={"displayName": name.title(), "mail": upn, **(directory or {})},
        demonstrates="contract tests",
        has_mailbox=has_mailbox,
    )
    user.sharepoint.exchange_sync_state = "1" if has_mailbox else "0"
    return tenant.add_user(user)


@pytest.fixture
def http_session(emulator) -> Iterator[requests.Session]:
    """The production session shape, trusting the emulator's CA."""
    session = build_session(ca_bundle=str(emulator.ca_path), user_agent=USER_AGENT)
    yield session
    session.close()


@pytest.fixture
def clock() -> Clock:
    """The clients' clock: Retry-After and back-off waits are recorded, not slept."""
    return Clock()


@pytest.fixture
def make_clients(tenant: Tenant, http_session: requests.Session, clock: Clock):
    """`make_clients(user=None, timeout=..., retry=..., gate=...)` → Clients for a (new) user,
    waiting on the `clock` fixture and holding throttles for that user's account (oid.tid)."""

    def make(
        user: User | None = None,
        *,
        timeout: tuple[float, float] = (3.05, 20.0),
        retry: RetryPolicy = TEST_RETRY,
        gate: ThrottleGate | None = None,
    ) -> Clients:
        user = user or add_user(tenant)
        tokens = Tokens(tenant, user)
        options = CallOptions(
            timeout=timeout,
            retry=retry,
            gate=gate or NoThrottleGate(),
            clock=clock,
            sleep=clock.sleep,
        )
        account = f"{user.oid}.{tenant.tenant_id}"
        graph = GraphClient(
            tenant.origins.graph + "/v1.0", tokens.graph, http_session, options, account=account
        )
        sharepoint = SharePointClient(
            tenant.origins.sharepoint, tokens.sharepoint, http_session, options, account=account
        )
        return Clients(user, tokens, graph, sharepoint)

    return make
