"""Claims challenges (reference §9.2): CP1 clients, continuous access evaluation (CAE) and
authentication contexts, driven through real MSAL, the emulator's pages and its resources."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response as WerkzeugResponse

from m365_emulator import create_app
from m365_emulator.conditional_access import MFA_POLICY_ID
from m365_emulator.seed import seed_demo_tenant
from m365_emulator.tenant import DEMO_CLIENT_ID, Origins, Tenant
from m365_emulator.tokens import GRAPH_APP_ID, SHAREPOINT_APP_ID
from tests.support.emulator import TEST_REDIRECT_URI, Emulator

CP1 = ["CP1"]


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def get_me(http: requests.Session, emulator: Emulator, token: str) -> requests.Response:
    return http.get(
        f"{emulator.url}/v1.0/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def challenge_of(response: requests.Response) -> tuple[dict[str, str], str]:
    """The WWW-Authenticate parameters of a claims challenge and its decoded claims."""
    assert response.status_code == 401, response.text
    params = dict(re.findall(r'(\w+)="([^"]*)"', response.headers["WWW-Authenticate"]))
    assert params["error"] == "insufficient_claims"
    return params, base64.b64decode(params["claims"]).decode()


def refresh(session, claims: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    return session.app.acquire_token_silent_with_error(
        ["User.Read"], session.account, force_refresh=True, claims_challenge=claims
    )


def verified(tenant) -> int:  # type: ignore[no-untyped-def]
    """How often the step-up page was submitted."""
    return sum(1 for r in tenant.requests_to("entra") if r.path.endswith("/authorize/verify"))


# -- client capabilities -------------------------------------------------------------------


def test_a_cp1_client_gets_long_lived_tokens_carrying_xms_cc(tenant, msal_sign_in):
    session = msal_sign_in("in-sync", capabilities=CP1)
    flow = session.app.initiate_auth_code_flow(
        ["User.Read"], redirect_uri=TEST_REDIRECT_URI, response_mode="form_post"
    )
    sent = parse_qs(urlsplit(flow["auth_uri"]).query)["claims"]  # authorize
    assert json.loads(sent[0]) == {"access_token": {"xms_cc": {"values": ["CP1"]}}}
    token = claims_of(session.result["access_token"])
    assert token["xms_cc"] == ["cp1"]
    assert token["exp"] - token["iat"] == tenant.cae_token_lifetime
    assert session.result["expires_in"] == tenant.cae_token_lifetime
    assert claims_of(refresh(session)["access_token"])["xms_cc"] == ["cp1"]  # token endpoint


def test_a_client_without_cp1_gets_one_hour_tokens_without_xms_cc(tenant, msal_sign_in):
    token = claims_of(msal_sign_in("in-sync").result["access_token"])
    assert "xms_cc" not in token
    assert token["exp"] - token["iat"] == tenant.access_token_lifetime == 3600


# -- continuous access evaluation ---------------------------------------------------------


def test_revoked_sessions_challenge_cae_tokens_and_only_a_new_sign_in_helps(
    emulator, tenant, http, msal_sign_in
):
    session = msal_sign_in("in-sync", capabilities=CP1)
    token = session.result["access_token"]
    assert get_me(http, emulator, token).status_code == 200
    tenant.conditional_access.revoke_sessions(tenant.user("in-sync").oid)

    refused = get_me(http, emulator, token)
    params, claims = challenge_of(refused)
    not_before = tenant.conditional_access.state(tenant.user("in-sync").oid).not_before
    # Microsoft's spelling, space included (app-resilience-continuous-access-evaluation).
    expected = '{"access_token":{"nbf":{"essential":true, "value":"' + str(not_before) + '"}}}'
    assert claims == expected
    assert (params["realm"], params["client_id"]) == ("", GRAPH_APP_ID)
    assert params["authorization_uri"] == f"{emulator.url}/common/oauth2/authorize"
    assert refused.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert refused.json()["error"]["message"].endswith(
        "InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp"
    )

    silent = refresh(session, claims)
    assert (silent["error"], silent["error_codes"]) == ("invalid_grant", [50173])

    again = msal_sign_in("in-sync", capabilities=CP1, claims_challenge=claims, app=session.app)
    fresh = again.result["access_token"]
    assert claims_of(fresh)["iat"] >= not_before
    assert get_me(http, emulator, fresh).status_code == 200


def test_without_cp1_a_revoked_user_keeps_the_token_until_it_expires(
    emulator, tenant, http, msal_sign_in
):
    session = msal_sign_in("in-sync")
    tenant.conditional_access.revoke_sessions(tenant.user("in-sync").oid)
    response = get_me(http, emulator, session.result["access_token"])
    assert response.status_code == 200  # no challenge for a client that cannot take one
    silent = refresh(session)
    assert (silent["error"], silent["error_codes"]) == ("invalid_grant", [50173])


def test_a_location_change_is_answered_by_a_silent_refresh_with_the_claims(
    emulator, tenant, http, msal_sign_in
):
    session = msal_sign_in("in-sync", capabilities=CP1)
    tenant.conditional_access.change_location(tenant.user("in-sync").oid)
    refused = get_me(http, emulator, session.result["access_token"])
    _, claims = challenge_of(refused)
    assert refused.json()["error"]["message"].endswith("LocationConditionEvaluationSatisfied")
    renewed = refresh(session, claims)
    assert get_me(http, emulator, renewed["access_token"]).status_code == 200


def test_mfa_now_required_asks_for_interaction_then_the_step_up_page_satisfies_it(
    emulator, tenant, http, msal_sign_in
):
    session = msal_sign_in("in-sync", capabilities=CP1)
    assert "mfa" not in claims_of(session.result["access_token"])["amr"]
    tenant.conditional_access.require_mfa(tenant.user("in-sync").oid)
    refused = get_me(http, emulator, session.result["access_token"])
    _, claims = challenge_of(refused)
    assert refused.json()["error"]["message"].endswith("TokenCreatedWithOutdatedPolicies")

    silent = refresh(session, claims)
    assert (silent["error"], silent["error_codes"]) == ("interaction_required", [50076])
    assert silent["suberror"] == "basic_action"
    policies = json.loads(silent["claims"])["access_token"]["polids"]
    assert policies == {"essential": True, "values": [MFA_POLICY_ID]}

    again = msal_sign_in("in-sync", capabilities=CP1, claims_challenge=claims, app=session.app)
    assert verified(tenant) == 1  # the existing sign-in was stepped up, not repeated
    fresh = again.result["access_token"]
    assert claims_of(fresh)["amr"] == ["pwd", "mfa"]
    assert get_me(http, emulator, fresh).status_code == 200
    assert "access_token" in refresh(again)  # MFA done: plain refreshes work again


def test_sharepoint_challenges_cae_tokens_with_its_own_app_id(emulator, tenant, http, msal_sign_in):
    scope = f"{emulator.url}/AllSites.Read"
    session = msal_sign_in("in-sync", [scope], capabilities=CP1)
    tenant.conditional_access.revoke_sessions(tenant.user("in-sync").oid)
    response = http.get(
        f"{emulator.url}/_api/SP.UserProfiles.PeopleManager/GetMyProperties",
        headers={
            "Authorization": f"Bearer {session.result['access_token']}",
            "Accept": "application/json;odata=nometadata",
        },
        timeout=10,
    )
    params, claims = challenge_of(response)
    assert params["client_id"] == SHAREPOINT_APP_ID
    assert '"nbf"' in claims


# -- authentication context ----------------------------------------------------------------


def test_an_authentication_context_is_stepped_up_once_and_then_refreshes_silently(
    emulator, tenant, http, msal_sign_in
):
    session = msal_sign_in("step-up", capabilities=CP1)
    refused = get_me(http, emulator, session.result["access_token"])
    params, claims = challenge_of(refused)
    assert json.loads(claims) == {"access_token": {"acrs": {"essential": True, "value": "c1"}}}
    assert params["cc_type"] == "authcontext"

    silent = refresh(session, claims)
    assert (silent["error"], silent["error_codes"]) == ("interaction_required", [50076])

    again = msal_sign_in("step-up", capabilities=CP1, claims_challenge=claims, app=session.app)
    assert verified(tenant) == 1
    stepped_up = again.result["access_token"]
    assert claims_of(stepped_up)["acrs"] == ["c1"]
    assert get_me(http, emulator, stepped_up).status_code == 200
    # A later refresh without the claims loses `acrs` (Entra adds it only when asked) and is
    # challenged again; with the claims it succeeds silently: no second sign-in.
    plain = refresh(again)["access_token"]
    assert get_me(http, emulator, plain).status_code == 401
    renewed = refresh(again, claims)["access_token"]
    assert get_me(http, emulator, renewed).status_code == 200
    assert verified(tenant) == 1


def test_an_authentication_context_refuses_a_client_without_cp1_without_a_challenge(
    emulator, http, msal_sign_in
):
    session = msal_sign_in("step-up")
    refused = get_me(http, emulator, session.result["access_token"])
    assert refused.status_code == 403
    assert "insufficient_claims" not in refused.headers.get("WWW-Authenticate", "")


def test_the_step_up_page_says_why_and_a_silent_request_gets_interaction_required(
    tenant, pages, msal_sign_in
):
    session = msal_sign_in("step-up", capabilities=CP1)
    claims = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}'
    flow = session.app.initiate_auth_code_flow(
        ["User.Read"],
        redirect_uri=TEST_REDIRECT_URI,
        response_mode="form_post",
        claims_challenge=claims,
    )
    page, forms, texts = pages.open(flow["auth_uri"])
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "Verify your identity" in texts
    assert "c1" in texts
    assert forms[0].action.endswith("/authorize/verify")

    silent = session.app.initiate_auth_code_flow(
        ["User.Read"],
        redirect_uri=TEST_REDIRECT_URI,
        response_mode="form_post",
        claims_challenge=claims,
        prompt="none",
    )
    answer = pages.complete(silent["auth_uri"])
    assert answer["error"] == "interaction_required"
    assert answer["error_description"].startswith("AADSTS50076:")


def test_a_malformed_claims_parameter_is_refused(emulator, http, msal_sign_in):
    session = msal_sign_in("in-sync")
    refused = refresh(session, "{not json")
    assert (refused["error"], refused["error_codes"]) == ("invalid_request", [9002313])


def test_the_step_up_page_works_under_the_demo_mount_prefix():
    tenant = Tenant(Origins.virtual("/_m365"), seed=seed_demo_tenant)
    site = DispatcherMiddleware(WerkzeugResponse("app", status=404), {"/_m365": create_app(tenant)})
    browser = Client(site)
    base = f"/_m365/{tenant.tenant_id}/oauth2/v2.0/authorize"
    query = {
        "client_id": DEMO_CLIENT_ID,
        "response_type": "code",
        "response_mode": "form_post",
        "redirect_uri": "http://localhost:5000/auth/redirect",
        "scope": "User.Read openid",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }

    def ctx_of(page: str) -> str:
        return re.search(r'name="ctx" value="([^"]+)"', page)[1]  # type: ignore[index]

    picker = browser.get(f"{base}?{urlencode(query)}").get_data(as_text=True)
    user = tenant.user("step-up").oid
    consent = browser.post(f"{base}/signin", data={"ctx": ctx_of(picker), "user": user})
    answer = browser.post(
        f"{base}/consent",
        data={"ctx": ctx_of(consent.get_data(as_text=True)), "decision": "accept"},
    )
    assert answer.status_code == 200  # the form_post back to the app

    claims = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}'
    step_up = browser.get(f"{base}?{urlencode({**query, 'claims': claims})}")
    page = step_up.get_data(as_text=True)
    assert f'action="{base}/verify"' in page
    assert 'href="/_m365/_entra/static/emulator.css"' in page
    done = browser.post(f"{base}/verify", data={"ctx": ctx_of(page)})
    assert 'name="code"' in done.get_data(as_text=True)
