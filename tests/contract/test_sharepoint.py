"""Contract of the emulated SharePoint Online: PeopleManager, userphoto.aspx, the photo library
(reference §4)."""

import xml.etree.ElementTree as ET

import pytest

from m365_emulator import sync
from m365_emulator.sharepoint import MAX_PICTURE_BYTES
from m365_emulator.tokens import GRAPH_RESOURCE
from tests.support.images import image_size, make_image, mean_colour

GET_MY_PROPERTIES = "/_api/SP.UserProfiles.PeopleManager/GetMyProperties"
SET_PICTURE = "/_api/SP.UserProfiles.PeopleManager/SetMyProfilePicture"
VERBOSE = "application/json;odata=verbose"
MINIMAL = "application/json;odata=minimalmetadata"
NOMETADATA = "application/json;odata=nometadata"
ATOM = "{http://www.w3.org/2005/Atom}"
D = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"


def odata_error(response, status: int, code_part: str, *, light: bool = True) -> str:
    """SharePoint's OData error (reference §4.8): verbose `error`, JSON light `odata.error`."""
    assert response.status_code == status, response.data
    error = response.json["odata.error" if light else "error"]
    assert code_part in error["code"]
    assert error["message"]["lang"] == "en-US"
    return error["message"]["value"]


def library_path(oid: str, size: str) -> str:
    return f"/User%20Photos/Profile%20Pictures/{oid}_{size}Thumb.jpg"


# -- GetMyProperties: shapes by Accept -----------------------------------------------------------


def test_verbose_shape(m365):
    response = m365.my_properties(accept=VERBOSE)
    assert response.status_code == 200
    assert response.content_type.startswith("application/json;odata=verbose")
    d = response.json["d"]
    assert d["__metadata"]["type"] == "SP.UserProfiles.PersonProperties"
    assert d["__metadata"]["uri"].startswith(
        "https://contoso.sharepoint.m365.test/_api/SP.UserProfiles.PersonProperties"
    )
    user = m365.user("in-sync")
    assert d["AccountName"] == f"i:0#.f|membership|{user.upn.lower()}"
    assert d["DisplayName"] == "Isabel Santos"
    assert d["Title"] == "Marketing Manager"
    assert d["DirectReports"] == {"__metadata": {"type": "Collection(Edm.String)"}, "results": []}
    assert d["PersonalSiteHostUrl"] == "https://contoso-my.sharepoint.m365.test:443/"
    entry = d["UserProfileProperties"]["results"][0]
    assert entry["__metadata"] == {"type": "SP.KeyValue"}
    assert entry["ValueType"] == "Edm.String"
    keys = {p["Key"] for p in d["UserProfileProperties"]["results"]}
    assert {"PictureURL", "SPS-PictureTimestamp", "SPS-PicturePlaceholderState"} <= keys


def test_minimalmetadata_shape(m365):
    response = m365.my_properties(accept=MINIMAL)
    assert response.content_type.startswith("application/json;odata=minimalmetadata")
    body = response.json
    assert body["odata.type"] == "SP.UserProfiles.PersonProperties"
    assert body["odata.metadata"].endswith(
        "/_api/$metadata#SP.UserProfiles.PersonProperties/@Element"
    )
    assert body["odata.editLink"] == "sp.userprofiles.peoplemanager/getmyproperties"
    assert body["DirectReports"] == []
    assert set(body["UserProfileProperties"][0]) == {"Key", "Value", "ValueType"}


def test_plain_json_accept_gets_minimal_metadata(m365):
    assert "odata.type" in m365.my_properties(accept="application/json").json


def test_nometadata_shape(m365):
    response = m365.my_properties(accept=NOMETADATA)
    assert response.content_type.startswith("application/json;odata=nometadata")
    body = response.json
    assert not [k for k in body if k.startswith("odata.") or k == "__metadata"]
    assert body["ExtendedReports"] == [body["AccountName"]]
    values = {p["Key"]: p["Value"] for p in body["UserProfileProperties"]}
    assert all(isinstance(v, str) for v in values.values())
    assert values["SPS-PicturePlaceholderState"] == "0"
    assert values["SPS-PictureExchangeSyncState"] == "1"
    assert values["SPS-Skills"] == "Campaign planning|Copywriting|Power BI"
    assert values["CellPhone"] == ""  # mobilePhone is not synced to the UPA (reference §5.5)
    assert body["PictureUrl"] == f"{values['PictureURL']}?t={values['SPS-PictureTimestamp']}"


@pytest.mark.parametrize("accept", [None, "*/*", "application/atom+xml"])
def test_without_json_accept_the_answer_is_atom_xml(m365, accept):
    response = m365.my_properties(accept=accept)
    assert response.status_code == 200
    assert response.content_type.startswith("application/atom+xml")
    entry = ET.fromstring(response.data)
    assert entry.tag == ATOM + "entry"
    category = entry.find(ATOM + "category")
    assert category.get("term") == "SP.UserProfiles.PersonProperties"
    props = entry.find(f"{ATOM}content/{M}properties")
    assert props.find(D + "DisplayName").text == "Isabel Santos"
    assert props.find(D + "IsFollowed").text == "false"
    assert props.find(D + "LatestPost").get(M + "null") == "true"
    upa = {
        e.find(D + "Key").text: e.find(D + "Value").text
        for e in props.find(D + "UserProfileProperties")
    }
    assert upa["PreferredName"] == "Isabel Santos"


def test_select_limits_the_properties(m365):
    response = m365.sharepoint("GET", GET_MY_PROPERTIES + "?$select=AccountName,PictureUrl")
    assert set(response.json) == {"AccountName", "PictureUrl"}


@pytest.mark.parametrize(("accept", "light"), [(NOMETADATA, True), (VERBOSE, False)])
def test_unknown_select_is_an_odata_error_in_the_accepted_flavour(m365, accept, light):
    response = m365.sharepoint("GET", GET_MY_PROPERTIES + "?$select=ShoeSize", accept=accept)
    odata_error(response, 400, "InvalidClientQueryException", light=light)


def test_unknown_select_without_accept_is_an_xml_error(m365):
    response = m365.sharepoint("GET", GET_MY_PROPERTIES + "?$select=ShoeSize", accept=None)
    assert response.status_code == 400
    error = ET.fromstring(response.data)
    assert error.tag == M + "error"
    assert "InvalidClientQueryException" in error.find(M + "code").text


def test_people_manager_is_served_under_any_site_and_case_insensitively(m365):
    for path in (
        "/sites/hr/_api/SP.UserProfiles.PeopleManager/GetMyProperties",
        "/_api/sp.userprofiles.peoplemanager/getmyproperties",
    ):
        response = m365.sharepoint("GET", path)
        assert response.status_code == 200
        assert response.json["DisplayName"] == "Isabel Santos"


def test_unknown_api_call_is_404(m365):
    odata_error(m365.sharepoint("GET", "/_api/web/NoSuchThing"), 404, "InvalidClientQuery")


def test_my_site_host_serves_people_manager_with_its_own_token(m365):
    mysite = m365.tenant.origins.mysite
    assert m365.sharepoint("GET", GET_MY_PROPERTIES, origin=mysite).status_code == 200


# -- bearer checks ----------------------------------------------------------------------------


def test_missing_token_is_401_access_denied_with_a_challenge(m365):
    response = m365.sharepoint("GET", GET_MY_PROPERTIES, token="")
    odata_error(response, 401, "System.UnauthorizedAccessException")
    assert "00000003-0000-0ff1-ce00-000000000000" in response.headers["WWW-Authenticate"]


def test_graph_token_is_refused(m365):
    token = m365.token("in-sync", GRAPH_RESOURCE, ["User.Read"])
    odata_error(m365.sharepoint("GET", GET_MY_PROPERTIES, token=token), 401, "Unauthorized")


def test_root_site_token_is_refused_on_the_my_site_host(m365):
    # Strict choice for an UNCONFIRMED point (reference §4.1): one token per host called.
    response = m365.sharepoint(
        "GET",
        GET_MY_PROPERTIES,
        origin=m365.tenant.origins.mysite,
        token_origin=m365.tenant.origins.sharepoint,
    )
    odata_error(response, 401, "Unauthorized")


def test_token_without_a_sharepoint_scope_is_403(m365):
    response = m365.sharepoint("GET", GET_MY_PROPERTIES, scopes=["Mail.Read"])
    odata_error(response, 403, "System.UnauthorizedAccessException")


def test_expired_token_is_refused(m365):
    token = m365.token("in-sync", m365.tenant.origins.sharepoint, ["AllSites.Read"])
    m365.tenant.clock.advance(m365.tenant.access_token_lifetime + 1)
    odata_error(m365.sharepoint("GET", GET_MY_PROPERTIES, token=token), 401, "Unauthorized")


# -- SetMyProfilePicture ----------------------------------------------------------------------


def set_picture(m365, data: bytes, user: str = "placeholder", **kwargs):
    return m365.sharepoint(
        "POST",
        SET_PICTURE,
        user,
        scopes=kwargs.pop("scopes", ["AllSites.Write"]),
        data=data,
        content_type="application/octet-stream",
        **kwargs,
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP"])
def test_set_my_profile_picture_updates_sharepoint_at_once(m365, fmt):
    before = m365.upa("placeholder")
    assert before["SPS-PicturePlaceholderState"] == "1"
    assert before["PictureURL"] == ""
    response = set_picture(m365, make_image(fmt, (300, 300), "purple"))
    assert response.status_code == 200
    assert response.json == {"odata.null": True}
    after = m365.upa("placeholder")
    assert after["SPS-PicturePlaceholderState"] == "0"
    oid = m365.user("placeholder").oid
    assert after["PictureURL"].endswith(f"/User%20Photos/Profile%20Pictures/{oid}_MThumb.jpg")
    assert int(after["SPS-PictureTimestamp"]) > 63_000_000_000
    thumb = m365.sharepoint(
        "GET", library_path(oid, "L"), "placeholder", origin=m365.tenant.origins.mysite
    )
    assert image_size(thumb.data) == (240, 240)
    assert mean_colour(thumb.data)[2] > 100  # purple, not the seeded picture


def test_set_my_profile_picture_verbose_body(m365):
    response = set_picture(m365, make_image("JPEG"), accept=VERBOSE)
    assert response.json == {"d": {"SetMyProfilePicture": None}}


@pytest.mark.parametrize("data", [b"hello", make_image("GIF"), b"\x89PNG\r\n\x1a\ntruncated"])
def test_invalid_picture_is_parameter_is_not_valid(m365, data):
    message = odata_error(set_picture(m365, data), 400, "System.ArgumentException")
    assert message == "Parameter is not valid."


def test_picture_over_5_000_000_bytes_is_refused(m365):
    data = make_image("PNG", (8, 8))
    data += b"\0" * (MAX_PICTURE_BYTES + 1 - len(data))
    odata_error(set_picture(m365, data), 400, "System.ArgumentException")


def test_set_my_profile_picture_needs_a_write_scope(m365):
    odata_error(
        set_picture(m365, make_image("JPEG"), scopes=["AllSites.Read"]), 403, "Unauthorized"
    )


def test_local_uploads_disabled_mc653734_refuses_uploads(m365):
    m365.tenant.local_uploads_disabled = True
    message = odata_error(set_picture(m365, make_image("JPEG")), 403, "UnauthorizedAccessException")
    assert "disabled" in message
    assert m365.upa("placeholder")["SPS-PicturePlaceholderState"] == "1"


# -- userphoto.aspx and the library -----------------------------------------------------------


@pytest.mark.parametrize(("size", "edge"), [("S", 48), ("M", 72), ("L", 240), ("l", 240)])
def test_userphoto_sizes(m365, size, edge):
    upn = m365.user("in-sync").upn
    response = m365.sharepoint(
        "GET", f"/_layouts/15/userphoto.aspx?size={size}&accountname={upn}", accept=None
    )
    assert response.status_code == 200
    assert response.content_type == "image/jpeg"
    assert image_size(response.data) == (edge, edge)


def test_userphoto_defaults_to_small_and_accepts_claims_and_username(m365):
    user = m365.user("stale-photo")
    claims = "i:0%23.f|membership|" + user.upn
    for query in (f"accountname={claims}", f"username={user.upn}"):
        response = m365.sharepoint("GET", f"/_layouts/15/userphoto.aspx?{query}")
        assert image_size(response.data) == (48, 48)
        assert response.content_type == "image/jpeg"


@pytest.mark.parametrize("who", ["no-photo", "placeholder", "nobody@contoso.onmicrosoft.com"])
def test_userphoto_without_picture_is_the_placeholder_silhouette(m365, who):
    account = m365.user(who).upn if "@" not in who else who
    response = m365.sharepoint("GET", f"/_layouts/15/userphoto.aspx?size=M&accountname={account}")
    assert response.status_code == 200
    assert response.content_type == "image/png"
    assert image_size(response.data) == (72, 72)


def test_userphoto_is_served_under_a_site_too(m365):
    response = m365.sharepoint("GET", "/sites/hr/_layouts/15/userphoto.aspx?size=L")
    assert image_size(response.data) == (240, 240)


@pytest.mark.parametrize(("size", "edge"), sorted(sync.THUMBNAIL_SIZES.items()))
def test_library_serves_the_thumbnails_on_the_my_site_host(m365, size, edge):
    oid = m365.user("in-sync").oid
    response = m365.sharepoint("GET", library_path(oid, size), origin=m365.tenant.origins.mysite)
    assert response.status_code == 200
    assert response.content_type == "image/jpeg"
    assert image_size(response.data) == (edge, edge)
    assert response.headers["ETag"].startswith('"{')
    assert response.last_modified is not None


def test_library_etag_changes_with_a_new_picture(m365):
    mysite = m365.tenant.origins.mysite
    path = library_path(m365.user("placeholder").oid, "M")
    assert m365.sharepoint("GET", path, "placeholder", origin=mysite).status_code == 404
    m365.sharepoint("POST", SET_PICTURE, "placeholder", ["AllSites.Write"], data=make_image("JPEG"))
    first = m365.sharepoint("GET", path, "placeholder", origin=mysite).headers["ETag"]
    m365.tenant.clock.advance(5)
    m365.sharepoint("POST", SET_PICTURE, "placeholder", ["AllSites.Write"], data=make_image("PNG"))
    assert m365.sharepoint("GET", path, "placeholder", origin=mysite).headers["ETag"] != first


def test_library_answers_404_when_there_is_no_picture(m365):
    mysite = m365.tenant.origins.mysite
    oid = m365.user("no-photo").oid
    for path in (
        library_path(oid, "M"),
        library_path(oid, "X"),
        "/User%20Photos/Profile%20Pictures/x.jpg",
    ):
        odata_error(m365.sharepoint("GET", path, origin=mysite), 404, "FileNotFoundException")


def test_library_is_only_on_the_my_site_host(m365):
    oid = m365.user("in-sync").oid
    odata_error(m365.sharepoint("GET", library_path(oid, "M")), 404, "FileNotFoundException")


def test_library_needs_a_my_site_token(m365):
    response = m365.sharepoint(
        "GET",
        library_path(m365.user("in-sync").oid, "M"),
        origin=m365.tenant.origins.mysite,
        token_origin=m365.tenant.origins.sharepoint,
    )
    odata_error(response, 401, "Unauthorized")


# -- scripted faults --------------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "light"), [(NOMETADATA, True), (VERBOSE, False)])
@pytest.mark.parametrize("status", [429, 503])
def test_next_calls_fail_with_retry_after_in_odata_shape(m365, status, accept, light):
    m365.tenant.faults.fail_next("sharepoint", 1, status, 3)
    response = m365.my_properties(accept=accept)
    odata_error(response, status, "SPException", light=light)
    assert response.headers["Retry-After"] == "3"
    assert m365.my_properties(accept=accept).status_code == 200


def test_hang_and_latency_apply_to_sharepoint(m365):
    m365.tenant.faults.hang("sharepoint", 0.1)
    m365.tenant.faults.set_latency("sharepoint", 0.05)
    assert m365.my_properties().status_code == 200
    assert m365.tenant.requests_to("sharepoint")[-1].duration >= 0.15


def test_picture_url_with_its_explicit_default_port_is_served(m365):
    picture_url = m365.upa("in-sync")["PictureURL"]
    assert picture_url.startswith("https://contoso-my.sharepoint.m365.test:443/")
    response = m365.sharepoint(
        "GET",
        picture_url.removeprefix(m365.tenant.origins.mysite + ":443"),
        origin=m365.tenant.origins.mysite + ":443",
        token_origin=m365.tenant.origins.mysite,
    )
    assert response.status_code == 200
    assert image_size(response.data) == (72, 72)


# -- SetSingleValueProfileProperty / SetMultiValuedProfileProperty --------------------------------


def set_property(
    m365, call: str, body: dict, user: str = "no-photo", scopes=("User.ReadWrite.All",)
):
    if "accountName" not in body:
        body = {"accountName": f"i:0#.f|membership|{m365.user(user).upn}", **body}
    return m365.sharepoint(
        "POST", f"/_api/SP.UserProfiles.PeopleManager/{call}", user, scopes, json=body
    )


def test_set_single_and_multi_valued_properties_read_back_through_graph(m365):
    single = set_property(
        m365, "SetSingleValueProfileProperty", {"propertyName": "AboutMe", "propertyValue": "Hi"}
    )
    assert (single.status_code, single.json) == (200, {"odata.null": True})
    multi = set_property(
        m365,
        "SetMultiValuedProfileProperty",
        {"propertyName": "SPS-Skills", "propertyValues": ["Python", "SQL"]},
    )
    assert multi.status_code == 200
    body = m365.graph("GET", "/me?$select=aboutMe,skills", "no-photo").json
    assert (body["aboutMe"], body["skills"]) == ("Hi", ["Python", "SQL"])


def test_set_property_refuses_what_a_member_may_not_edit(m365):
    not_editable = set_property(
        m365,
        "SetSingleValueProfileProperty",
        {"propertyName": "SPS-JobTitle", "propertyValue": "Boss"},
    )
    message = odata_error(not_editable, 500, "PropertyNotEditableException")
    assert message.startswith("Property Not Editable")
    unknown = set_property(
        m365, "SetSingleValueProfileProperty", {"propertyName": "ShoeSize", "propertyValue": "44"}
    )
    assert odata_error(unknown, 500, "PropertyNotFoundException").startswith("Property No")
    wrong_kind = set_property(
        m365, "SetMultiValuedProfileProperty", {"propertyName": "AboutMe", "propertyValues": ["x"]}
    )
    odata_error(wrong_kind, 400, "System.ArgumentException")


def test_set_property_only_on_ones_own_profile_and_with_the_write_scope(m365):
    other = {
        "accountName": f"i:0#.f|membership|{m365.user('in-sync').upn}",
        "propertyName": "AboutMe",
        "propertyValue": "x",
    }
    response = set_property(m365, "SetSingleValueProfileProperty", other)
    assert "managing your own data" in odata_error(response, 403, "UnauthorizedAccessException")
    read_only = set_property(
        m365,
        "SetSingleValueProfileProperty",
        {"propertyName": "AboutMe", "propertyValue": "x"},
        scopes=("AllSites.Write",),
    )
    odata_error(read_only, 403, "UnauthorizedAccessException")
