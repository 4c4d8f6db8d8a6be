"""The operation record of a photo change, kept in the record store, and the per-user lock.

One record per change (upload, re-sync, remove, undo), written before the first write to
Microsoft and after every step, so that no failure loses the user's previous photo, the new
photo or the knowledge of which service shows what (security.md §5 E, "nothing lost").

Lifetimes (documented choice, security.md §5 E asks for ≥ 7 days while unfinished):
an unfinished record lives `UNFINISHED_TTL` (7 days) from its last change; once both sides
are settled it lives `FINISHED_TTL` (24 h), which is also the undo window.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from webapp.microsoft.requester import MIN_RETRY_READ, RetryPolicy
from webapp.microsoft.session import DEFAULT_TIMEOUT
from webapp.store import Store

UNFINISHED_TTL = 7 * 24 * 3600
FINISHED_TTL = 24 * 3600

# The lock must outlive the longest change it protects, or a second change could start while
# the first is still writing; and it must expire, or a worker killed mid-change leaves the user
# "busy" for ever. One call to Microsoft ends within its first attempt's connect + read timeout,
# or, when it retries, within the retry budget plus a last connect and MIN_RETRY_READ
# (webapp/microsoft/requester.py). The longest change, an upload, makes up to 7 calls (read the old
# photo, Graph PUT, SharePoint push, the own-photo trigger, three reads to verify) and up to 3
# token requests through the same session (Graph, SharePoint, the My Site host); decoding the
# upload and saving records take seconds at most, which the margin covers.
_CONNECT, _READ = DEFAULT_TIMEOUT
LONGEST_CALL = max(_CONNECT + _READ, RetryPolicy().budget + _CONNECT + MIN_RETRY_READ)
CALLS_PER_CHANGE = 7 + 3
LOCK_TTL = math.ceil(CALLS_PER_CHANGE * LONGEST_CALL) + 30  # 261 s with today's timeouts
# A form token maps to its op for as long as a double submit could arrive.
IDEMPOTENCY_TTL = 3600

_OP_ID_BYTES = 16
# The lock's value names the op whose writes it protects; the follow-through's reads hold it
# under this prefix, so that they do not count as the op "running".
_CHECKING = "checking:"


class Kind(enum.StrEnum):
    """What the user asked for."""

    UPLOAD = "upload"
    RESYNC = "resync"
    REMOVE = "remove"
    UNDO = "undo"
    RESTORE = "restore"  # an earlier photo put back from the person's history


class SideState(enum.StrEnum):
    """Where one service (Graph or SharePoint) stands in an operation."""

    PENDING = "pending"  # not called yet
    IN_PROGRESS = "in_progress"  # a write was sent and has not answered (or the worker died)
    DONE = "done"  # written; not yet seen to show the photo
    FAILED = "failed"
    THROTTLED = "throttled"  # the service asked us to wait until `not_before`
    VERIFIED = "verified"  # read back and showing the operation's photo
    REFUSED_BY_SHAREPOINT = "refused_by_sharepoint"  # MC653734: takes it from Exchange itself
    NOT_NEEDED = "not_needed"  # this kind does not write here (Graph in a re-sync)
    # The organisation's photo policy refuses the change (403 on /me/photo/$value, reference
    # §9.1): lasting, so nothing is retried and nothing more is written.
    REFUSED_BY_POLICY = "refused_by_policy"

    @property
    def settled(self) -> bool:
        """Nothing more for us to write on this side."""
        return self in _SETTLED

    @property
    def lasting(self) -> bool:
        """Not settled, and no retry can change that."""
        return self is SideState.REFUSED_BY_POLICY


_SETTLED = frozenset(
    {SideState.DONE, SideState.VERIFIED, SideState.REFUSED_BY_SHAREPOINT, SideState.NOT_NEEDED}
)


@dataclass
class Side:
    """One service's status in an operation; `error` is a code for wording and logs, never prose."""

    state: SideState = SideState.PENDING
    error: str | None = None
    status: int | None = None
    request_id: str | None = None
    not_before: float | None = None
    writes: int = 0
    # Writes sent, answered or not (SharePoint's optional push is tried a bounded number of
    # times, never for ever: reference §9.1).
    attempts: int = 0
    updated_at: float = 0.0


@dataclass
class Operation:
    """A photo change and everything needed to finish, verify or undo it.

    `image` is the processed JPEG to show (None: no photo, for remove or an undo to "none");
    `previous` the Graph photo before the first write and `previous_captured` whether it was
    read (then `previous` None means "there was none"). The original upload is never kept.
    """

    id: str
    user: str
    kind: Kind
    created_at: float
    image: bytes | None = None
    previous: bytes | None = None
    previous_captured: bool = False
    # Re-sync: whether the Graph photo to copy was read (then `image` holds it, or None).
    source_read: bool = False
    graph: Side = field(default_factory=Side)
    sharepoint: Side = field(default_factory=Side)
    undo_of: str | None = None
    undone_by: str | None = None
    # The follow-through: when the last write ended and how often both sides were read back.
    written_at: float | None = None
    checks: int = 0
    checked_at: float | None = None
    # What the last read-back found SharePoint serving (a fingerprint.Match value), and until
    # when SharePoint said it may keep serving that picture from its cache: for the page.
    sharepoint_match: str | None = None
    sharepoint_fresh_until: float | None = None

    @property
    def writes_graph(self) -> bool:
        return self.kind is not Kind.RESYNC

    @property
    def settled(self) -> bool:
        """No write is left for us to make (verification may still be running)."""
        return self.graph.state.settled and self.sharepoint.state.settled

    @property
    def verified(self) -> bool:
        """Both services were read back showing this operation's photo (or no photo)."""
        graph_ok = self.graph.state in (SideState.VERIFIED, SideState.NOT_NEEDED)
        return graph_ok and self.sharepoint.state is SideState.VERIFIED

    @property
    def nothing_changed(self) -> bool:
        """Graph refused or was never reached, so neither service was changed."""
        return self.writes_graph and self.graph.state in (
            SideState.FAILED,
            SideState.THROTTLED,
            SideState.PENDING,
            SideState.REFUSED_BY_POLICY,
        )

    @property
    def undoable(self) -> bool:
        return self.previous_captured and self.undone_by is None and self.graph.writes > 0

    @property
    def restorable(self) -> bool:
        """The photo this change replaced is kept, so the history can put it back."""
        return self.previous_captured and self.previous is not None

    def to_json(self) -> bytes:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["image"] = _b64(self.image)
        data["previous"] = _b64(self.previous)
        for name in ("graph", "sharepoint"):
            data[name]["state"] = getattr(self, name).state.value
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Operation:
        """Read a record back; keys this version no longer keeps (an older record) are skipped."""
        known = {f.name for f in fields(cls)}
        data: dict[str, Any] = {k: v for k, v in json.loads(raw).items() if k in known}
        data["kind"] = Kind(data["kind"])
        data["image"] = _unb64(data["image"])
        data["previous"] = _unb64(data["previous"])
        for name in ("graph", "sharepoint"):
            side = dict(data[name])
            side["state"] = SideState(side["state"])
            data[name] = Side(**side)
        return cls(**data)

    def __repr__(self) -> str:
        # Never the bytes (security.md E8): only their sizes.
        return (
            f"Operation({self.id}, {self.kind.value}, graph={self.graph.state.value}, "
            f"sharepoint={self.sharepoint.state.value}, image={_size(self.image)}, "
            f"previous={_size(self.previous) if self.previous_captured else 'unread'})"
        )


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _size(data: bytes | None) -> str:
    return "none" if data is None else f"{len(data)} bytes"


class OperationBusyError(Exception):
    """Another change of the same user is running; `op_id` names it when known."""

    def __init__(self, op_id: str | None) -> None:
        super().__init__(f"another photo change is running ({op_id or 'unknown'})")
        self.op_id = op_id


class OperationStore:
    """Operation records, the per-user lock and idempotency keys in a `Store`.

    Keys: `op:<id>` the record, `op-latest:<user>` the user's latest op id, `op-lock:<user>`
    the lock (SET NX with expiry, security.md E5), `op-form:<user>:<token>` a form's op.
    Records are read only through `get(user, op_id)`, so one user never sees another's.
    `on_change(op, retried)` hears once per run of a change what it achieved (the person's
    history, webapp/photo/recording.py).
    """

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[Operation, bool], object] | None = None,  # its answer unused
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_change = on_change

    def changed(self, op: Operation, retried: bool = False) -> None:
        """A run of `op` ended (done, failed or interrupted): tell whoever listens."""
        if self.on_change is not None:
            self.on_change(op, retried)

    def new(self, user: str, kind: Kind, **values: Any) -> Operation:
        now = self.clock()
        return Operation(
            id=secrets.token_urlsafe(_OP_ID_BYTES), user=user, kind=kind, created_at=now, **values
        )

    def save(self, op: Operation) -> None:
        """Write the record, encrypted (it holds photos, security.md E8); the user's
        latest-op pointer follows it."""
        ttl = FINISHED_TTL if op.settled and op.verified else UNFINISHED_TTL
        key = f"op:{op.id}"
        self.store.set(key, self.store.sealer.seal(op.to_json(), key), ttl)
        latest = self.store.get(f"op-latest:{op.user}")
        if latest is None or latest.decode() == op.id:
            self.store.set(f"op-latest:{op.user}", op.id.encode(), ttl)

    def make_latest(self, op: Operation) -> None:
        self.store.set(f"op-latest:{op.user}", op.id.encode(), UNFINISHED_TTL)

    def get(self, user: str, op_id: str) -> Operation | None:
        """The user's op, or None when unknown, expired, someone else's, or sealed under
        another SECRET_KEY (then it is as good as expired: no retry, no undo)."""
        key = f"op:{op_id}"
        sealed = self.store.get(key)
        raw = None if sealed is None else self.store.sealer.open(sealed, key)
        if raw is None:
            return None
        op = Operation.from_json(raw)
        return op if secrets.compare_digest(op.user, user) else None

    def latest(self, user: str) -> Operation | None:
        raw = self.store.get(f"op-latest:{user}")
        return None if raw is None else self.get(user, raw.decode())

    def for_form(self, user: str, token: str) -> Operation | None:
        """The op a form submission already started (double submit → same op, security.md E5)."""
        if not token:
            return None
        raw = self.store.get(f"op-form:{user}:{token}")
        return None if raw is None else self.get(user, raw.decode())

    def remember_form(self, user: str, token: str, op: Operation) -> bool:
        """Bind a form token to `op`; False when the token was already used."""
        if not token:
            return True
        return self.store.add(f"op-form:{user}:{token}", op.id.encode(), IDEMPOTENCY_TTL)

    def running(self, user: str) -> str | None:
        """The id of the user's op whose writes hold the lock right now, if any."""
        raw = self.store.get(f"op-lock:{user}")
        if raw is None or raw.decode().startswith(_CHECKING):
            return None
        return raw.decode()

    @contextmanager
    def lock(self, user: str, holder: str, *, checking: bool = False) -> Iterator[None]:
        """Hold the user's lock while a change runs; raises OperationBusyError when taken.

        `checking`: the follow-through's read-back of `holder`, not a write. Released in
        `finally` only if still ours; if the worker dies, the lock expires after LOCK_TTL.
        """
        key = f"op-lock:{user}"
        value = f"{_CHECKING if checking else ''}{holder}".encode()
        if not self.store.add(key, value, LOCK_TTL):
            raw = self.store.get(key)
            raise OperationBusyError(raw.decode().removeprefix(_CHECKING) if raw else None)
        try:
            yield
        finally:
            self.store.delete_if(key, value)

    def set_side(self, op: Operation, name: str, **changes: Any) -> None:
        """Change one side's status and save the record at once (before the next step)."""
        side: Side = getattr(op, name)
        setattr(op, name, replace(side, updated_at=self.clock(), **changes))
        self.save(op)
