"""Driving the photo pages under Flask's test client (the forms' hidden fields, uploads, the
status page) and reading what the app recorded and what each service now shows."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from m365_emulator.tenant import Tenant
from webapp.photo.operations import OperationStore

SET_PICTURE = "SetMyProfilePicture"
PHOTO_PATH = "/me/photo/$value"


class _Inputs(HTMLParser):
    """Hidden inputs of every form on a page, by form action."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._action = a.get("action", "")
            self.forms.setdefault(self._action, {})
        elif tag == "input" and self._action is not None and a.get("type") == "hidden":
            self.forms[self._action][a["name"]] = a.get("value", "")


def form_fields(client: FlaskClient, page: str, action: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(client.get(page).get_data(as_text=True))
    return dict(parser.forms[action])


def upload(
    client: FlaskClient,
    data: bytes,
    crop: tuple[int, int, int] | None = None,
    filename: str = "IMG_0001.HEIC",
    **overrides: str,
) -> TestResponse:
    fields: dict[str, object] = form_fields(client, "/photo", "/photo")
    if crop is not None:
        fields.update(x=str(crop[0]), y=str(crop[1]), size=str(crop[2]))
    fields.update(overrides)
    fields["photo"] = (_stream(data), filename)
    return client.post("/photo", data=fields, content_type="multipart/form-data")


def _stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def post_form(client: FlaskClient, page: str, action: str) -> TestResponse:
    return client.post(action, data=form_fields(client, page, action))


def op_id(response: TestResponse) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    match = re.fullmatch(r"/photo/status/([A-Za-z0-9_-]+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def ops(app: Flask) -> OperationStore:
    return OperationStore(app.extensions["store"])


def user_key(tenant: Tenant, key: str) -> str:
    return f"{tenant.user(key).oid}.{tenant.tenant_id}"


def writes(tenant: Tenant) -> list[tuple[str, str, str]]:
    """Every call that changes something at Microsoft, in order."""
    return [
        (r.service, r.method, r.path)
        for r in tenant.requests
        if r.service in ("graph", "sharepoint") and r.method in ("PUT", "PATCH", "POST", "DELETE")
    ]


def calls(tenant: Tenant, service: str, method: str, path_part: str) -> int:
    return sum(1 for r in tenant.requests_to(service) if r.method == method and path_part in r.path)


def sharepoint_large(tenant: Tenant, key: str) -> bytes | None:
    """The large thumbnail in SharePoint's legacy library (what a classic tenant shows)."""
    pictures = tenant.user(key).sharepoint.pictures
    return None if pictures is None else pictures.large


def front_door(tenant: Tenant, key: str) -> bytes | None:
    """The copy SharePoint's front-door cache serves on the current model (reference §9.1)."""
    copy = tenant.user(key).sharepoint.front_door
    return None if copy is None else copy.data


def looked_at_later(app: Flask, tenant: Tenant, key: str, op: str, *, after: float) -> None:
    """As if the change had been written and last checked `after` seconds earlier: the status
    page's next look may read back again (no real sleep; the app's record moves instead)."""
    store = ops(app)
    record = store.get(user_key(tenant, key), op)
    assert record is not None and record.written_at is not None
    record.written_at -= after
    if record.checked_at is not None:
        record.checked_at -= after
    store.save(record)


def graph_photo(tenant: Tenant, key: str) -> bytes | None:
    photo = tenant.user(key).photo
    return None if photo is None else photo.data
