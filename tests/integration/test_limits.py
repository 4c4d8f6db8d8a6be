"""Rate limits: signed-in people are limited per account, anonymous visitors per address
(issue 16 item 4), profile saves have a per-user write limit, and photo changes count changes
written while refused files have a limit of their own (issue 15)."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from m365_emulator.tenant import Tenant
from tests import imagegen
from tests.support.signin import SignIn
from webapp.photo.views import REFUSED_LIMIT
from webapp.photo.views import WRITE_LIMIT as PHOTO_WRITE_LIMIT
from webapp.profile.views import WRITE_LIMIT

SECURITY = "profilefix.security"


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


# -- photo changes and refused files (issue 15) ---------------------------------------------


def upload_form(client: FlaskClient) -> dict[str, str]:
    """The upload form's hidden fields (a refused file leaves its form usable)."""
    page = client.get("/photo").get_data(as_text=True)
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page))


def send(client: FlaskClient, fields: dict[str, str], data: bytes) -> TestResponse:
    return client.post(
        "/photo",
        data={**fields, "photo": (io.BytesIO(data), "IMG_0001.JPG")},
        content_type="multipart/form-data",
    )


def save_photo(client: FlaskClient, seed: int) -> TestResponse:
    """A new photo, each one different, from a fresh form (one change per form)."""
    return send(client, upload_form(client), imagegen.jpeg(image=imagegen.scene(seed)))


def text_of(response: TestResponse) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


UNUSABLE = [
    imagegen.pdf(),
    imagegen.jpeg(size=(40, 40)),  # too small
    imagegen.svg(),
    imagegen.random_bytes(),
    imagegen.animated_gif(),
    imagegen.truncated_jpeg(),
    b"",
]


def test_refused_files_do_not_use_up_the_photo_changes(
    client: FlaskClient, sign_in: SignIn
) -> None:
    sign_in.as_user("in-sync")
    fields = upload_form(client)
    for data in UNUSABLE:
        assert send(client, fields, data).status_code == 422
    for seed in range(3):
        assert save_photo(client, seed).status_code == 303
    assert save_photo(client, 3).status_code == 303


def test_the_eleventh_photo_change_in_an_hour_is_refused_with_the_change_limit(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    changes = int(PHOTO_WRITE_LIMIT.split()[0])
    for seed in range(changes):
        assert save_photo(client, seed).status_code == 303
    assert "accepts the next change in" in text_of(client.get("/photo"))  # before sending

    tenant.requests.clear()
    refused = save_photo(client, changes)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert re.search(
        rf"You have changed your photo {changes} times within an hour, the most ProfileFix "
        r"allows\. It accepts the next change in \d+ minutes?\.",
        text_of(refused),
    )
    assert [r for r in tenant.requests if r.method != "GET"] == []


def test_the_sixty_first_refused_file_in_an_hour_is_refused_with_the_file_limit(
    client: FlaskClient, sign_in: SignIn, caplog: pytest.LogCaptureFixture
) -> None:
    sign_in.as_user("in-sync")
    files = int(REFUSED_LIMIT.split()[0])
    fields = upload_form(client)
    for _ in range(files):
        assert send(client, fields, b"").status_code == 422

    caplog.set_level(logging.INFO, logger="profilefix.security")
    refused = send(client, fields, imagegen.pdf())
    assert refused.status_code == 429
    (event,) = [
        line
        for line in (json.loads(r.getMessage()) for r in caplog.records if r.name == SECURITY)
        if line["event"] == "rate_limit.hit"
    ]
    assert (event["limit"], event["scope"]) == ("60 per 1 hour", "photo-refused")
    assert re.search(
        rf"ProfileFix could not use {files} of the files you sent within an hour\. To protect "
        r"your account, it accepts the next file in \d+ minutes?\.",
        text_of(refused),
    )
    assert "changed your photo" not in text_of(refused)
    # The photo changes are untouched, but no file is read until the file limit lifts.
    assert "accepts the next file in" in text_of(client.get("/photo"))
    assert save_photo(client, 1).status_code == 429
