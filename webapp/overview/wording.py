"""Every sentence a user reads about the diagnosis of their photo and profile details.

The diagnosis speaks in codes and parameters; this module turns them into translated text
(Flask-Babel, English source strings), so templates never hold the logic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import assert_never

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from webapp import wording as vocabulary
from webapp.microsoft.models import SharePointProfile
from webapp.microsoft.properties import Attribute, AttributeRow, RowState
from webapp.overview.diagnosis import (
    Action,
    AttributeVerdict,
    Diagnosis,
    Finding,
    FindingCode,
    Helpdesk,
    Limit,
    PhotoVerdict,
    StoredCopy,
)
from webapp.overview.snapshot import Snapshot
from webapp.wording import service_name, value

VERDICTS = {
    PhotoVerdict.IN_SYNC: _l("SharePoint shows your current photo, the same as Outlook and Teams."),
    PhotoVerdict.SHAREPOINT_OLDER: _l(
        "SharePoint still shows an older copy of your photo from its cache."
    ),
    PhotoVerdict.SHAREPOINT_PLACEHOLDER: _l(
        "SharePoint shows a placeholder instead of your photo."
    ),
    PhotoVerdict.NO_PHOTO_ANYWHERE: _l("You have no profile photo in Microsoft 365 yet."),
    PhotoVerdict.CANNOT_TELL: _l("We cannot tell right now which photo SharePoint shows."),
}

ATTRIBUTE_VERDICTS = {
    AttributeVerdict.IN_SYNC: _l("SharePoint shows the same profile details as Entra ID."),
    AttributeVerdict.DIFFERS: _l(
        "SharePoint shows some profile details that differ from Entra ID."
    ),
    AttributeVerdict.CANNOT_TELL: _l("We cannot compare your profile details right now."),
}

ATTRIBUTES = {
    Attribute.DISPLAY_NAME: _l("Display name"),
    Attribute.FIRST_NAME: _l("First name"),
    Attribute.LAST_NAME: _l("Last name"),
    Attribute.JOB_TITLE: _l("Job title"),
    Attribute.DEPARTMENT: _l("Department"),
    Attribute.OFFICE: _l("Office"),
    Attribute.BUSINESS_PHONE: _l("Business phone"),
    Attribute.MOBILE_PHONE: _l("Mobile phone"),
    Attribute.EMAIL: _l("Email"),
    Attribute.USER_PRINCIPAL_NAME: _l("Sign-in name (UPN)"),
    Attribute.MANAGER: _l("Manager"),
}

ROW_STATES = {
    RowState.SAME: _l("Same"),
    RowState.DIFFERS: _l("Differs"),
    RowState.NOT_SYNCED: _l("Differs, not synced"),
    RowState.SHAREPOINT_ONLY: _l("Shown by SharePoint only"),
    RowState.UNAVAILABLE: _l("Not compared"),
}

ACTION_LABELS = {
    Action.RESYNC_PHOTO: _l("Make SharePoint show my current photo now"),
    Action.UPLOAD_PHOTO: _l("Upload a new photo"),
    Action.RETRY: _l("Try again"),
}


def verdict(value: PhotoVerdict) -> str:
    return str(VERDICTS[value])


def attribute_verdict(value: AttributeVerdict) -> str:
    return str(ATTRIBUTE_VERDICTS[value])


def attribute_name(attribute: Attribute) -> str:
    return str(ATTRIBUTES[attribute])


def row_state(state: RowState) -> str:
    return str(ROW_STATES[state])


def _attribute(finding: Finding) -> Attribute:
    """The attribute an attribute finding is about."""
    attribute = finding.params["attribute"]
    if not isinstance(attribute, Attribute):
        raise TypeError(f"{finding.code} names no attribute")
    return attribute


def finding_meaning(finding: Finding) -> str:
    """What a finding means, in one or two sentences."""
    p = finding.params
    code = finding.code
    if code is FindingCode.PHOTO_IN_SYNC:
        return _(
            "SharePoint serves the same picture as Outlook and Teams (each service keeps its own "
            "resized copy). A SharePoint page opened earlier may show an older picture until it "
            "is reloaded."
        )
    if code is FindingCode.PHOTO_SHAREPOINT_OLDER:
        return _(
            "Outlook, Teams and the rest of Microsoft 365 already show your current photo. "
            "SharePoint pages still show an older copy from SharePoint's cache, which refreshes "
            "by itself."
        )
    if code is FindingCode.PHOTO_REMOVED_STILL_IN_SHAREPOINT:
        return _(
            "You have no photo in Outlook and Teams any more, but SharePoint pages still show an "
            "older copy from SharePoint's cache. They show the placeholder once the cache "
            "refreshes by itself."
        )
    if code is FindingCode.PHOTO_SHAREPOINT_PLACEHOLDER:
        return _(
            "Outlook and Teams show your photo, but SharePoint pages still show a placeholder "
            "from SharePoint's cache, which refreshes by itself."
        )
    if code is FindingCode.PHOTO_NONE_ANYWHERE:
        return _(
            "Neither Outlook and Teams nor SharePoint has a photo of you, so everyone sees your "
            "initials or a placeholder."
        )
    if code is FindingCode.PHOTO_GRAPH_UNAVAILABLE:
        return _(
            "%(service)s could not be read, so we cannot compare your photos.",
            service=service_name("graph"),
        )
    if code is FindingCode.PHOTO_SHAREPOINT_UNAVAILABLE:
        return _(
            "%(service)s could not be read, so we cannot compare your photos.",
            service=service_name("sharepoint"),
        )
    if code is FindingCode.PHOTO_UNREADABLE:
        return _("One of the pictures could not be read, so we cannot compare them.")
    if code is FindingCode.ATTRIBUTES_IN_SYNC:
        return _("Every profile detail SharePoint copies from Entra ID matches.")
    if code is FindingCode.ATTRIBUTE_DIFFERS:
        return _(
            "%(attribute)s is “%(graph)s” in Entra ID but “%(sharepoint)s” in SharePoint.",
            attribute=attribute_name(_attribute(finding)),
            graph=value(p["graph_value"]),
            sharepoint=value(p["sharepoint_value"]),
        )
    if code is FindingCode.ATTRIBUTE_NOT_SYNCED:
        return _(
            "%(attribute)s is “%(graph)s” in Entra ID and “%(sharepoint)s” in SharePoint. "
            "Microsoft does not copy this detail to SharePoint by default.",
            attribute=attribute_name(_attribute(finding)),
            graph=value(p["graph_value"]),
            sharepoint=value(p["sharepoint_value"]),
        )
    if code is FindingCode.ATTRIBUTES_UNAVAILABLE:
        return _(
            "%(service)s could not be read, so we cannot compare your profile details.",
            service=service_name(str(p["service"])),
        )
    assert_never(code)


def action_label(action: Action) -> str:
    """The label of a link or button for an action taken here (not WAIT)."""
    return str(ACTION_LABELS[action])


def wait_text(finding: Finding) -> str:
    """What waiting brings. Microsoft states no time for either (reference §5.5, §9.1)."""
    if finding.code is FindingCode.ATTRIBUTE_DIFFERS:
        return _(
            "Or wait: SharePoint's profile import copies changes from Entra ID in batches, and "
            "Microsoft does not guarantee when."
        )
    fresh_for = finding.params.get("fresh_for")
    if isinstance(fresh_for, int) and fresh_for > 0:
        minutes = math.ceil(fresh_for / 60)
        return ngettext(
            "Or wait: SharePoint refreshes its copy by itself. Microsoft gives no time for it, "
            "but SharePoint says it may keep this copy for up to %(num)d more minute. Then "
            "reload the SharePoint page.",
            "Or wait: SharePoint refreshes its copy by itself. Microsoft gives no time for it, "
            "but SharePoint says it may keep this copy for up to %(num)d more minutes. Then "
            "reload the SharePoint page.",
            minutes,
        )
    return _(
        "Or wait: SharePoint refreshes its copy by itself. Microsoft gives no time for it; "
        "reload the SharePoint page later."
    )


def limit_text(limit: Limit, finding: Finding) -> str:
    """What the user cannot do about a finding here, and why."""
    if limit is Limit.SHAREPOINT_CACHE:
        return _(
            "You cannot empty SharePoint's cache, here or in SharePoint: it refreshes by itself."
        )
    attribute = attribute_name(_attribute(finding))
    if limit is Limit.ATTRIBUTE_FROM_DIRECTORY:
        return _(
            "You cannot change %(attribute)s in SharePoint: it comes from Entra ID with "
            "SharePoint's profile import, which overwrites changes made in SharePoint.",
            attribute=attribute,
        )
    if limit is Limit.ATTRIBUTE_NOT_SYNCED:
        return _(
            "SharePoint will keep its own value unless your administrators set up copying "
            "%(attribute)s from Entra ID.",
            attribute=attribute,
        )
    assert_never(limit)


def helpdesk_text(finding: Finding) -> str | None:
    """When to contact the helpdesk about a finding; None when there is no need."""
    advice = finding.helpdesk
    if advice is Helpdesk.NOT_NEEDED:
        return None
    if advice is Helpdesk.PICTURE_SYNC:
        return _(
            "Contact your helpdesk if SharePoint keeps showing the wrong picture: an "
            "administrator can check it with Microsoft's Picture Sync diagnostic."
        )
    if advice is Helpdesk.AFTER_HOURS:
        return _(
            "Contact your helpdesk if it still differs %(hours)d hours after the change was "
            "made in Entra ID, or if the Entra ID value itself is wrong.",
            hours=finding.params["helpdesk_after_hours"],
        )
    if advice is Helpdesk.IF_NEEDED:
        return _("Contact your helpdesk if you need SharePoint to show it.")
    if advice is Helpdesk.IF_IT_PERSISTS:
        return _(
            "Contact your helpdesk if this keeps happening, and copy the summary below into it."
        )
    assert_never(advice)


STORED_COPIES = {
    StoredCopy.NONE: _l("SharePoint's old picture library holds no picture of you."),
    StoredCopy.CURRENT: _l("SharePoint's old picture library holds a copy of your current photo."),
    StoredCopy.OLD: _l(
        "An old copy of your photo is still stored here. SharePoint pages show the picture "
        "above, not this copy."
    ),
    StoredCopy.UNKNOWN: _l("What SharePoint's old picture library holds could not be read."),
}


def stored_copy(value: StoredCopy) -> str:
    """What the legacy picture library holds, in words (a fact, reference §9.1)."""
    return str(STORED_COPIES[value])


def placeholder_state(profile: SharePointProfile) -> str:
    """`SPS-PicturePlaceholderState` and `PictureURL` in words (reference §4.3)."""
    if profile.placeholder:
        return _("The profile names no stored picture of you.")
    return _("The profile names a stored picture.")


def exchange_sync_state(state: str | None) -> str:
    """`SPS-PictureExchangeSyncState` in words (reference §4.3)."""
    if state == "1":
        return _("The stored picture was taken from Exchange (Outlook and Teams).")
    if state == "0":
        return _("The stored picture was uploaded to SharePoint, not taken from Exchange.")
    return _("SharePoint does not say where the stored picture came from.")


def _differing_lines(rows: Iterable[AttributeRow]) -> list[str]:
    return [
        _(
            "%(attribute)s (%(graph_property)s → %(sharepoint_property)s): Entra ID “%(graph)s”, "
            "SharePoint “%(sharepoint)s” — %(state)s",
            attribute=attribute_name(row.attribute),
            graph_property=row.graph_property or "-",
            sharepoint_property=row.sharepoint_property,
            graph=value(row.graph_value),
            sharepoint=value(row.sharepoint_value),
            state=row_state(row.state),
        )
        for row in rows
    ]


def helpdesk_summary(
    diagnosis: Diagnosis,
    snapshot: Snapshot,
    *,
    name: str,
    username: str,
    ticket: str | None,
    version: str,
    recent_changes: Iterable[str] = (),
) -> str:
    """The shared helpdesk summary (`webapp.wording`) with the verdicts, the pictures' details,
    the differing values and the person's latest changes (lines from changes/wording.py)."""
    lines = [
        _(
            "Photo: %(verdict)s [%(code)s]",
            verdict=verdict(diagnosis.verdict),
            code=diagnosis.verdict,
        )
    ]
    meta = snapshot.graph.photo_meta
    if meta is not None:
        lines.append(
            "  "
            + _(
                "Outlook and Teams photo: %(width)d×%(height)d %(type)s, ETag %(etag)s",
                width=meta.width,
                height=meta.height,
                type=meta.content_type or "-",
                etag=meta.etag or "-",
            )
        )
    shown = snapshot.sharepoint.shown
    if shown is not None:
        lines.append(
            "  "
            + _(
                "SharePoint serves: %(type)s, %(bytes)d bytes, cache max-age %(age)s s",
                type=shown.content_type or "-",
                bytes=len(shown.data),
                age=shown.fresh_for if shown.fresh_for is not None else "-",
            )
        )
    profile = snapshot.sharepoint.profile
    if profile is not None:
        taken = profile.picture_timestamp
        lines.append(
            "  "
            + _(
                "SharePoint's old picture library: %(url)s, stored %(taken)s, placeholder state "
                "%(placeholder)s, Exchange sync state %(sync)s",
                url=profile.picture_url or "-",
                taken=taken.strftime("%Y-%m-%d %H:%M UTC") if taken else "-",
                placeholder=profile.properties.get("SPS-PicturePlaceholderState") or "-",
                sync=profile.exchange_sync_state or "-",
            )
        )
    lines.append(
        _(
            "Profile details: %(verdict)s [%(code)s]",
            verdict=attribute_verdict(diagnosis.attributes),
            code=diagnosis.attributes,
        )
    )
    lines.extend(f"  {line}" for line in _differing_lines(diagnosis.differing_rows))
    graph, sharepoint = snapshot.graph, snapshot.sharepoint
    return vocabulary.helpdesk_summary(
        lines,
        name=name,
        username=username,
        ticket=ticket,
        taken_at=snapshot.taken_at,
        failures=(
            graph.profile_error,
            graph.photo_error,
            sharepoint.served_error,
            sharepoint.placeholder_error,
            sharepoint.profile_error,
            sharepoint.stored_error,
        ),
        version=version,
        recent_changes=recent_changes,
    )
