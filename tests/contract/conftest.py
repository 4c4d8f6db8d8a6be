"""Fixtures for the emulator's own contract tests: the demo tenant behind Flask's test client.

`m365` calls the emulated Graph and SharePoint hosts in-process with real tokens from
`tokens.issue_access_token`, so the emulator is checked against the reference on its own.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msal
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

from m365_emulator import create_app
from m365_emulator.seed import seed_demo_tenant
from m365_emulator.tenant import DEMO_CLIENT_ID, Origins, Tenant, User
from m365_emulator.tokens import GRAPH_RESOURCE, issue_access_token
from tests.conftest import (
    TEST_CLIENT_ID,
    TEST_CLIENT_SECRET,
    TEST_REDIRECT_URI,
    AuthorizePages,
    Emulator,
)

PHOTO_PULL_INTERVAL = 3600.0
ATTRIBUTE_IMPORT_DELAY = 600.0
PHOTO_CACHE_LIFETIME = 1800.0
GRAPH_SCOPES = ("User.Read", "User.ReadWrite")
SHAREPOINT_SCOPES = ("AllSites.Read",)
NOMETADATA = "application/json;odata=nometadata"


class M365:
    """The demo tenant and shortcuts to call its Graph and SharePoint hosts as a user."""

    def __init__(self, tenant: Tenant, app: Flask) -> None:
        self.tenant = tenant
        self.app = app
        self.client: FlaskClient = app.test_client()

    def user(self, key: str) -> User:
        return self.tenant.user(key)

    def token(self, key: str, resource: str, scopes: Iterable[str]) -> str:
        return issue_access_token(
            self.tenant, self.user(key), DEMO_CLIENT_ID, resource, list(scopes)
        )

    def graph(
        self,
        method: str,
        path: str,
        user: str = "in-sync",
        scopes: Iterable[str] = GRAPH_SCOPES,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: object,
    ) -> TestResponse:
        """A call to `https://graph…/v1.0{path}` with a Graph token for `user`."""
        token = token if token is not None else self.token(user, GRAPH_RESOURCE, scopes)
        all_headers = {"Authorization": f"Bearer {token}"} if token else {}
        all_headers.update(headers or {})
        return self.client.open(
            "/v1.0" + path,
            method=method,
            base_url=self.tenant.origins.graph,
            headers=all_headers,
            **kwargs,
        )

    def sharepoint(
        self,
        method: str,
        path: str,
        user: str = "in-sync",
        scopes: Iterable[str] = SHAREPOINT_SCOPES,
        *,
        accept: str | None = NOMETADATA,
        origin: str | None = None,
        token_origin: str | None = None,
        token: str | None = None,
        **kwargs: object,
    ) -> TestResponse:
        """A call to the SharePoint root (or `origin`) with a token for `token_origin`."""
        origin = origin or self.tenant.origins.sharepoint
        if token is None:
            token = self.token(user, token_origin or origin, scopes)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if accept is not None:
            headers["Accept"] = accept
        return self.client.open(path, method=method, base_url=origin, headers=headers, **kwargs)

    def my_properties(self, user: str = "in-sync", accept: str = NOMETADATA) -> TestResponse:
        return self.sharepoint(
            "GET", "/_api/SP.UserProfiles.PeopleManager/GetMyProperties", user, accept=accept
        )

    def upa(self, user: str = "in-sync") -> dict[str, str]:
        """The user's UserProfileProperties through GetMyProperties (nometadata)."""
        response = self.my_properties(user)
        assert response.status_code == 200, response.data
        return {p["Key"]: p["Value"] for p in response.json["UserProfileProperties"]}


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


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def make_image(fmt: str, size: tuple[int, int] = (64, 64), colour: str = "orange") -> bytes:
    """A small solid-colour image in `fmt` (JPEG, PNG, BMP, GIF)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def mean_colour(data: bytes) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").resize((1, 1)).getpixel((0, 0))


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
