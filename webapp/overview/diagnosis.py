"""Pure diagnosis of a Snapshot: the photo verdict, attribute findings and what the user can do.

Codes and parameters only; `overview/wording.py` turns them into sentences. Whether both
services show the same picture is `imaging.fingerprint.compare`, the rule the photo change's
read-back uses too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from webapp.imaging.fingerprint import Match, compare
from webapp.microsoft.properties import AttributeRow, RowState, diff_rows
from webapp.overview.snapshot import Snapshot

# What Microsoft states about catching up (reference §5). SharePoint pulls a mailbox user's
# picture from Exchange at most once every 24 hours when the user opens their own photo, and
# field reports and Microsoft bloggers give "up to 72 hours" (§5.2 step 5, §5.6 step 3).
PHOTO_PULL_HOURS = 24
PHOTO_WORST_CASE_HOURS = 72
# SharePoint caches user photos for about a day (§4.7), so a page may lag a synced picture.
PICTURE_CACHE_HOURS = 24
# Attribute import is batch-driven and "timing not guaranteed" (§5.5): Microsoft gives no
# figure. Ours: ask the helpdesk when a difference outlives the photo's worst case too.
ATTRIBUTE_HELPDESK_AFTER_HOURS = 72


class PhotoVerdict(StrEnum):
    IN_SYNC = "in_sync"
    SHAREPOINT_OLDER = "sharepoint_older"
    SHAREPOINT_PLACEHOLDER = "sharepoint_placeholder"
    NO_PHOTO_ANYWHERE = "no_photo_anywhere"
    CANNOT_TELL = "cannot_tell"


class AttributeVerdict(StrEnum):
    IN_SYNC = "in_sync"
    DIFFERS = "differs"
    CANNOT_TELL = "cannot_tell"


class FindingCode(StrEnum):
    PHOTO_IN_SYNC = "photo_in_sync"
    PHOTO_SHAREPOINT_OLDER = "photo_sharepoint_older"
    # Graph has no photo any more, SharePoint still shows one (it pulls only when there is a
    # photo, §5.2 step 2).
    PHOTO_REMOVED_STILL_IN_SHAREPOINT = "photo_removed_still_in_sharepoint"
    PHOTO_SHAREPOINT_PLACEHOLDER = "photo_sharepoint_placeholder"
    PHOTO_NONE_ANYWHERE = "photo_none_anywhere"
    # SPS-PictureExchangeSyncState 0: SharePoint does not take this user's picture from
    # Exchange (no mailbox, §4.3, §5.3), so waiting will not fix it.
    PHOTO_NOT_FROM_EXCHANGE = "photo_not_from_exchange"
    PHOTO_GRAPH_UNAVAILABLE = "photo_graph_unavailable"
    PHOTO_SHAREPOINT_UNAVAILABLE = "photo_sharepoint_unavailable"
    PHOTO_UNREADABLE = "photo_unreadable"
    ATTRIBUTES_IN_SYNC = "attributes_in_sync"
    ATTRIBUTE_DIFFERS = "attribute_differs"
    ATTRIBUTE_NOT_SYNCED = "attribute_not_synced"
    ATTRIBUTES_UNAVAILABLE = "attributes_unavailable"


class Action(StrEnum):
    """What the user can do about a finding, here or by waiting."""

    RESYNC_PHOTO = "resync_photo"  # push the Exchange/Entra photo to SharePoint now
    UPLOAD_PHOTO = "upload_photo"  # upload a new photo (Graph, then SharePoint)
    RETRY = "retry"  # read both services again
    WAIT = "wait"  # SharePoint catches up by itself


class Limit(StrEnum):
    """What the user cannot do here, and why."""

    # SharePoint pulls the picture on its own schedule (§5.2); the app can only ask early.
    SHAREPOINT_SCHEDULE = "sharepoint_schedule"
    # SharePoint keeps a picture when the photo is removed; no user call removes it (§5.2).
    REMOVE_SHAREPOINT_PICTURE = "remove_sharepoint_picture"
    # Synced attributes come from Entra ID through SharePoint's profile import and overwrite
    # SharePoint edits (§4.6, §5.5); nobody changes them in SharePoint.
    ATTRIBUTE_FROM_DIRECTORY = "attribute_from_directory"
    # Not in Microsoft's default sync table (§5.5): only an admin mapping copies it.
    ATTRIBUTE_NOT_SYNCED = "attribute_not_synced"


class Helpdesk(StrEnum):
    """When to contact the helpdesk about a finding."""

    NOT_NEEDED = "not_needed"
    NOW = "now"
    AFTER_HOURS = "after_hours"  # params["helpdesk_after_hours"]
    IF_IT_PERSISTS = "if_it_persists"
    IF_NEEDED = "if_needed"


@dataclass(frozen=True)
class Finding:
    """One thing the page tells the user, with its parameters and the ways forward."""

    code: FindingCode
    params: Mapping[str, object] = field(default_factory=dict)
    can: tuple[Action, ...] = ()
    cannot: tuple[Limit, ...] = ()
    helpdesk: Helpdesk = Helpdesk.NOT_NEEDED

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


@dataclass(frozen=True)
class Diagnosis:
    """The verdicts, every finding (photo ones first) and the attribute rows they rest on."""

    verdict: PhotoVerdict
    attributes: AttributeVerdict
    findings: tuple[Finding, ...]
    rows: tuple[AttributeRow, ...]
    taken_at: datetime

    @property
    def photo_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.code.startswith("photo_"))

    @property
    def attribute_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.code.startswith("attribute"))

    @property
    def differing_rows(self) -> tuple[AttributeRow, ...]:
        return tuple(r for r in self.rows if r.state in (RowState.DIFFERS, RowState.NOT_SYNCED))


def _wait_params(snapshot: Snapshot) -> dict[str, object]:
    profile = snapshot.sharepoint.profile
    return {
        "pull_hours": PHOTO_PULL_HOURS,
        "worst_case_hours": PHOTO_WORST_CASE_HOURS,
        "helpdesk_after_hours": PHOTO_WORST_CASE_HOURS,
        "picture_taken_at": profile.picture_timestamp if profile is not None else None,
    }


def _unavailable(code: FindingCode, service: str, retry_after: float | None) -> Finding:
    return Finding(
        code,
        {"service": service, "retry_after": retry_after},
        can=(Action.RETRY,),
        helpdesk=Helpdesk.IF_IT_PERSISTS,
    )


def _photo(snapshot: Snapshot) -> tuple[PhotoVerdict, list[Finding]]:
    graph, sharepoint = snapshot.graph, snapshot.sharepoint
    if graph.photo_error is not None:
        error = graph.photo_error
        return PhotoVerdict.CANNOT_TELL, [
            _unavailable(FindingCode.PHOTO_GRAPH_UNAVAILABLE, "graph", error.retry_after)
        ]
    profile = sharepoint.profile
    if profile is None:
        error = sharepoint.profile_error
        retry_after = error.retry_after if error is not None else None
        return PhotoVerdict.CANNOT_TELL, [
            _unavailable(FindingCode.PHOTO_SHAREPOINT_UNAVAILABLE, "sharepoint", retry_after)
        ]

    photo = graph.photo if graph.has_photo else None
    if photo is None:
        if profile.placeholder:
            return PhotoVerdict.NO_PHOTO_ANYWHERE, [
                Finding(FindingCode.PHOTO_NONE_ANYWHERE, can=(Action.UPLOAD_PHOTO,))
            ]
        # SharePoint shows a picture Exchange/Entra no longer has: whatever its bytes, it is
        # an older photo.
        return PhotoVerdict.SHAREPOINT_OLDER, [
            Finding(
                FindingCode.PHOTO_REMOVED_STILL_IN_SHAREPOINT,
                _wait_params(snapshot),
                can=(Action.UPLOAD_PHOTO,),
                cannot=(Limit.REMOVE_SHAREPOINT_PICTURE,),
                helpdesk=Helpdesk.NOW,
            )
        ]

    if sharepoint.picture_error is not None:
        error = sharepoint.picture_error
        return PhotoVerdict.CANNOT_TELL, [
            _unavailable(FindingCode.PHOTO_SHAREPOINT_UNAVAILABLE, "sharepoint", error.retry_after)
        ]
    shown = None if profile.placeholder or sharepoint.picture is None else sharepoint.picture.data
    match = compare(photo.data, shown)
    if match is Match.UNREADABLE:
        return PhotoVerdict.CANNOT_TELL, [
            Finding(
                FindingCode.PHOTO_UNREADABLE, can=(Action.RETRY,), helpdesk=Helpdesk.IF_IT_PERSISTS
            )
        ]
    if match is Match.SAME:
        return PhotoVerdict.IN_SYNC, [
            Finding(FindingCode.PHOTO_IN_SYNC, {"cache_hours": PICTURE_CACHE_HOURS})
        ]
    if match is Match.NONE:
        verdict = PhotoVerdict.SHAREPOINT_PLACEHOLDER
        code = FindingCode.PHOTO_SHAREPOINT_PLACEHOLDER
    else:
        verdict = PhotoVerdict.SHAREPOINT_OLDER
        code = FindingCode.PHOTO_SHAREPOINT_OLDER
    finding = Finding(
        code,
        _wait_params(snapshot),
        can=(Action.RESYNC_PHOTO, Action.WAIT),
        cannot=(Limit.SHAREPOINT_SCHEDULE,),
        helpdesk=Helpdesk.AFTER_HOURS,
    )
    findings = [finding]
    if profile.exchange_sync_state == "0":
        # Waiting cannot help: SharePoint never pulls this user's picture (§5.3).
        findings = [
            Finding(
                finding.code,
                finding.params,
                can=(Action.RESYNC_PHOTO,),
                helpdesk=Helpdesk.IF_IT_PERSISTS,
            ),
            Finding(FindingCode.PHOTO_NOT_FROM_EXCHANGE, can=(Action.RESYNC_PHOTO,)),
        ]
    return verdict, findings


def _attributes(
    snapshot: Snapshot, rows: list[AttributeRow]
) -> tuple[AttributeVerdict, list[Finding]]:
    graph, sharepoint = snapshot.graph, snapshot.sharepoint
    if graph.user is None or sharepoint.profile is None:
        failed = "graph" if graph.user is None else "sharepoint"
        error = graph.profile_error if graph.user is None else sharepoint.profile_error
        return AttributeVerdict.CANNOT_TELL, [
            Finding(
                FindingCode.ATTRIBUTES_UNAVAILABLE,
                {"service": failed, "retry_after": error.retry_after if error else None},
                can=(Action.RETRY,),
                helpdesk=Helpdesk.IF_IT_PERSISTS,
            )
        ]
    findings: list[Finding] = []
    for row in rows:
        params = {
            "attribute": row.attribute,
            "graph_property": row.graph_property,
            "sharepoint_property": row.sharepoint_property,
            "graph_value": row.graph_value,
            "sharepoint_value": row.sharepoint_value,
        }
        if row.state is RowState.DIFFERS:
            findings.append(
                Finding(
                    FindingCode.ATTRIBUTE_DIFFERS,
                    {**params, "helpdesk_after_hours": ATTRIBUTE_HELPDESK_AFTER_HOURS},
                    can=(Action.WAIT,),
                    cannot=(Limit.ATTRIBUTE_FROM_DIRECTORY,),
                    helpdesk=Helpdesk.AFTER_HOURS,
                )
            )
        elif row.state is RowState.NOT_SYNCED:
            findings.append(
                Finding(
                    FindingCode.ATTRIBUTE_NOT_SYNCED,
                    params,
                    cannot=(Limit.ATTRIBUTE_NOT_SYNCED,),
                    helpdesk=Helpdesk.IF_NEEDED,
                )
            )
    if any(f.code is FindingCode.ATTRIBUTE_DIFFERS for f in findings):
        return AttributeVerdict.DIFFERS, findings
    return AttributeVerdict.IN_SYNC, [Finding(FindingCode.ATTRIBUTES_IN_SYNC), *findings]


def diagnose(snapshot: Snapshot) -> Diagnosis:
    """Judge a snapshot: pure, no I/O (the fingerprint decodes the bytes already read)."""
    verdict, photo_findings = _photo(snapshot)
    rows = diff_rows(snapshot.graph.user, snapshot.sharepoint.profile)
    attributes, attribute_findings = _attributes(snapshot, rows)
    return Diagnosis(
        verdict=verdict,
        attributes=attributes,
        findings=(*photo_findings, *attribute_findings),
        rows=tuple(rows),
        taken_at=snapshot.taken_at,
    )
