"""Uploading, removing and undoing a photo through the app against the emulator, failures included.

Each test signs in through real MSAL, drives the pages as a browser would (CSRF tokens from the
forms) and checks what Microsoft received in the emulator's request log (security.md §5 B, C, E).
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from m365_emulator.faults import Fault, Faults
from m365_emulator.tenant import Tenant
from tests import imagegen
from tests.support.clock import Clock
from tests.support.photo import (
    PHOTO_PATH,
    SET_PICTURE,
    calls,
    form_fields,
    graph_photo,
    op_id,
    ops,
    post_form,
    sharepoint_large,
    upload,
    user_key,
    writes,
)
from tests.support.signin import SignIn
from webapp.imaging.fingerprint import same_picture
from webapp.photo.operations import SideState

# After each test: no token, code or photo bytes were logged (security.md E8).
pytestmark = pytest.mark.usefixtures("no_secrets_in_logs")


class MethodFaults(Faults):
    """The tenant's fault plan, applied only to requests of one HTTP method (e.g. only the PUT
    of /me/photo/$value, not the GET of the same path that reads the previous photo)."""

    def __init__(self, method: str) -> None:
        super().__init__()
        self.method = method

    def take(self, service: str, user_oid: str | None, path: str) -> Fault | None:
        if request.method != self.method:
            return None
        return super().take(service, user_oid, path)


@pytest.fixture
def put_faults(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> MethodFaults:
    faults = MethodFaults("PUT")
    monkeypatch.setattr(tenant, "faults", faults)
    return faults


@pytest.fixture
def phone_photo() -> bytes:
    """A rotated phone JPEG with GPS, as it comes off the camera."""
    return imagegen.jpeg((1200, 900), orientation=6, gps=True)


# -- the happy path ------------------------------------------------------------------------------


def test_upload_saves_the_previous_photo_then_writes_graph_then_sharepoint_and_verifies(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, phone_photo: bytes
) -> None:
    sign_in.as_user("stale-photo")
    before = graph_photo(tenant, "stale-photo")
    tenant.requests.clear()

    response = upload(client, phone_photo)
    op = ops(app).get(user_key(tenant, "stale-photo"), op_id(response))

    assert op is not None and op.previous == before  # the undo copy (E1)
    order = [(r.method, r.path) for r in tenant.requests if r.service != "entra"]
    first_put = order.index(("PUT", f"/v1.0{PHOTO_PATH}"))
    assert ("GET", f"/v1.0{PHOTO_PATH}") in order[:first_put]  # read before the first write
    assert writes(tenant) == [
        ("graph", "PUT", f"/v1.0{PHOTO_PATH}"),
        ("sharepoint", "POST", f"/_api/SP.UserProfiles.PeopleManager/{SET_PICTURE}"),
    ]
    assert calls(tenant, "sharepoint", "GET", "userphoto.aspx") >= 1  # the own-photo trigger
    assert op.graph.state is SideState.VERIFIED
    assert op.sharepoint.state is SideState.VERIFIED
    assert same_picture(graph_photo(tenant, "stale-photo"), op.image)
    assert same_picture(sharepoint_large(tenant, "stale-photo"), op.image)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Outlook, Teams and SharePoint show the same photo" in page
    assert "Undo this change" in page


def test_chosen_crop_square_is_what_both_services_show(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    card = imagegen.jpeg((400, 300))
    # The top-left 150 px square of the card is its red marker and grey field only.
    op = ops(app).get(user_key(tenant, "in-sync"), op_id(upload(client, card, crop=(0, 0, 150))))
    assert op is not None and op.verified
    shown = graph_photo(tenant, "in-sync")
    expected = imagegen.encode(imagegen.card((400, 300)).crop((0, 0, 150, 150)))
    assert same_picture(shown, expected)


def test_double_submit_of_one_form_is_one_operation(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, phone_photo: bytes
) -> None:
    sign_in.as_user("stale-photo")
    fields = form_fields(client, "/photo", "/photo")
    first = upload(client, phone_photo, form_token=fields["form_token"])
    second = upload(client, phone_photo, form_token=fields["form_token"])
    assert op_id(first) == op_id(second)
    assert calls(tenant, "graph", "PUT", PHOTO_PATH) == 1
    assert calls(tenant, "sharepoint", "POST", SET_PICTURE) == 1


# -- failures -------------------------------------------------------------------------------------


def test_graph_failure_leaves_sharepoint_untouched_and_says_nothing_changed(
    app: Flask,
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    put_faults: MethodFaults,
    phone_photo: bytes,
) -> None:
    sign_in.as_user("stale-photo")
    before_graph, before_sp = (
        graph_photo(tenant, "stale-photo"),
        sharepoint_large(tenant, "stale-photo"),
    )
    put_faults.fail_always("graph", 500)
    tenant.requests.clear()

    response = upload(client, phone_photo)
    op = ops(app).get(user_key(tenant, "stale-photo"), op_id(response))

    assert op is not None and op.graph.state is SideState.FAILED
    assert op.sharepoint.state is SideState.PENDING
    assert tenant.requests_to("sharepoint") == []
    assert graph_photo(tenant, "stale-photo") == before_graph
    assert sharepoint_large(tenant, "stale-photo") == before_sp
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing was changed" in page
    assert "Try again" in page

    # The retry uses the stored bytes: no new upload (E2).
    put_faults.heal("graph")
    post_form(client, response.headers["Location"], "/photo/retry")
    op = ops(app).get(user_key(tenant, "stale-photo"), op.id)
    assert op is not None and op.verified


def test_sharepoint_failure_is_a_visible_partial_state_and_retry_sends_one_sharepoint_write(
    app: Flask,
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    clock: Clock,
    phone_photo: bytes,
) -> None:
    sign_in.as_user("stale-photo")
    tenant.faults.fail_always("sharepoint", 500, path_contains=SET_PICTURE)
    response = upload(client, phone_photo)
    assert clock.slept == []  # E3: the partial state is shown at once, nothing is waited for
    status_page = response.headers["Location"]
    op = ops(app).get(user_key(tenant, "stale-photo"), op_id(response))

    assert op is not None
    assert op.graph.state is SideState.DONE  # written; not read back while SharePoint failed
    assert op.sharepoint.state is SideState.FAILED
    page = client.get(status_page).get_data(as_text=True)
    assert "Outlook and Teams have the change, but SharePoint could not be updated yet" in page
    assert "Try again" in page

    tenant.faults.heal("sharepoint")
    tenant.requests.clear()
    post_form(client, status_page, "/photo/retry")

    assert calls(tenant, "sharepoint", "POST", SET_PICTURE) == 1
    assert calls(tenant, "graph", "PUT", PHOTO_PATH) == 0
    op = ops(app).get(user_key(tenant, "stale-photo"), op.id)
    assert op is not None and op.verified
    assert same_picture(sharepoint_large(tenant, "stale-photo"), op.image)


def test_write_interrupted_after_graph_is_reconciled_without_a_second_graph_write(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, phone_photo: bytes
) -> None:
    sign_in.as_user("stale-photo")
    tenant.faults.fail_always("sharepoint", 500, path_contains=SET_PICTURE)
    response = upload(client, phone_photo)
    # As if the worker had died right after Graph's PUT, before anything was recorded (E4).
    store = ops(app)
    op = store.get(user_key(tenant, "stale-photo"), op_id(response))
    assert op is not None
    op.graph.state = op.sharepoint.state = SideState.IN_PROGRESS
    store.save(op)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saving your change was interrupted" in page
    assert 'id="retry"' in page

    tenant.faults.heal("sharepoint")
    tenant.requests.clear()
    post_form(client, response.headers["Location"], "/photo/retry")
    assert calls(tenant, "graph", "PUT", PHOTO_PATH) == 0
    assert calls(tenant, "sharepoint", "POST", SET_PICTURE) == 1
    op = store.get(op.user, op.id)
    assert op is not None and op.verified


def test_sign_in_needed_mid_change_keeps_the_photo_for_a_retry_afterwards(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, phone_photo: bytes
) -> None:
    sign_in.as_user("stale-photo")
    tenant.faults.fail_always("sharepoint", 401, path_contains=SET_PICTURE)
    response = upload(client, phone_photo)
    assert response.status_code == 302  # C11: through sign-in, back to /photo
    assert "/login" in response.headers["Location"]

    tenant.faults.heal("sharepoint")
    sign_in.as_user("stale-photo", next_page="/photo")
    page = client.get("/photo").get_data(as_text=True)
    assert "Your last photo change is not finished" in page
    op = ops(app).latest(user_key(tenant, "stale-photo"))
    assert op is not None and op.graph.state is SideState.DONE
    assert op.sharepoint.state is SideState.FAILED
    tenant.requests.clear()
    post_form(client, f"/photo/status/{op.id}", "/photo/retry")
    assert calls(tenant, "graph", "PUT", PHOTO_PATH) == 0
    op = ops(app).get(op.user, op.id)
    assert op is not None and op.verified


def test_throttled_graph_write_is_retried_after_retry_after_within_the_budget(
    app: Flask,
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    clock: Clock,
    put_faults: MethodFaults,
    phone_photo: bytes,
) -> None:
    sign_in.as_user("stale-photo")
    put_faults.fail_next("graph", 3, 429, retry_after=2)
    op = ops(app).get(user_key(tenant, "stale-photo"), op_id(upload(client, phone_photo)))

    puts = [r for r in tenant.requests_to("graph") if r.method == "PUT"]
    assert len(puts) == 4  # C1: three 429s, then the write
    assert clock.slept == [2.0, 2.0, 2.0]  # each Retry-After waited out, within the budget
    assert op is not None and op.verified


def test_long_retry_after_becomes_a_wait_not_a_hung_request(
    app: Flask,
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    clock: Clock,
    put_faults: MethodFaults,
    phone_photo: bytes,
) -> None:
    sign_in.as_user("stale-photo")
    put_faults.fail_next("graph", 1, 429, retry_after=120)
    response = upload(client, phone_photo)
    assert clock.slept == []  # C2: the request does not wait 120 s

    store = ops(app)
    op = store.get(user_key(tenant, "stale-photo"), op_id(response))
    assert op is not None and op.graph.state is SideState.THROTTLED
    assert op.graph.not_before is not None and op.graph.not_before > time.time() + 100
    assert tenant.requests_to("sharepoint") == []
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Microsoft asked ProfileFix to wait" in page
    assert "come back in 2 minutes" in page
    assert 'id="retry"' not in page  # not before the wait is over

    # Two minutes later (moved in the record and on the clock the throttle hold runs on), the
    # retry finishes the change.
    op.graph.not_before = time.time() - 1
    store.save(op)
    clock.advance(120)
    post_form(client, response.headers["Location"], "/photo/retry")
    op = store.get(op.user, op.id)
    assert op is not None and op.verified


def test_sharepoint_refusing_local_uploads_is_not_a_failure(
    app: Flask,
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    phone_photo: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tenant, "local_uploads_disabled", True)  # MC653734
    # SharePoint's own pull from Exchange is a day away (as at Microsoft), not the demo's 30 s:
    # the read-back cannot show the new photo yet, whatever the test's pace.
    monkeypatch.setattr(tenant, "photo_pull_interval", 24 * 3600)
    sign_in.as_user("stale-photo")
    response = upload(client, phone_photo)
    op = ops(app).get(user_key(tenant, "stale-photo"), op_id(response))

    assert op is not None and op.graph.state is SideState.VERIFIED
    assert op.sharepoint.state is SideState.REFUSED_BY_SHAREPOINT
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "could not be updated" not in page
    assert "Nothing was changed" not in page
    assert "That is not an error" in page


def test_two_uploads_at_once_end_with_one_photo_on_both_sides(
    app: Flask, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("stale-photo")
    other = app.test_client()
    SignIn(other, sign_in.pages, tenant).as_user("stale-photo")
    tenant.faults.set_latency("graph", 0.2)
    photos = [imagegen.jpeg(image=imagegen.scene(seed)) for seed in (1, 2)]
    results: dict[int, TestResponse] = {}

    def go(index: int, client: FlaskClient) -> None:
        results[index] = upload(client, photos[index])

    threads = [
        threading.Thread(target=go, args=(i, c)) for i, c in enumerate((sign_in.client, other))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(r.status_code == 303 for r in results.values())
    assert calls(tenant, "graph", "PUT", PHOTO_PATH) >= 1
    shown_graph = graph_photo(tenant, "stale-photo")
    shown_sp = sharepoint_large(tenant, "stale-photo")
    assert same_picture(shown_graph, shown_sp)
    assert any(same_picture(shown_graph, photo) for photo in photos)


# -- undo and remove ------------------------------------------------------------------------------


def test_undo_puts_the_previous_photo_back_on_both_sides(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, phone_photo: bytes
) -> None:
    sign_in.as_user("in-sync")
    before = graph_photo(tenant, "in-sync")
    status_page = upload(client, phone_photo).headers["Location"]

    response = post_form(client, status_page, "/photo/undo")
    undo = ops(app).get(user_key(tenant, "in-sync"), op_id(response))

    assert undo is not None and undo.verified
    assert same_picture(graph_photo(tenant, "in-sync"), before)
    assert same_picture(sharepoint_large(tenant, "in-sync"), before)
    # The undone change offers no second undo.
    page = client.get(status_page).get_data(as_text=True)
    assert "Undo this change" not in page


def test_remove_asks_first_then_deletes_and_undo_restores(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    before = graph_photo(tenant, "in-sync")
    confirm = client.get("/photo/remove").get_data(as_text=True)
    assert "Yes, remove my photo" in confirm
    assert tenant.user("in-sync").photo is not None  # the GET changed nothing

    response = post_form(client, "/photo/remove", "/photo/remove")
    removed = ops(app).get(user_key(tenant, "in-sync"), op_id(response))
    assert removed is not None and removed.graph.state is SideState.VERIFIED
    assert tenant.user("in-sync").photo is None
    assert calls(tenant, "graph", "DELETE", PHOTO_PATH) == 1

    undo = op_id(post_form(client, response.headers["Location"], "/photo/undo"))
    restored = ops(app).get(user_key(tenant, "in-sync"), undo)
    assert restored is not None and restored.graph.state is SideState.VERIFIED
    assert same_picture(graph_photo(tenant, "in-sync"), before)


def test_undo_of_a_first_photo_removes_it_again(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, phone_photo: bytes
) -> None:
    sign_in.as_user("no-photo")
    status_page = upload(client, phone_photo).headers["Location"]
    assert tenant.user("no-photo").photo is not None
    op = ops(app).get(user_key(tenant, "no-photo"), status_page.rsplit("/", 1)[1])
    assert op is not None and op.previous_captured and op.previous is None
    post_form(client, status_page, "/photo/undo")
    assert tenant.user("no-photo").photo is None


# -- bad input, forgery, methods, limits ---------------------------------------------------------

BAD_INPUTS: dict[str, Callable[[], bytes]] = {
    "svg": imagegen.svg,
    "pdf": imagegen.pdf,
    "tiff": imagegen.tiff,
    "bmp": imagegen.bmp,
    "random-bytes": imagegen.random_bytes,
    "empty": lambda: b"",
    "truncated-jpeg": imagegen.truncated_jpeg,
    "png-bad-crc": imagegen.png_bad_crc,
    "tiny": lambda: imagegen.jpeg((60, 60)),
    "pixel-bomb-png": lambda: imagegen.png_bomb(50_000, 50_000),
    "huge-sof-jpeg": imagegen.jpeg_with_sof_size,
    "animated-webp": imagegen.animated_webp,
    "apng": imagegen.apng,
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_every_bad_input_gets_a_message_and_changes_nothing(
    name: str, client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("stale-photo")
    tenant.requests.clear()
    response = upload(client, BAD_INPUTS[name]())
    page = response.get_data(as_text=True)
    assert response.status_code in (400, 422)
    assert "Nothing was changed" in page
    assert "JPEG, PNG, HEIC/HEIF or WebP" in page
    assert [r for r in tenant.requests if r.service != "entra"] == []


ACCEPTED_INPUTS: dict[str, Callable[[], bytes]] = {
    "heic-rotated": lambda: imagegen.heic(orientation=6),
    "png": imagegen.png,
    "webp": imagegen.webp,
    "cmyk-jpeg": imagegen.cmyk_jpeg,
    "png-16-bit": imagegen.png16_gradient,
    "palette-transparent": imagegen.palette_with_transparency,
    "gps-xmp-iptc-comment": lambda: imagegen.with_iptc(
        imagegen.jpeg(gps=True, xmp=True, comment=imagegen.JPEG_COMMENT_SCRIPT)
    ),
    "html-polyglot": imagegen.jpeg_html_polyglot,
}


@pytest.mark.parametrize("name", ACCEPTED_INPUTS)
def test_phone_formats_are_written_as_a_clean_jpeg(
    name: str, app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    response = upload(client, ACCEPTED_INPUTS[name](), filename="../../webapp/__init__.py")
    op = ops(app).get(user_key(tenant, "in-sync"), op_id(response))
    assert op is not None and op.verified and op.image is not None
    written = graph_photo(tenant, "in-sync")
    assert written == op.image  # the processed bytes only, never the original (B13)
    for marker in (b"Exif", b"GPS", b"<script", b"<html", b"Photoshop", b"xmpmeta"):
        assert marker not in op.image


def test_a_file_over_the_upload_limit_is_refused_before_any_call(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    tenant.requests.clear()
    response = upload(client, imagegen.random_bytes(21 * 1024 * 1024))
    assert response.status_code == 413  # B1: MAX_CONTENT_LENGTH, the view never runs
    assert "too large" in response.get_data(as_text=True)
    assert [r for r in tenant.requests if r.service != "entra"] == []


def test_upload_without_csrf_token_is_refused_and_nothing_is_written(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, phone_photo: bytes
) -> None:
    sign_in.as_user("stale-photo")
    tenant.requests.clear()
    response = upload(client, phone_photo, csrf_token="")
    assert response.status_code == 400
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert writes(tenant) == []


@pytest.mark.parametrize("path", ["/photo/undo", "/photo/retry"])
def test_write_endpoints_refuse_get(path: str, client: FlaskClient, sign_in: SignIn) -> None:
    sign_in.as_user("in-sync")
    assert client.get(path).status_code == 405


def test_status_of_someone_elses_operation_is_not_found(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, phone_photo: bytes
) -> None:
    sign_in.as_user("in-sync")
    mine = op_id(upload(client, phone_photo))
    other = app.test_client()
    SignIn(other, sign_in.pages, tenant).as_user("stale-photo")
    assert other.get(f"/photo/status/{mine}").status_code == 404
    assert other.get(f"/photo/status/{mine}.json").status_code == 404


def test_eleventh_write_in_an_hour_gets_the_wait_page(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    for _ in range(10):
        assert upload(client, b"").status_code == 422
    response = upload(client, b"")
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert re.search(r"accepts the next change in \d+ minutes", page)
    assert writes(tenant) == []


def test_status_json_reports_each_service(
    client: FlaskClient, sign_in: SignIn, phone_photo: bytes
) -> None:
    sign_in.as_user("stale-photo")
    location = upload(client, phone_photo).headers["Location"]
    data = client.get(f"{location}.json").get_json()
    assert data["outcome"] == "verified"
    assert [s["service"] for s in data["sides"]] == ["graph", "sharepoint"]
    assert {s["state"] for s in data["sides"]} == {"verified"}
    assert base64.b64encode(b"\xff\xd8\xff").decode() not in str(data)
