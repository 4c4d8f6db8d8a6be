"""Your changes, through the app against the emulator: each change leaves exactly one entry, a
history that cannot be written never breaks the change, an earlier photo comes back from the
history, and the page, its pictures and its downloads show only the person's own changes."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from html import unescape
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from m365_emulator.tenant import Tenant
from tests import imagegen
from tests.support.ports import free_port
from tests.support.signin import SignIn
from webapp.changes.log import EntryKind, HistoryLog
from webapp.imaging.fingerprint import same_picture
from webapp.sealing import Sealer
from webapp.store import RedisStore, connect_redis


class _Forms(HTMLParser):
    """Every form of a page as a browser would send it untouched, in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._text: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", "").split("?")[0], {}))
            return
        if not self.forms or ("name" not in a and tag != "option"):
            return
        fields = self.forms[-1][1]
        if tag == "input" and a.get("type") not in ("radio", "checkbox", "file", "submit"):
            fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._text = a["name"]
            fields[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
            fields[a["name"]] = ""
        elif tag == "option" and self._select and "selected" in a:
            fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._text = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._text and self.forms:
            fields = self.forms[-1][1]
            # A newline right after <textarea> is not part of the value (HTML parsing rules).
            fields[self._text] += data.removeprefix("\n") if not fields[self._text] else data


def forms(client: FlaskClient, page: str, action: str) -> list[dict[str, str]]:
    parser = _Forms()
    parser.feed(client.get(page).get_data(as_text=True))
    return [fields for found, fields in parser.forms if found == action]


def upload(client: FlaskClient, data: bytes) -> TestResponse:
    (fields,) = forms(client, "/photo", "/photo")
    return client.post(
        "/photo",
        data={**fields, "photo": (io.BytesIO(data), "IMG_0001.JPG")},
        content_type="multipart/form-data",
    )


def post_form(client: FlaskClient, page: str, action: str) -> TestResponse:
    (fields,) = forms(client, page, action)
    return client.post(action, data=fields)


def save_about_me(client: FlaskClient, text: str) -> TestResponse:
    (fields,) = forms(client, "/profile", "/profile")
    return client.post("/profile", data={**fields, "about_me": text})


def text_of(html: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def entries(app: Flask, tenant: Tenant, key: str) -> list:
    user = f"{tenant.user(key).oid}.{tenant.tenant_id}"
    return app.extensions["history"].entries(user)


def kinds(app: Flask, tenant: Tenant, key: str) -> list[EntryKind]:
    return [entry.kind for entry in entries(app, tenant, key)]


def graph_photo(tenant: Tenant, key: str) -> bytes | None:
    photo = tenant.user(key).photo
    return None if photo is None else photo.data


@pytest.fixture
def photo_a() -> bytes:
    return imagegen.jpeg((800, 600), orientation=6, gps=True)


@pytest.fixture
def photo_b() -> bytes:
    return imagegen.encode(imagegen.card((500, 500)).rotate(90))


# -- one entry per change ------------------------------------------------------------------


def test_each_photo_change_records_exactly_one_entry(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, photo_a: bytes
) -> None:
    sign_in.as_user("stale-photo")
    status_page = upload(client, photo_a).headers["Location"]
    assert kinds(app, tenant, "stale-photo") == [EntryKind.PHOTO_UPLOADED]

    # Reading the status page again (the follow-through) changes nothing: no entry.
    client.get(status_page)
    undone = post_form(client, status_page, "/photo/undo")
    assert undone.status_code == 303
    removed = post_form(client, "/photo/remove", "/photo/remove")
    assert removed.status_code == 303
    assert post_form(client, "/photo/resync", "/photo/resync").status_code == 303
    assert kinds(app, tenant, "stale-photo") == [
        EntryKind.PHOTO_RESYNCED,
        EntryKind.PHOTO_REMOVED,
        EntryKind.PHOTO_UNDONE,
        EntryKind.PHOTO_UPLOADED,
    ]
    resynced, removal, undo, uploaded = entries(app, tenant, "stale-photo")
    assert uploaded.details["steps"] == {
        "graph": {"step": "verified"},
        "sharepoint": {"step": "verified"},
    }
    assert set(uploaded.thumbnails) == {"new", "previous"}
    assert set(undo.thumbnails) == {"new", "previous"}
    assert set(removal.thumbnails) == {"previous"}
    assert removal.details["steps"]["sharepoint"] == {"step": "takes_from_microsoft_365"}
    assert resynced.details["steps"] == {"sharepoint": {"step": "nothing_to_copy"}}
    # Each entry carries the request id of the request that made the change.
    assert len({e.request_id for e in (resynced, removal, undo, uploaded)}) == 4


def test_a_double_submitted_upload_is_one_entry(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, photo_a: bytes
) -> None:
    sign_in.as_user("in-sync")
    (fields,) = forms(client, "/photo", "/photo")
    for _ in range(2):
        client.post(
            "/photo",
            data={**fields, "photo": (io.BytesIO(photo_a), "a.jpg")},
            content_type="multipart/form-data",
        )
    assert kinds(app, tenant, "in-sync") == [EntryKind.PHOTO_UPLOADED]


def test_a_failed_step_and_its_retry_are_each_recorded_with_microsofts_answer(
    app: Flask,
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    photo_a: bytes,
) -> None:
    sign_in.as_user("stale-photo")
    # Busy without naming a wait: a failure "Try again" may cure (a push SharePoint refuses
    # with another status is final, issue 14).
    tenant.faults.fail_always("sharepoint", 503, path_contains="SetMyProfilePicture")
    status_page = upload(client, photo_a).headers["Location"]
    tenant.faults.heal("sharepoint")
    post_form(client, status_page, "/photo/retry")

    retried, uploaded = entries(app, tenant, "stale-photo")
    assert uploaded.details["steps"]["graph"]["step"] == "verified"
    assert uploaded.details["steps"]["sharepoint"]["step"] == "failed"
    assert uploaded.details["steps"]["sharepoint"]["code"].startswith("sharepoint:503:")
    assert retried.kind is EntryKind.PHOTO_RETRIED
    assert retried.details["of"] == "photo_uploaded"
    assert retried.details["steps"]["sharepoint"]["step"] == "verified"
    assert retried.thumbnails == {}
    page = text_of(client.get("/history").get_data(as_text=True))
    assert "New photo: tried again" in page
    assert "SharePoint: not saved: Microsoft answered with an error (sharepoint:503:" in page


def test_a_profile_save_records_the_fields_with_old_and_new_values(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("half-profile")
    before = tenant.user("half-profile").sharepoint.properties["AboutMe"]
    assert save_about_me(client, "Payroll and onboarding.").status_code == 302
    # Saving the same text again sends nothing to Microsoft: no entry.
    assert save_about_me(client, "Payroll and onboarding.").status_code == 302

    (entry,) = entries(app, tenant, "half-profile")
    assert entry.kind is EntryKind.PROFILE_SAVED
    assert entry.details["changes"] == [
        {"field": "about_me", "old": before, "new": "Payroll and onboarding."}
    ]
    page = text_of(client.get("/history").get_data(as_text=True))
    assert "Profile details saved" in page
    assert "About me: “" in page and "” → “Payroll and onboarding.”" in page


def test_a_refused_file_and_a_reached_limit_are_recorded_once(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant
) -> None:
    sign_in.as_user("in-sync")
    assert upload(client, imagegen.pdf()).status_code == 422
    (refused,) = entries(app, tenant, "in-sync")
    assert refused.details == {"reason": "photo_rejected", "code": "unsupported_format"}
    (fields,) = forms(client, "/photo", "/photo")
    answers = [
        client.post(
            "/photo",
            data={**fields, "photo": (io.BytesIO(b""), "empty.jpg")},
            content_type="multipart/form-data",
        ).status_code
        for _ in range(62)
    ]
    # 60 refused files an hour; then three attempts over that limit.
    assert answers == [422] * 59 + [429] * 3
    recorded = entries(app, tenant, "in-sync")
    assert len(recorded) == 61  # sixty refused files and one limit, not three
    assert recorded[0].details == {"reason": "rate_limit", "subject": "refused_files"}
    page = text_of(client.get("/history").get_data(as_text=True))
    assert "Photo file refused: too many unusable files" in page
    assert "This file is not a photo ProfileFix can use." in page


# -- a history that cannot be written -------------------------------------------------------


def test_a_history_that_cannot_be_written_does_not_break_the_change(
    app: Flask,
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    photo_a: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The history alone on a Redis that is not there: every write to it fails at once.
    dead = RedisStore(connect_redis(f"redis://127.0.0.1:{free_port()}/0"), Sealer.random())
    app.extensions["history"] = HistoryLog(dead)
    sign_in.as_user("half-profile")
    with caplog.at_level(logging.WARNING):
        response = upload(client, photo_a)
        saved = save_about_me(client, "Still saved.")
    assert response.status_code == 303
    assert same_picture(graph_photo(tenant, "half-profile"), photo_a)
    assert saved.status_code == 302
    assert tenant.user("half-profile").sharepoint.properties["AboutMe"] == "Still saved."
    assert "history entry photo_uploaded not recorded: ConnectionError" in caplog.text
    assert "history entry profile_saved not recorded: ConnectionError" in caplog.text
    # The overview's helpdesk summary goes without the changes; the page itself works.
    assert client.get("/").status_code == 200


# -- restoring an earlier photo ---------------------------------------------------------------


def test_an_earlier_photo_comes_back_from_the_history(
    app: Flask,
    client: FlaskClient,
    sign_in: SignIn,
    tenant: Tenant,
    photo_a: bytes,
    photo_b: bytes,
) -> None:
    sign_in.as_user("in-sync")
    original = graph_photo(tenant, "in-sync")
    upload(client, photo_a)
    upload(client, photo_b)
    restores = forms(client, "/history", "/photo/restore")
    assert len(restores) == 2  # each change kept the photo it replaced
    newest, oldest = restores

    response = client.post("/photo/restore", data=oldest)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/photo/status/")
    assert same_picture(graph_photo(tenant, "in-sync"), original)
    restored = entries(app, tenant, "in-sync")[0]
    assert restored.kind is EntryKind.PHOTO_RESTORED
    assert restored.details["steps"]["graph"]["step"] == "verified"

    # The same form sent twice is one change.
    assert (
        client.post("/photo/restore", data=oldest).headers["Location"]
        == (response.headers["Location"])
    )
    client.post("/photo/restore", data=newest)
    assert same_picture(graph_photo(tenant, "in-sync"), photo_a)
    assert len(entries(app, tenant, "in-sync")) == 4


def test_a_restore_of_a_change_not_kept_or_not_yours_changes_nothing(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, photo_a: bytes
) -> None:
    sign_in.as_user("in-sync")
    upload(client, photo_a)
    (form,) = forms(client, "/history", "/photo/restore")
    app.extensions["store"].delete(f"op:{form['op_id']}")  # the record's 24 hours are over
    tenant.requests.clear()
    response = client.post("/photo/restore", data=form, follow_redirects=True)
    assert "That photo is no longer kept, so it cannot be put back." in text_of(
        response.get_data(as_text=True)
    )
    assert [r for r in tenant.requests if r.method in ("PUT", "POST", "DELETE")] == []
    # Without the CSRF token nothing happens at all.
    assert client.post("/photo/restore", data={"op_id": form["op_id"]}).status_code == 400


# -- the page, its pictures and its downloads ------------------------------------------------


def test_history_page_needs_sign_in_and_the_link_survives_it(
    client: FlaskClient, sign_in: SignIn
) -> None:
    response = client.get("/history?ticket=INC0012345")
    assert response.status_code == 302
    done = sign_in.as_user("in-sync", "/history?ticket=INC0012345")
    assert done.headers["Location"] == "/history?ticket=INC0012345"
    page = client.get("/history").get_data(as_text=True)
    assert "You have not changed anything with ProfileFix yet." in text_of(page)
    assert '<a href="/history" aria-current="page">Your changes</a>' in page


def test_page_shows_each_change_with_its_time_pictures_and_request_id(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, photo_a: bytes
) -> None:
    sign_in.as_user("stale-photo")
    upload(client, photo_a)
    (entry,) = entries(app, tenant, "stale-photo")
    page = client.get("/history", headers={"Accept-Language": "da"}).get_data(as_text=True)
    assert "<h1>Dine ændringer</h1>" in page
    stamp = entry.at.strftime("%Y-%m-%d %H:%M UTC")
    assert f'datetime="{entry.iso_time}" data-local-time>{stamp}</time>' in page
    assert f'src="/history/pictures/{entry.id}/previous"' in page
    assert f'src="/history/pictures/{entry.id}/new"' in page
    assert f"<code>{entry.request_id}</code>" in page
    assert re.search(r'<script src="/static/js/localtime\.js\?v=\w+" defer></script>', page)


def test_pictures_are_the_persons_own_and_served_like_every_photo(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, photo_a: bytes
) -> None:
    sign_in.as_user("stale-photo")
    upload(client, photo_a)
    (entry,) = entries(app, tenant, "stale-photo")
    url = f"/history/pictures/{entry.id}/new"
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert same_picture(response.data, photo_a)
    assert response.headers["Cache-Control"] == "private, max-age=300"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert client.get(url, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    assert client.get(url, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403

    other = app.test_client()
    SignIn(other, sign_in.pages, tenant).as_user("in-sync")
    assert other.get(url).status_code == 404


def test_downloads_hold_the_whole_history_as_attachments(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, photo_a: bytes
) -> None:
    sign_in.as_user("half-profile")
    upload(client, photo_a)
    save_about_me(client, '=HYPERLINK("http://evil.example","click")')

    response = client.get("/history.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert re.fullmatch(
        r'attachment; filename="profilefix-changes-\d{8}\.csv"',
        response.headers["Content-Disposition"],
    )
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["Time (UTC)", "What changed", "Result", "Details", "Request id"]
    assert [row[1] for row in rows[1:]] == ["Profile details saved", "New photo"]
    assert "About me:" in rows[1][3] and "=HYPERLINK" in rows[1][3]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    document = json.loads(client.get("/history.json").data)
    assert [e["kind"] for e in document["entries"]] == ["profile_saved", "photo_uploaded"]
    assert document["entries"][1]["pictures"]["new"].startswith("data:image/jpeg;base64,")
    assert client.get("/history.json").headers["Content-Disposition"].startswith("attachment;")


def test_helpdesk_summary_lists_the_latest_changes(
    app: Flask, client: FlaskClient, sign_in: SignIn, tenant: Tenant, photo_a: bytes
) -> None:
    sign_in.as_user("half-profile")
    upload(client, photo_a)
    save_about_me(client, "Private words.")
    page = client.get("/").get_data(as_text=True)
    summary = unescape(re.search(r'id="helpdesk-summary"[^>]*>(.*?)</textarea>', page, re.S)[1])
    assert "Recent changes made in ProfileFix (newest first):" in summary
    profile_line, photo_line = summary.split("newest first):\n")[1].splitlines()[:2]
    assert "Profile details saved: Saved: About me" in profile_line
    assert "Private words" not in summary
    assert "New photo: Outlook and Teams (Exchange and Entra ID): saved and checked" in photo_line
    (latest, _) = entries(app, tenant, "half-profile")
    assert f"[request id {latest.request_id}]" in profile_line
    # The profile page's summary is the same shared one: it lists them too.
    page = client.get("/profile").get_data(as_text=True)
    summary = unescape(re.search(r'id="helpdesk-summary"[^>]*>(.*?)</textarea>', page, re.S)[1])
    assert "Recent changes made in ProfileFix (newest first):" in summary
    assert "Private words" not in summary
