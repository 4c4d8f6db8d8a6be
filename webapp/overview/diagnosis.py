"""Pure diagnosis of a Snapshot: the photo verdict, attribute findings and what the user can do.

Codes and parameters only; `overview/wording.py` turns them into sentences. The photo verdict
judges what SharePoint serves (reference §9.1); its old picture library is a fact beside it
(`StoredCopy`), never the verdict. Whether two services show the same picture is
`imaging.fingerprint.compare`, the rule the photo change's read-back uses too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from webapp.imaging.fingerprint import Match, compare
from webapp.microsoft.properties import AttributeRow, RowState, diff_rows
from webapp.overview.snapshot import SharePointSide, Snapshot

# SharePoint serves photos through a cache that refreshes by itself; Microsoft gives no figure
# for it and withdrew the "24 h / 72 h" steps in 2024 (reference §9.1), so no photo finding
# names a delay. Attribute import is batch-driven and "timing not guaranteed" (§5.5): Microsoft
# gives no figure either. Ours: ask the helpdesk when a difference outlives three days.
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
    # SharePoint serves an older copy of the photo from its cache (reference §9.1).
    PHOTO_SHAREPOINT_OLDER = "photo_sharepoint_older"
    # Graph has no photo any more, SharePoint still serves one from its cache.
    PHOTO_REMOVED_STILL_IN_SHAREPOINT = "photo_removed_still_in_sharepoint"
    PHOTO_SHAREPOINT_PLACEHOLDER = "photo_sharepoint_placeholder"
    PHOTO_NONE_ANYWHERE = "photo_none_anywhere"
    PHOTO_GRAPH_UNAVAILABLE = "photo_graph_unavailable"
    PHOTO_SHAREPOINT_UNAVAILABLE = "photo_sharepoint_unavailable"
    PHOTO_UNREADABLE = "photo_unreadable"
    ATTRIBUTES_IN_SYNC = "attributes_in_sync"
    ATTRIBUTE_DIFFERS = "attribute_differs"
    ATTRIBUTE_NOT_SYNCED = "attribute_not_synced"
    ATTRIBUTES_UNAVAILABLE = "attributes_unavailable"


class Action(StrEnum):
    """What the user can do about a finding, here or by waiting."""

    RESYNC_PHOTO = "resync_photo"  # make SharePoint show the current photo now (photo/resync.py)
    UPLOAD_PHOTO = "upload_photo"  # upload a new photo (Graph, then SharePoint where it takes it)
    RETRY = "retry"  # read both services again
    WAIT = "wait"  # SharePoint catches up by itself


class Limit(StrEnum):
    """What the user cannot do here, and why."""

    # SharePoint's display cache refreshes by itself; no user call empties it (§9.1).
    SHAREPOINT_CACHE = "sharepoint_cache"
    # Synced attributes come from Entra ID through SharePoint's profile import and overwrite
    # SharePoint edits (§4.6, §5.5); nobody changes them in SharePoint.
    ATTRIBUTE_FROM_DIRECTORY = "attribute_from_directory"
    # Not in Microsoft's default sync table (§5.5): only an admin mapping copies it.
    ATTRIBUTE_NOT_SYNCED = "attribute_not_synced"


class Helpdesk(StrEnum):
    """When to contact the helpdesk about a finding."""

    NOT_NEEDED = "not_needed"
    AFTER_HOURS = "after_hours"  # params["helpdesk_after_hours"]
    # SharePoint keeps showing the wrong picture: admins have Microsoft's Picture Sync
    # diagnostic (https://aka.ms/PillarPictureSync, reference §9.1).
    PICTURE_SYNC = "picture_sync"
    IF_IT_PERSISTS = "if_it_persists"
    IF_NEEDED = "if_needed"


class StoredCopy(StrEnum):
    """What SharePoint's legacy picture library still holds (reference §4.7, §9.1): a fact."""

    NONE = "none"  # no picture file (no PictureURL, a placeholder state or a missing file)
    CURRENT = "current"  # a copy of the current photo
    OLD = "old"  # an old copy SharePoint no longer updates or shows
    UNKNOWN = "unknown"  # the profile or the file could not be read


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
    """The verdicts, every finding (photo ones first), the attribute rows they rest on, and
    what SharePoint's legacy picture library holds."""

    verdict: PhotoVerdict
    attributes: AttributeVerdict
    findings: tuple[Finding, ...]
    rows: tuple[AttributeRow, ...]
    taken_at: datetime
    stored: StoredCopy = StoredCopy.UNKNOWN

    @property
    def photo_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.code.startswith("photo_"))

    @property
    def attribute_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.code.startswith("attribute"))

    @property
    def differing_rows(self) -> tuple[AttributeRow, ...]:
        return tuple(r for r in self.rows if r.state in (RowState.DIFFERS, RowState.NOT_SYNCED))


def _unavailable(code: FindingCode, service: str, retry_after: float | None) -> Finding:
    return Finding(
        code,
        {"service": service, "retry_after": retry_after},
        can=(Action.RETRY,),
        helpdesk=Helpdesk.IF_IT_PERSISTS,
    )


def _sharepoint_unavailable(sharepoint: SharePointSide) -> Finding:
    error = sharepoint.served_error or sharepoint.placeholder_error
    retry_after = error.retry_after if error is not None else None
    return _unavailable(FindingCode.PHOTO_SHAREPOINT_UNAVAILABLE, "sharepoint", retry_after)


def _unreadable() -> tuple[PhotoVerdict, list[Finding]]:
    return PhotoVerdict.CANNOT_TELL, [
        Finding(FindingCode.PHOTO_UNREADABLE, can=(Action.RETRY,), helpdesk=Helpdesk.IF_IT_PERSISTS)
    ]


def _cached(code: FindingCode, sharepoint: SharePointSide, can: tuple[Action, ...]) -> Finding:
    """SharePoint serves something else than the current photo from its cache (§9.1).

    `fresh_for` is how long SharePoint said its copy may still be reused, when it said so.
    """
    shown = sharepoint.shown
    return Finding(
        code,
        {"fresh_for": shown.fresh_for if shown is not None else None},
        can=can,
        cannot=(Limit.SHAREPOINT_CACHE,),
        helpdesk=Helpdesk.PICTURE_SYNC,
    )


def _photo(snapshot: Snapshot) -> tuple[PhotoVerdict, list[Finding]]:
    graph, sharepoint = snapshot.graph, snapshot.sharepoint
    if graph.photo_error is not None:
        error = graph.photo_error
        return PhotoVerdict.CANNOT_TELL, [
            _unavailable(FindingCode.PHOTO_GRAPH_UNAVAILABLE, "graph", error.retry_after)
        ]
    shown = sharepoint.shown
    if shown is None:
        return PhotoVerdict.CANNOT_TELL, [_sharepoint_unavailable(sharepoint)]
    photo = graph.photo if graph.has_photo else None
    if photo is not None:
        match = compare(photo.data, shown.data)
        if match is Match.SAME:
            return PhotoVerdict.IN_SYNC, [Finding(FindingCode.PHOTO_IN_SYNC)]
        if match is Match.UNREADABLE:
            return _unreadable()
    if sharepoint.placeholder is None:
        # Only SharePoint's placeholder tells "no picture" from "an older picture" (§4.7).
        return PhotoVerdict.CANNOT_TELL, [_sharepoint_unavailable(sharepoint)]
    match = compare(sharepoint.placeholder.data, shown.data)
    if match is Match.UNREADABLE:
        return _unreadable()
    placeholder = match is Match.SAME
    if photo is None:
        if placeholder:
            return PhotoVerdict.NO_PHOTO_ANYWHERE, [
                Finding(FindingCode.PHOTO_NONE_ANYWHERE, can=(Action.UPLOAD_PHOTO,))
            ]
        # SharePoint serves a picture Exchange/Entra no longer has: an older photo, cached.
        return PhotoVerdict.SHAREPOINT_OLDER, [
            _cached(
                FindingCode.PHOTO_REMOVED_STILL_IN_SHAREPOINT,
                sharepoint,
                (Action.WAIT, Action.UPLOAD_PHOTO),
            )
        ]
    lagging = (Action.RESYNC_PHOTO, Action.WAIT)
    if placeholder:
        return PhotoVerdict.SHAREPOINT_PLACEHOLDER, [
            _cached(FindingCode.PHOTO_SHAREPOINT_PLACEHOLDER, sharepoint, lagging)
        ]
    return PhotoVerdict.SHAREPOINT_OLDER, [
        _cached(FindingCode.PHOTO_SHAREPOINT_OLDER, sharepoint, lagging)
    ]


def _stored(snapshot: Snapshot) -> StoredCopy:
    """What the legacy library holds compared with the current photo (a fact, §9.1)."""
    graph, sharepoint = snapshot.graph, snapshot.sharepoint
    profile = sharepoint.profile
    if profile is None or sharepoint.stored_error is not None:
        return StoredCopy.UNKNOWN
    if profile.placeholder or sharepoint.stored is None:
        return StoredCopy.NONE
    if graph.photo_error is not None:
        return StoredCopy.UNKNOWN
    current = graph.photo.data if graph.has_photo and graph.photo is not None else None
    match = compare(current, sharepoint.stored.data)
    if match is Match.UNREADABLE:
        return StoredCopy.UNKNOWN
    return StoredCopy.CURRENT if match is Match.SAME else StoredCopy.OLD


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
        stored=_stored(snapshot),
    )
