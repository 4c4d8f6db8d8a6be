"""The two ways to run the emulator: in-process behind a `requests` transport, and standalone."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import msal
import pytest
import requests
from flask import Flask, jsonify, request

from m365_emulator import create_app
from m365_emulator.tenant import ClientRegistration, Origins, Tenant, User
from m365_emulator.transport import WSGIAdapter, mount
from tests.support.authorize import AuthorizePages
from tests.support.emulator import TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_REDIRECT_URI


def echo_app() -> Flask:
    app = Flask(__name__)

    @app.route("/echo/<path:rest>", methods=["GET", "POST"])
    def echo(rest: str):  # type: ignore[no-untyped-def]
        response = jsonify(
            method=request.method,
            rest=rest,
            args=request.args.to_dict(),
            form=request.form.to_dict(),
            host=request.host,
            scheme=request.scheme,
            agent=request.headers.get("X-Test"),
        )
        response.set_cookie("a", "1", secure=True)
        response.set_cookie("b", "2", secure=True)
        return response

    return app


@pytest.fixture
def session():
    with requests.Session() as session:
        yield session


def test_request_and_response_cross_the_adapter_intact(session):
    mount(session, echo_app(), ["https://svc.test"])
    response = session.post(
        "https://svc.test/echo/a%20b?x=1&y=%C3%A9",
        data={"k": "v"},
        headers={"X-Test": "yes"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json() == {
        "method": "POST",
        "rest": "a b",
        "args": {"x": "1", "y": "é"},
        "form": {"k": "v"},
        "host": "svc.test",
        "scheme": "https",
        "agent": "yes",
    }
    assert response.url == "https://svc.test/echo/a%20b?x=1&y=%C3%A9"
    assert response.request.method == "POST"
    assert response.headers["Content-Type"] == "application/json"
    assert b"".join(response.iter_content(7)) == response.content
    assert session.cookies.get_dict() == {"a": "1", "b": "2"}


def test_only_the_given_hosts_are_routed_in_process(session):
    mount(session, echo_app(), Origins.virtual())
    assert isinstance(session.get_adapter("https://login.m365.test/x"), WSGIAdapter)
    assert isinstance(session.get_adapter("https://contoso-my.sharepoint.m365.test/"), WSGIAdapter)
    assert not isinstance(session.get_adapter("https://graph.microsoft.com/"), WSGIAdapter)
    assert not isinstance(session.get_adapter("http://login.m365.test/"), WSGIAdapter)


@pytest.fixture
def virtual_tenant() -> Tenant:
    # The browser pages on the login host, so that one in-process session can walk them too.
    tenant = Tenant(dataclasses.replace(Origins.virtual(), browser="https://login.m365.test"))
    tenant.add_client(ClientRegistration(TEST_CLIENT_ID, TEST_CLIENT_SECRET, [TEST_REDIRECT_URI]))
    tenant.add_user(User("k", "oid-k", "k@contoso.onmicrosoft.com", {"displayName": "K"}, "x"))
    return tenant


def test_a_hung_emulator_times_out_like_a_socket(session, virtual_tenant):
    mount(session, create_app(virtual_tenant), virtual_tenant.origins)
    virtual_tenant.faults.hang("entra", 0.5)
    with pytest.raises(requests.ReadTimeout):
        session.get(
            f"https://login.m365.test/{virtual_tenant.tenant_id}/discovery/v2.0/keys",
            timeout=(1, 0.1),
        )


def test_msal_signs_in_over_the_in_process_transport(session, virtual_tenant):
    mount(session, create_app(virtual_tenant), virtual_tenant.origins)
    app = msal.ConfidentialClientApplication(
        TEST_CLIENT_ID,
        client_credential=TEST_CLIENT_SECRET,
        authority=f"https://login.m365.test/{virtual_tenant.tenant_id}",
        http_client=session,
        instance_discovery=False,
    )
    sharepoint = "https://contoso.sharepoint.m365.test/AllSites.Read"
    flow = app.initiate_auth_code_flow(
        ["User.Read", sharepoint], redirect_uri=TEST_REDIRECT_URI, response_mode="form_post"
    )
    answer = AuthorizePages(session).complete(flow["auth_uri"], "oid-k")
    result = app.acquire_token_by_auth_code_flow(flow, answer, scopes=["User.Read"])
    assert result["id_token_claims"]["oid"] == "oid-k", result
    (account,) = app.get_accounts()
    assert "access_token" in app.acquire_token_silent([sharepoint], account)


def test_standalone_server_prints_settings_an_app_can_use(tmp_path):
    command = [sys.executable, "-m", "m365_emulator", "--port", "0", "--state-dir", str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            settings = {}
            for line in server.stdout:
                name, sep, value = line.strip().partition("=")
                if sep:
                    settings[name] = value
                if line.startswith("Press Ctrl+C"):
                    break
            with requests.Session() as http:
                http.trust_env = False
                http.verify = settings["REQUESTS_CA_BUNDLE"]
                doc = http.get(
                    f"{settings['AUTHORITY']}/v2.0/.well-known/openid-configuration", timeout=5
                ).json()
                assert doc["token_endpoint"] == f"{settings['AUTHORITY']}/oauth2/v2.0/token"
                refused = http.post(
                    doc["token_endpoint"],
                    data={
                        "grant_type": "refresh_token",
                        "client_id": settings["CLIENT_ID"],
                        "client_secret": settings["CLIENT_SECRET"],
                        "refresh_token": "unknown",
                        "scope": "User.Read",
                    },
                    timeout=5,
                )
            assert refused.json()["error_codes"] == [70008]  # client authenticated, grant unknown
            assert settings["GRAPH_ENDPOINT"] == settings["SHAREPOINT_URL"] + "/v1.0"
        finally:
            server.terminate()
            server.wait(timeout=5)
