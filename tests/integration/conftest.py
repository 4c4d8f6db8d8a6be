"""Integration fixtures: the app as configured for a real tenant, pointed at the emulator.

`settings` is real-tenant-shaped (CLIENT_ID, AUTHORITY, GRAPH_ENDPOINT, SHAREPOINT_URL over
HTTPS with the emulator's CA), so these tests walk the production code path; `sign_in`
drives the real MSAL auth-code flow through the emulator's pages (flaskr's AuthActions).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from m365_emulator.faults import Fault
from m365_emulator.tenant import Tenant
from tests.conftest import (
    TEST_CLIENT_ID,
    TEST_CLIENT_SECRET,
    AuthorizePages,
    Emulator,
)
from webapp import create_app
from webapp.microsoft.requester import RetryPolicy
from webapp.settings import Settings

APP_URL = "http://localhost:5000"


@pytest.fixture
def settings(emulator: Emulator) -> Settings:
    settings = Settings(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        tenant_id=emulator.tenant.tenant_id,
        authority=emulator.authority,
        graph_endpoint=f"{emulator.url}/v1.0",
        sharepoint_url=emulator.url,
        secret_key="integration-test-secret-key-0123456789abcdef",
        public_url=APP_URL,
        requests_ca_bundle=str(emulator.ca_path),
        organisation_name="Contoso",
    )
    settings.validate()
    return settings


@pytest.fixture
def hour_long_tokens(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Access tokens that expire after an hour: the app declares CP1, so its tokens live the
    CAE lifetime (about a day) otherwise, and moving the clock an hour forces no refresh."""
    monkeypatch.setattr(tenant, "cae_token_lifetime", 3600)


@pytest.fixture
def unreachable_push(tenant: Tenant) -> None:
    """SharePoint's SetMyProfilePicture never answers (the connection drops): a failure a
    retry may cure, unlike a refusal (issue 14: a push refused with a status is final)."""
    tenant.faults.add(
        "sharepoint", Fault(network="drop", method="POST", path_contains="SetMyProfilePicture")
    )


@pytest.fixture
def single_tries(app: Flask) -> None:
    """Each call to Microsoft is tried once (no retry after a dropped connection or a 503):
    what these tests look at is what the app makes of one failed call, not the retry policy."""
    options = app.extensions["call_options"]
    once = RetryPolicy(budget=1.0, max_retries=0)
    app.extensions["call_options"] = dataclasses.replace(options, retry=once)


@pytest.fixture
def app(settings: Settings, tenant: Tenant, tmp_path) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = create_app(settings, instance_path=str(tmp_path / "instance"))
    app.config["TESTING"] = True
    yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class SignIn:
    """`sign_in.as_user("stale-photo")`: the whole sign-in round trip, as a browser would."""

    def __init__(self, client: FlaskClient, pages: AuthorizePages, tenant: Tenant) -> None:
        self.client = client
        self.pages = pages
        self.tenant = tenant

    def start(self, next_page: str | None = None) -> str:
        """GET /login; returns the authority URL the app redirected to."""
        query = {"next": next_page} if next_page else {}
        response = self.client.get("/login", query_string=query)
        assert response.status_code == 302, response.status_code
        return response.headers["Location"]

    def answer(self, auth_uri: str, key: str, *, consent: bool = True) -> dict[str, str]:
        """What the emulator posts back to the redirect URI for user `key`."""
        return self.pages.complete(auth_uri, self.tenant.user(key).oid, consent=consent)

    def finish(self, answer: dict[str, str]) -> TestResponse:
        return self.client.post("/auth/redirect", data=answer)

    def as_user(self, key: str, next_page: str | None = None) -> TestResponse:
        response = self.finish(self.answer(self.start(next_page), key))
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response


@pytest.fixture
def sign_in(client: FlaskClient, pages: AuthorizePages, tenant: Tenant) -> SignIn:
    return SignIn(client, pages, tenant)
