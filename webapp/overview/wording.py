"""Every sentence a user reads about the diagnosis of their photo and profile details.

The diagnosis speaks in codes and parameters; this module turns them into translated text
(Flask-Babel, English source strings), so templates never hold the logic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import assert_never

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

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
)
from webapp.overview.snapshot import Snapshot
from webapp.wording import service_name, value, when

VERDICTS = {
    PhotoVerdict.IN_SYNC: _l("SharePoint shows the same photo as Outlook and Teams."),
    PhotoVerdict.SHAREPOINT_OLDER: _l("SharePoint shows an older photo than Outlook and Teams."),
    PhotoVerdict.SHAREPOINT_PLACEHOLDER: _l(
        "SharePoint shows a placeholder instead of your photo."
    ),
    PhotoVerdict.NO_PHOTO_ANYWHERE: _l("You have no profile photo in Microsoft 365 yet."),
    PhotoVerdict.CANNOT_TELL: _l("We cannot tell right now whether your photo is in sync."),
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
    Action.RESYNC_PHOTO: _l("Push your photo to SharePoint now"),
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


def finding_meaning(finding: Finding) -> str:
    """What a finding means, in one or two sentences."""
    p = finding.params
    code = finding.code
    if code is FindingCode.PHOTO_IN_SYNC:
        return _(
            "Both show the same picture (each service stores its own resized copy). If a "
            "SharePoint page still shows an old picture, it is a cached copy: SharePoint keeps "
            "photos for about %(hours)d hours.",
            hours=p["cache_hours"],
        )
    if code is FindingCode.PHOTO_SHAREPOINT_OLDER:
        return _(
            "Outlook and Teams show your current photo, SharePoint still shows the picture it "
            "took on %(date)s. SharePoint copies your photo from Exchange by itself, at most "
            "once every %(pull)d hours, and Microsoft says it can take up to %(worst)d hours.",
            date=when(p["picture_taken_at"]),  # type: ignore[arg-type]
            pull=p["pull_hours"],
            worst=p["worst_case_hours"],
        )
    if code is FindingCode.PHOTO_REMOVED_STILL_IN_SHAREPOINT:
        return _(
            "You have no photo in Outlook and Teams, but SharePoint still shows the picture it "
            "took on %(date)s. SharePoint only replaces its picture when there is a new photo.",
            date=when(p["picture_taken_at"]),  # type: ignore[arg-type]
        )
    if code is FindingCode.PHOTO_SHAREPOINT_PLACEHOLDER:
        return _(
            "Outlook and Teams show your photo, SharePoint shows a placeholder. SharePoint copies "
            "your photo from Exchange by itself, at most once every %(pull)d hours, and Microsoft "
            "says it can take up to %(worst)d hours.",
            pull=p["pull_hours"],
            worst=p["worst_case_hours"],
        )
    if code is FindingCode.PHOTO_NONE_ANYWHERE:
        return _(
            "Neither Outlook and Teams nor SharePoint has a photo of you, so everyone sees your "
            "initials or a placeholder."
        )
    if code is FindingCode.PHOTO_NOT_FROM_EXCHANGE:
        return _(
            "SharePoint does not take your photo from Exchange (this happens for accounts "
            "without an Exchange Online mailbox), so waiting will not fix it: the photo has to "
            "be pushed to SharePoint."
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
            attribute=attribute_name(p["attribute"]),  # type: ignore[arg-type]
            graph=value(p["graph_value"]),
            sharepoint=value(p["sharepoint_value"]),
        )
    if code is FindingCode.ATTRIBUTE_NOT_SYNCED:
        return _(
            "%(attribute)s is “%(graph)s” in Entra ID and “%(sharepoint)s” in SharePoint. "
            "Microsoft does not copy this detail to SharePoint by default.",
            attribute=attribute_name(p["attribute"]),  # type: ignore[arg-type]
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
    """What waiting brings, with Microsoft's stated timings (reference §5.2, §5.5)."""
    if finding.code is FindingCode.ATTRIBUTE_DIFFERS:
        return _(
            "Or wait: SharePoint's profile import copies changes from Entra ID in batches, and "
            "Microsoft does not guarantee when."
        )
    return _(
        "Or wait: SharePoint takes your photo from Exchange when you open your own SharePoint "
        "profile, at most once every %(pull)d hours; Microsoft says up to %(worst)d hours.",
        pull=finding.params["pull_hours"],
        worst=finding.params["worst_case_hours"],
    )


def limit_text(limit: Limit, finding: Finding) -> str:
    """What the user cannot do about a finding here, and why."""
    if limit is Limit.SHAREPOINT_SCHEDULE:
        return _(
            "You cannot make SharePoint fetch your photo on demand: the re-sync asks it early "
            "and gives it a copy, SharePoint decides when pages show it."
        )
    if limit is Limit.REMOVE_SHAREPOINT_PICTURE:
        return _("You cannot remove the old picture from SharePoint yourself.")
    attribute = attribute_name(finding.params["attribute"])  # type: ignore[arg-type]
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
    if advice is Helpdesk.NOW:
        return _(
            "Contact your helpdesk if the old picture must go now: an administrator can remove it."
        )
    if advice is Helpdesk.AFTER_HOURS:
        hours = finding.params["helpdesk_after_hours"]
        if finding.code is FindingCode.ATTRIBUTE_DIFFERS:
            return _(
                "Contact your helpdesk if it still differs %(hours)d hours after the change was "
                "made in Entra ID, or if the Entra ID value itself is wrong.",
                hours=hours,
            )
        return _(
            "Contact your helpdesk if SharePoint still shows the wrong picture %(hours)d hours "
            "after you changed your photo.",
            hours=hours,
        )
    if advice is Helpdesk.IF_NEEDED:
        return _("Contact your helpdesk if you need SharePoint to show it.")
    if advice is Helpdesk.IF_IT_PERSISTS:
        return _(
            "Contact your helpdesk if this keeps happening, and copy the summary below into it."
        )
    assert_never(advice)


def placeholder_state(profile: SharePointProfile) -> str:
    """`SPS-PicturePlaceholderState` in words (reference §4.3)."""
    if profile.placeholder:
        return _("SharePoint shows a placeholder, not a picture of you.")
    return _("SharePoint shows a picture it stored.")


def exchange_sync_state(state: str | None) -> str:
    """`SPS-PictureExchangeSyncState` in words (reference §4.3, §5.2, §5.3)."""
    if state == "1":
        return _("SharePoint takes your photo from Exchange (Outlook and Teams) by itself.")
    if state == "0":
        return _("SharePoint does not take your photo from Exchange; it keeps its own picture.")
    return _("SharePoint does not say where it takes your photo from.")


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
    profile = snapshot.sharepoint.profile
    if profile is not None:
        taken = profile.picture_timestamp
        lines.append(
            "  "
            + _(
                "SharePoint picture: %(url)s, taken %(taken)s, placeholder state "
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
            sharepoint.profile_error,
            sharepoint.picture_error,
        ),
        version=version,
        recent_changes=recent_changes,
    )
