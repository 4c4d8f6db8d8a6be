"""The fault plan: targeted, fully scripted failures of Graph, SharePoint and the token endpoint.

A test scripts Microsoft's misbehaviour here instead of subclassing the emulator or mounting
a stub transport (issue 12): by method, path, user and grant type, with any status, error
code, message, headers, raw body, or a dropped or hung connection.
"""

from __future__ import annotations

import email.utils
import json

import pytest
import requests

from m365_emulator import create_app, sharepoint
from m365_emulator.faults import Fault
from m365_emulator.tenant import Origins, Tenant
from m365_emulator.transport import mount
from tests.support.emulator import TEST_CLIENT_ID, TEST_CLIENT_SECRET, Emulator

PHOTO = "/me/photo/$value"


def graph_error(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.is_json, response.data
    return response.json["error"]


# -- Graph and SharePoint ------------------------------------------------------------------


def test_a_fault_can_refuse_only_the_write_of_a_path(m365):
    before = m365.user("in-sync").photo
    m365.tenant.faults.add(
        "graph",
        Fault(403, method="PUT", path_contains=PHOTO, code="ErrorAccessDenied", message="No."),
    )
    assert m365.graph("GET", PHOTO).status_code == 200  # reading the old photo still works
    refused = m365.graph("PUT", PHOTO, data=b"\xff\xd8", content_type="image/jpeg")
    assert refused.status_code == 403
    assert (graph_error(refused)["code"], graph_error(refused)["message"]) == (
        "ErrorAccessDenied",
        "No.",
    )
    assert "request-id" in graph_error(refused)["innerError"]
    assert m365.user("in-sync").photo is before


def test_a_queued_fault_is_used_up_only_by_the_calls_it_matches(m365):
    m365.tenant.faults.add("graph", Fault(409, method="PATCH", code="Conflict"), times=1)
    assert m365.graph("GET", "/me").status_code == 200
    first = m365.graph("PATCH", "/me", json={"mobilePhone": "+45 1"})
    assert (first.status_code, graph_error(first)["code"]) == (409, "Conflict")
    assert m365.graph("PATCH", "/me", json={"mobilePhone": "+45 2"}).status_code == 204


def test_a_fault_targets_one_user_only(m365):
    m365.tenant.faults.add("graph", Fault(503, user_oid=m365.user("stale-photo").oid))
    assert m365.graph("GET", "/me", user="stale-photo").status_code == 503
    assert m365.graph("GET", "/me", user="in-sync").status_code == 200


def test_a_fault_sends_its_headers_and_an_http_date_retry_after(m365):
    later = email.utils.formatdate(m365.tenant.clock.time() + 120, usegmt=True)
    m365.tenant.faults.add(
        "graph",
        Fault(429, retry_after=later, headers={"x-ms-throttle-scope": "Tenant"}),
    )
    response = m365.graph("GET", "/me")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == later
    assert response.headers["x-ms-throttle-scope"] == "Tenant"
    assert graph_error(response)["code"] == "TooManyRequests"


def test_a_graph_401_fault_carries_graphs_challenge_unless_it_brings_its_own(m365):
    m365.tenant.faults.add("graph", Fault(401), times=1)
    plain = m365.graph("GET", "/me")
    assert plain.headers["WWW-Authenticate"].startswith('Bearer realm=""')
    assert graph_error(plain)["code"] == "generalException"
    own = 'Bearer realm="", error="insufficient_claims", claims="e30="'
    m365.tenant.faults.add("graph", Fault(401, headers={"WWW-Authenticate": own}), times=1)
    assert m365.graph("GET", "/me").headers["WWW-Authenticate"] == own


def test_a_fault_can_answer_with_a_raw_body(m365):
    page = b"<html><body>Service Unavailable</body></html>"
    m365.tenant.faults.add("graph", Fault(503, body=page, content_type="text/html"))
    response = m365.graph("GET", "/me")
    assert (response.status_code, response.data) == (503, page)
    assert response.headers["Content-Type"].startswith("text/html")


def test_sharepoint_can_refuse_every_token_with_x_ms_diagnostics_until_healed(m365):
    m365.tenant.faults.add("sharepoint", sharepoint.token_refusal(sharepoint.INVALID_SIGNATURE))
    for _ in range(3):
        refused = m365.my_properties()
        assert refused.status_code == 401
        assert refused.headers["x-ms-diagnostics"] == (
            '3000006;reason="Token contains invalid signature.";category="invalid_client"'
        )
        assert refused.headers["WWW-Authenticate"].startswith("Bearer realm=")
        assert refused.json == {
            "error": "invalid_client",
            "error_description": "Token contains invalid signature.",
        }
    m365.tenant.faults.heal("sharepoint")
    assert m365.my_properties().status_code == 200


@pytest.mark.parametrize(
    ("accept", "key"),
    [("application/json;odata=verbose", "error"), ("application/json", "odata.error")],
)
def test_a_sharepoint_fault_carries_its_code_and_message_in_the_flavour_asked(m365, accept, key):
    code = "-2147024891, System.UnauthorizedAccessException"
    message = (
        "This application does not have the required permissions to access profile information."
    )
    m365.tenant.faults.add(
        "sharepoint",
        Fault(403, method="POST", path_contains="SetMyProfilePicture", code=code, message=message),
    )
    assert m365.my_properties(accept=accept).status_code == 200
    refused = m365.sharepoint(
        "POST",
        "/_api/SP.UserProfiles.PeopleManager/SetMyProfilePicture",
        scopes=("AllSites.Write",),
        accept=accept,
        data=b"\xff\xd8",
    )
    assert refused.status_code == 403
    assert refused.json[key] == {"code": code, "message": {"lang": "en-US", "value": message}}


# -- the token endpoint --------------------------------------------------------------------


def test_the_token_endpoint_can_refuse_only_refreshes_with_consent_required(tenant, msal_sign_in):
    tenant.faults.add(
        "entra",
        Fault(400, grant_type="refresh_token", aadsts=65001, suberror="consent_required"),
    )
    session = msal_sign_in("in-sync")  # code redemption is not refused
    refused = session.app.acquire_token_silent_with_error(
        ["User.Read"], session.account, force_refresh=True
    )
    assert (refused["error"], refused["error_codes"]) == ("invalid_grant", [65001])
    assert refused["suberror"] == "consent_required"
    assert "ProfileFix tests" in refused["error_description"]  # names the calling app


def test_the_token_endpoint_can_be_unavailable_with_retry_after(
    emulator: Emulator, tenant: Tenant, http: requests.Session
):
    tenant.faults.add("entra", Fault(503, retry_after=7, path_contains="/oauth2/v2.0/token"))
    response = http.post(
        f"{emulator.authority}/oauth2/v2.0/token",
        data={"grant_type": "authorization_code", "client_id": TEST_CLIENT_ID, "code": "x"},
        timeout=10,
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    body = response.json()
    assert (body["error"], body["error_codes"]) == ("temporarily_unavailable", [90033])


def test_an_interaction_required_refusal_can_hand_back_claims(tenant, msal_sign_in):
    claims = '{"access_token":{"polids":{"essential":true,"values":["p1"]}}}'
    tenant.faults.add(
        "entra",
        Fault(
            400,
            grant_type="refresh_token",
            code="interaction_required",
            aadsts=50076,
            suberror="basic_action",
            claims=claims,
        ),
    )
    session = msal_sign_in("in-sync")
    refused = session.app.acquire_token_silent_with_error(
        ["User.Read"], session.account, force_refresh=True
    )
    assert (refused["error"], refused["error_codes"]) == ("interaction_required", [50076])
    assert json.loads(refused["claims"]) == json.loads(claims)
    assert refused["error_description"].startswith("AADSTS50076: Due to a configuration change")


def test_token_endpoint_faults_can_target_the_user_whose_grant_is_redeemed(tenant, msal_sign_in):
    noah = msal_sign_in("no-photo")
    isabel = msal_sign_in("in-sync")
    tenant.faults.add("entra", Fault(400, user_oid=tenant.user("no-photo").oid, aadsts=50173))
    refused = noah.app.acquire_token_silent_with_error(
        ["User.Read"], noah.account, force_refresh=True
    )
    assert (refused["error"], refused["error_codes"]) == ("invalid_grant", [50173])
    fine = isabel.app.acquire_token_silent_with_error(
        ["User.Read"], isabel.account, force_refresh=True
    )
    assert "access_token" in fine


def test_the_token_endpoint_can_drop_the_connection_over_https(tenant, msal_sign_in):
    tenant.faults.add("entra", Fault(network="drop", grant_type="refresh_token"))
    session = msal_sign_in("in-sync")
    with pytest.raises(requests.ConnectionError):
        session.app.acquire_token_silent_with_error(
            ["User.Read"], session.account, force_refresh=True
        )


@pytest.fixture
def virtual_session() -> tuple[Tenant, requests.Session]:
    tenant = Tenant(Origins.virtual())
    session = requests.Session()
    mount(session, create_app(tenant), tenant.origins)
    return tenant, session


def test_a_dropped_connection_reaches_in_process_callers_as_a_connection_error(
    virtual_session,
):
    tenant, session = virtual_session
    tenant.faults.add("graph", Fault(network="drop", method="GET"))
    with pytest.raises(requests.ConnectionError):
        session.get("https://graph.m365.test/v1.0/me", timeout=5)


def test_a_hung_token_endpoint_times_out_and_heal_lets_it_go(virtual_session):
    tenant, session = virtual_session
    tenant.faults.add("entra", Fault(network="hang", grant_type="refresh_token"))
    token_url = f"https://login.m365.test/{tenant.tenant_id}/oauth2/v2.0/token"
    form = {"grant_type": "refresh_token", "client_id": "c", "client_secret": TEST_CLIENT_SECRET}
    with pytest.raises(requests.ReadTimeout):
        session.post(token_url, data=form, timeout=(1, 0.2))
    tenant.faults.heal("entra")
    # Healed: the next request is served (the client is unknown to this bare tenant).
    assert session.post(token_url, data=form, timeout=5).json()["error_codes"] == [700016]


def test_the_request_log_keeps_json_bodies_but_never_forms_or_images(m365):
    m365.graph("PATCH", "/me", json={"mobilePhone": "+45 3"})
    m365.graph("PUT", PHOTO, data=b"\xff\xd8", content_type="image/jpeg")
    patch, put = m365.tenant.requests_to("graph")[-2:]
    assert (patch.method, patch.json_body) == ("PATCH", {"mobilePhone": "+45 3"})
    assert (put.method, put.json_body) == ("PUT", None)
    m365.client.post(
        f"/{m365.tenant.tenant_id}/oauth2/v2.0/token",
        base_url=m365.tenant.origins.login,
        data={"grant_type": "refresh_token", "refresh_token": "secret"},
    )
    assert m365.tenant.requests_to("entra")[-1].json_body is None


def test_a_fault_can_refuse_only_requests_whose_body_holds_given_properties(m365):
    m365.tenant.faults.add(
        "graph",
        Fault(400, method="PATCH", json_keys=("skills", "schools"), code="BadRequest"),
    )
    together = m365.graph("PATCH", "/me", json={"skills": ["A"], "schools": ["B"]})
    assert (together.status_code, graph_error(together)["code"]) == (400, "BadRequest")
    assert m365.graph("PATCH", "/me", json={"skills": ["A"]}).status_code == 204
    assert m365.graph("PATCH", "/me", json={"schools": ["B"]}).status_code == 204
