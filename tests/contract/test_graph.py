"""Contract of the emulated Microsoft Graph v1.0 `/me` and photo endpoints (reference §3, §8.2)."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from m365_emulator.graph import DEFAULT_PROPERTIES, HD_SIZES
from m365_emulator.tokens import GRAPH_RESOURCE
from tests.support.images import image_size, make_image
from tests.support.m365 import assert_graph_error

GRAPH = "https://graph.m365.test/v1.0/$metadata#"


# -- /me --------------------------------------------------------------------------------------


def test_me_without_select_returns_the_default_properties(m365):
    response = m365.graph("GET", "/me")
    assert response.status_code == 200
    body = response.json
    assert body["@odata.context"] == GRAPH + "users/$entity"
    assert set(body) - {"@odata.context"} == set(DEFAULT_PROPERTIES)
    assert body["id"] == m365.user("in-sync").oid
    assert body["displayName"] == "Isabel Santos"
    assert isinstance(body["businessPhones"], list)
    assert "department" not in body and "aboutMe" not in body


def test_me_select_names_the_properties_in_the_context(m365):
    response = m365.graph("GET", "/me?$select=id,Department,companyName,employeeId")
    assert response.status_code == 200
    body = response.json
    assert body["@odata.context"] == GRAPH + "users(id,department,companyName,employeeId)/$entity"
    assert body["department"] == "Marketing"
    assert body["companyName"] == "Contoso"
    assert set(body) == {"@odata.context", "id", "department", "companyName", "employeeId"}


def test_sharepoint_backed_fields_come_only_with_select(m365):
    fields = "aboutMe,birthday,interests,pastProjects,responsibilities,schools,skills"
    body = m365.graph("GET", f"/me?$select={fields}").json
    assert body["aboutMe"].startswith("I run Contoso")
    assert body["skills"] == ["Campaign planning", "Copywriting", "Power BI"]
    assert body["birthday"] == "1988-04-12T00:00:00Z"
    empty = m365.graph("GET", f"/me?$select={fields}", "no-photo").json
    assert empty["aboutMe"] is None
    assert empty["skills"] == [] and empty["schools"] == []
    assert empty["birthday"] == "0001-01-01T00:00:00Z"


def test_unset_properties_are_null_and_collections_empty(m365):
    body = m365.graph("GET", "/me?$select=faxNumber,otherMails,preferredName").json
    assert body["faxNumber"] is None
    assert body["otherMails"] == []
    assert body["preferredName"] == ""


def test_unknown_select_property_is_a_bad_request(m365):
    response = m365.graph("GET", "/me?$select=displayName,shoeSize")
    assert_graph_error(response, 400, "Request_BadRequest")


def test_error_body_echoes_the_client_request_id(m365):
    response = m365.graph("GET", "/me?$select=nope", headers={"client-request-id": "abc-123"})
    error = assert_graph_error(response, 400, "Request_BadRequest")
    assert error["innerError"]["client-request-id"] == "abc-123"
    assert response.headers["client-request-id"] == "abc-123"


# -- bearer checks ----------------------------------------------------------------------------


def test_missing_token_is_401_invalid_authentication_token(m365):
    response = m365.graph("GET", "/me", token="")
    assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_sharepoint_token_is_refused_by_graph(m365):
    token = m365.token("in-sync", m365.tenant.origins.sharepoint, ["AllSites.Read"])
    response = m365.graph("GET", "/me", token=token)
    assert_graph_error(response, 401, "InvalidAuthenticationToken")


def test_expired_token_is_refused(m365):
    token = m365.token("in-sync", GRAPH_RESOURCE, ["User.Read"])
    m365.tenant.clock.advance(m365.tenant.access_token_lifetime + 1)
    response = m365.graph("GET", "/me", token=token)
    assert_graph_error(response, 401, "InvalidAuthenticationToken")


def test_tampered_token_is_refused(m365):
    token = m365.token("in-sync", GRAPH_RESOURCE, ["User.Read"])
    response = m365.graph("GET", "/me", token=token[:-4] + "AAAA")
    assert_graph_error(response, 401, "InvalidAuthenticationToken")


@pytest.mark.parametrize(
    ("method", "path", "scopes"),
    [
        ("GET", "/me", ["Mail.Read"]),
        ("GET", "/me/photo", ["Mail.Read"]),
        ("PATCH", "/me", ["User.Read"]),
        ("PUT", "/me/photo/$value", ["User.Read"]),
        ("DELETE", "/me/photo/$value", ["ProfilePhoto.Read.All"]),
    ],
)
def test_missing_scope_is_403_authorization_request_denied(m365, method, path, scopes):
    response = m365.graph(method, path, scopes=scopes, json={"aboutMe": "x"})
    assert_graph_error(response, 403, "Authorization_RequestDenied")


# -- /me/manager --------------------------------------------------------------------------------

MANAGER_SCOPES = ["User.Read", "User.ReadBasic.All"]
MANAGER_SELECT = "/me/manager?$select=displayName,userPrincipalName,mail"


def test_manager_is_the_user_entra_names_with_the_selected_properties(m365):
    response = m365.graph("GET", MANAGER_SELECT, "stale-photo", scopes=MANAGER_SCOPES)
    assert response.status_code == 200
    manager = m365.user("in-sync")
    assert response.json == {
        "@odata.context": GRAPH + "directoryObjects(displayName,userPrincipalName,mail)/$entity",
        "@odata.type": "#microsoft.graph.user",
        "displayName": "Isabel Santos",
        "userPrincipalName": manager.upn,
        "mail": manager.directory["mail"],
    }


def test_no_manager_is_404_request_resource_not_found(m365):
    response = m365.graph("GET", MANAGER_SELECT, "in-sync", scopes=MANAGER_SCOPES)
    assert_graph_error(response, 404, "Request_ResourceNotFound")


@pytest.mark.parametrize("scopes", [["User.Read", "User.ReadWrite"], ["User.Read"]])
def test_manager_needs_more_than_user_read(m365, scopes):
    response = m365.graph("GET", MANAGER_SELECT, "stale-photo", scopes=scopes)
    assert_graph_error(response, 403, "Authorization_RequestDenied")


# -- photo ------------------------------------------------------------------------------------


def test_photo_metadata_describes_the_largest_rendition(m365):
    response = m365.graph("GET", "/me/photo")
    assert response.status_code == 200
    body = response.json
    assert body["@odata.context"] == GRAPH + "Me/photo/$entity"
    assert body["@odata.mediaContentType"] == "image/jpeg"
    assert body["@odata.mediaEtag"].startswith('"') and body["@odata.mediaEtag"].endswith('"')
    assert (body["id"], body["width"], body["height"]) == ("648x648", 648, 648)
    user = m365.user("in-sync")
    assert body["@odata.id"].endswith(f"/users('{user.oid}@{m365.tenant.tenant_id}')/photo")


def test_photo_value_is_the_image_with_its_etag(m365):
    response = m365.graph("GET", "/me/photo/$value")
    assert response.status_code == 200
    assert response.content_type == "image/jpeg"
    assert image_size(response.data) == (648, 648)
    assert response.headers["ETag"] == m365.graph("GET", "/me/photo").json["@odata.mediaEtag"]


def test_photos_lists_every_hd_size(m365):
    body = m365.graph("GET", "/me/photos").json
    assert [p["id"] for p in body["value"]] == [f"{s}x{s}" for s in HD_SIZES]
    assert all(p["@odata.mediaContentType"] == "image/jpeg" for p in body["value"])


@pytest.mark.parametrize("path", ["/me/photos/{s}/$value", "/me/photo/{s}/$value"])
@pytest.mark.parametrize("size", [48, 120, 240, 648])
def test_each_size_is_resized_from_the_stored_photo(m365, path, size):
    response = m365.graph("GET", path.format(s=f"{size}x{size}"))
    assert response.status_code == 200
    assert image_size(response.data) == (size, size)


def test_size_ids_are_case_insensitive(m365):
    body = m365.graph("GET", "/me/photos/240X240").json
    assert (body["id"], body["width"]) == ("240x240", 240)


def test_only_sizes_up_to_the_original_are_offered(m365):
    assert (
        m365.graph("PUT", "/me/photo/$value", data=make_image("PNG", (100, 100))).status_code == 200
    )
    ids = [p["id"] for p in m365.graph("GET", "/me/photos").json["value"]]
    assert ids == ["48x48", "64x64", "96x96"]
    missing = m365.graph("GET", "/me/photos/240x240").json
    assert (missing["id"], missing["@odata.mediaContentType"]) == ("1x1", "image/gif")
    assert_graph_error(m365.graph("GET", "/me/photos/240x240/$value"), 404, "ImageNotFound")


def test_no_photo_metadata_is_the_1x1_gif(m365):
    body = m365.graph("GET", "/me/photo", "no-photo").json
    assert body["@odata.mediaContentType"] == "image/gif"
    assert body["@odata.mediaEtag"] == ""
    assert (body["id"], body["width"], body["height"]) == ("1x1", 1, 1)


@pytest.mark.parametrize(
    ("user", "code", "message"),
    [
        ("no-photo", "ImageNotFound", "ImageNotFoundException"),
        ("half-profile", "ErrorEntityNotFound", "ImageNotFoundException"),
        ("synced-onprem", "ErrorItemNotFound", "The photo wasn't found."),
    ],
)
def test_no_photo_value_answers_the_users_404_code(m365, user, code, message):
    error = assert_graph_error(m365.graph("GET", "/me/photo/$value", user), 404, code)
    assert message in error["message"]
    assert_graph_error(m365.graph("GET", "/me/photos/48x48/$value", user), 404, code)
    assert m365.graph("GET", "/me/photos", user).json["value"] == []


def test_user_without_mailbox_gets_the_entra_photo_only(m365):
    meta = m365.graph("GET", "/me/photo", "no-mailbox").json
    assert (meta["id"], meta["width"]) == ("800x800", 800)
    assert [p["id"] for p in m365.graph("GET", "/me/photos", "no-mailbox").json["value"]] == [
        "800x800"
    ]
    assert image_size(m365.graph("GET", "/me/photo/$value", "no-mailbox").data) == (800, 800)
    assert m365.graph("GET", "/me/photos/240x240", "no-mailbox").json["id"] == "1x1"


@pytest.mark.parametrize(("method", "fmt"), [("PUT", "JPEG"), ("PATCH", "PNG")])
def test_upload_replaces_the_photo_and_bumps_the_etag(m365, method, fmt):
    before = m365.graph("GET", "/me/photo").json["@odata.mediaEtag"]
    version = m365.user("in-sync").photo.version
    data = make_image(fmt, (300, 300))
    response = m365.graph(method, "/me/photo/$value", data=data, content_type="image/jpeg")
    assert response.status_code == 200
    assert response.data == b""
    meta = m365.graph("GET", "/me/photo").json
    assert meta["@odata.mediaEtag"] != before
    assert meta["id"] == "240x240"
    assert m365.user("in-sync").photo.version == version + 1


def test_upload_for_a_user_without_photo_or_mailbox_succeeds(m365):
    for user in ("no-photo", "no-mailbox"):
        data = make_image("JPEG", (200, 200))
        assert m365.graph("PUT", "/me/photo/$value", user, data=data).status_code == 200
        assert m365.graph("GET", "/me/photo/$value", user).status_code == 200


@pytest.mark.parametrize(
    "data",
    [make_image("GIF"), make_image("BMP"), b"not an image at all", b"\xff\xd8\xff broken jpeg"],
)
def test_upload_of_anything_but_jpeg_or_png_is_a_bad_request(m365, data):
    response = m365.graph("PUT", "/me/photo/$value", data=data, content_type="image/jpeg")
    assert_graph_error(response, 400, "BadRequest")


def test_upload_over_4_mb_is_a_bad_request(m365):
    data = make_image("PNG", (16, 16)) + b"\0" * (4 * 1024 * 1024)
    response = m365.graph("PUT", "/me/photo/$value", data=data, content_type="image/png")
    assert_graph_error(response, 400, "BadRequest")


def test_delete_removes_the_photo(m365):
    response = m365.graph("DELETE", "/me/photo/$value")
    assert response.status_code == 200
    assert_graph_error(m365.graph("GET", "/me/photo/$value"), 404, "ImageNotFound")
    assert m365.graph("GET", "/me/photo").json["id"] == "1x1"
    assert_graph_error(m365.graph("DELETE", "/me/photo/$value"), 404, "ImageNotFound")


# -- PATCH /me (reference §8.2) -----------------------------------------------------------------


def test_patch_of_sharepoint_backed_fields_is_204_and_reads_back(m365):
    changes = {
        "aboutMe": "Payroll systems, Python.",
        "skills": ["Python", "SQL"],
        "interests": ["Cycling"],
        "birthday": "1990-05-17",
    }
    response = m365.graph("PATCH", "/me", "no-photo", json=changes)
    assert response.status_code == 204
    assert response.data == b""
    body = m365.graph("GET", "/me?$select=aboutMe,skills,interests,birthday", "no-photo").json
    assert body["aboutMe"] == "Payroll systems, Python."
    assert body["skills"] == ["Python", "SQL"]
    assert body["interests"] == ["Cycling"]
    assert body["birthday"] == "1990-05-17T00:00:00Z"


def test_lists_are_replaced_whole(m365):
    assert m365.graph("PATCH", "/me", json={"skills": ["Excel"]}).status_code == 204
    assert m365.graph("GET", "/me?$select=skills").json["skills"] == ["Excel"]
    assert m365.graph("PATCH", "/me", json={"skills": []}).status_code == 204
    assert m365.graph("GET", "/me?$select=skills").json["skills"] == []


def test_sharepoint_backed_fields_mixed_with_directory_fields_are_refused(m365):
    response = m365.graph("PATCH", "/me", json={"aboutMe": "x", "mobilePhone": "+1 555"})
    error = assert_graph_error(response, 400, "BadRequest")
    assert error["message"] == "The request is currently not supported on the targeted entity set"
    assert m365.graph("GET", "/me?$select=aboutMe").json["aboutMe"].startswith("I run")


@pytest.mark.parametrize("field", ["jobTitle", "department", "displayName", "givenName"])
def test_organisation_owned_fields_are_403(m365, field):
    response = m365.graph("PATCH", "/me", json={field: "Chief Everything Officer"})
    assert_graph_error(response, 403, "Authorization_RequestDenied")


def test_mobile_phone_is_writable_for_cloud_users(m365):
    assert m365.graph("PATCH", "/me", json={"mobilePhone": "+44 7700 900123"}).status_code == 204
    assert m365.graph("GET", "/me").json["mobilePhone"] == "+44 7700 900123"


def test_mobile_phone_of_an_on_premises_synced_user_is_refused(m365):
    response = m365.graph("PATCH", "/me", "synced-onprem", json={"mobilePhone": "+1 555 0100"})
    error = assert_graph_error(response, 400, "Request_BadRequest")
    assert "on-premises mastered" in error["message"]
    synced = m365.graph("PATCH", "/me", "synced-onprem", json={"skills": ["Audit"]})
    assert synced.status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        {"skills": "Python"},
        {"skills": ["ok", 3]},
        {"aboutMe": 42},
        {"birthday": "17/05/1990"},
        {"mobilePhone": "1" * 65},
    ],
)
def test_values_of_the_wrong_type_are_refused(m365, body):
    assert_graph_error(m365.graph("PATCH", "/me", json=body), 400, "Request_BadRequest")


def test_unknown_property_and_empty_body_are_bad_requests(m365):
    assert_graph_error(m365.graph("PATCH", "/me", json={"shoeSize": 44}), 400, "Request_BadRequest")
    assert_graph_error(m365.graph("PATCH", "/me", json={}), 400, "BadRequest")
    assert_graph_error(m365.graph("PATCH", "/me", data=b"not json"), 400, "BadRequest")


# -- scripted faults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "TooManyRequests"), (503, "serviceNotAvailable"), (504, "GatewayTimeout")],
)
def test_next_calls_fail_with_retry_after_then_recover(m365, status, code):
    m365.tenant.faults.fail_next("graph", 2, status, 7)
    for _ in range(2):
        response = m365.graph("GET", "/me")
        assert_graph_error(response, status, code)
        assert response.headers["Retry-After"] == "7"
    assert m365.graph("GET", "/me").status_code == 200


def test_added_latency_delays_every_answer(m365):
    m365.tenant.faults.set_latency("graph", 0.05)
    started = time.perf_counter()
    assert m365.graph("GET", "/me").status_code == 200
    assert time.perf_counter() - started >= 0.05
    assert m365.tenant.requests_to("graph")[-1].duration >= 0.05


def test_a_hung_connection_answers_only_after_the_hang(m365):
    m365.tenant.faults.hang("graph", 0.2)
    started = time.perf_counter()
    m365.graph("GET", "/me/photo")
    assert time.perf_counter() - started >= 0.2


def test_requests_are_logged_without_tokens(m365):
    m365.graph("GET", "/me", headers={"client-request-id": "r1"})
    entry = m365.tenant.requests_to("graph")[-1]
    assert (entry.method, entry.path, entry.status) == ("GET", "/v1.0/me", 200)
    assert entry.user_oid == m365.user("in-sync").oid
    assert "Authorization" not in entry.headers


def test_successful_answers_carry_request_ids_too(m365):
    response = m365.graph("GET", "/me", headers={"client-request-id": "c-9"})
    assert response.headers["client-request-id"] == "c-9"
    assert len(response.headers["request-id"]) == 36


def test_concurrent_uploads_each_get_their_own_version(m365):
    start = m365.user("in-sync").photo.version
    token = m365.token("in-sync", GRAPH_RESOURCE, ["User.ReadWrite"])
    data = make_image("JPEG", (60, 60))

    def upload(_: int) -> int:
        client = m365.app.test_client()
        response = client.put(
            "/v1.0/me/photo/$value",
            base_url=m365.tenant.origins.graph,
            headers={"Authorization": f"Bearer {token}"},
            data=data,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(upload, range(16))) == {200}
    assert m365.user("in-sync").photo.version == start + 16
