"""Each person's change history: one entry per change made through the app, kept a bounded time.

The photo and profile features record (photo written, removed, undone, restored, re-synced,
a step retried; profile fields saved; refusals by policy or limit); the history page and the
helpdesk summary read. An entry holds codes and plain values (`wording.py` makes sentences),
the time, the request id and, for photos, 96 px thumbnails of the new and the previous photo:
never a token, never an original upload.

Stored as an append-only stream per person (`Store.append`): the newest `max_entries` entries,
none older than `days` (settings HISTORY_MAX_ENTRIES, HISTORY_DAYS). Recording never fails the
change it describes: an entry the store cannot take is logged and dropped.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from webapp.imaging.thumbnail import thumbnail
from webapp.store import STREAM_ID, Store

logger = logging.getLogger(__name__)

DAY = 24 * 3600
PICTURES = ("new", "previous")


class EntryKind(StrEnum):
    """What the person did; `wording.py` has a title per value."""

    PHOTO_UPLOADED = "photo_uploaded"
    PHOTO_REMOVED = "photo_removed"
    PHOTO_UNDONE = "photo_undone"
    PHOTO_RESTORED = "photo_restored"
    PHOTO_RESYNCED = "photo_resynced"
    # "Try again" finished an earlier photo change; `details["of"]` names that change's kind.
    PHOTO_RETRIED = "photo_retried"
    PROFILE_SAVED = "profile_saved"
    # Nothing was changed: a limit or the organisation's policy refused it (`details["reason"]`).
    REFUSED = "refused"


class Step(StrEnum):
    """What one step of a photo change achieved at one service when the entry was written."""

    WRITTEN = "written"
    VERIFIED = "verified"  # written and read back showing the photo
    FAILED = "failed"
    WAITING = "waiting"  # Microsoft asked us to wait; "Try again" later
    REFUSED = "refused"  # the organisation does not allow it (403)
    TAKES_FROM_MICROSOFT_365 = "takes_from_microsoft_365"  # SharePoint refused the push
    NOT_REACHED = "not_reached"  # an earlier step failed, so this one was not tried
    INTERRUPTED = "interrupted"  # the request ended while the write was under way
    NOTHING_TO_COPY = "nothing_to_copy"  # re-sync: Outlook/Teams had no photo
    NOT_NEEDED = "not_needed"


class Refusal(StrEnum):
    """Why a REFUSED entry changed nothing."""

    RATE_LIMIT = "rate_limit"  # the app's per-person limit on writes (`details["subject"]`)
    PHOTO_REJECTED = "photo_rejected"  # the file was refused (`details["code"]`: the rejection)
    POLICY = "policy"  # Microsoft refused every field (`details["fields"]`: field → refusal)


@dataclass(frozen=True)
class Entry:
    """One recorded change; `details` are JSON values whose keys depend on `kind`.

    `thumbnails` are JPEGs by name (`new`, `previous`), read with the entry: a stream returns
    whole entries, and a history of 100 holds at most about 600 kB of them.
    """

    id: str
    kind: EntryKind
    details: Mapping[str, Any]
    request_id: str | None
    thumbnails: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(int(self.id.split("-")[0]) / 1000, UTC)

    @property
    def iso_time(self) -> str:
        """The time in ISO 8601, UTC, to the second (`<time datetime>`, the downloads)."""
        return self.at.isoformat(timespec="seconds").replace("+00:00", "Z")

    def as_json(self) -> dict[str, Any]:
        """The entry as the JSON download gives it, thumbnails as `data:` URLs."""
        return {
            "id": self.id,
            "time": self.iso_time,
            "kind": self.kind.value,
            "request_id": self.request_id,
            "details": dict(self.details),
            "pictures": {
                name: "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
                for name, data in self.thumbnails.items()
            },
        }


class HistoryLog:
    """The change histories of all people in a `Store`, one stream per person (`user` oid.tid)."""

    def __init__(
        self,
        store: Store,
        *,
        max_entries: int = 100,
        days: int = 400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.max_entries = max_entries
        self.days = days
        self.clock = clock

    def record(
        self,
        user: str,
        kind: EntryKind,
        details: Mapping[str, Any],
        *,
        request_id: str | None = None,
        new_photo: bytes | None = None,
        previous_photo: bytes | None = None,
        once_per: tuple[str, int] | None = None,
    ) -> str | None:
        """Append one entry; returns its id, or None when it was not recorded.

        `new_photo`/`previous_photo` are full photos: only thumbnails are kept. With
        `once_per=(name, seconds)` only the first such entry in that many seconds is kept (a
        script hammering a limit must not push the person's real changes out of the history).
        Never raises: whatever the store raises is logged, and the change goes on.
        """
        try:
            if once_per is not None:
                name, seconds = once_per
                if not self.store.add(f"history-once:{user}:{name}", b"1", seconds):
                    return None
            key = self._key(user)
            # Profile values and pictures are personal data: sealed at rest like undo photos
            # (security.md E8); the kind and request id stay readable for operators.
            fields = {
                "kind": kind.value.encode(),
                "details": self._seal(key, "details", json.dumps(details, ensure_ascii=False)),
                "request_id": (request_id or "").encode(),
            }
            for name, photo in zip(PICTURES, (new_photo, previous_photo), strict=True):
                small = thumbnail(photo)
                if small is not None:
                    fields[name] = self.store.sealer.seal(small, f"{key}:{name}")
            now_ms = int(self.clock() * 1000)
            return self.store.append(
                key,
                fields,
                at_ms=now_ms,
                max_entries=self.max_entries,
                min_ms=self._oldest_ms(now_ms),
                ttl=self.days * DAY,
            )
        except Exception as exc:  # whatever the store raises (Redis or files): logged, not raised
            logger.warning("history entry %s not recorded: %s", kind.value, type(exc).__name__)
            return None

    def entries(self, user: str, count: int | None = None) -> list[Entry]:
        """The person's history, newest first (the newest `count` entries); raises what the
        store raises."""
        oldest = self._oldest_ms(int(self.clock() * 1000))
        key = self._key(user)
        found = self.store.entries(key, oldest, count)
        entries = []
        for entry_id, fields in found:
            try:
                entries.append(self._entry(key, entry_id, fields))
            except (KeyError, ValueError):
                # Written by a later version (a kind this one does not know), or sealed under
                # an earlier SECRET_KEY: left out.
                logger.info("history entry %s not readable", entry_id)
        return entries

    def recent(self, user: str, count: int) -> list[Entry]:
        """The newest `count` entries, or none when the store cannot say (a page's extra)."""
        try:
            return self.entries(user, count)
        except Exception as exc:  # as in `record`
            logger.warning("history not read: %s", type(exc).__name__)
            return []

    def picture(self, user: str, entry_id: str, name: str) -> bytes | None:
        """A thumbnail of the person's own entry; None when there is none (or no such entry)."""
        if name not in PICTURES or not STREAM_ID.fullmatch(entry_id):
            return None
        key = self._key(user)
        fields = self.store.entry(key, entry_id)
        sealed = None if fields is None else fields.get(name)
        return None if sealed is None else self.store.sealer.open(sealed, f"{key}:{name}")

    def _key(self, user: str) -> str:
        return f"history:{user}"

    def _seal(self, key: str, name: str, text: str) -> bytes:
        return self.store.sealer.seal(text.encode(), f"{key}:{name}")

    def _entry(self, key: str, entry_id: str, fields: Mapping[str, bytes]) -> Entry:
        details = self.store.sealer.open(fields["details"], f"{key}:details")
        if details is None:
            raise ValueError("sealed under another key")
        thumbnails = {}
        for name in PICTURES:
            sealed = fields.get(name)
            small = self.store.sealer.open(sealed, f"{key}:{name}") if sealed else None
            if small is not None:
                thumbnails[name] = small
        return Entry(
            id=entry_id,
            kind=EntryKind(fields["kind"].decode()),
            details=json.loads(details),
            request_id=fields.get("request_id", b"").decode() or None,
            thumbnails=thumbnails,
        )

    def _oldest_ms(self, now_ms: int) -> int:
        return max(0, now_ms - self.days * DAY * 1000)
