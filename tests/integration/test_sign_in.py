"""Sign-in through real MSAL against the emulator: success, cancel, replay, bad state,
refresh, deep links and sign-out, as a user of the app would meet them."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from m365_emulator.tenant import Tenant
from tests.support.authorize import AuthorizePages
from tests.support.emulator import TEST_CLIENT_ID
from tests.support.signin import SignIn
from webapp import about, create_app
from webapp.settings import Settings


def _session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_signed_in_user_lands_on_their_own_page(client: FlaskClient, sign_in: SignIn) -> None:
    response = sign_in.as_user("in-sync")
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    name = sign_in.tenant.user("in-sync").directory["displayName"]
    assert f"Hello, {name}" in page
    assert "Sign out" in page


def test_auth_request_uses_pkce_s256_form_post_and_fresh_state(sign_in: SignIn) -> None:
    states = set()
    for _ in range(5):
        query = parse_qs(urlsplit(sign_in.start()).query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["response_mode"] == ["form_post"]
        assert query["redirect_uri"] == ["http://localhost:5000/auth/redirect"]
        assert "nonce" in query
        states.add(query["state"][0])
        assert len(query["state"][0]) >= 43  # 32 random bytes, url-safe
    assert len(states) == 5


def test_cancel_at_consent_explains_and_signs_nobody_in(
    client: FlaskClient, sign_in: SignIn
) -> None:
    answer = sign_in.answer(sign_in.start(), "in-sync", consent=False)
    assert answer["error"] == "access_denied"
    response = sign_in.finish(answer)
    assert response.status_code == 400
    assert "You cancelled the sign-in" in response.get_data(as_text=True)
    assert "Hello," not in client.get("/").get_data(as_text=True)


def test_replayed_callback_is_refused(client: FlaskClient, sign_in: SignIn) -> None:
    answer = sign_in.answer(sign_in.start(), "in-sync")
    assert sign_in.finish(answer).status_code == 302
    replay = sign_in.finish(answer)
    assert replay.status_code == 400
    assert "has expired or was started in another browser window" in replay.get_data(as_text=True)


def test_tampered_state_is_refused(client: FlaskClient, sign_in: SignIn) -> None:
    answer = sign_in.answer(sign_in.start(), "in-sync")
    answer["state"] = answer["state"][:-2] + "xx"
    assert sign_in.finish(answer).status_code == 400
    assert "Hello," not in client.get("/").get_data(as_text=True)


def test_callback_from_another_browser_is_refused(
    app,
    client: FlaskClient,
    sign_in: SignIn,  # type: ignore[no-untyped-def]
) -> None:
    answer = sign_in.answer(sign_in.start(), "in-sync")
    other_browser = app.test_client()
    assert other_browser.post("/auth/redirect", data=answer).status_code == 400


def test_expired_code_sends_the_user_back_to_start(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    answer = sign_in.answer(sign_in.start(), "in-sync")
    tenant.clock.advance(11 * 60)  # codes live about 10 minutes (reference §1.4)
    response = sign_in.finish(answer)
    assert response.status_code == 400
    assert "Sign in again" in response.get_data(as_text=True)


def test_session_id_changes_at_sign_in(client: FlaskClient, sign_in: SignIn) -> None:
    sign_in.as_user("in-sync")
    before = _session_cookie(client)
    sign_in.as_user("in-sync")
    after = _session_cookie(client)
    assert before and after and before != after


def _session_records(app: Flask) -> list[str]:
    """The session files (cachelib's own bookkeeping file is not one)."""
    return list(app.session_interface.cache._list_dir())  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["/", "/helpdesk", "/?ticket=INC0012345", "/signed-out"])
def test_anonymous_page_views_create_no_session(app: Flask, client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert _session_records(app) == []


def test_the_language_choice_needs_no_session(app: Flask, client: FlaskClient) -> None:
    response = client.post("/language", data={"language": "da", "next": "/helpdesk"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/helpdesk"
    page = client.get("/helpdesk").get_data(as_text=True)
    assert '<html lang="da">' in page
    assert _session_cookie(client) is None
    assert _session_records(app) == []


def test_another_site_cannot_switch_the_language(client: FlaskClient) -> None:
    client.post("/language", data={"language": "da"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_deep_link_survives_sign_in(client: FlaskClient, sign_in: SignIn) -> None:
    response = client.get("/photo/resync?ticket=INC0012345")
    assert response.status_code == 302
    login = response.headers["Location"]
    assert login.startswith("/login?next=")
    auth_uri = client.get(login).headers["Location"]
    answer = sign_in.answer(auth_uri, "stale-photo")
    assert sign_in.finish(answer).headers["Location"] == "/photo/resync?ticket=INC0012345"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil"])
def test_next_never_leaves_the_app(sign_in: SignIn, target: str) -> None:
    assert sign_in.as_user("in-sync", next_page=target).headers["Location"] == "/"


def test_tokens_are_refreshed_silently_when_expired(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, hour_long_tokens: None
) -> None:
    sign_in.as_user("in-sync")
    tenant.clock.advance(2 * 3600)  # the access tokens have expired
    page = client.get("/").get_data(as_text=True)
    assert "Hello," in page
    refreshes = [
        r for r in tenant.requests_to("entra") if r.path.endswith("/token") and r.status == 200
    ]
    assert len(refreshes) >= 2  # the code redemption and at least one refresh


def test_id_token_for_another_audience_is_refused(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    tenant.id_token_tamper = {"aud": "someone-else"}
    response = sign_in.finish(sign_in.answer(sign_in.start(), "in-sync"))
    assert response.status_code == 400
    assert "could not be verified" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "tamper",
    [
        {"iss": "https://login.example.test/other/v2.0"},
        {"tid": "00000000-0000-0000-0000-000000000000"},
        {"exp": 1_000_000_000},
        {"nonce": "0" * 64},
        {"oid": None},
    ],
)
def test_forged_id_tokens_are_refused(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, tamper: dict
) -> None:
    tenant.id_token_tamper = tamper
    response = sign_in.finish(sign_in.answer(sign_in.start(), "in-sync"))
    assert response.status_code == 400
    assert "Hello," not in client.get("/").get_data(as_text=True)


def test_sign_out_ends_the_session_and_signs_out_at_the_authority(
    client: FlaskClient, sign_in: SignIn
) -> None:
    sign_in.as_user("in-sync")
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    response = client.post("/logout", data={"csrf_token": token.group(1)})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "/oauth2/v2.0/logout?post_logout_redirect_uri=" in location
    assert "Clear-Site-Data" in response.headers
    assert "Hello," not in client.get("/").get_data(as_text=True)


def test_sign_out_needs_a_post_with_csrf_token(client: FlaskClient, sign_in: SignIn) -> None:
    sign_in.as_user("in-sync")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert "Hello," in client.get("/").get_data(as_text=True)


def test_no_token_reaches_the_browser(client: FlaskClient, sign_in: SignIn) -> None:
    response = sign_in.as_user("in-sync")
    page = client.get("/").get_data(as_text=True)
    for text in (page, str(response.headers)):
        for candidate in re.findall(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", text):
            with pytest.raises(jwt.PyJWTError):
                jwt.decode(candidate, options={"verify_signature": False})


def test_every_call_to_microsoft_names_the_organisation(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    client.get("/")
    calls = tenant.requests_to("graph") + tenant.requests_to("sharepoint")
    assert calls
    agents = {call.headers.get("User-Agent", "") for call in calls}
    # The version is the installed package's (webapp/about.py), not a second copy.
    assert agents == {f"NONISV|Contoso|ProfileFix/{about.VERSION}"}, agents


def test_the_redirect_uri_accepts_only_the_form_post_it_asked_for(
    client: FlaskClient, sign_in: SignIn
) -> None:
    answer = sign_in.answer(sign_in.start(), "in-sync")
    assert "code" in answer and "state" in answer
    # The same answer in a query string (response_mode=query, or a link someone sent).
    as_query = client.get("/auth/redirect", query_string=answer)
    assert as_query.status_code == 400
    in_the_url = client.post("/auth/redirect", query_string=answer)
    assert in_the_url.status_code == 400
    assert "Hello," not in client.get("/").get_data(as_text=True)
    # The flow was not used up: the real form post still completes it.
    assert sign_in.finish(answer).status_code == 302


class _HttpsClient(FlaskClient):
    """A browser on https://localhost:5000 (Secure and __Host- cookies travel)."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("base_url", "https://localhost:5000")
        return super().open(*args, **kwargs)


def test_sign_out_clears_only_what_this_app_owns(
    settings: Settings, tenant: Tenant, pages: AuthorizePages, tmp_path: Path
) -> None:
    tenant.clients[TEST_CLIENT_ID].redirect_uris.append("https://localhost:5000/auth/redirect")
    app = create_app(
        settings.with_overrides(public_url="https://localhost:5000"),
        instance_path=str(tmp_path / "instance"),
    )
    app.test_client_class = _HttpsClient
    client = app.test_client()
    SignIn(client, pages, tenant).as_user("in-sync")
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token

    response = client.post(
        "/logout",
        data={"csrf_token": token.group(1)},
        headers={"Referer": "https://localhost:5000/"},
    )

    assert response.status_code == 302
    # "cookies" would clear every cookie of the registrable domain (e.g. contoso.com), other
    # apps' sign-ins included; cache and storage are the origin's own.
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    expired = [c for c in response.headers.getlist("Set-Cookie") if "Expires=Thu, 01 Jan 1970" in c]
    session_cookie = next(c for c in expired if c.startswith("__Host-session="))
    # A browser ignores a __Host- cookie (even an expired one) without Secure and Path=/.
    assert "Secure" in session_cookie and "Path=/" in session_cookie
    assert client.get_cookie("__Host-session") is None
    assert "Hello," not in client.get("/").get_data(as_text=True)
