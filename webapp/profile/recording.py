"""What a profile save tells the person's history: each field saved with its old and new value,
and the fields Microsoft refused or failed to store. Only the person's own fields are written,
so only their values are kept."""

from __future__ import annotations

from typing import Any

from webapp.changes.log import EntryKind, HistoryLog, Refusal
from webapp.profile.saving import SaveResult
from webapp.profile.values import Birthday, Value


def plain(value: Value) -> str | list[str] | None:
    """A value as the history keeps it: text, a list of items, or a birthday in ISO 8601's
    year-less form `--MM-DD` (day and month are all a birthday holds, reference §9.3); None
    when empty."""
    if isinstance(value, Birthday):
        return f"--{value.month:02d}-{value.day:02d}"
    if isinstance(value, tuple):
        return list(value) or None
    return value or None


def record_save(
    history: HistoryLog, user: str, result: SaveResult, *, request_id: str | None
) -> str | None:
    """One entry when the save sent anything to Microsoft; nothing for a save that wrote
    nothing (no change, a conflict, a typing mistake shown on the form)."""
    written = (*result.saved, *result.not_confirmed, *result.failed)
    if not written and not result.refused:
        return None
    if not written:
        details: dict[str, Any] = {
            "reason": Refusal.POLICY.value,
            "fields": {name: refusal.value for name, refusal in result.refused.items()},
        }
        return history.record(user, EntryKind.REFUSED, details, request_id=request_id)
    details = {
        "changes": [
            {
                "field": name,
                "old": plain(result.before.get(name)),
                "new": plain(result.submitted.get(name)),
            }
            for name in result.saved
        ]
    }
    if result.not_confirmed:
        details["not_confirmed"] = list(result.not_confirmed)
    if result.refused:
        details["refused"] = {name: refusal.value for name, refusal in result.refused.items()}
    if result.failed:
        details["failed"] = {
            name: {
                "code": f"{exc.service}:{exc.status or 0}:{exc.code or type(exc).__name__}",
                "request_id": exc.request_id,
            }
            for name, exc in result.failed.items()
        }
    return history.record(user, EntryKind.PROFILE_SAVED, details, request_id=request_id)
