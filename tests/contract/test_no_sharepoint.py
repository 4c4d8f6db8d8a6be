"""A user without a SharePoint licence (reference §9.2): SharePoint refuses each token of theirs
with 401 and x-ms-diagnostics; Graph refuses their SharePoint-backed fields with 400."""

from __future__ import annotations

import pytest

from m365_emulator import sharepoint, sync
from tests.support.images import make_image

USER = "no-sharepoint"
SPO_LICENCE = "Tenant does not have a SPO license."


@pytest.mark.parametrize(
    ("method", "path", "scopes"),
    [
        ("GET", "/_api/SP.UserProfiles.PeopleManager/GetMyProperties", ("AllSites.Read",)),
        ("GET", "/_layouts/15/userphoto.aspx?size=L", ("AllSites.Read",)),
        ("POST", "/_api/SP.UserProfiles.PeopleManager/SetMyProfilePicture", ("AllSites.Write",)),
    ],
)
def test_sharepoint_refuses_every_token_of_a_user_without_a_licence(m365, method, path, scopes):
    response = m365.sharepoint(method, path, USER, scopes, data=b"" if method == "POST" else None)
    assert response.status_code == 401
    assert response.headers["x-ms-diagnostics"] == sharepoint.NOT_LICENSED
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")
    assert response.json == {
        "error": "invalid_client",
        "error_description": "There has been an error authenticating the request.",
    }


@pytest.mark.parametrize("field", sorted(sync.SPO_BACKED_FIELDS))
def test_graph_refuses_each_sharepoint_backed_field_of_a_user_without_sharepoint(m365, field):
    read = m365.graph("GET", f"/me?$select=displayName,{field}", USER)
    assert read.status_code == 400
    assert read.json["error"]["code"] == "BadRequest"
    assert read.json["error"]["message"] == SPO_LICENCE
    value = [] if field in sync.MULTI_VALUED_FIELDS else "x"
    write = m365.graph("PATCH", "/me", USER, json={field: value})
    assert (write.status_code, write.json["error"]["message"]) == (400, SPO_LICENCE)


def test_the_directory_fields_and_the_photo_of_a_user_without_sharepoint_still_work(m365):
    assert m365.graph("GET", "/me", USER).status_code == 200
    selected = m365.graph("GET", "/me?$select=displayName,jobTitle,mobilePhone", USER)
    assert selected.json["displayName"] == "Freya Nilsen"
    assert (
        m365.graph("PATCH", "/me", USER, json={"mobilePhone": "+45 20 00 00 00"}).status_code == 204
    )
    photo = make_image("JPEG", (300, 300))
    assert (
        m365.graph(
            "PUT", "/me/photo/$value", USER, data=photo, content_type="image/jpeg"
        ).status_code
        == 200
    )
