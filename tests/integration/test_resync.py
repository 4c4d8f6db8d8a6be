"""Re-sync through the app: "make SharePoint show my current photo now". SharePoint is offered the
photo Graph already has, once; Graph is never written; the page says what each step achieved."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from m365_emulator.tenant import Tenant
from tests.support.photo import (
    SET_PICTURE,
    form_fields,
    front_door,
    graph_photo,
    looked_at_later,
    op_id,
    ops,
    post_form,
    sharepoint_large,
    user_key,
    writes,
)
from tests.support.signin import SignIn
from webapp.imaging.fingerprint import same_picture
from webapp.photo.operations import SideState
from webapp.photo.update import CHECK_INTERVAL

DONE = "Done: SharePoint shows your current photo."
PUSH = ("sharepoint", "POST", f"/_api/SP.UserProfiles.PeopleManager/{SET_PICTURE}")

# After each test: no token, code or photo bytes were logged (security.md E8).
pytestmark = pytest.mark.usefixtures("no_secrets_in_logs")


def resync(client: FlaskClient) -> TestResponse:
    return post_form(client, "/photo/resync", "/photo/resync")


def test_resync_while_sharepoint_serves_its_cached_copy_says_what_only_time_fixes(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("cached-photo")
    current = graph_photo(tenant, "cached-photo")
    tenant.requests.clear()
    response = resync(client)
    status_page = response.headers["Location"]
    op = ops(app).get(user_key(tenant, "cached-photo"), op_id(response))

    assert writes(tenant) == [PUSH]  # offered once; refused on a current tenant
    assert graph_photo(tenant, "cached-photo") == current
    assert op is not None and op.sharepoint.state is SideState.REFUSED_BY_SHAREPOINT
    page = client.get(status_page).get_data(as_text=True)
    assert "Checking what SharePoint shows…" in page
    assert "Takes the photo from Microsoft 365 by itself" in page
    assert "SharePoint did not take the copy" in page
    assert "still show the previous picture, from SharePoint" in page
    assert "could not be updated" not in page and "status-failed" not in page

    tenant.clock.advance(tenant.photo_cache_lifetime)
    looked_at_later(app, tenant, "cached-photo", op.id, after=CHECK_INTERVAL)
    assert DONE in client.get(status_page).get_data(as_text=True)
    assert same_picture(front_door(tenant, "cached-photo"), current)
    assert writes(tenant) == [PUSH]  # nothing more was sent


@pytest.mark.parametrize("key", ["legacy-copy", "no-mailbox", "in-sync"])
def test_resync_where_sharepoint_already_serves_the_photo_is_done_at_once(
    key: str, app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user(key)
    library = sharepoint_large(tenant, key)
    response = resync(client)
    op = ops(app).get(user_key(tenant, key), op_id(response))
    assert op is not None and op.verified
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert DONE in page
    assert "status-failed" not in page
    assert sharepoint_large(tenant, key) == library  # the legacy library is left alone
    # Outlook and Teams kept their photo: no advice on Teams' caches, here or on the overview.
    assert "Still seeing your previous photo" not in page
    assert "data-coach" not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("key", ["stale-photo", "placeholder"])
def test_classic_resync_makes_sharepoint_show_the_graph_photo_without_writing_graph(
    key: str, app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user(key)
    before = graph_photo(tenant, key)
    assert before is not None
    # Before: SharePoint shows an older picture (stale-photo) or none at all (placeholder).
    shown = sharepoint_large(tenant, key)
    assert shown is None if key == "placeholder" else not same_picture(shown, before)
    tenant.requests.clear()

    response = resync(client)
    op = ops(app).get(user_key(tenant, key), op_id(response))

    assert writes(tenant) == [PUSH]
    assert graph_photo(tenant, key) == before
    assert op is not None and op.graph.state is SideState.NOT_NEEDED
    assert op.sharepoint.state is SideState.VERIFIED
    assert same_picture(sharepoint_large(tenant, key), before)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert DONE in page
    assert "Undo this change" not in page


def test_resync_without_a_graph_photo_writes_nothing_and_says_so(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("no-photo")
    tenant.requests.clear()
    response = resync(client)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "nothing to copy to SharePoint" in page
    assert writes(tenant) == []


def test_classic_resync_failure_is_shown_and_retry_sends_the_stored_photo_once(
    app: Flask,
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    unreachable_push: None,
) -> None:
    sign_in.as_user("stale-photo")
    response = resync(client)
    status_page = response.headers["Location"]
    page = client.get(status_page).get_data(as_text=True)
    assert "SharePoint could not be updated yet. Outlook and Teams were not changed." in page

    tenant.faults.heal("sharepoint")
    tenant.requests.clear()
    post_form(client, status_page, "/photo/retry")
    assert [w[1] for w in writes(tenant)] == ["POST"]
    assert tenant.requests_to("graph") == []  # Graph is neither written nor re-read
    op = ops(app).get(user_key(tenant, "stale-photo"), op_id(response))
    assert op is not None and op.verified


def test_classic_resync_when_sharepoint_refuses_local_uploads_is_not_a_failure(
    app: Flask,
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tenant, "local_uploads_disabled", True)  # MC653734
    # SharePoint's own pull from Exchange is a day away (as at Microsoft), not the demo's 30 s.
    monkeypatch.setattr(tenant, "photo_pull_interval", 24 * 3600)
    sign_in.as_user("stale-photo")
    response = resync(client)
    op = ops(app).get(user_key(tenant, "stale-photo"), op_id(response))
    assert op is not None and op.sharepoint.state is SideState.REFUSED_BY_SHAREPOINT
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "could not be updated" not in page
    assert "SharePoint did not take the copy" in page


def test_resync_needs_the_csrf_token(client: FlaskClient, sign_in: SignIn, tenant: Tenant) -> None:
    sign_in.as_user("stale-photo")
    fields = form_fields(client, "/photo/resync", "/photo/resync")
    fields.pop("csrf_token")
    tenant.requests.clear()
    assert client.post("/photo/resync", data=fields).status_code == 400
    assert writes(tenant) == []


def test_seventh_resync_in_an_hour_gets_the_wait_page(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("no-photo")  # each re-sync is a single Graph read: fast
    for _ in range(6):
        assert resync(client).status_code == 303
    response = resync(client)
    assert response.status_code == 429
    assert "You have copied your photo to SharePoint 6 times within an hour" in " ".join(
        response.get_data(as_text=True).split()
    )
