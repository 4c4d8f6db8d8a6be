"""Rate limits: signed-in people are limited per account, anonymous visitors per address
(issue 16 item 4), and profile saves have a per-user write limit."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.support.signin import SignIn
from webapp.profile.views import WRITE_LIMIT


def csrf_token(client: FlaskClient, page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).get_data(as_text=True))
    assert match, page
    return match.group(1)


def test_anonymous_traffic_from_a_shared_address_does_not_lock_out_a_signed_in_colleague(
    app: Flask, client: FlaskClient, sign_in: SignIn
) -> None:
    sign_in.as_user("in-sync")
    # Everyone behind the company's egress address arrives from the same address.
    anonymous = app.test_client()
    answers = [anonymous.get("/").status_code for _ in range(301)]
    assert answers[:300] == [200] * 300
    assert answers[300] == 429

    response = client.get("/")
    assert response.status_code == 200
    assert "Hello," in response.get_data(as_text=True)


def test_profile_saves_have_a_per_user_write_limit(
    app: Flask, client: FlaskClient, sign_in: SignIn
) -> None:
    sign_in.as_user("half-profile")
    token = csrf_token(client, "/profile")
    allowed = int(WRITE_LIMIT.split()[0])
    for _ in range(allowed):
        # Keeping the stored version of every field: a save that writes nothing.
        assert client.post("/profile/resolve", data={"csrf_token": token}).status_code == 302
    refused = client.post("/profile", data={"csrf_token": token})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0

    colleague = app.test_client()
    SignIn(colleague, sign_in.pages, sign_in.tenant).as_user("in-sync")
    kept = colleague.post("/profile/resolve", data={"csrf_token": csrf_token(colleague, "/")})
    assert kept.status_code == 302
