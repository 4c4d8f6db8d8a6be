"""Contract of the modelled Graph → SharePoint sync (reference §5.2-§5.7, §8.5)."""

from m365_emulator import sync
from tests.support.images import make_image
from tests.support.m365 import PHOTO_PULL_INTERVAL

GET_MY_PROPERTIES = "/_api/SP.UserProfiles.PeopleManager/GetMyProperties"
SET_PICTURE = "/_api/SP.UserProfiles.PeopleManager/SetMyProfilePicture"


def own_photo(m365, user: str):
    upn = m365.user(user).upn
    return m365.sharepoint("GET", f"/_layouts/15/userphoto.aspx?size=L&accountname={upn}", user)


def shown_version(m365, user: str) -> int | None:
    pictures = m365.user(user).sharepoint.pictures
    return pictures.source_version if pictures else None


def test_picture_timestamp_counts_seconds_since_year_one():
    assert sync.picture_timestamp(0) == "62135596800"
    # The observed value of reference §4.3 decodes to 2022-03-17.
    assert sync.picture_timestamp(1_647_514_169) == "63783110969"


def test_stale_photo_stays_stale_until_the_pull_interval_has_passed(m365):
    before = m365.upa("stale-photo")["SPS-PictureTimestamp"]
    own_photo(m365, "stale-photo")
    assert shown_version(m365, "stale-photo") == 1
    m365.tenant.clock.advance(PHOTO_PULL_INTERVAL - 5)
    own_photo(m365, "stale-photo")
    assert shown_version(m365, "stale-photo") == 1
    assert m365.upa("stale-photo")["SPS-PictureTimestamp"] == before


def test_own_photo_request_after_the_interval_pulls_the_graph_photo(m365):
    before = m365.upa("stale-photo")["SPS-PictureTimestamp"]
    m365.tenant.clock.advance(PHOTO_PULL_INTERVAL)
    own_photo(m365, "stale-photo")
    assert shown_version(m365, "stale-photo") == 2
    after = m365.upa("stale-photo")["SPS-PictureTimestamp"]
    assert int(after) >= int(before) + PHOTO_PULL_INTERVAL


def test_reading_profile_properties_does_not_trigger_the_pull(m365):
    # Only a request for one's own *photo* does (reference §5.2 step 1), so the app can show
    # the problem before fixing it.
    m365.tenant.clock.advance(PHOTO_PULL_INTERVAL)
    values = m365.upa("placeholder")
    assert values["SPS-PicturePlaceholderState"] != "0"
    own_photo(m365, "placeholder")
    assert m365.upa("placeholder")["SPS-PicturePlaceholderState"] == "0"
    assert shown_version(m365, "placeholder") == 1


def test_a_colleague_viewing_the_photo_does_not_trigger_the_pull(m365):
    m365.tenant.clock.advance(PHOTO_PULL_INTERVAL)
    upn = m365.user("stale-photo").upn
    m365.sharepoint("GET", f"/_layouts/15/userphoto.aspx?accountname={upn}", "in-sync")
    m365.sharepoint("GET", "/User%20Photos/Profile%20Pictures/x_MThumb.jpg", "stale-photo")
    assert shown_version(m365, "stale-photo") == 1


def test_at_most_one_pull_per_interval(m365):
    m365.tenant.clock.advance(PHOTO_PULL_INTERVAL)
    own_photo(m365, "stale-photo")
    assert shown_version(m365, "stale-photo") == 2
    put = m365.graph("PUT", "/me/photo/$value", "stale-photo", data=make_image("JPEG", (100, 100)))
    assert put.status_code == 200
    own_photo(m365, "stale-photo")
    assert shown_version(m365, "stale-photo") == 2
    m365.tenant.clock.advance(PHOTO_PULL_INTERVAL)
    own_photo(m365, "stale-photo")
    assert shown_version(m365, "stale-photo") == 3


def test_a_pull_without_graph_photo_keeps_sharepoints_picture(m365):
    assert m365.graph("DELETE", "/me/photo/$value").status_code == 200
    m365.tenant.clock.advance(PHOTO_PULL_INTERVAL)
    own_photo(m365, "in-sync")
    assert shown_version(m365, "in-sync") == 1
    assert m365.upa()["SPS-PicturePlaceholderState"] == "0"


def test_user_without_mailbox_is_not_pulled_classically_but_is_after_mc653734(m365):
    m365.tenant.clock.advance(PHOTO_PULL_INTERVAL)
    assert m365.upa("no-mailbox")["SPS-PictureExchangeSyncState"] == "0"
    assert shown_version(m365, "no-mailbox") is None
    m365.tenant.local_uploads_disabled = True
    m365.tenant.clock.advance(PHOTO_PULL_INTERVAL)
    own_photo(m365, "no-mailbox")
    assert shown_version(m365, "no-mailbox") == 1


def test_sharepoint_upload_is_overwritten_by_the_next_exchange_pull(m365):
    response = m365.sharepoint(
        "POST", SET_PICTURE, "in-sync", ["AllSites.Write"], data=make_image("PNG", (120, 120))
    )
    assert response.status_code == 200
    assert shown_version(m365, "in-sync") is None  # uploaded to SharePoint directly
    m365.tenant.clock.advance(PHOTO_PULL_INTERVAL)
    own_photo(m365, "in-sync")
    assert shown_version(m365, "in-sync") == 1


def test_drifted_attributes_reach_sharepoint_after_the_import_delay(m365):
    values = m365.upa("drifted-attributes")
    assert (values["Title"], values["Department"]) == ("Program Manager", "Product Management")
    graph = m365.graph("GET", "/me?$select=jobTitle,department", "drifted-attributes").json
    assert (graph["jobTitle"], graph["department"]) == ("Senior Program Manager", "Operations")
    pending = m365.user("drifted-attributes").pending_imports
    m365.tenant.clock.advance(max(p.due_at for p in pending) - m365.tenant.clock.time())
    values = m365.upa("drifted-attributes")
    assert (values["Title"], values["SPS-JobTitle"]) == ("Senior Program Manager",) * 2
    assert (values["Department"], values["SPS-Department"]) == ("Operations",) * 2
    assert m365.user("drifted-attributes").pending_imports == []


def test_a_new_manager_shows_in_graph_at_once_and_in_sharepoint_after_the_import(m365):
    user, manager = m365.user("stale-photo"), m365.user("placeholder")
    before = m365.upa("stale-photo")["Manager"]
    sync.set_manager(m365.tenant, user, manager)
    scopes = ["User.Read", "User.ReadBasic.All"]
    graph = m365.graph("GET", "/me/manager?$select=userPrincipalName", "stale-photo", scopes=scopes)
    assert graph.json["userPrincipalName"] == manager.upn
    assert m365.upa("stale-photo")["Manager"] == before
    m365.tenant.clock.advance(m365.tenant.attribute_import_delay)
    assert m365.upa("stale-photo")["Manager"] == f"i:0#.f|membership|{manager.upn.lower()}"


def test_directory_change_is_queued_for_the_next_import(m365):
    user = m365.user("in-sync")
    sync.update_directory(m365.tenant, user, {"officeLocation": "99/0001", "city": "Oslo"})
    assert [p.property_key for p in user.pending_imports] == ["Office"]  # city is not synced
    assert m365.upa()["Office"] == "18/2111"
    m365.tenant.clock.advance(m365.tenant.attribute_import_delay)
    assert m365.upa()["Office"] == "99/0001"


def test_mobile_phone_never_reaches_the_upa(m365):
    assert m365.graph("PATCH", "/me", json={"mobilePhone": "+1 555 0199"}).status_code == 204
    assert m365.user("in-sync").pending_imports == []
    m365.tenant.clock.advance(m365.tenant.attribute_import_delay)
    assert m365.upa()["CellPhone"] == ""


def test_profile_fields_are_one_store_for_graph_and_sharepoint(m365):
    changes = {"aboutMe": "Numbers & <people>", "skills": ["Excel", "Power BI"], "birthday": None}
    assert m365.graph("PATCH", "/me", "no-photo", json=changes).status_code == 204
    values = m365.upa("no-photo")
    assert values["AboutMe"] == "Numbers & <people>"
    assert values["SPS-Skills"] == "Excel|Power BI"
    assert values["SPS-Birthday"] == ""
