"""What the upload page's script reads while its POST is working (issue 17): nothing until the
change has started, then each service's state and the address of the change's status page."""

from __future__ import annotations

import io
import re

from flask.testing import FlaskClient

from tests import imagegen
from tests.support.signin import SignIn


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, name
    return match.group(1)


def test_the_saving_state_names_each_service_and_the_status_page_once_the_change_started(
    client: FlaskClient, sign_in: SignIn
) -> None:
    sign_in.as_user("stale-photo")
    page = client.get("/photo").get_data(as_text=True)
    token = _hidden(page, "form_token")
    saving = f"/photo/saving/{token}.json"
    assert f'data-saving-url="{saving}"' in page
    assert client.get(saving).status_code == 204

    response = client.post(
        "/photo",
        data={
            "csrf_token": _hidden(page, "csrf_token"),
            "form_token": token,
            "photo": (io.BytesIO(imagegen.jpeg((800, 600))), "IMG_0001.JPG"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303

    state = client.get(saving).get_json()
    assert state["status_url"] == response.headers["Location"]
    assert [(s["service"], s["state"]) for s in state["sides"]] == [
        ("graph", "verified"),
        ("sharepoint", "verified"),
    ]
    assert state["outcome"] == "verified"


def test_another_account_cannot_read_a_saving_state(client: FlaskClient, sign_in: SignIn) -> None:
    sign_in.as_user("stale-photo")
    page = client.get("/photo").get_data(as_text=True)
    token = _hidden(page, "form_token")
    client.post(
        "/photo",
        data={
            "csrf_token": _hidden(page, "csrf_token"),
            "form_token": token,
            "photo": (io.BytesIO(imagegen.jpeg((800, 600))), "IMG_0001.JPG"),
        },
        content_type="multipart/form-data",
    )
    assert client.get(f"/photo/saving/{token}.json").status_code == 200

    sign_in.as_user("in-sync")
    assert client.get(f"/photo/saving/{token}.json").status_code == 204
