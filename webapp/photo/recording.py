"""What photo changes tell the person's history: one entry per run of a change, with what each
step achieved at each service, thumbnails of the new and the previous photo, and refusals."""

from __future__ import annotations

import logging
from typing import Any

from webapp.changes.log import EntryKind, HistoryLog, Refusal, Step
from webapp.imaging.pipeline import Rejection
from webapp.photo.operations import FINISHED_TTL, Kind, Operation, Side, SideState
from webapp.photo.update import NO_GRAPH_PHOTO

logger = logging.getLogger(__name__)

_KINDS = {
    Kind.UPLOAD: EntryKind.PHOTO_UPLOADED,
    Kind.REMOVE: EntryKind.PHOTO_REMOVED,
    Kind.UNDO: EntryKind.PHOTO_UNDONE,
    Kind.RESTORE: EntryKind.PHOTO_RESTORED,
    Kind.RESYNC: EntryKind.PHOTO_RESYNCED,
}

_STEPS = {
    SideState.PENDING: Step.NOT_REACHED,
    SideState.IN_PROGRESS: Step.INTERRUPTED,
    SideState.DONE: Step.WRITTEN,
    SideState.FAILED: Step.FAILED,
    SideState.THROTTLED: Step.WAITING,
    SideState.VERIFIED: Step.VERIFIED,
    SideState.REFUSED_BY_SHAREPOINT: Step.TAKES_FROM_MICROSOFT_365,
    SideState.NOT_NEEDED: Step.NOT_NEEDED,
    SideState.REFUSED_BY_POLICY: Step.REFUSED,
}


def step(op: Operation, name: str) -> Step:
    """What the change achieved at `name` ("graph" or "sharepoint") so far."""
    side: Side = getattr(op, name)
    if side.state is SideState.FAILED and side.status == 403:
        return Step.REFUSED  # a record from before REFUSED_BY_POLICY: the same 403
    if side.state is SideState.NOT_NEEDED and side.error == NO_GRAPH_PHOTO:
        return Step.NOTHING_TO_COPY
    if name == "sharepoint" and op.image is None and side.state is SideState.DONE:
        return Step.TAKES_FROM_MICROSOFT_365  # no photo to push: SharePoint follows by itself
    return _STEPS[side.state]


def details(op: Operation, retried: bool, now: float) -> dict[str, Any]:
    """The entry's details: the op, each step (with Microsoft's code and request id when it
    failed), and until when the replaced photo can be put back from the history."""
    names = ("graph", "sharepoint") if op.writes_graph else ("sharepoint",)
    steps: dict[str, dict[str, str]] = {}
    for name in names:
        side: Side = getattr(op, name)
        record = {"step": step(op, name).value}
        if side.error and side.error != NO_GRAPH_PHOTO:
            record["code"] = side.error
        if side.request_id:
            record["request_id"] = side.request_id
        steps[name] = record
    found: dict[str, Any] = {"op": op.id, "steps": steps}
    if retried:
        found["of"] = _KINDS[op.kind].value
    elif op.restorable and step(op, "graph") is not Step.REFUSED:
        # The record keeps the replaced photo at least this long after its last save
        # (operations.py: FINISHED_TTL for a finished change, longer for an unfinished one).
        # Offered even when Graph failed for now: a "Try again" may still replace it. Not
        # when the organisation refused the change: nothing was replaced, nothing can be.
        found["restorable_until"] = now + FINISHED_TTL
    return found


def record(
    history: HistoryLog, op: Operation, retried: bool, *, request_id: str | None
) -> str | None:
    """One entry for one run of `op`; a retry carries no thumbnails (the change already did).

    Never raises: it runs as the change ends, and the change matters more than its entry.
    """
    try:
        kind = EntryKind.PHOTO_RETRIED if retried else _KINDS[op.kind]
        found = details(op, retried, history.clock())
    except (KeyError, ValueError) as exc:  # a kind or state this module does not know yet
        logger.warning("photo op %s not recorded: %s", op.id, type(exc).__name__)
        return None
    return history.record(
        op.user,
        kind,
        found,
        request_id=request_id,
        new_photo=None if retried else op.image,
        previous_photo=None if retried or not op.writes_graph else op.previous,
    )


def record_rejected(
    history: HistoryLog, user: str, reason: Rejection, *, request_id: str | None
) -> str | None:
    """A photo file the app refused (type, size, pixels): nothing was sent to Microsoft."""
    return history.record(
        user,
        EntryKind.REFUSED,
        {"reason": Refusal.PHOTO_REJECTED.value, "code": reason.value},
        request_id=request_id,
    )


def record_limited(
    history: HistoryLog, user: str, subject: str, wait: int, *, request_id: str | None
) -> str | None:
    """The per-person limit refused a change (`subject`: "photo" or "resync"); only the first
    refusal until the limit lifts is kept."""
    return history.record(
        user,
        EntryKind.REFUSED,
        {"reason": Refusal.RATE_LIMIT.value, "subject": subject},
        request_id=request_id,
        once_per=(f"limit:{subject}", max(1, wait)),
    )
