"""Contract of the two photo models: `current` (reference §9.1, the default) and `classic` (§5.2).

On `current`, userphoto.aspx redirects to SharePoint's front-door cache of the Graph photo
(sp-dev-docs #7909), which refreshes by itself after `photo_cache_lifetime`; SharePoint refuses
local uploads and never writes its `User Photos` library again.
"""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from m365_emulator import pictures
from m365_emulator.sharepoint import AFDCACHE_PATH, OAT_LIFETIME
from m365_emulator.tenant import Origins, Tenant
from tests.support.images import image_size, make_image, mean_colour
from tests.support.m365 import PHOTO_CACHE_LIFETIME, PHOTO_PULL_INTERVAL

SET_PICTURE = "/_api/SP.UserProfiles.PeopleManager/SetMyProfilePicture"
ACCESS_DENIED = "-2147024891, System.UnauthorizedAccessException"


def userphoto(m365, key: str, size: str = "L", viewer: str | None = None, **kwargs):
    upn = m365.user(key).upn
    path = kwargs.pop("path", "/_layouts/15/userphoto.aspx")
    return m365.sharepoint(
        "GET", f"{path}?size={size}&accountname={upn}", viewer or key, accept=None, **kwargs
    )


def follow(m365, redirect, viewer: str, **kwargs):
    """GET the redirect target as a browser would, with a token for the origin it names."""
    target = urlsplit(redirect.headers["Location"])
    origin = f"{target.scheme}://{target.netloc}"
    return m365.sharepoint(
        "GET", f"{target.path}?{target.query}", viewer, accept=None, origin=origin, **kwargs
    )


def served(m365, key: str, size: str = "L", viewer: str | None = None):
    """What a SharePoint page shows for `key`: the image at the end of userphoto.aspx."""
    first = userphoto(m365, key, size, viewer)
    assert first.status_code == 302, first.data
    return follow(m365, first, viewer or key)


def graph_photo(m365, key: str) -> bytes:
    response = m365.graph("GET", "/me/photo/$value", key)
    assert response.status_code == 200
    return response.data


def distance(a: bytes, b: bytes) -> int:
    return sum(abs(x - y) for x, y in zip(mean_colour(a), mean_colour(b), strict=True))


def put_photo(m365, key: str, colour: str) -> bytes:
    data = make_image("JPEG", (300, 300), colour)
    response = m365.graph("PUT", "/me/photo/$value", key, data=data, content_type="image/jpeg")
    assert response.status_code == 200
    return data


def library_thumbnail(m365, key: str, size: str = "M"):
    user = m365.user(key)
    mysite = m365.tenant.origins.mysite
    return m365.sharepoint(
        "GET",
        f"/User%20Photos/Profile%20Pictures/{user.oid}_{size}Thumb.jpg",
        key,
        accept=None,
        origin=mysite,
    )


def test_the_current_model_is_the_default():
    assert Tenant(Origins.virtual()).photo_model == "current"
    with pytest.raises(ValueError):
        Tenant(Origins.virtual(), photo_model="2020")


# -- the display path: userphoto.aspx → afdcache.ashx --------------------------------------


@pytest.mark.parametrize(
    "path", ["/_layouts/15/userphoto.aspx", "/sites/hr/_layouts/15/userphoto.aspx"]
)
def test_userphoto_redirects_to_the_front_door_cache_on_the_same_origin(m365_current, path):
    response = userphoto(m365_current, "in-sync", "M", path=path)
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == m365_current.tenant.origins.sharepoint
    assert target.path == "/_vti_bin/afdcache.ashx/_userprofile/userphoto.jpg"
    query = parse_qs(target.query)
    assert query["_oat_"][0]
    assert query["size"] == ["M"]
    assert query["accountName"] == [m365_current.user("in-sync").upn]


def test_the_my_site_host_redirects_to_itself(m365_current):
    mysite = m365_current.tenant.origins.mysite
    response = userphoto(m365_current, "in-sync", origin=mysite)
    assert response.headers["Location"].startswith(f"{mysite}{AFDCACHE_PATH}?")
    assert follow(m365_current, response, "in-sync").status_code == 200


@pytest.mark.parametrize(("size", "edge"), [("S", 48), ("M", 72), ("L", 240)])
def test_front_door_serves_the_graph_photo_at_each_size(m365_current, size, edge):
    response = served(m365_current, "in-sync", size)
    assert response.status_code == 200
    assert response.content_type == "image/jpeg"
    assert image_size(response.data) == (edge, edge)
    assert distance(response.data, graph_photo(m365_current, "in-sync")) < 40


def test_size_defaults_to_small(m365_current):
    response = m365_current.sharepoint("GET", "/_layouts/15/userphoto.aspx", accept=None)
    assert parse_qs(urlsplit(response.headers["Location"]).query)["size"] == ["S"]
    assert image_size(follow(m365_current, response, "in-sync").data) == (48, 48)


def test_front_door_serves_the_cached_copy_until_its_lifetime_has_passed(m365_current):
    old = served(m365_current, "in-sync").data
    new = put_photo(m365_current, "in-sync", "orange")
    m365_current.tenant.clock.advance(PHOTO_CACHE_LIFETIME - 1)
    assert distance(served(m365_current, "in-sync").data, old) < 40
    m365_current.tenant.clock.advance(1)
    now_served = served(m365_current, "in-sync").data
    assert distance(now_served, new) < 40
    assert distance(now_served, old) > 100


def test_the_cache_is_filled_at_the_first_request_not_at_upload(m365_current):
    # Nobody looked before the upload: the first look fetches the new photo at once.
    new = put_photo(m365_current, "in-sync", "orange")
    assert distance(served(m365_current, "in-sync").data, new) < 40


def test_colleagues_are_served_the_same_cached_copy(m365_current):
    old = served(m365_current, "in-sync").data
    put_photo(m365_current, "in-sync", "orange")
    assert distance(served(m365_current, "in-sync", viewer="no-photo").data, old) < 40


def test_without_a_graph_photo_the_placeholder_is_served(m365_current):
    response = served(m365_current, "no-photo", "M")
    assert response.status_code == 200
    assert response.data == pictures.placeholder_silhouette(72)
    assert response.content_type == "image/png"


def test_an_unknown_account_is_served_the_placeholder(m365_current):
    response = m365_current.sharepoint(
        "GET", "/_layouts/15/userphoto.aspx?size=S&accountname=nobody@example.com", accept=None
    )
    assert parse_qs(urlsplit(response.headers["Location"]).query)["accountName"] == [
        "nobody@example.com"
    ]
    served_image = follow(m365_current, response, "in-sync")
    assert served_image.data == pictures.placeholder_silhouette(48)


def test_a_deleted_photo_turns_into_the_placeholder_once_the_cache_expires(m365_current):
    served(m365_current, "in-sync")
    assert m365_current.graph("DELETE", "/me/photo/$value").status_code == 200
    assert served(m365_current, "in-sync").content_type == "image/jpeg"
    m365_current.tenant.clock.advance(PHOTO_CACHE_LIFETIME)
    assert served(m365_current, "in-sync", "S").data == pictures.placeholder_silhouette(48)


def test_front_door_needs_a_sharepoint_token(m365_current):
    redirect = userphoto(m365_current, "in-sync")
    assert follow(m365_current, redirect, "in-sync", token="").status_code == 401
    graph_token = m365_current.token("in-sync", "https://graph.microsoft.com", ["User.Read"])
    assert follow(m365_current, redirect, "in-sync", token=graph_token).status_code == 401


@pytest.mark.parametrize(
    "change", [{"accountName": "NoahL@contoso.onmicrosoft.com"}, {"size": "S"}, {"_oat_": "x"}]
)
def test_front_door_refuses_an_altered_url(m365_current, change):
    location = urlsplit(userphoto(m365_current, "in-sync").headers["Location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()} | change
    response = m365_current.sharepoint(
        "GET", f"{location.path}?{urlencode(query)}", "in-sync", accept=None
    )
    assert response.status_code == 403
    assert response.text == "ERROR 403: Time-Limited URL validation failed"


def test_front_door_refuses_an_expired_url(m365_current):
    redirect = userphoto(m365_current, "in-sync")
    m365_current.tenant.clock.advance(OAT_LIFETIME)
    assert follow(m365_current, redirect, "in-sync").status_code == 403


def test_the_front_door_answers_scripted_sharepoint_failures(m365_current):
    redirect = userphoto(m365_current, "in-sync")
    m365_current.tenant.faults.fail_next("sharepoint", 1, 503, 5, path_contains="afdcache")
    response = follow(m365_current, redirect, "in-sync")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


# -- SharePoint's own store: refused uploads, an untouched library -------------------------


def test_set_my_profile_picture_is_refused_on_current(m365_current):
    before = m365_current.user("in-sync").sharepoint.pictures
    response = m365_current.sharepoint(
        "POST", SET_PICTURE, "in-sync", ["AllSites.Write"], data=make_image("PNG", (120, 120))
    )
    assert response.status_code == 403
    assert response.json["odata.error"]["code"] == ACCESS_DENIED
    assert m365_current.user("in-sync").sharepoint.pictures is before


def test_set_my_profile_picture_is_accepted_on_classic(m365):
    response = m365.sharepoint(
        "POST", SET_PICTURE, "in-sync", ["AllSites.Write"], data=make_image("PNG", (120, 120))
    )
    assert response.status_code == 200
    assert mean_colour(library_thumbnail(m365, "in-sync").data)[0] > 200  # orange


def test_the_legacy_library_is_never_updated_on_current(m365_current):
    thumbnail = library_thumbnail(m365_current, "in-sync").data
    timestamp = m365_current.upa("in-sync")["SPS-PictureTimestamp"]
    new = put_photo(m365_current, "in-sync", "orange")
    m365_current.tenant.clock.advance(max(PHOTO_PULL_INTERVAL, PHOTO_CACHE_LIFETIME))
    assert distance(served(m365_current, "in-sync").data, new) < 40
    assert library_thumbnail(m365_current, "in-sync").data == thumbnail
    assert m365_current.upa("in-sync")["SPS-PictureTimestamp"] == timestamp


def test_on_classic_userphoto_answers_the_library_picture_itself(m365):
    response = userphoto(m365, "in-sync", "M")
    assert response.status_code == 200
    assert response.data == library_thumbnail(m365, "in-sync", "M").data


# -- the demo users on a current tenant ------------------------------------------------------


def test_cached_photo_is_served_old_until_the_cache_expires_after_the_first_look(m365_current):
    graph = graph_photo(m365_current, "cached-photo")
    # However long after the reset someone first looks, the old copy is what they see.
    m365_current.tenant.clock.advance(10 * PHOTO_CACHE_LIFETIME)
    first = served(m365_current, "cached-photo").data
    assert distance(first, graph) > 100
    assert distance(first, library_thumbnail(m365_current, "cached-photo", "L").data) < 40
    m365_current.tenant.clock.advance(PHOTO_CACHE_LIFETIME)
    assert distance(served(m365_current, "cached-photo").data, graph) < 40


def test_legacy_copy_is_served_right_while_the_library_holds_the_old_one(m365_current):
    graph = graph_photo(m365_current, "legacy-copy")
    assert distance(served(m365_current, "legacy-copy").data, graph) < 40
    library = library_thumbnail(m365_current, "legacy-copy", "L").data
    assert distance(library, graph) > 100
    assert m365_current.upa("legacy-copy")["PictureURL"].endswith("_MThumb.jpg")


def test_no_mailbox_is_served_the_entra_photo_and_changed_through_graph(m365_current):
    upa = m365_current.upa("no-mailbox")
    assert (upa["PictureURL"], upa["SPS-PicturePlaceholderState"]) == ("", "1")
    graph = graph_photo(m365_current, "no-mailbox")
    assert distance(served(m365_current, "no-mailbox").data, graph) < 40
    push = m365_current.sharepoint(
        "POST", SET_PICTURE, "no-mailbox", ["AllSites.Write"], data=make_image("PNG", (120, 120))
    )
    assert push.status_code == 403
    new = put_photo(m365_current, "no-mailbox", "orange")
    m365_current.tenant.clock.advance(PHOTO_CACHE_LIFETIME)
    assert distance(served(m365_current, "no-mailbox").data, new) < 40


@pytest.mark.parametrize("key", ["stale-photo", "placeholder"])
def test_classic_users_keep_the_classic_sync_on_a_current_tenant(m365_current, key):
    assert userphoto(m365_current, key).status_code == 200
    push = m365_current.sharepoint(
        "POST", SET_PICTURE, key, ["AllSites.Write"], data=make_image("PNG", (120, 120))
    )
    assert push.status_code == 200
    shown = userphoto(m365_current, key, "M")
    assert shown.status_code == 200
    assert mean_colour(shown.data)[0] > 200  # the orange push, at once


# -- Graph's photo limit ---------------------------------------------------------------------


def padded_png(length: int) -> bytes:
    png = make_image("PNG", (16, 16))
    return png + b"\0" * (length - len(png))


def test_graph_accepts_a_photo_of_exactly_4_000_000_bytes(m365_current):
    data = padded_png(4_000_000)
    response = m365_current.graph("PUT", "/me/photo/$value", data=data, content_type="image/png")
    assert response.status_code == 200


def test_graph_refuses_a_photo_one_byte_over_4_000_000(m365_current):
    data = padded_png(4_000_001)
    response = m365_current.graph("PUT", "/me/photo/$value", data=data, content_type="image/png")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "BadRequest"
