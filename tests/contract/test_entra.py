"""The Entra ID emulator against the reference (§1, §2): discovery, authorize, token, sign-out."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urljoin

import jwt
import msal
import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response as WerkzeugResponse

from m365_emulator import create_app, entra
from m365_emulator.tenant import ClientRegistration, Origins, Tenant, User
from m365_emulator.tokens import GRAPH_RESOURCE
from tests.support.authorize import AuthorizePages
from tests.support.emulator import (
    TEST_CLIENT_ID,
    TEST_CLIENT_SECRET,
    TEST_POST_LOGOUT_URI,
    TEST_REDIRECT_URI,
    Emulator,
)

VERIFIER = "verifier-" + "x" * 40
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")
GRAPH_SCOPES = ["User.Read", "User.ReadWrite"]
ERROR_KEYS = {
    "error",
    "error_description",
    "error_codes",
    "timestamp",
    "trace_id",
    "correlation_id",
    "error_uri",
}


@pytest.fixture
def adele(tenant: Tenant) -> User:
    return tenant.add_user(
        User(
            key="contract-adele",
            oid="0b8f8a52-3c1d-4a6b-9d7e-1f2a3b4c5d6e",
            upn="adele@contoso.onmicrosoft.com",
            directory={"displayName": "Adele Vance"},
            demonstrates="Contract tests sign in as her.",
        )
    )


def authorize_url(emulator: Emulator, **params: str | None) -> str:
    query = {
        "client_id": TEST_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": TEST_REDIRECT_URI,
        "scope": f"User.Read {emulator.url}/AllSites.Read offline_access openid profile",
        "state": "state-1",
        "nonce": "nonce-1",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
    }
    query.update(params)
    clean = {k: v for k, v in query.items() if v is not None}
    return f"{emulator.authority}/oauth2/v2.0/authorize?{urlencode(clean)}"


def redeem(http: requests.Session, emulator: Emulator, code: str, **form: str) -> requests.Response:
    body = {
        "grant_type": "authorization_code",
        "client_id": TEST_CLIENT_ID,
        "client_secret": TEST_CLIENT_SECRET,
        "code": code,
        "redirect_uri": TEST_REDIRECT_URI,
        "code_verifier": VERIFIER,
        "scope": "User.Read offline_access openid profile",
        "client_info": "1",
    }
    body.update(form)
    return http.post(f"{emulator.authority}/oauth2/v2.0/token", data=body, timeout=10)


def sign_in(pages: AuthorizePages, emulator: Emulator, user: User, **params: str | None) -> str:
    answer = pages.complete(authorize_url(emulator, **params), user.oid)
    return answer["code"]


def assert_entra_error(response: requests.Response, status: int, error: str, code: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body.keys() >= ERROR_KEYS
    assert (body["error"], body["error_codes"]) == (error, [code])
    # reference §1.5: "AADSTSnnnn: ...\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ..."
    assert re.match(
        rf"AADSTS{code}: .+\r\nTrace ID: [0-9a-f-]{{36}}\r\nCorrelation ID: \S+\r\n"
        r"Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$",
        body["error_description"],
        re.S,
    )
    return body


# -- discovery and keys --------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["id", "contoso.onmicrosoft.com"])
def test_discovery_document_has_the_reference_shape(emulator, tenant, http, ref):
    tenant_ref = tenant.tenant_id if ref == "id" else ref
    doc = http.get(f"{emulator.url}/{tenant_ref}/v2.0/.well-known/openid-configuration").json()
    base = f"{emulator.url}/{tenant.tenant_id}"
    assert doc["issuer"] == f"{base}/v2.0"
    assert doc["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert doc["jwks_uri"] == f"{base}/discovery/v2.0/keys"
    assert doc["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
    assert doc["end_session_endpoint"] == f"{base}/oauth2/v2.0/logout"
    assert "form_post" in doc["response_modes_supported"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


def test_unknown_tenant_is_refused(emulator, tenant, http):
    response = http.get(f"{emulator.url}/fabrikam.com/v2.0/.well-known/openid-configuration")
    assert_entra_error(response, 400, "invalid_tenant", 90002)


def test_tokens_verify_against_the_published_jwks(emulator, tenant, http, pages, adele):
    body = redeem(http, emulator, sign_in(pages, emulator, adele)).json()
    keys = http.get(f"{emulator.authority}/discovery/v2.0/keys").json()["keys"]
    key = jwt.PyJWK(keys[0])
    claims = jwt.decode(
        body["id_token"],
        key,
        algorithms=["RS256"],
        audience=TEST_CLIENT_ID,
        issuer=f"{emulator.authority}/v2.0",
    )
    assert (claims["oid"], claims["tid"], claims["nonce"]) == (
        adele.oid,
        tenant.tenant_id,
        "nonce-1",
    )
    access = jwt.decode(body["access_token"], key, algorithms=["RS256"], audience=GRAPH_RESOURCE)
    assert access["scp"] == "User.Read"


# -- real MSAL -----------------------------------------------------------------------------


def test_msal_completes_the_auth_code_flow_and_gets_a_sharepoint_token_silently(
    emulator, tenant, http, pages, adele
):
    app = msal.ConfidentialClientApplication(
        TEST_CLIENT_ID,
        client_credential=TEST_CLIENT_SECRET,
        authority=emulator.authority,
        http_client=http,
        instance_discovery=False,
    )
    sharepoint_scope = f"{emulator.url}/AllSites.Read"
    flow = app.initiate_auth_code_flow(
        [*GRAPH_SCOPES, sharepoint_scope],
        redirect_uri=TEST_REDIRECT_URI,
        response_mode="form_post",
        login_hint=adele.upn,
    )
    answer = pages.complete(flow["auth_uri"], adele.oid)
    result = app.acquire_token_by_auth_code_flow(flow, answer, scopes=GRAPH_SCOPES)
    assert "access_token" in result, result
    assert result["id_token_claims"]["oid"] == adele.oid  # MSAL checked state and nonce
    graph = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert (graph["aud"], graph["scp"]) == (GRAPH_RESOURCE, "User.Read User.ReadWrite")

    (account,) = app.get_accounts(username=adele.upn)
    assert account["home_account_id"] == f"{adele.oid}.{tenant.tenant_id}"
    sharepoint = app.acquire_token_silent([sharepoint_scope], account)
    assert sharepoint["token_source"] == "identity_provider"
    claims = jwt.decode(sharepoint["access_token"], options={"verify_signature": False})
    assert (claims["aud"], claims["scp"]) == (emulator.url, "AllSites.Read")
    assert app.acquire_token_silent(GRAPH_SCOPES, account)["token_source"] == "cache"


def test_emulator_pages_work_under_the_demo_mount_prefix():
    tenant = Tenant(Origins.virtual("/_m365"))
    tenant.add_client(ClientRegistration(TEST_CLIENT_ID, TEST_CLIENT_SECRET, [TEST_REDIRECT_URI]))
    tenant.add_user(User("k", "oid-k", "k@contoso.onmicrosoft.com", {}, "Anyone."))
    site = DispatcherMiddleware(
        WerkzeugResponse("the app", status=404), {"/_m365": create_app(tenant)}
    )
    browser = Client(site)
    doc = browser.get(f"/_m365/{tenant.tenant_id}/v2.0/.well-known/openid-configuration").json
    assert doc["authorization_endpoint"].startswith(f"/_m365/{tenant.tenant_id}/")
    assert doc["token_endpoint"].startswith("https://login.m365.test/")
    query = urlencode(
        {
            "client_id": TEST_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": TEST_REDIRECT_URI,
            "scope": "User.Read openid",
            "code_challenge": CHALLENGE.decode(),
            "code_challenge_method": "S256",
        }
    )
    page = browser.get(f"{doc['authorization_endpoint']}?{query}").get_data(as_text=True)
    assert f'action="/_m365/{tenant.tenant_id}/oauth2/v2.0/authorize/signin"' in page
    assert 'href="/_m365/_entra/static/emulator.css"' in page


# -- authorize -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"client_id": "00000000-0000-0000-0000-000000000000"}, 700016),
        ({"redirect_uri": "https://evil.example/auth/redirect"}, 50011),
        ({"redirect_uri": "http://localhost:5000/other"}, 50011),
    ],
)
def test_authorize_errors_about_the_app_are_shown_on_the_page(
    emulator, tenant, pages, params, code
):
    response, _, texts = pages.open(authorize_url(emulator, **params))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert any(t.startswith(f"AADSTS{code}:") for t in texts)


@pytest.mark.parametrize(
    ("params", "error", "code"),
    [
        ({"response_type": "token"}, "unsupported_response_type", 70005),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request", 9002325),
        ({"code_challenge_method": "plain"}, "invalid_request", 9002313),
        ({"code_challenge_method": None}, "invalid_request", 9002313),
        (
            {"scope": "https://fabrikam.sharepoint.com/AllSites.Read openid"},
            "invalid_resource",
            500011,
        ),
        ({"scope": "User.Fly openid"}, "invalid_client", 650053),
        ({"prompt": "sometimes"}, "invalid_request", 9002313),
    ],
)
def test_bad_authorize_requests_go_back_to_the_app_with_an_error(
    emulator, tenant, pages, params, error, code
):
    answer = pages.complete(authorize_url(emulator, **params))
    assert (answer["error"], answer["state"]) == (error, "state-1")
    assert answer["error_description"].startswith(f"AADSTS{code}:")


def test_loopback_redirect_uri_may_use_any_port_and_demo_paths_any_origin(
    emulator, tenant, pages, adele
):
    assert pages.complete(
        authorize_url(emulator, redirect_uri="http://localhost:8123/auth/redirect"), adele.oid
    )["code"]
    tenant.add_client(ClientRegistration("demo", "s", [], any_origin_paths=("/auth/redirect",)))
    answer = pages.complete(
        authorize_url(emulator, client_id="demo", redirect_uri="https://app.test:9/auth/redirect")
    )
    assert "code" in answer
    response, _, _ = pages.open(
        authorize_url(emulator, client_id="demo", redirect_uri="https://app.test/x")
    )
    assert response.status_code == 400


def test_picker_lists_users_with_what_they_demonstrate_and_preselects_the_hint(
    emulator, tenant, pages, adele
):
    response, (form,), texts = pages.open(authorize_url(emulator, login_hint=adele.upn.upper()))
    assert form.fields["user"] == adele.oid
    assert adele.demonstrates in texts
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "<script>" not in response.text and "style=" not in response.text


def test_consent_is_asked_once_then_single_sign_on_skips_both_pages(emulator, tenant, pages, adele):
    sign_in(pages, emulator, adele)
    assert "/authorize/consent" in pages.last.url
    response = pages.session.get(authorize_url(emulator), allow_redirects=False)
    assert response.status_code == 302
    assert "code=" in response.headers["Location"]
    assert "session_state=" in response.headers["Location"]
    again, forms, _ = pages.open(authorize_url(emulator, prompt="consent"))
    assert forms[0].action.endswith("/authorize/consent")
    _, forms, _ = pages.open(authorize_url(emulator, prompt="select_account"))
    assert forms[0].action.endswith("/authorize/signin")


def test_consent_page_lists_the_requested_permissions_in_plain_words(
    emulator, tenant, pages, adele
):
    page, (picker,), _ = pages.open(authorize_url(emulator, login_hint=adele.upn))
    consent = pages.session.post(urljoin(page.url, picker.action), data=picker.fields)
    text = consent.text
    assert "Microsoft Graph" in text and "Sign you in and read your profile" in text
    # SharePoint by name, its address on a line of its own below (it may wrap on a phone).
    assert f'<h2>SharePoint</h2>\n  <p class="resource-address">{emulator.url}</p>' in text
    assert "Read items in all site collections" in text
    assert "Keep access to data you have given it access to" in text


def test_cancel_on_the_consent_page_is_access_denied(emulator, tenant, pages, adele):
    answer = pages.complete(authorize_url(emulator), adele.oid, consent=False)
    assert (answer["error"], answer["state"]) == ("access_denied", "state-1")
    assert answer["error_description"].startswith("AADSTS65004:")


def test_prompt_none_without_a_session_is_login_required(emulator, tenant, pages):
    answer = pages.complete(authorize_url(emulator, prompt="none"))
    assert answer["error"] == "login_required"


def test_form_post_answer_is_a_form_with_an_external_script(emulator, tenant, pages, adele):
    answer = pages.complete(authorize_url(emulator, response_mode="form_post"), adele.oid)
    assert set(answer) == {"code", "state", "session_state"}
    page = pages.last.text
    assert f'action="{TEST_REDIRECT_URI}"' in page
    assert re.search(r'<script src="[^"]+/form_post\.js"></script>', page)


# -- token endpoint ------------------------------------------------------------------------


def test_code_redemption_answers_the_reference_shape(emulator, tenant, http, pages, adele):
    response = redeem(http, emulator, sign_in(pages, emulator, adele))
    body = response.json()
    assert response.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "User.Read openid profile offline_access"
    assert body["expires_in"] == body["ext_expires_in"] == 3600
    info = json.loads(base64.urlsafe_b64decode(body["client_info"] + "=="))
    assert info == {"uid": adele.oid, "utid": tenant.tenant_id}
    assert body["refresh_token"]


def test_a_code_works_once_and_expires_after_ten_minutes(emulator, tenant, http, pages, adele):
    code = sign_in(pages, emulator, adele)
    assert redeem(http, emulator, code).status_code == 200
    assert_entra_error(redeem(http, emulator, code), 400, "invalid_grant", 54005)
    late = sign_in(pages, emulator, adele)
    tenant.clock.advance(601)
    assert_entra_error(redeem(http, emulator, late), 400, "invalid_grant", 70008)


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        ({"code_verifier": "y" * 43}, 400, "invalid_grant", 501481),
        ({"code_verifier": ""}, 400, "invalid_request", 900144),
        ({"redirect_uri": "http://localhost:5000/other"}, 400, "invalid_grant", 500112),
        ({"scope": f"User.Read {'{url}'}/AllSites.Read openid"}, 400, "invalid_scope", 700022),
        ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"client_secret": ""}, 401, "invalid_client", 7000218),
        ({"client_id": "unknown"}, 400, "unauthorized_client", 700016),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ],
)
def test_bad_code_redemptions_get_entra_errors(
    emulator, tenant, http, pages, adele, form, status, error, code
):
    form = {k: v.replace("{url}", emulator.url) for k, v in form.items()}
    response = redeem(http, emulator, sign_in(pages, emulator, adele), **form)
    assert_entra_error(response, status, error, code)


def test_a_refused_multi_resource_redemption_leaves_the_code_usable(
    emulator, tenant, http, pages, adele
):
    code = sign_in(pages, emulator, adele)
    both = f"User.Read {emulator.url}/AllSites.Read openid"
    assert_entra_error(redeem(http, emulator, code, scope=both), 400, "invalid_scope", 700022)
    assert redeem(http, emulator, code).status_code == 200


def test_concurrent_redemptions_of_one_code_issue_tokens_once(emulator, tenant, pages, adele):
    code = sign_in(pages, emulator, adele)

    def attempt(_: int) -> int:
        with emulator.session() as http:
            return redeem(http, emulator, code).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(attempt, range(6)))
    assert statuses == [200, 400, 400, 400, 400, 400]


def test_default_scope_means_every_consented_permission_of_the_resource(
    emulator, tenant, http, pages, adele
):
    scope = f"{GRAPH_RESOURCE}/.default offline_access openid profile"
    body = redeem(http, emulator, sign_in(pages, emulator, adele), scope=scope).json()
    assert body["scope"] == "User.Read openid profile offline_access"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["aud"], claims["scp"]) == (GRAPH_RESOURCE, "User.Read")


def test_client_may_authenticate_with_http_basic(emulator, tenant, http, pages, adele):
    code = sign_in(pages, emulator, adele)
    http.auth = (TEST_CLIENT_ID, TEST_CLIENT_SECRET)
    assert redeem(http, emulator, code, client_secret="", client_id="").status_code == 200


def test_errors_echo_the_client_request_id_as_correlation_id(emulator, tenant, http):
    response = http.post(
        f"{emulator.authority}/oauth2/v2.0/token",
        data={"grant_type": "authorization_code", "client_id": TEST_CLIENT_ID},
        headers={"client-request-id": "corr-42"},
    )
    body = assert_entra_error(response, 401, "invalid_client", 7000218)
    assert body["correlation_id"] == "corr-42"


def test_refresh_works_for_consented_resources_only(emulator, tenant, http, pages, adele):
    scope = "User.Read offline_access openid profile"
    first = redeem(http, emulator, sign_in(pages, emulator, adele, scope=scope)).json()
    token_url = f"{emulator.authority}/oauth2/v2.0/token"
    form = {
        "grant_type": "refresh_token",
        "client_id": TEST_CLIENT_ID,
        "client_secret": TEST_CLIENT_SECRET,
        "refresh_token": first["refresh_token"],
        "scope": "User.Read offline_access openid",
    }
    refreshed = http.post(token_url, data=form).json()
    assert refreshed["refresh_token"] != first["refresh_token"]
    sharepoint = {**form, "scope": f"{emulator.url}/AllSites.Read offline_access openid"}
    body = assert_entra_error(http.post(token_url, data=sharepoint), 400, "invalid_grant", 65001)
    assert body["suberror"] == "consent_required"
    tenant.clock.advance(91 * 24 * 3600)
    assert_entra_error(http.post(token_url, data=form), 400, "invalid_grant", 700082)
    entra.revoke_refresh_tokens(tenant, adele.oid)
    revoked = {**form, "refresh_token": refreshed["refresh_token"]}
    assert_entra_error(http.post(token_url, data=revoked), 400, "invalid_grant", 70008)


def test_scripted_429_on_the_token_endpoint_has_retry_after(emulator, tenant, http, pages, adele):
    code = sign_in(pages, emulator, adele)
    tenant.faults.fail_next("entra", 1, 429, retry_after=3, path_contains="/token")
    response = redeem(http, emulator, code)
    assert_entra_error(response, 429, "temporarily_unavailable", 90033)
    assert response.headers["Retry-After"] == "3"
    assert redeem(http, emulator, code).status_code == 200


def test_id_token_tamper_switch_changes_issued_claims(emulator, tenant, http, pages, adele):
    tenant.id_token_tamper = {"aud": "someone-else", "nonce": None}
    body = redeem(http, emulator, sign_in(pages, emulator, adele)).json()
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert claims["aud"] == "someone-else" and "nonce" not in claims


# -- sign-out ------------------------------------------------------------------------------


def test_sign_out_ends_the_emulator_session_and_returns_to_a_registered_uri(
    emulator, tenant, pages, adele
):
    sign_in(pages, emulator, adele)
    logout = f"{emulator.authority}/oauth2/v2.0/logout"
    response = pages.session.get(
        logout,
        params={"post_logout_redirect_uri": TEST_POST_LOGOUT_URI, "client_id": TEST_CLIENT_ID},
        allow_redirects=False,
    )
    assert (response.status_code, response.headers["Location"]) == (302, TEST_POST_LOGOUT_URI)
    assert pages.complete(authorize_url(emulator, prompt="none"))["error"] == "login_required"
    refused = pages.session.get(
        logout, params={"post_logout_redirect_uri": "https://evil.example/"}
    )
    assert refused.status_code == 200 and "You signed out" in refused.text
