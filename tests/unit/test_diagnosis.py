"""The diagnosis a user reads: photo verdicts, attribute findings and the ways forward."""

from __future__ import annotations

import pytest

from tests import imagegen
from tests.support.adele import (
    ADELE,
    NEW,
    NOW,
    OLD,
    TAKEN_AT,
    graph_photo,
    sharepoint_picture,
    snapshot,
    sp_profile,
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
    PHOTO_PULL_HOURS,
    PHOTO_WORST_CASE_HOURS,
    Action,
    AttributeVerdict,
    FindingCode,
    Helpdesk,
    Limit,
    PhotoVerdict,
    diagnose,
)
from webapp.overview.snapshot import GraphSide, SharePointSide


def no_graph_photo() -> GraphSide:
    return GraphSide(user=GraphUser.from_graph(ADELE))


def placeholder_side(**props: str) -> SharePointSide:
    return SharePointSide(profile=sp_profile(placeholder="1", **props), picture=None)


def codes(diagnosis) -> list[FindingCode]:  # type: ignore[no-untyped-def]
    return [f.code for f in diagnosis.findings]


def finding(diagnosis, code):  # type: ignore[no-untyped-def]
    return next(f for f in diagnosis.findings if f.code is code)


# -- photo verdicts ----------------------------------------------------------------------------


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
    assert in_sync.can == ()
    # SharePoint caches photos for about a day (reference §4.7): the page says so.
    assert in_sync.params["cache_hours"] == 24


def test_stale_sharepoint_photo_is_reported_as_older_with_resync_and_microsofts_timings() -> None:
    sharepoint = SharePointSide(profile=sp_profile(), picture=sharepoint_picture(OLD))
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    assert diagnosis.verdict is PhotoVerdict.SHAREPOINT_OLDER
    older = finding(diagnosis, FindingCode.PHOTO_SHAREPOINT_OLDER)
    assert older.can == (Action.RESYNC_PHOTO, Action.WAIT)
    assert older.cannot == (Limit.SHAREPOINT_SCHEDULE,)
    assert older.helpdesk is Helpdesk.AFTER_HOURS
    assert older.params["pull_hours"] == PHOTO_PULL_HOURS == 24
    assert older.params["worst_case_hours"] == PHOTO_WORST_CASE_HOURS == 72
    assert older.params["helpdesk_after_hours"] == 72
    assert older.params["picture_taken_at"] == TAKEN_AT


def test_an_unrelated_initials_picture_in_sharepoint_is_older() -> None:
    initials = imagegen.initials("AV", (0, 120, 212), 1)
    sharepoint = SharePointSide(profile=sp_profile(), picture=sharepoint_picture(initials))
    assert diagnose(snapshot(sharepoint=sharepoint)).verdict is PhotoVerdict.SHAREPOINT_OLDER


def test_placeholder_flag_in_sharepoint_is_reported_as_placeholder() -> None:
    diagnosis = diagnose(snapshot(sharepoint=placeholder_side()))
    assert diagnosis.verdict is PhotoVerdict.SHAREPOINT_PLACEHOLDER
    placeholder = finding(diagnosis, FindingCode.PHOTO_SHAREPOINT_PLACEHOLDER)
    assert placeholder.can == (Action.RESYNC_PHOTO, Action.WAIT)
    assert placeholder.helpdesk is Helpdesk.AFTER_HOURS
    assert placeholder.params["worst_case_hours"] == 72


def test_placeholder_flag_wins_over_a_leftover_picture_file() -> None:
    sharepoint = SharePointSide(profile=sp_profile(placeholder="1"), picture=sharepoint_picture())
    assert diagnose(snapshot(sharepoint=sharepoint)).verdict is PhotoVerdict.SHAREPOINT_PLACEHOLDER


def test_no_picture_url_or_a_missing_file_means_sharepoint_shows_a_placeholder() -> None:
    no_url = SharePointSide(profile=sp_profile(picture_url=None), picture=None)
    missing_file = SharePointSide(profile=sp_profile(), picture=None)
    for side in (no_url, missing_file):
        verdict = diagnose(snapshot(sharepoint=side)).verdict
        assert verdict is PhotoVerdict.SHAREPOINT_PLACEHOLDER


def test_no_photo_in_graph_and_a_placeholder_in_sharepoint_is_no_photo_anywhere() -> None:
    diagnosis = diagnose(snapshot(graph=no_graph_photo(), sharepoint=placeholder_side()))
    assert diagnosis.verdict is PhotoVerdict.NO_PHOTO_ANYWHERE
    none = finding(diagnosis, FindingCode.PHOTO_NONE_ANYWHERE)
    assert none.can == (Action.UPLOAD_PHOTO,)
    assert none.helpdesk is Helpdesk.NOT_NEEDED


def test_graph_1x1_no_photo_metadata_counts_as_no_photo() -> None:
    # Metadata missing (the 1x1 gif variant is parsed to None) though bytes came back.
    _, photo = graph_photo()
    graph = GraphSide(user=GraphUser.from_graph(ADELE), photo_meta=None, photo=photo)
    verdict = diagnose(snapshot(graph=graph, sharepoint=placeholder_side())).verdict
    assert verdict is PhotoVerdict.NO_PHOTO_ANYWHERE


def test_photo_removed_in_microsoft_365_but_still_in_sharepoint_is_older() -> None:
    sharepoint = SharePointSide(profile=sp_profile(), picture=sharepoint_picture(OLD))
    diagnosis = diagnose(snapshot(graph=no_graph_photo(), sharepoint=sharepoint))
    assert diagnosis.verdict is PhotoVerdict.SHAREPOINT_OLDER
    removed = finding(diagnosis, FindingCode.PHOTO_REMOVED_STILL_IN_SHAREPOINT)
    assert removed.can == (Action.UPLOAD_PHOTO,)
    assert removed.cannot == (Limit.REMOVE_SHAREPOINT_PICTURE,)
    assert removed.helpdesk is Helpdesk.NOW


def test_without_exchange_sync_waiting_is_not_offered() -> None:
    # SPS-PictureExchangeSyncState 0: SharePoint never pulls this user's photo (§4.3, §5.3).
    sharepoint = SharePointSide(profile=sp_profile(sync_state="0"), picture=sharepoint_picture(OLD))
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    assert diagnosis.verdict is PhotoVerdict.SHAREPOINT_OLDER
    assert codes(diagnosis)[:2] == [
        FindingCode.PHOTO_SHAREPOINT_OLDER,
        FindingCode.PHOTO_NOT_FROM_EXCHANGE,
    ]
    older = finding(diagnosis, FindingCode.PHOTO_SHAREPOINT_OLDER)
    assert Action.WAIT not in older.can
    assert older.can == (Action.RESYNC_PHOTO,)
    assert older.helpdesk is Helpdesk.IF_IT_PERSISTS


def test_in_sync_without_exchange_sync_needs_no_extra_finding() -> None:
    sharepoint = SharePointSide(profile=sp_profile(sync_state="0"), picture=sharepoint_picture())
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    assert diagnosis.verdict is PhotoVerdict.IN_SYNC
    assert FindingCode.PHOTO_NOT_FROM_EXCHANGE not in codes(diagnosis)


# -- cannot tell -------------------------------------------------------------------------------


def test_sharepoint_down_cannot_tell_and_offers_a_retry() -> None:
    error = ServiceUnavailableError("sharepoint", 503, retry_after=None)
    diagnosis = diagnose(snapshot(sharepoint=SharePointSide(profile_error=error)))
    assert diagnosis.verdict is PhotoVerdict.CANNOT_TELL
    assert diagnosis.attributes is AttributeVerdict.CANNOT_TELL
    unavailable = finding(diagnosis, FindingCode.PHOTO_SHAREPOINT_UNAVAILABLE)
    assert unavailable.can == (Action.RETRY,)
    assert unavailable.helpdesk is Helpdesk.IF_IT_PERSISTS
    assert unavailable.params == {"service": "sharepoint", "retry_after": None}
    attributes = finding(diagnosis, FindingCode.ATTRIBUTES_UNAVAILABLE)
    assert attributes.params["service"] == "sharepoint"


def test_graph_throttled_cannot_tell_and_carries_retry_after() -> None:
    error = ThrottledError("graph", 429, "TooManyRequests", retry_after=41)
    graph = GraphSide(photo_error=error, profile_error=error)
    diagnosis = diagnose(snapshot(graph=graph))
    assert diagnosis.verdict is PhotoVerdict.CANNOT_TELL
    assert finding(diagnosis, FindingCode.PHOTO_GRAPH_UNAVAILABLE).params["retry_after"] == 41
    assert finding(diagnosis, FindingCode.ATTRIBUTES_UNAVAILABLE).params == {
        "service": "graph",
        "retry_after": 41,
    }


def test_sharepoint_picture_timeout_cannot_tell_but_attributes_still_compare() -> None:
    error = UpstreamTimeoutError("sharepoint", code="Timeout")
    sharepoint = SharePointSide(profile=sp_profile(Department="Sales"), picture_error=error)
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    assert diagnosis.verdict is PhotoVerdict.CANNOT_TELL
    assert FindingCode.PHOTO_SHAREPOINT_UNAVAILABLE in codes(diagnosis)
    assert diagnosis.attributes is AttributeVerdict.DIFFERS


def test_picture_on_a_foreign_host_or_unreadable_bytes_cannot_tell() -> None:
    refused = BadResponseError("sharepoint", message="PictureURL points to a host that is not ours")
    side = SharePointSide(profile=sp_profile(), picture_error=refused)
    assert diagnose(snapshot(sharepoint=side)).verdict is PhotoVerdict.CANNOT_TELL

    garbage = Photo(b"<html>not a picture</html>", "image/jpeg", None)
    diagnosis = diagnose(snapshot(sharepoint=SharePointSide(profile=sp_profile(), picture=garbage)))
    assert diagnosis.verdict is PhotoVerdict.CANNOT_TELL
    unreadable = finding(diagnosis, FindingCode.PHOTO_UNREADABLE)
    assert unreadable.can == (Action.RETRY,)


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
    sharepoint = SharePointSide(
        profile=sp_profile(Department="Retail (old)", CellPhone="+1 425 555 0110"),
        picture=sharepoint_picture(),
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
    assert diagnosis.catch_up.attribute_import_guaranteed is False


def test_every_differing_attribute_gets_its_own_finding() -> None:
    sharepoint = SharePointSide(
        profile=sp_profile(Title="Clerk", Office="1/1", CellPhone="+1 425 555 0110"),
        picture=sharepoint_picture(),
    )
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    attributes = [f.params["attribute"] for f in diagnosis.attribute_findings]
    assert attributes == [Attribute.JOB_TITLE, Attribute.OFFICE]


def test_a_different_mobile_phone_is_a_not_synced_note_not_a_difference() -> None:
    sharepoint = SharePointSide(profile=sp_profile(), picture=sharepoint_picture())
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    assert diagnosis.attributes is AttributeVerdict.IN_SYNC
    note = finding(diagnosis, FindingCode.ATTRIBUTE_NOT_SYNCED)
    assert note.params["attribute"] is Attribute.MOBILE_PHONE
    assert note.cannot == (Limit.ATTRIBUTE_NOT_SYNCED,)
    assert note.helpdesk is Helpdesk.IF_NEEDED
    assert [r.attribute for r in diagnosis.differing_rows] == [Attribute.MOBILE_PHONE]


def test_photo_findings_come_before_attribute_findings() -> None:
    sharepoint = SharePointSide(
        profile=sp_profile(Department="Sales"), picture=sharepoint_picture(OLD)
    )
    diagnosis = diagnose(snapshot(sharepoint=sharepoint))
    assert [f.code for f in diagnosis.photo_findings] == [FindingCode.PHOTO_SHAREPOINT_OLDER]
    assert codes(diagnosis)[0] is FindingCode.PHOTO_SHAREPOINT_OLDER
    assert diagnosis.taken_at == NOW


def test_finding_parameters_cannot_be_changed_by_a_caller() -> None:
    params = diagnose(snapshot()).findings[0].params
    with pytest.raises(TypeError):
        params["cache_hours"] = 0  # type: ignore[index]
