"""The diagnosis a user reads: photo verdicts, attribute findings and the ways forward."""

from __future__ import annotations

import pytest

from tests import imagegen
from tests.support.adele import (
    ADELE,
    NEW,
    NOW,
    OLD,
    graph_photo,
    served,
    sharepoint_side,
    snapshot,
    sp_profile,
    stored_picture,
)
from webapp.microsoft.errors import (
    BadResponseError,
    ServiceUnavailableError,
    ThrottledError,
    UpstreamTimeoutError,
)
from webapp.microsoft.models import GraphUser, Photo
from webapp.microsoft.properties import Attribute
from webapp.overview.diagnosis import (
    Action,
    AttributeVerdict,
    FindingCode,
    Helpdesk,
    Limit,
    PhotoVerdict,
    StoredCopy,
    diagnose,
)
from webapp.overview.snapshot import GraphSide, SharePointSide


def no_graph_photo() -> GraphSide:
    return GraphSide(user=GraphUser.from_graph(ADELE))


def codes(diagnosis) -> list[FindingCode]:  # type: ignore[no-untyped-def]
    return [f.code for f in diagnosis.findings]


def finding(diagnosis, code):  # type: ignore[no-untyped-def]
    return next(f for f in diagnosis.findings if f.code is code)


# -- photo verdicts: what SharePoint serves ----------------------------------------------------


@pytest.mark.parametrize(("side", "quality"), [(48, 60), (96, 75), (240, 85), (648, 95)])
def test_same_photo_resized_and_recompressed_by_each_service_is_in_sync(
    side: int, quality: int
) -> None:
    meta, photo = graph_photo(NEW, side, quality)
    graph = GraphSide(user=GraphUser.from_graph(ADELE), photo_meta=meta, photo=photo)
    diagnosis = diagnose(snapshot(graph=graph))
    assert diagnosis.verdict is PhotoVerdict.IN_SYNC
    in_sync = finding(diagnosis, FindingCode.PHOTO_IN_SYNC)
    assert in_sync.helpdesk is Helpdesk.NOT_NEEDED
    # Nothing to fix: changing the photo is the main button, the re-sync stays in reach.
    assert in_sync.can == (Action.UPLOAD_PHOTO, Action.RESYNC_PHOTO)
    assert diagnosis.photo_actions == (Action.UPLOAD_PHOTO, Action.RESYNC_PHOTO)
    # No delay is promised: Microsoft gives none for SharePoint's photo cache (reference §9.1).
    assert in_sync.params == {}


def test_an_older_copy_served_from_sharepoints_cache_is_older_with_resync_and_wait() -> None:
    diagnosis = diagnose(snapshot(sharepoint=sharepoint_side(OLD)))
    assert diagnosis.verdict is PhotoVerdict.SHAREPOINT_OLDER
    older = finding(diagnosis, FindingCode.PHOTO_SHAREPOINT_OLDER)
    assert older.can == (Action.RESYNC_PHOTO, Action.UPLOAD_PHOTO, Action.WAIT)
    # Waiting is advice, not a button.
    assert diagnosis.photo_actions == (Action.RESYNC_PHOTO, Action.UPLOAD_PHOTO)
    assert older.cannot == (Limit.SHAREPOINT_CACHE,)
    assert older.helpdesk is Helpdesk.PICTURE_SYNC
    assert older.params == {"fresh_for": None}


def test_the_caches_stated_lifetime_travels_with_the_finding() -> None:
    side = sharepoint_side(OLD, served=served(OLD, fresh_for=1500))
    older = finding(diagnose(snapshot(sharepoint=side)), FindingCode.PHOTO_SHAREPOINT_OLDER)
    assert older.params["fresh_for"] == 1500


def test_an_unrelated_initials_picture_in_sharepoint_is_older() -> None:
    initials = imagegen.initials("AV", (0, 120, 212), 1)
    side = sharepoint_side(initials)
    assert diagnose(snapshot(sharepoint=side)).verdict is PhotoVerdict.SHAREPOINT_OLDER


def test_the_placeholder_served_while_graph_has_a_photo_is_reported_as_placeholder() -> None:
    diagnosis = diagnose(snapshot(sharepoint=sharepoint_side(None)))
    assert diagnosis.verdict is PhotoVerdict.SHAREPOINT_PLACEHOLDER
    placeholder = finding(diagnosis, FindingCode.PHOTO_SHAREPOINT_PLACEHOLDER)
    assert placeholder.can == (Action.RESYNC_PHOTO, Action.UPLOAD_PHOTO, Action.WAIT)
    assert placeholder.helpdesk is Helpdesk.PICTURE_SYNC


def test_the_verdict_follows_what_is_served_not_the_legacy_library() -> None:
    # The library still names an old file and a placeholder state; SharePoint serves the photo.
    side = sharepoint_side(NEW, profile=sp_profile(placeholder="1", picture_url=None), stored=None)
    diagnosis = diagnose(snapshot(sharepoint=side))
    assert diagnosis.verdict is PhotoVerdict.IN_SYNC
    assert diagnosis.stored is StoredCopy.NONE
    old_copy = sharepoint_side(NEW, stored=stored_picture(OLD))
    diagnosis = diagnose(snapshot(sharepoint=old_copy))
    assert diagnosis.verdict is PhotoVerdict.IN_SYNC
    assert diagnosis.stored is StoredCopy.OLD


def test_no_photo_in_graph_and_the_placeholder_served_is_no_photo_anywhere() -> None:
    diagnosis = diagnose(snapshot(graph=no_graph_photo(), sharepoint=sharepoint_side(None)))
    assert diagnosis.verdict is PhotoVerdict.NO_PHOTO_ANYWHERE
    none = finding(diagnosis, FindingCode.PHOTO_NONE_ANYWHERE)
    assert none.can == (Action.UPLOAD_PHOTO,)
    # Nothing to copy to SharePoint: no re-sync offered.
    assert diagnosis.photo_actions == (Action.UPLOAD_PHOTO,)
    assert none.helpdesk is Helpdesk.NOT_NEEDED


def test_graph_1x1_no_photo_metadata_counts_as_no_photo() -> None:
    # Metadata missing (the 1x1 gif variant is parsed to None) though bytes came back.
    _, photo = graph_photo()
    graph = GraphSide(user=GraphUser.from_graph(ADELE), photo_meta=None, photo=photo)
    verdict = diagnose(snapshot(graph=graph, sharepoint=sharepoint_side(None))).verdict
    assert verdict is PhotoVerdict.NO_PHOTO_ANYWHERE


def test_photo_removed_in_microsoft_365_but_still_served_by_sharepoint_is_older() -> None:
    diagnosis = diagnose(snapshot(graph=no_graph_photo(), sharepoint=sharepoint_side(OLD)))
    assert diagnosis.verdict is PhotoVerdict.SHAREPOINT_OLDER
    removed = finding(diagnosis, FindingCode.PHOTO_REMOVED_STILL_IN_SHAREPOINT)
    assert removed.can == (Action.UPLOAD_PHOTO, Action.WAIT)
    assert diagnosis.photo_actions == (Action.UPLOAD_PHOTO,)
    assert removed.cannot == (Limit.SHAREPOINT_CACHE,)
    assert removed.helpdesk is Helpdesk.PICTURE_SYNC


@pytest.mark.parametrize("sync_state", ["0", "1", ""])
def test_a_user_without_a_mailbox_is_judged_like_everyone_else(sync_state: str) -> None:
    # Since 2024 every user's photo comes from the same store (reference §9.1): no "waiting
    # will not fix it" for SPS-PictureExchangeSyncState 0.
    for image, verdict in ((NEW, PhotoVerdict.IN_SYNC), (OLD, PhotoVerdict.SHAREPOINT_OLDER)):
        side = sharepoint_side(image, profile=sp_profile(sync_state=sync_state))
        diagnosis = diagnose(snapshot(sharepoint=side))
        assert diagnosis.verdict is verdict
        assert len(diagnosis.photo_findings) == 1


def test_a_real_picture_url_with_an_empty_placeholder_state_is_a_stored_picture() -> None:
    # Reference §4.3: "0" shows the picture, non-zero the placeholder; "" is neither.
    assert not sp_profile(placeholder="").placeholder
    assert sp_profile(placeholder="1").placeholder
    assert sp_profile(placeholder="", picture_url=None).placeholder
    side = sharepoint_side(NEW, profile=sp_profile(placeholder=""), stored=stored_picture(OLD))
    assert diagnose(snapshot(sharepoint=side)).stored is StoredCopy.OLD


def test_the_stored_copy_is_current_none_or_unknown() -> None:
    assert diagnose(snapshot()).stored is StoredCopy.CURRENT
    missing_file = sharepoint_side(NEW, stored=None)
    assert diagnose(snapshot(sharepoint=missing_file)).stored is StoredCopy.NONE
    failed = sharepoint_side(NEW, stored=None, stored_error=UpstreamTimeoutError("sharepoint"))
    assert diagnose(snapshot(sharepoint=failed)).stored is StoredCopy.UNKNOWN
    no_profile = sharepoint_side(NEW, profile=None, stored=None)
    no_profile = SharePointSide(served=no_profile.served, placeholder=no_profile.placeholder)
    assert diagnose(snapshot(sharepoint=no_profile)).stored is StoredCopy.UNKNOWN
    removed = diagnose(snapshot(graph=no_graph_photo(), sharepoint=sharepoint_side(None)))
    assert removed.stored is StoredCopy.OLD


# -- cannot tell -------------------------------------------------------------------------------


def test_sharepoint_down_cannot_tell_and_offers_a_retry() -> None:
    error = ServiceUnavailableError("sharepoint", 503, retry_after=None)
    side = SharePointSide(served_error=error, placeholder_error=error, profile_error=error)
    diagnosis = diagnose(snapshot(sharepoint=side))
    assert diagnosis.verdict is PhotoVerdict.CANNOT_TELL
    assert diagnosis.attributes is AttributeVerdict.CANNOT_TELL
    unavailable = finding(diagnosis, FindingCode.PHOTO_SHAREPOINT_UNAVAILABLE)
    # Reading again first; the re-sync reads SharePoint again too and offers it the photo.
    assert unavailable.can == (Action.RETRY, Action.RESYNC_PHOTO)
    assert unavailable.helpdesk is Helpdesk.IF_IT_PERSISTS
    assert unavailable.params == {"service": "sharepoint", "retry_after": None}
    attributes = finding(diagnosis, FindingCode.ATTRIBUTES_UNAVAILABLE)
    assert attributes.params["service"] == "sharepoint"


def test_graph_throttled_cannot_tell_and_carries_retry_after() -> None:
    error = ThrottledError("graph", 429, "TooManyRequests", retry_after=41)
    graph = GraphSide(photo_error=error, profile_error=error)
    diagnosis = diagnose(snapshot(graph=graph))
    assert diagnosis.verdict is PhotoVerdict.CANNOT_TELL
    graph_unavailable = finding(diagnosis, FindingCode.PHOTO_GRAPH_UNAVAILABLE)
    assert graph_unavailable.params["retry_after"] == 41
    assert diagnosis.photo_actions == (Action.RETRY,)
    assert finding(diagnosis, FindingCode.ATTRIBUTES_UNAVAILABLE).params == {
        "service": "graph",
        "retry_after": 41,
    }


def test_served_picture_timeout_cannot_tell_but_attributes_still_compare() -> None:
    error = UpstreamTimeoutError("sharepoint", code="Timeout")
    side = sharepoint_side(
        NEW, profile=sp_profile(Department="Sales"), served={}, served_error=error
    )
    diagnosis = diagnose(snapshot(sharepoint=side))
    assert diagnosis.verdict is PhotoVerdict.CANNOT_TELL
    assert FindingCode.PHOTO_SHAREPOINT_UNAVAILABLE in codes(diagnosis)
    assert diagnosis.attributes is AttributeVerdict.DIFFERS


def test_the_profile_failing_alone_still_judges_the_photo() -> None:
    error = ServiceUnavailableError("sharepoint", 503)
    side = sharepoint_side(NEW, profile=None, stored=None)
    side = SharePointSide(served=side.served, placeholder=side.placeholder, profile_error=error)
    diagnosis = diagnose(snapshot(sharepoint=side))
    assert diagnosis.verdict is PhotoVerdict.IN_SYNC
    assert diagnosis.attributes is AttributeVerdict.CANNOT_TELL


def test_without_the_placeholder_an_other_picture_cannot_be_told_but_a_match_can() -> None:
    refused = BadResponseError("sharepoint", message="picture redirected off the tenant")
    other = sharepoint_side(OLD, placeholder=None, placeholder_error=refused)
    diagnosis = diagnose(snapshot(sharepoint=other))
    assert diagnosis.verdict is PhotoVerdict.CANNOT_TELL
    assert FindingCode.PHOTO_SHAREPOINT_UNAVAILABLE in codes(diagnosis)
    same = sharepoint_side(NEW, placeholder=None, placeholder_error=refused)
    assert diagnose(snapshot(sharepoint=same)).verdict is PhotoVerdict.IN_SYNC


def test_unreadable_served_bytes_cannot_tell() -> None:
    garbage = Photo(b"<html>not a picture</html>", "image/jpeg", None)
    side = sharepoint_side(NEW, served={"L": garbage})
    diagnosis = diagnose(snapshot(sharepoint=side))
    assert diagnosis.verdict is PhotoVerdict.CANNOT_TELL
    unreadable = finding(diagnosis, FindingCode.PHOTO_UNREADABLE)
    assert unreadable.can == (Action.RETRY, Action.UPLOAD_PHOTO)


def test_graph_profile_failing_alone_still_judges_the_photo() -> None:
    meta, photo = graph_photo()
    error = ServiceUnavailableError("graph", 503)
    graph = GraphSide(photo_meta=meta, photo=photo, profile_error=error)
    diagnosis = diagnose(snapshot(graph=graph))
    assert diagnosis.verdict is PhotoVerdict.IN_SYNC
    assert diagnosis.attributes is AttributeVerdict.CANNOT_TELL


# -- attributes --------------------------------------------------------------------------------


def test_attributes_in_sync_say_so() -> None:
    diagnosis = diagnose(snapshot())
    assert diagnosis.attributes is AttributeVerdict.IN_SYNC
    assert codes(diagnosis) == [FindingCode.PHOTO_IN_SYNC, FindingCode.ATTRIBUTES_IN_SYNC]
    assert diagnosis.differing_rows == ()


def test_department_changed_in_entra_is_a_finding_the_user_cannot_fix_here() -> None:
    sharepoint = sharepoint_side(
        profile=sp_profile(Department="Retail (old)", CellPhone="+1 425 555 0110")
    )
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    assert diagnosis.attributes is AttributeVerdict.DIFFERS
    differs = finding(diagnosis, FindingCode.ATTRIBUTE_DIFFERS)
    assert differs.params["attribute"] is Attribute.DEPARTMENT
    assert differs.params["graph_value"] == "Retail"
    assert differs.params["sharepoint_value"] == "Retail (old)"
    assert differs.params["sharepoint_property"] == "Department"
    assert differs.can == (Action.WAIT,)
    assert differs.cannot == (Limit.ATTRIBUTE_FROM_DIRECTORY,)
    assert differs.helpdesk is Helpdesk.AFTER_HOURS
    assert differs.params["helpdesk_after_hours"] == 72


def test_every_differing_attribute_gets_its_own_finding() -> None:
    sharepoint = sharepoint_side(
        profile=sp_profile(Title="Clerk", Office="1/1", CellPhone="+1 425 555 0110")
    )
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    attributes = [f.params["attribute"] for f in diagnosis.attribute_findings]
    assert attributes == [Attribute.JOB_TITLE, Attribute.OFFICE]


def test_a_different_mobile_phone_is_a_not_synced_note_not_a_difference() -> None:
    sharepoint = sharepoint_side(profile=sp_profile())
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    assert diagnosis.attributes is AttributeVerdict.IN_SYNC
    note = finding(diagnosis, FindingCode.ATTRIBUTE_NOT_SYNCED)
    assert note.params["attribute"] is Attribute.MOBILE_PHONE
    assert note.cannot == (Limit.ATTRIBUTE_NOT_SYNCED,)
    assert note.helpdesk is Helpdesk.IF_NEEDED
    assert [r.attribute for r in diagnosis.differing_rows] == [Attribute.MOBILE_PHONE]


def test_photo_findings_come_before_attribute_findings() -> None:
    sharepoint = sharepoint_side(OLD, profile=sp_profile(Department="Sales"))
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    assert [f.code for f in diagnosis.photo_findings] == [FindingCode.PHOTO_SHAREPOINT_OLDER]
    assert codes(diagnosis)[0] is FindingCode.PHOTO_SHAREPOINT_OLDER
    assert diagnosis.taken_at == NOW


def test_finding_parameters_cannot_be_changed_by_a_caller() -> None:
    params = diagnose(snapshot(sharepoint=sharepoint_side(OLD))).findings[0].params
    with pytest.raises(TypeError):
        params["fresh_for"] = 0  # type: ignore[index]
