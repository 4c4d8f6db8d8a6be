"""The demo tenant: its app registration and that each demo user shows what it claims to."""

import pytest

from m365_emulator import pictures
from m365_emulator.seed import DEMO_USERS
from m365_emulator.tenant import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.support.images import image_size, mean_colour

KEYS = [
    "in-sync",
    "stale-photo",
    "placeholder",
    "no-photo",
    "drifted-attributes",
    "no-mailbox",
    "graph-throttled",
    "sharepoint-down",
    "half-profile",
    "synced-onprem",
    "cached-photo",
    "legacy-copy",
    "no-sharepoint",
    "photo-blocked",
    "step-up",
]


def test_every_demo_user_exists_with_a_one_line_explanation(m365):
    assert [u.key for u in m365.tenant.users.values()] == KEYS
    for user in m365.tenant.users.values():
        assert user.demonstrates and "\n" not in user.demonstrates
        assert user.upn.endswith("@contoso.onmicrosoft.com")
        assert user.directory["companyName"] == "Contoso"


def test_demo_client_is_registered(m365):
    client = m365.tenant.clients[DEMO_CLIENT_ID]
    assert client.secret == DEMO_CLIENT_SECRET
    assert "http://localhost:5000/auth/redirect" in client.redirect_uris
    assert "http://127.0.0.1:5000/auth/redirect" in client.redirect_uris
    assert client.any_origin_paths == ("/auth/redirect",)
    assert "http://localhost:5000/signed-out" in client.post_logout_redirect_uris


def test_demo_photos_are_large_jpegs_whose_versions_differ_at_a_glance():
    v1 = pictures.initials_photo("SO", 1)
    v2 = pictures.initials_photo("SO", 2)
    assert pictures.sniff(v1) == "image/jpeg"
    assert image_size(v1) == (648, 648)
    distance = sum(abs(a - b) for a, b in zip(mean_colour(v1), mean_colour(v2), strict=True))
    assert distance > 100


def test_placeholder_silhouette_is_a_grey_png():
    data = pictures.placeholder_silhouette(72)
    assert pictures.sniff(data) == "image/png"
    assert image_size(data) == (72, 72)


def upa(m365, key: str) -> dict[str, str]:
    return m365.upa(key)


def test_in_sync_shows_the_graph_photo_in_sharepoint(m365):
    user = m365.user("in-sync")
    assert user.sharepoint.pictures.source_version == user.photo.version
    assert upa(m365, "in-sync")["SPS-PicturePlaceholderState"] == "0"


def test_stale_photo_shows_an_older_version_in_sharepoint(m365):
    user = m365.user("stale-photo")
    assert (user.photo.version, user.sharepoint.pictures.source_version) == (2, 1)
    graph = m365.graph("GET", "/me/photos/240x240/$value", "stale-photo").data
    sharepoint = m365.sharepoint("GET", "/_layouts/15/userphoto.aspx?size=L", "stale-photo").data
    distance = sum(
        abs(a - b) for a, b in zip(mean_colour(graph), mean_colour(sharepoint), strict=True)
    )
    assert distance > 100


def test_placeholder_has_a_graph_photo_but_sharepoint_shows_the_placeholder(m365):
    assert m365.graph("GET", "/me/photo/$value", "placeholder").status_code == 200
    values = upa(m365, "placeholder")
    assert values["SPS-PicturePlaceholderState"] == "1"
    assert values["PictureURL"] == ""
    photo = m365.sharepoint("GET", "/_layouts/15/userphoto.aspx", "placeholder")
    assert photo.content_type == "image/png"


def test_no_photo_anywhere(m365):
    assert (
        m365.graph("GET", "/me/photo/$value", "no-photo").json["error"]["code"] == "ImageNotFound"
    )
    assert upa(m365, "no-photo")["SPS-PicturePlaceholderState"] == "1"


def test_drifted_attributes_differ_with_an_import_pending(m365):
    user = m365.user("drifted-attributes")
    assert user.directory["jobTitle"] != user.sharepoint.properties["Title"]
    assert user.directory["department"] != user.sharepoint.properties["Department"]
    assert {p.property_key for p in user.pending_imports} == {
        "Title",
        "SPS-JobTitle",
        "Department",
        "SPS-Department",
    }


def test_no_mailbox_has_an_entra_photo_and_no_exchange_sync(m365):
    user = m365.user("no-mailbox")
    assert not user.has_mailbox
    assert m365.graph("GET", "/me/photo", "no-mailbox").json["id"] == "800x800"
    assert upa(m365, "no-mailbox")["SPS-PictureExchangeSyncState"] == "0"


def test_graph_throttled_answers_429_a_few_times_and_again_after_a_reset(m365):
    for _ in range(2):
        for _ in range(3):
            response = m365.graph("GET", "/me", "graph-throttled")
            assert response.status_code == 429
            assert response.headers["Retry-After"] == "1"
            assert response.json["error"]["code"] == "TooManyRequests"
        assert m365.graph("GET", "/me", "graph-throttled").status_code == 200
        assert m365.graph("GET", "/me", "in-sync").status_code == 200
        m365.tenant.reset()


def test_sharepoint_down_answers_503_for_that_user_only(m365):
    for _ in range(3):
        response = m365.my_properties("sharepoint-down")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "odata.error" in response.json
    assert m365.graph("GET", "/me", "sharepoint-down").status_code == 200
    assert m365.my_properties("in-sync").status_code == 200


def test_half_profile_has_some_fields_filled_in(m365):
    fields = "aboutMe,skills,interests,pastProjects,responsibilities,schools,birthday"
    body = m365.graph("GET", f"/me?$select={fields}", "half-profile").json
    assert body["aboutMe"] and body["skills"]
    assert body["interests"] == body["pastProjects"] == body["schools"] == []
    assert body["birthday"] == "0001-01-01T00:00:00Z"


def test_synced_onprem_user_cannot_change_the_mobile_phone(m365):
    assert m365.user("synced-onprem").on_premises_synced
    body = m365.graph("GET", "/me?$select=onPremisesSyncEnabled", "synced-onprem").json
    assert body["onPremisesSyncEnabled"] is True
    response = m365.graph("PATCH", "/me", "synced-onprem", json={"mobilePhone": "+1"})
    assert response.status_code == 400


# Demo users whose calls fail by design; everyone else reads both services.
GRAPH_REFUSES = {"graph-throttled": 429, "step-up": 403}  # step-up: token without CP1
SHAREPOINT_REFUSES = {"sharepoint-down": 503, "no-sharepoint": 401}


@pytest.mark.parametrize("spec", DEMO_USERS, ids=lambda s: s.key)
def test_every_demo_user_can_read_graph_and_sharepoint_unless_scripted_to_fail(m365, spec):
    graph = m365.graph("GET", "/me", spec.key)
    assert graph.status_code == GRAPH_REFUSES.get(spec.key, 200)
    sharepoint = m365.my_properties(spec.key)
    assert sharepoint.status_code == SHAREPOINT_REFUSES.get(spec.key, 200)


def test_in_sync_user_has_the_same_sign_in_name_on_both_sides(m365):
    values = m365.upa("in-sync")
    upn = m365.user("in-sync").upn
    assert values["UserName"] == upn
    assert values["SPS-UserPrincipalName"] == upn
