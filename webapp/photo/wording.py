"""Every sentence the photo pages show: rejections, per-service statuses, outcomes, next steps."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from flask_babel import LazyString, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webapp import wording as vocabulary
from webapp.imaging.fingerprint import Match
from webapp.imaging.pipeline import PipelineLimits, Rejection
from webapp.microsoft.errors import UpstreamError
from webapp.photo.operations import Kind, Operation, Side, SideState
from webapp.photo.update import NO_GRAPH_PHOTO, Outcome, push_given_up
from webapp.photo.verify import UNAVAILABLE
from webapp.wording import PHOTO_REJECTIONS

# Said by the upload page before sending a file over the limit (issue 17).
UPLOAD_TOO_LARGE = _l("The file is larger than %(mb)s MB. Nothing was changed.")


def accepted(limits: PipelineLimits) -> LazyString:
    """What the upload takes, said once on the page and in every refusal."""
    return _l(
        "Use a JPEG, PNG, HEIC/HEIF or WebP photo of up to %(mb)s MB, at least %(px)s pixels "
        "wide and high.",
        mb=limits.max_bytes // (1024 * 1024),
        px=limits.min_side,
    )


def rejection(reason: Rejection, limits: PipelineLimits) -> list[LazyString]:
    """Why the photo was refused, what is accepted, and that nothing changed (security.md B9)."""
    return [PHOTO_REJECTIONS[reason], accepted(limits), _l("Nothing was changed.")]


_SIDE_STATES: dict[SideState, LazyString] = {
    SideState.PENDING: _l("Not changed yet"),
    SideState.IN_PROGRESS: _l("Saving…"),
    SideState.DONE: _l("Saved; checking that it shows"),
    SideState.FAILED: _l("Not saved"),
    SideState.THROTTLED: _l("Microsoft asked us to wait"),
    SideState.VERIFIED: _l("Shows the photo (checked)"),
    SideState.REFUSED_BY_SHAREPOINT: _l("Takes the photo from Microsoft 365 by itself"),
    SideState.NOT_NEEDED: _l("Nothing to change"),
    SideState.REFUSED_BY_POLICY: _l("Not allowed by your organisation; nothing changed"),
}

# CSS class per state (app.css status-ok / status-failed / status-pending).
STATE_CLASSES: dict[SideState, str] = {
    SideState.VERIFIED: "status-ok",
    SideState.NOT_NEEDED: "status-ok",
    SideState.FAILED: "status-failed",
    SideState.REFUSED_BY_POLICY: "status-failed",
}


def side_state(state: SideState) -> LazyString:
    return _SIDE_STATES[state]


def state_class(state: SideState) -> str:
    return STATE_CLASSES.get(state, "status-pending")


_HEADLINES: dict[Outcome, LazyString] = {
    Outcome.WORKING: _l("Your change is being saved…"),
    Outcome.NOT_ALLOWED: _l(
        "Your organisation does not let you change your photo here. Nothing was changed."
    ),
    Outcome.INTERRUPTED: _l("Saving your change was interrupted."),
    Outcome.NOTHING_CHANGED: _l("Microsoft 365 did not take the change. Nothing was changed."),
    Outcome.WAIT_THEN_RETRY: _l("Microsoft asked ProfileFix to wait before saving."),
    Outcome.PARTIAL: _l(
        "Outlook and Teams have the change, but SharePoint could not be updated yet."
    ),
    Outcome.CHECKING: _l("Saved. Checking what Outlook, Teams and SharePoint show…"),
    Outcome.VERIFIED: _l("Done: Outlook, Teams and SharePoint show the same photo."),
    Outcome.SHAREPOINT_LATER: _l(
        "Saved. Outlook and Teams show it; SharePoint still shows the previous picture from its "
        "cache."
    ),
}

_VERIFIED_REMOVED = _l("Done: your photo is removed from Outlook, Teams and SharePoint.")
_LATER_UNCHECKED = _l("Saved. ProfileFix could not see yet what SharePoint shows.")
_RESYNC_NO_PHOTO = _l(
    "Outlook and Teams have no photo of you, so there is nothing to copy to SharePoint."
)

_RESYNC_HEADLINES: dict[Outcome, LazyString] = {
    Outcome.PARTIAL: _l("SharePoint could not be updated yet. Outlook and Teams were not changed."),
    Outcome.VERIFIED: _l("Done: SharePoint shows your current photo."),
    Outcome.CHECKING: _l("Checking what SharePoint shows…"),
    Outcome.SHAREPOINT_LATER: _l("SharePoint still shows an older copy from its cache."),
}
_RESYNC_LATER_UNCHECKED = _l("ProfileFix could not see yet what SharePoint shows.")


def headline(op: Operation, result: Outcome) -> LazyString:
    if op.kind is Kind.RESYNC and op.sharepoint.error == NO_GRAPH_PHOTO:
        return _RESYNC_NO_PHOTO
    if result is Outcome.VERIFIED and op.image is None:
        return _VERIFIED_REMOVED
    if result is Outcome.SHAREPOINT_LATER and op.sharepoint_match != Match.DIFFERENT:
        return _RESYNC_LATER_UNCHECKED if op.kind is Kind.RESYNC else _LATER_UNCHECKED
    if op.kind is Kind.RESYNC and result in _RESYNC_HEADLINES:
        return _RESYNC_HEADLINES[result]
    return _HEADLINES[result]


_SERVED: dict[str, LazyString] = {
    Match.SAME: _l("SharePoint pages show it now (checked)."),
    Match.DIFFERENT: _l(
        "SharePoint pages still show the previous picture, from SharePoint's cache."
    ),
    Match.UNREADABLE: _l("The picture SharePoint serves could not be read."),
    UNAVAILABLE: _l("SharePoint did not answer when ProfileFix looked at what it shows."),
}


def served(op: Operation) -> LazyString | None:
    """What the last read-back found SharePoint serving; None before the first one."""
    if op.sharepoint_match is None or (op.kind is Kind.RESYNC and op.image is None):
        return None
    return _SERVED.get(op.sharepoint_match)


# SharePoint refused the push (reference §9.1: local uploads disabled since MC653734, or the app
# lacks a SharePoint permission, which is logged for the admin; issue 14): one attempt, and not
# a failure, since SharePoint shows the Graph photo by itself.
_REFUSED = _l("SharePoint did not take the copy; it shows your Microsoft 365 photo by itself.")
_GIVEN_UP = _l(
    "SharePoint did not take the photo, so ProfileFix stops sending it. SharePoint pages show "
    "your Microsoft 365 photo by themselves once SharePoint's cache refreshes."
)
_CHECKING = _l("This page checks again by itself. You can leave it; nothing will be lost.")
_NO_TIME_GIVEN = _l(
    "SharePoint serves photos through a cache that refreshes by itself. Microsoft gives no time "
    "for it: look again later with “Check again”."
)
_LOOK_AGAIN_LATER = _l("Look again later with “Check again”.")


def _look_again(op: Operation, now: float) -> LazyString | str:
    """When SharePoint's cached copy may be replaced: what SharePoint said, or no time at all."""
    if op.sharepoint_match != Match.DIFFERENT:
        return _LOOK_AGAIN_LATER
    left = None if op.sharepoint_fresh_until is None else op.sharepoint_fresh_until - now
    if left is None or left <= 0:
        return _NO_TIME_GIVEN
    minutes = math.ceil(left / 60)
    return ngettext(
        "SharePoint serves photos through a cache that refreshes by itself. SharePoint says it "
        "may keep its copy for up to %(num)d more minute: look again then with “Check again”.",
        "SharePoint serves photos through a cache that refreshes by itself. SharePoint says it "
        "may keep its copy for up to %(num)d more minutes: look again then with “Check again”.",
        minutes,
    )


def next_steps(op: Operation, result: Outcome, now: float) -> list[LazyString | str]:
    """What happens next and what the user can do, in the order the page shows them."""
    if op.kind is Kind.RESYNC and op.sharepoint.error == NO_GRAPH_PHOTO:
        return [_l("Upload a photo instead; ProfileFix then updates every service.")]
    if result is Outcome.NOT_ALLOWED:
        # Who may change photos is the tenant's photoUpdateSettings, which a user cannot read
        # (reference §9.1): name who can find out and act, not a role we cannot see.
        return [
            _l(
                "Your photo stays as it is everywhere. Photos in your organisation are changed "
                "by an administrator or come from another system: ask your helpdesk, and give "
                "them the summary below."
            )
        ]
    if result is Outcome.INTERRUPTED:
        return [
            _l(
                "Press “Try again” to finish it. ProfileFix first checks what Microsoft 365 "
                "already has, so nothing is saved twice, and your photo is kept."
            )
        ]
    if result is Outcome.NOTHING_CHANGED:
        return [
            _l(
                "Your previous photo is still shown everywhere. You can try again: the photo "
                "is kept, so you need not upload it again."
            )
        ]
    if result is Outcome.WAIT_THEN_RETRY:
        not_before = max(s.not_before or 0.0 for s in (op.graph, op.sharepoint))
        minutes = max(1, math.ceil((not_before - now) / 60))
        return [
            _l(
                "Please come back in %(minutes)s minutes and press “Try again”. Your photo is "
                "kept until then.",
                minutes=minutes,
            )
        ]
    if result is Outcome.PARTIAL:
        return [
            _l(
                "Press “Try again” to send the same photo to SharePoint once more. If you do "
                "nothing, SharePoint pages show your Microsoft 365 photo by themselves once "
                "SharePoint's cache refreshes; Microsoft gives no time for it."
            )
        ]
    if result is Outcome.VERIFIED:
        return [
            _l(
                "Colleagues' Teams apps and browsers keep their own copies for a while, so some "
                "may still see the old photo until those refresh."
            )
        ]
    steps: list[LazyString | str] = []
    if op.sharepoint.state is SideState.REFUSED_BY_SHAREPOINT:
        steps.append(_REFUSED)
    if push_given_up(op):
        steps.append(_GIVEN_UP)
    if result in (Outcome.CHECKING, Outcome.WORKING):
        steps.append(_CHECKING)
    else:
        steps.append(_look_again(op, now))
    return steps


BUSY = _l("Another change of your photo is still being saved. Here is its progress.")
UNDO_NOT_POSSIBLE = _l("This change can no longer be undone. Nothing was changed.")
RESTORE_NOT_POSSIBLE = _l(
    "That photo is no longer kept, so it cannot be put back. Nothing was changed."
)


def rate_limited(minutes: int) -> LazyString:
    """The 429 page's sentence (security.md C9): when the next change will be accepted."""
    return _l(
        "You have changed your photo many times in a short while. To protect your account, "
        "ProfileFix accepts the next change in %(minutes)s minutes.",
        minutes=minutes,
    )


KIND_TITLES: dict[Kind, LazyString] = {
    Kind.UPLOAD: _l("Your new photo"),
    Kind.RESYNC: _l("Show your current photo in SharePoint"),
    Kind.REMOVE: _l("Remove your photo"),
    Kind.UNDO: _l("Undo your last change"),
    Kind.RESTORE: _l("Restore an earlier photo"),
}


def _reportable(side: Side) -> bool:
    """A step the helpdesk should hear about: a failure or a refusal that lasts, but not
    SharePoint declining a copy it does not need (reference §9.1), unless it refused the
    user's tokens (401)."""
    return side.state is not SideState.REFUSED_BY_SHAREPOINT or side.status == 401


def helpdesk_summary(
    op: Operation,
    result: Outcome,
    *,
    name: str,
    username: str,
    ticket: str | None,
    version: str,
) -> str | None:
    """Plain text for a helpdesk ticket when a service refused or failed the change: what
    was asked, what happened, and each refusal's status, code and Microsoft's request id.
    None when no side has anything to report. Holds no photo and no token."""
    sides = [("graph", op.graph), ("sharepoint", op.sharepoint)]
    failures = [
        # The side's error code is "<service>:<status>:<code>" (photo/verify.py).
        UpstreamError(service, side.status, side.error.split(":", 2)[-1], "", side.request_id)
        for service, side in sides
        if side.error and side.status and _reportable(side)
    ]
    if not failures:
        return None
    change = _(
        "Photo change: %(kind)s: %(headline)s [%(code)s]",
        kind=KIND_TITLES[op.kind],
        headline=headline(op, result),
        code=result.value,
    )
    return vocabulary.helpdesk_summary(
        [change],
        name=name,
        username=username,
        ticket=ticket,
        taken_at=datetime.now(UTC),
        failures=failures,
        version=version,
    )
