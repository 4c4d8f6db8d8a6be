"""Fixtures for the contract tests.

`m365`: the emulator's own contract, the demo tenant behind Flask's test client
(tests/support/m365.py). `make_clients`: our Graph and SharePoint clients against the emulator
over HTTPS (the suite's `emulator` and `tenant`), for users each test adds itself
(tests/support/clients.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msal
import pytest
import requests

from m365_emulator import create_app
from m365_emulator.seed import seed_demo_tenant
from m365_emulator.tenant import Origins, Tenant, User
from tests.support.authorize import AuthorizePages
from tests.support.clients import TEST_RETRY, USER_AGENT, Clients, Tokens, add_user
from tests.support.clock import Clock
from tests.support.emulator import TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_REDIRECT_URI, Emulator
from tests.support.m365 import (
    ATTRIBUTE_IMPORT_DELAY,
    GRAPH_SCOPES,
    M365,
    PHOTO_CACHE_LIFETIME,
    PHOTO_PULL_INTERVAL,
)
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.requester import CallOptions, RetryPolicy
from webapp.microsoft.session import build_session
from webapp.microsoft.sharepoint import SharePointClient
from webapp.microsoft.throttle import NoThrottleGate, ThrottleGate


@pytest.fixture(scope="session")
def _m365_session() -> Iterator[M365]:
    tenant = Tenant(
        Origins.virtual(),
        photo_pull_interval=PHOTO_PULL_INTERVAL,
        attribute_import_delay=ATTRIBUTE_IMPORT_DELAY,
        photo_cache_lifetime=PHOTO_CACHE_LIFETIME,
        seed=seed_demo_tenant,
    )
    yield M365(tenant, create_app(tenant))


@pytest.fixture
def m365(_m365_session: M365) -> M365:
    """The demo tenant, freshly reset, on the classic photo model with the MC653734 switch off."""
    # The contract tests of the classic model (reference §5.2-5.3) run on a classic tenant;
    # test_photo_model.py switches to the current one where it means to.
    _m365_session.tenant.photo_model = "classic"
    _m365_session.tenant.local_uploads_disabled = False
    _m365_session.tenant.reset()
    return _m365_session


@pytest.fixture
def m365_current(m365: M365) -> M365:
    """The same demo tenant on the current photo model (reference §9.1), the tenant default."""
    m365.tenant.photo_model = "current"
    return m365


@pytest.fixture
def http_session(emulator: Emulator) -> Iterator[requests.Session]:
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


@dataclass
class MsalSession:
    """A user signed in to the test app through real MSAL and the emulator's pages."""

    app: msal.ConfidentialClientApplication
    account: dict[str, Any]
    result: dict[str, Any]  # what acquire_token_by_auth_code_flow returned


MsalSignIn = Callable[..., MsalSession]


@pytest.fixture
def msal_sign_in(
    emulator: Emulator, tenant: Tenant, http: requests.Session, pages: AuthorizePages
) -> MsalSignIn:
    """`msal_sign_in("in-sync", capabilities=["CP1"])`: the auth-code flow as the app runs it.

    The browser (`pages`) keeps the emulator's sign-in cookie, so a second call signs in
    through the existing session, as a returning user would.
    """

    def sign_in(
        key: str,
        scopes: Iterable[str] = GRAPH_SCOPES,
        *,
        capabilities: list[str] | None = None,
        claims_challenge: str | None = None,
        app: msal.ConfidentialClientApplication | None = None,
    ) -> MsalSession:
        app = app or msal.ConfidentialClientApplication(
            TEST_CLIENT_ID,
            client_credential=TEST_CLIENT_SECRET,
            authority=emulator.authority,
            http_client=http,
            instance_discovery=False,
            client_capabilities=capabilities,
        )
        user = tenant.user(key)
        flow = app.initiate_auth_code_flow(
            list(scopes),
            redirect_uri=TEST_REDIRECT_URI,
            response_mode="form_post",
            login_hint=user.upn,
            claims_challenge=claims_challenge,
        )
        answer = pages.complete(flow["auth_uri"], user.oid)
        result = app.acquire_token_by_auth_code_flow(flow, answer, scopes=list(scopes))
        assert "access_token" in result, result
        (account,) = app.get_accounts(username=user.upn)
        return MsalSession(app, account, result)

    return sign_in
