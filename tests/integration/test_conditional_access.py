"""Sign-in under Conditional Access and refusals that last (issue 14, reference §9.2): claims
challenges answered with one stronger sign-in that lands on the same page, silent cures where
Entra allows them, and never more than one extra round through sign-in per service."""

from __future__ import annotations

import io
import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from m365_emulator import sharepoint
from m365_emulator.conditional_access import MFA_POLICY_ID
from m365_emulator.faults import Fault
from m365_emulator.tenant import Tenant
from tests import imagegen
from tests.support.signin import SignIn

CHALLENGE = (
    'Bearer realm="", error="insufficient_claims", '
    'claims="eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzkifX19"'
)  # base64 of {"access_token":{"acrs":{"essential":true,"value":"c9"}}}


def authorizations(tenant: Tenant) -> int:
    """How often the browser was sent to Entra's sign-in page."""
    return sum(1 for r in tenant.requests_to("entra") if r.path.endswith("/oauth2/v2.0/authorize"))


def step_ups(tenant: Tenant) -> int:
    return sum(1 for r in tenant.requests_to("entra") if r.path.endswith("/authorize/verify"))


def text(response: TestResponse) -> str:
    return unescape(response.get_data(as_text=True))


def round_trip(client: FlaskClient, sign_in: SignIn, response: TestResponse, key: str) -> str:
    """Follow the app's redirect through sign-in like the browser; returns the Entra URL used
    and asserts that the user lands back where the round started."""
    assert response.status_code == 302, response.status_code
    login = response.headers["Location"]
    assert login.startswith("/login?next=")
    started_at = parse_qs(urlsplit(login).query)["next"][0]
    auth_uri = client.get(login).headers["Location"]
    back = sign_in.finish(sign_in.answer(auth_uri, key))
    assert back.status_code == 302, text(back)[:400]
    assert back.headers["Location"] == started_at
    return auth_uri


def claims_sent(auth_uri: str) -> dict:
    return json.loads(parse_qs(urlsplit(auth_uri).query)["claims"][0])


# -- claims challenges ----------------------------------------------------------------------


def test_a_step_up_is_asked_once_and_the_user_lands_on_the_page_they_asked_for(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("step-up", next_page="/attributes")
    first = client.get("/attributes")
    auth_uri = round_trip(client, sign_in, first, "step-up")
    query = parse_qs(urlsplit(auth_uri).query)
    assert claims_sent(auth_uri) == {
        "access_token": {
            "acrs": {"essential": True, "value": "c1"},
            "xms_cc": {"values": ["CP1"]},  # the app declares the capability (§9.2)
        }
    }
    assert query["login_hint"] == [tenant.user("step-up").upn]
    assert "prompt" not in query  # Entra's session decides: the stronger sign-in, no picker
    assert step_ups(tenant) == 1

    page = client.get("/attributes")
    assert page.status_code == 200
    assert "Elina Virtanen" in text(page)
    assert authorizations(tenant) == 2  # the sign-in and the one step-up round
    assert client.get("/").status_code == 200
    assert authorizations(tenant) == 2


def test_after_a_step_up_expired_tokens_are_refreshed_with_the_claims_without_a_sign_in(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, hour_long_tokens: None
) -> None:
    sign_in.as_user("step-up")
    round_trip(client, sign_in, client.get("/"), "step-up")
    tenant.clock.advance(2 * 3600)  # every access token has expired
    response = client.get("/")
    assert response.status_code == 200
    assert "Elina Virtanen" in text(response)
    assert authorizations(tenant) == 2  # no third round: the refresh took the claims


def test_a_location_change_is_cured_silently_without_a_sign_in(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    tenant.conditional_access.change_location(tenant.user("in-sync").oid)
    response = client.get("/")
    assert response.status_code == 200
    assert "Hello, Isabel Santos" in text(response)
    assert "could not be read" not in text(response)
    assert [r for r in tenant.requests_to("graph") if r.status == 401]
    assert authorizations(tenant) == 1


def test_revoked_sessions_send_the_user_through_one_sign_in_with_the_claims(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    tenant.conditional_access.revoke_sessions(tenant.user("in-sync").oid)
    not_before = tenant.conditional_access.state(tenant.user("in-sync").oid).not_before
    auth_uri = round_trip(client, sign_in, client.get("/profile"), "in-sync")
    assert claims_sent(auth_uri)["access_token"]["nbf"] == {
        "essential": True,
        "value": str(not_before),
    }
    assert client.get("/profile").status_code == 200
    assert authorizations(tenant) == 2


def test_mfa_now_required_takes_entras_own_claims_to_one_stronger_sign_in(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    tenant.conditional_access.require_mfa(tenant.user("in-sync").oid)
    auth_uri = round_trip(client, sign_in, client.get("/"), "in-sync")
    # The silent refresh handed back Entra's policy ids (reference §1.6): they go to sign-in.
    asked = claims_sent(auth_uri)["access_token"]
    assert asked["polids"] == {"essential": True, "values": [MFA_POLICY_ID]}
    assert step_ups(tenant) == 1
    assert client.get("/").status_code == 200
    assert authorizations(tenant) == 2


# -- the loop guard --------------------------------------------------------------------------


def test_a_challenge_no_sign_in_satisfies_is_explained_after_one_round(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    tenant.faults.add(
        "graph", Fault(401, path_contains="/me", headers={"WWW-Authenticate": CHALLENGE})
    )
    round_trip(client, sign_in, client.get("/"), "in-sync")
    for _ in range(3):  # reloading does not start the loop again
        explained = client.get("/")
        assert explained.status_code == 403
        page = text(explained)
        assert "Outlook and Teams (Exchange and Entra ID) could not be read" in page
        assert "signing in again did not help" in page
        # Graph's request id (error.innerError.request-id, reference §3.1) to quote.
        assert re.search(r"Microsoft's reference</dt>\s*<dd><code>[0-9a-f-]{36}</code>", page)
        assert "Summary for your helpdesk" in page
        # What happened and what to do first, the facts folded away below (issue 15), and
        # the navigation as on every signed-in page.
        folded = page.index('<details class="helpdesk-details" id="details">')
        assert page.index("signing in again did not help") < folded
        assert page.index("Microsoft's answer") > folded
        assert 'aria-label="Your pages"' in page
    assert authorizations(tenant) == 2


def test_a_sharepoint_that_refuses_every_token_leaves_the_rest_of_the_app_working(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("stale-photo")
    tenant.faults.add("sharepoint", sharepoint.token_refusal(sharepoint.INVALID_SIGNATURE))
    round_trip(client, sign_in, client.get("/"), "stale-photo")

    overview = client.get("/")
    assert overview.status_code == 200
    page = text(overview)
    assert "SharePoint could not be read: it refused your sign-in" in page
    assert "Token contains invalid signature." in page  # x-ms-diagnostics, for the helpdesk
    assert "/pictures/graph" in page  # the Graph side is shown
    assert client.get("/profile").status_code == 200
    assert client.get("/photo").status_code == 200
    assert authorizations(tenant) == 2


def upload_photo(client: FlaskClient) -> TestResponse:
    page = client.get("/photo").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|form_token)" value="([^"]*)"', page))
    fields["photo"] = (io.BytesIO(imagegen.jpeg((800, 800))), "me.jpg")
    return client.post("/photo", data=fields, content_type="multipart/form-data")


def test_a_photo_change_still_works_when_sharepoint_keeps_refusing_tokens(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("stale-photo")
    tenant.faults.add("sharepoint", sharepoint.token_refusal(sharepoint.INVALID_SIGNATURE))
    round_trip(client, sign_in, client.get("/"), "stale-photo")
    before = tenant.user("stale-photo").photo

    response = upload_photo(client)
    assert response.status_code == 303
    page = text(client.get(response.headers["Location"]))
    assert tenant.user("stale-photo").photo is not before  # Outlook and Teams have it
    # SharePoint's lasting refusal is one attempt and no "try again" (issue 14).
    assert "SharePoint did not take the copy; it shows your Microsoft 365 photo by itself." in page
    assert 'id="retry"' not in page
    assert "status 401" in page  # in the helpdesk summary
    assert authorizations(tenant) == 2


def test_another_round_is_allowed_once_the_window_has_passed(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in.as_user("in-sync")
    tenant.faults.add("sharepoint", sharepoint.token_refusal(sharepoint.INVALID_SIGNATURE))
    round_trip(client, sign_in, client.get("/"), "in-sync")
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["auth.rounds"] = {"sharepoint": session["auth.rounds"]["sharepoint"] - 301}
    assert client.get("/").status_code == 302


# -- consent ---------------------------------------------------------------------------------


def test_missing_consent_is_asked_once_with_prompt_consent_and_a_second_refusal_is_explained(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    tenant.faults.add(
        "entra",
        Fault(400, grant_type="refresh_token", aadsts=65001, suberror="consent_required"),
    )
    auth_uri = round_trip(client, sign_in, client.get("/"), "in-sync")
    assert parse_qs(urlsplit(auth_uri).query)["prompt"] == ["consent"]

    page = client.get("/")
    assert page.status_code == 200
    assert "SharePoint could not be read: your organisation has not allowed ProfileFix" in text(
        page
    )
    assert authorizations(tenant) == 2


# -- Entra unavailable -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [
        (Fault(503, retry_after=7, grant_type="refresh_token"), "7"),
        (Fault(500, grant_type="refresh_token"), "5"),
        (Fault(network="drop", grant_type="refresh_token"), "5"),
    ],
    ids=["503-retry-after", "500", "dropped-connection"],
)
def test_entra_unavailable_at_a_refresh_is_the_microsoft_is_unavailable_page(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, fault: Fault, retry_after: str
) -> None:
    sign_in.as_user("in-sync")
    tenant.faults.add("entra", fault)
    response = client.get("/")  # SharePoint's token is a refresh
    assert response.status_code == 503
    assert response.headers["Retry-After"] == retry_after
    page = text(response)
    assert "Microsoft is unavailable" in page
    assert "try again in" in page


def test_entra_unavailable_while_redeeming_the_code_is_no_server_error(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    tenant.faults.add("entra", Fault(502, retry_after=11, grant_type="authorization_code"))
    response = sign_in.finish(sign_in.answer(sign_in.start(), "in-sync"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "11"
    assert "Microsoft is unavailable" in text(response)
    assert "Hello," not in text(client.get("/"))


def test_the_explained_page_summary_holds_the_references_and_no_token(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    tenant.faults.add(
        "graph", Fault(401, path_contains="/me", headers={"WWW-Authenticate": CHALLENGE})
    )
    round_trip(client, sign_in, client.get("/"), "in-sync")
    page = text(client.get("/attributes"))
    summary = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S)
    assert summary
    assert "ProfileFix summary" in summary.group(1)
    assert "status 401" in summary.group(1)
    assert "eyJ" not in summary.group(1)


def test_consent_entra_would_not_give_at_sign_in_is_explained(
    client: FlaskClient, sign_in: SignIn
) -> None:
    state = parse_qs(urlsplit(sign_in.start()).query)["state"][0]
    answer = {
        "state": state,
        "error": "consent_required",
        "error_description": "AADSTS65001: The user or administrator has not consented.",
    }
    response = sign_in.finish(answer)
    assert response.status_code == 400
    assert "Your organisation has not allowed ProfileFix" in text(response)
