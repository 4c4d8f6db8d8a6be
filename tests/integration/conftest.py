"""Integration fixtures: the app as configured for a real tenant, pointed at the emulator.

`settings` is real-tenant-shaped (CLIENT_ID, AUTHORITY, GRAPH_ENDPOINT, SHAREPOINT_URL over
HTTPS with the emulator's CA), so these tests walk the production code path; `sign_in`
drives the real MSAL auth-code flow through the emulator's pages (tests/support/signin.py).
The app's waits for Microsoft (Retry-After, back-off, throttle holds) run on `clock`, so the
demo users keep their real Retry-After values and no test sleeps them out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from m365_emulator.faults import Fault
from m365_emulator.tenant import Tenant
from tests.support.authorize import AuthorizePages
from tests.support.clock import Clock, run_calls_on
from tests.support.emulator import TEST_CLIENT_ID, TEST_CLIENT_SECRET, Emulator
from tests.support.signin import APP_URL, SignIn
from webapp import create_app
from webapp.settings import Settings


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
def clock() -> Clock:
    """The clock the app's calls to Microsoft wait on: no test sleeps for a Retry-After."""
    return Clock()


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
def app(settings: Settings, tenant: Tenant, clock: Clock, tmp_path) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = create_app(settings, instance_path=str(tmp_path / "instance"))
    app.config["TESTING"] = True
    run_calls_on(app, clock)
    yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def sign_in(client: FlaskClient, pages: AuthorizePages, tenant: Tenant) -> SignIn:
    return SignIn(client, pages, tenant)


@pytest.fixture
def no_secrets_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """After the test: no token, code or photo bytes were logged (security.md E8)."""
    caplog.set_level(logging.DEBUG)
    yield
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "eyJ" not in text  # JWT header prefix: no access or ID token
    assert "Bearer " not in text
    assert "\xff\xd8\xff" not in text  # no raw JPEG
    assert "/9j/" not in text  # no base64 JPEG
