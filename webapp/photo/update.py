"""Write a photo change to Graph, offer it to SharePoint, then read both back: upload, remove,
undo, retry.

The order and the recovery rules are security.md §5 E: the previous Graph photo is saved in the
operation record before the first write (E1); Graph first, and if it fails SharePoint is not
touched (E2); a SharePoint failure after Graph is a visible partial state with a retry that
uses the stored bytes (E3, forward recovery, no roll-back of Graph); one change per user at a
time (E5); undo writes the previous photo back (E6); "done" only after a read-back (E7).

Since 2024 Graph holds the one photo and SharePoint pages show it through a cache that refreshes
by itself (reference §9.1): the push to SharePoint is an optional step, tried where the tenant
takes it and never for ever, and "done" means SharePoint serves the new photo.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from webapp import audit
from webapp.imaging.fingerprint import Match
from webapp.imaging.pipeline import PhotoRejectedError, PipelineLimits, ProcessedPhoto, normalise
from webapp.microsoft.errors import (
    AuthRequiredError,
    ForbiddenError,
    ThrottledError,
    UpstreamError,
)
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.models import Photo
from webapp.microsoft.sharepoint import MAX_PICTURE_BYTES, SharePointClient
from webapp.photo.operations import (
    Kind,
    Operation,
    OperationBusyError,
    OperationStore,
    Side,
    SideState,
)
from webapp.photo.verify import UNAVAILABLE, error_code, graph_shows, verify

logger = logging.getLogger(__name__)

# The follow-through (issue 6 item 6): the status page keeps reading both services back for this
# long after the last write, at most once per CHECK_INTERVAL, then says what happens next; after
# it, each look at the page reads back once more.
FOLLOW_THROUGH_SECONDS = 120
CHECK_INTERVAL = 4.0

# SetMyProfilePicture is "one attempt, never retried for ever" (reference §9.1): the push, and
# one more when the user asks for it after a failure.
MAX_PUSH_ATTEMPTS = 2

# Re-sync found no Graph photo to copy (the op's SharePoint side is NOT_NEEDED with this code).
NO_GRAPH_PHOTO = "no_graph_photo"


@dataclass(frozen=True)
class Upstreams:
    """The signed-in user's clients, and the sign-in name SharePoint's pictures are asked by."""

    graph: GraphClient
    sharepoint: SharePointClient
    account: str


class Outcome(enum.StrEnum):
    """What the result page says overall; `wording.py` has one sentence per value."""

    WORKING = "working"  # a write is running (a request holds the lock)
    NOT_ALLOWED = "not_allowed"  # the organisation's photo policy refused it: lasting
    INTERRUPTED = "interrupted"  # a write was sent but its request died (E4): retry reconciles
    NOTHING_CHANGED = "nothing_changed"  # Graph failed: neither service changed (E2)
    WAIT_THEN_RETRY = "wait_then_retry"  # throttled beyond the in-request budget (C2)
    PARTIAL = "partial"  # Graph written, SharePoint's push failed: one retry offered (E3)
    CHECKING = "checking"  # written; reading back until SharePoint serves it or time runs out
    VERIFIED = "verified"  # both services show it (E7)
    SHAREPOINT_LATER = "sharepoint_later"  # written; SharePoint's cache catches up by itself


def push_given_up(op: Operation) -> bool:
    """SharePoint did not take the push and its attempts are used up: no more tries (§9.1)."""
    side = op.sharepoint
    return side.state in (SideState.FAILED, SideState.THROTTLED) and (
        side.attempts >= MAX_PUSH_ATTEMPTS
    )


def _open_sides(op: Operation) -> list[Side]:
    """The sides with something left for us to write."""
    sides = [op.graph] if op.writes_graph else []
    if not push_given_up(op):
        sides.append(op.sharepoint)
    return [side for side in sides if not side.state.settled]


def outcome(op: Operation, now: float, running: bool = False) -> Outcome:
    """The page's headline for `op` at `now`; `running`: a request holds the op's lock."""
    if op.verified:
        return Outcome.VERIFIED
    if running:
        return Outcome.WORKING
    if op.graph.state.lasting:
        return Outcome.NOT_ALLOWED
    sides = _open_sides(op)
    if any(side.state is SideState.IN_PROGRESS for side in sides):
        return Outcome.INTERRUPTED
    if any(side.state is SideState.THROTTLED for side in sides):
        return Outcome.WAIT_THEN_RETRY
    if op.nothing_changed:
        return Outcome.NOTHING_CHANGED
    if sides:
        return Outcome.PARTIAL
    if following_through(op, now):
        return Outcome.CHECKING
    return Outcome.SHAREPOINT_LATER


def following_through(op: Operation, now: float) -> bool:
    """Whether the status page should keep checking by itself."""
    if op.verified or not op.settled or op.written_at is None:
        return False
    return now - op.written_at < FOLLOW_THROUGH_SECONDS


def retry_allowed(op: Operation, now: float) -> bool:
    """A retry would write something now (not before a throttled side's `not_before`)."""
    pending = _open_sides(op)
    if not pending or op.undone_by is not None or any(s.state.lasting for s in pending):
        return False
    return all(s.not_before is None or s.not_before <= now for s in pending)


# -- the use cases ------------------------------------------------------------------------------


def upload(
    ops: OperationStore,
    up: Upstreams,
    user: str,
    prepare: Callable[[], ProcessedPhoto],
    form_token: str,
) -> Operation:
    """Show the photo `prepare` makes everywhere: Graph, then SharePoint, then read back.

    `prepare` (the photo pipeline) runs under the user's lock, so one person cannot decode
    several uploads at once (issue 16 item 2); its PhotoRejectedError leaves no record behind.
    Raises OperationBusyError when another change of the user is running, and
    AuthRequiredError (after saving the record) when the user must sign in again.
    """
    op = ops.new(user, Kind.UPLOAD)

    def decode() -> None:
        op.image = prepare().data

    return start(ops, up, op, form_token, prepare=decode)


def remove(ops: OperationStore, up: Upstreams, user: str, form_token: str) -> Operation:
    """Delete the Graph photo (undoable); SharePoint follows Exchange by itself."""
    return start(ops, up, ops.new(user, Kind.REMOVE), form_token)


def undo(
    ops: OperationStore, up: Upstreams, user: str, op_id: str, form_token: str
) -> Operation | None:
    """Put back the photo `op_id` replaced (or remove it when there was none).

    None when `op_id` is not the user's latest change or cannot be undone (any more).
    """
    target = ops.get(user, op_id)
    latest = ops.latest(user)
    again = ops.for_form(user, form_token)
    if again is not None:
        return again
    if target is None or latest is None or latest.id != target.id or not target.undoable:
        return None
    undo_op = ops.new(user, Kind.UNDO, image=target.previous, undo_of=target.id)
    return start(ops, up, undo_op, form_token, undoes=target)


def restore(
    ops: OperationStore, up: Upstreams, user: str, op_id: str, form_token: str
) -> Operation | None:
    """Put back the photo `op_id` replaced, from the copy its record keeps (the history's restore).

    The same lock, form token, write path and limit as undo; unlike undo, any of the person's
    changes whose record is still kept qualifies. None when `op_id` is unknown, expired or
    replaced no photo.
    """
    again = ops.for_form(user, form_token)
    if again is not None:
        return again
    target = ops.get(user, op_id)
    if target is None or not target.restorable:
        return None
    return start(ops, up, ops.new(user, Kind.RESTORE, image=target.previous), form_token)


def retry(ops: OperationStore, up: Upstreams, user: str, op_id: str) -> Operation | None:
    """Continue `op_id` from where it stopped, with the stored bytes (no re-upload, E2/E3).

    None when the op is unknown. A throttled side is not retried before its `not_before`,
    and a change superseded by a later one is not retried at all: it would put the older
    photo back over the newer one (a retry form left open in another tab).
    """
    op = ops.get(user, op_id)
    if op is None:
        return None
    with ops.lock(user, op.id):
        op = ops.get(user, op_id) or op
        if is_latest(ops, op) and retry_allowed(op, ops.clock()):
            try:
                _advance(ops, up, op)
            finally:
                ops.changed(op, retried=True)
    return op


def is_latest(ops: OperationStore, op: Operation) -> bool:
    """Whether `op` is the user's latest change (only that one may still write)."""
    latest = ops.latest(op.user)
    return latest is not None and latest.id == op.id


def follow_up(ops: OperationStore, up: Upstreams, user: str, op_id: str) -> Operation | None:
    """Read back what both services show of a written change not yet seen everywhere.

    Reads only, at most once per CHECK_INTERVAL: by itself during the follow-through, then
    each time the user looks at the page again. None when the op is unknown.
    """
    op = ops.get(user, op_id)
    if op is None or not _check_due(op, ops.clock()):
        return op
    # Under the lock, like every write of the record: a retry running in another tab must
    # not have its states overwritten by this read-back's copy of the record.
    try:
        with ops.lock(user, op.id, checking=True):
            op = ops.get(user, op_id) or op
            if _check_due(op, ops.clock()):
                _check(ops, up, op)
    except OperationBusyError:
        pass  # another request is writing or checking: the next poll looks again
    return op


def _check_due(op: Operation, now: float) -> bool:
    """A read-back is due: the change is written but not yet seen everywhere, and the last
    look is CHECK_INTERVAL old (by itself during the follow-through, and each time the user
    looks at the page after it)."""
    if op.verified or op.written_at is None or op.undone_by is not None or _open_sides(op):
        return False
    return op.checked_at is None or now - op.checked_at >= CHECK_INTERVAL


def start(
    ops: OperationStore,
    up: Upstreams,
    op: Operation,
    form_token: str,
    undoes: Operation | None = None,
    prepare: Callable[[], None] | None = None,
) -> Operation:
    """Run a new op under the user's lock; a repeated form token returns the first op (E5).

    `undoes`: the change this op undoes, marked so under the same lock (every save of a
    record happens under its user's lock). `prepare` runs first under the lock, before
    anything is recorded.
    """
    again = ops.for_form(op.user, form_token)
    if again is not None:
        return again
    with ops.lock(op.user, op.id):
        if prepare is not None:
            prepare()
        if not ops.remember_form(op.user, form_token, op):
            again = ops.for_form(op.user, form_token)
            if again is not None:
                return again
        ops.make_latest(op)
        ops.save(op)
        if undoes is not None:
            undone = ops.get(op.user, undoes.id) or undoes
            undone.undone_by = op.id
            ops.save(undone)
        logger.info("photo op %s (%s) started: %r", op.id, op.kind.value, op)
        try:
            _advance(ops, up, op)
        finally:
            ops.changed(op)
    return op


# -- the steps ------------------------------------------------------------------------------


def _read_graph_photo(
    ops: OperationStore, graph: GraphClient, op: Operation, side: str
) -> tuple[bool, Photo | None]:
    """(read, the Graph photo or None for none); a failure is recorded on `side`."""
    try:
        return True, graph.photo()
    except AuthRequiredError as exc:
        ops.set_side(op, side, state=SideState.FAILED, error=error_code(exc))
        raise
    except UpstreamError as exc:
        _failed(ops, op, side, exc)
        return False, None


def _capture_previous(ops: OperationStore, graph: GraphClient, op: Operation) -> bool:
    """Keep the current Graph photo as the undo copy, saved before any write (E1)."""
    read, photo = _read_graph_photo(ops, graph, op, "graph")
    if not read:
        return False
    op.previous = None if photo is None else photo.data
    op.previous_captured = True
    ops.save(op)
    return True


def _capture_source(ops: OperationStore, graph: GraphClient, op: Operation) -> bool:
    """Re-sync: read the Graph photo to copy, under the lock so no upload slips in between."""
    read, photo = _read_graph_photo(ops, graph, op, "sharepoint")
    if not read:
        return False
    op.source_read = True
    if photo is None:
        op.sharepoint.state, op.sharepoint.error = SideState.NOT_NEEDED, NO_GRAPH_PHOTO
    else:
        op.image = _fit_for_sharepoint(photo.data)
    ops.save(op)
    return photo is not None


def _fit_for_sharepoint(data: bytes) -> bytes:
    """Graph's photo as SharePoint takes it: over 5,000,000 bytes (reference §4.5) re-encoded."""
    if len(data) <= MAX_PICTURE_BYTES:
        return data
    try:
        return normalise(data, None, PipelineLimits()).data
    except PhotoRejectedError:
        return data


def _advance(ops: OperationStore, up: Upstreams, op: Operation) -> None:
    """Graph (if this kind writes it), then the push to SharePoint, then read back.

    Stops at a Graph failure (E2). Whatever the push did, what SharePoint serves is read back:
    a tenant that refuses the push shows the photo by itself (reference §9.1).
    """
    if op.writes_graph:
        if not op.previous_captured and not _capture_previous(ops, up.graph, op):
            return
    elif not op.source_read and not _capture_source(ops, up.graph, op):
        return
    if op.writes_graph and not op.graph.state.settled:
        _write_graph(ops, up.graph, op)
        if not op.graph.state.settled:
            return  # E2: SharePoint is not touched
    if not op.sharepoint.state.settled and not push_given_up(op):
        _push(ops, up, op)
    op.written_at = ops.clock()
    ops.save(op)
    if op.sharepoint.state is not SideState.THROTTLED:
        # SharePoint asked us to wait: a read-back now would only wait too.
        _check(ops, up, op)


def _write_graph(ops: OperationStore, graph: GraphClient, op: Operation) -> None:
    # A worker died after sending the write (E4): look before writing again.
    if op.graph.state is SideState.IN_PROGRESS and graph_shows(graph, op.image) is Match.SAME:
        ops.set_side(op, "graph", state=SideState.DONE, error=None, not_before=None)
        return
    ops.set_side(op, "graph", state=SideState.IN_PROGRESS)
    try:
        if op.image is None:
            graph.delete_photo()
        else:
            graph.put_photo(op.image)
    except AuthRequiredError as exc:
        ops.set_side(op, "graph", state=SideState.FAILED, error=error_code(exc))
        raise
    except ForbiddenError as exc:
        # The tenant's photo policy (photoUpdateSettings: source, allowedRoles; reference
        # §9.1): a user cannot read it beforehand, and no retry or undo changes it.
        ops.set_side(
            op,
            "graph",
            state=SideState.REFUSED_BY_POLICY,
            error=error_code(exc),
            status=exc.status,
            request_id=exc.request_id,
            not_before=None,
        )
        logger.info("photo op %s: the photo policy refused it (%s)", op.id, error_code(exc))
        return
    except UpstreamError as exc:
        _failed(ops, op, "graph", exc)
        return
    ops.set_side(
        op, "graph", state=SideState.DONE, error=None, not_before=None, writes=op.graph.writes + 1
    )
    logger.info("photo op %s: graph written", op.id)
    _written(op, "graph")


def _push(ops: OperationStore, up: Upstreams, op: Operation) -> None:
    """Offer SharePoint the same bytes (SetMyProfilePicture, reference §4.5), one attempt.

    Since 2024 SharePoint refuses or ignores local uploads and shows the Graph photo by itself
    (MC653734, reference §9.1): a refusal is recorded as such, not as a failure. With no photo
    to show (remove) there is nothing to push.
    """
    if op.image is None:
        ops.set_side(op, "sharepoint", state=SideState.DONE, error=None, not_before=None)
        return
    ops.set_side(op, "sharepoint", state=SideState.IN_PROGRESS, attempts=op.sharepoint.attempts + 1)
    try:
        up.sharepoint.set_my_profile_picture(op.image)
    except AuthRequiredError as exc:
        ops.set_side(op, "sharepoint", state=SideState.FAILED, error=error_code(exc))
        raise
    except UpstreamError as exc:
        if not _refused(exc):
            _failed(ops, op, "sharepoint", exc)
            return
        ops.set_side(
            op,
            "sharepoint",
            state=SideState.REFUSED_BY_SHAREPOINT,
            error=error_code(exc),
            status=exc.status,
            request_id=exc.request_id,
            not_before=None,
        )
        _log_refusal(op, exc)
        return
    ops.set_side(
        op,
        "sharepoint",
        state=SideState.DONE,
        error=None,
        not_before=None,
        writes=op.sharepoint.writes + 1,
    )
    logger.info("photo op %s: sharepoint written", op.id)
    _written(op, "sharepoint")


# The security event for a write each kind of change makes (issue 16 item 10).
_EVENTS = {
    Kind.UPLOAD: "photo.written",
    Kind.RESYNC: "photo.written",
    Kind.REMOVE: "photo.removed",
    Kind.UNDO: "photo.undone",
    Kind.RESTORE: "photo.restored",
}


def _written(op: Operation, service: str) -> None:
    audit.event(_EVENTS[op.kind], account=op.user, op=op.id, service=service)


def _refused(exc: UpstreamError) -> bool:
    """SharePoint answered that it will not take the picture: any status but sign-in (401)
    and throttling (429, 503), 5xx included; or it keeps refusing the user's tokens after a
    sign-in round (the loop guard's lasting AccessRefusedError).

    Where local uploads are disabled SharePoint refuses them (reference §9.1: 403 and 5xx both
    seen): one attempt, recorded with its code (issue 14), never a reason for "try again";
    only throttling and no answer at all are failures, tried at most MAX_PUSH_ATTEMPTS times.
    """
    return exc.lasting or (exc.status is not None and exc.status not in (401, 429, 503))


# SharePoint's refusal when the app registration lacks a SharePoint permission (reported for
# SetMyProfilePicture with AllSites.Write alone; issue 14): the admin's to fix, not the user's.
_PERMISSIONS_PROBLEM = "does not have the required permissions to access profile information"


def _log_refusal(op: Operation, exc: UpstreamError) -> None:
    if _PERMISSIONS_PROBLEM in exc.message.lower():
        logger.warning(
            "photo op %s: SharePoint refused the push for lack of app permissions (%s, "
            "request id %s): grant the app registration the SharePoint permission "
            "User.ReadWrite.All and add it to SHAREPOINT_SCOPES (README, app registration)",
            op.id,
            error_code(exc),
            exc.request_id,
        )
        return
    logger.info("photo op %s: sharepoint refused the upload (%s)", op.id, error_code(exc))


def _failed(ops: OperationStore, op: Operation, name: str, exc: UpstreamError) -> None:
    """Record a failed write; throttling beyond the in-request budget becomes `not_before` (C2)."""
    now = ops.clock()
    throttled = isinstance(exc, ThrottledError) or exc.retry_after is not None
    state = SideState.THROTTLED if throttled else SideState.FAILED
    ops.set_side(
        op,
        name,
        state=state,
        error=error_code(exc),
        status=exc.status,
        request_id=exc.request_id,
        not_before=now + (exc.retry_after or 0.0) if throttled else None,
    )
    logger.warning("photo op %s: %s %s (%s)", op.id, name, state.value, error_code(exc))


def _check(ops: OperationStore, up: Upstreams, op: Operation) -> None:
    """Read both services back and mark the sides that show the op's photo as verified.

    SharePoint counts as verified once it serves the photo, whether or not it took the push.
    """
    result = verify(up.graph if op.writes_graph else None, up.sharepoint, up.account, op.image)
    now = ops.clock()
    op.checks += 1
    op.checked_at = now
    op.sharepoint_match = result.sharepoint.value if result.sharepoint else UNAVAILABLE
    fresh_for = result.sharepoint_fresh_for
    op.sharepoint_fresh_until = None if fresh_for is None else now + fresh_for
    if op.writes_graph and result.graph is Match.SAME and op.graph.state.settled:
        op.graph.state = SideState.VERIFIED
    if result.sharepoint is Match.SAME and op.sharepoint.state not in (
        SideState.PENDING,
        SideState.IN_PROGRESS,
    ):
        op.sharepoint.state = SideState.VERIFIED
    ops.save(op)


__all__ = [
    "FOLLOW_THROUGH_SECONDS",
    "OperationBusyError",
    "Outcome",
    "Upstreams",
    "follow_up",
    "is_latest",
    "outcome",
    "remove",
    "restore",
    "retry",
    "retry_allowed",
    "undo",
    "upload",
]
