"""The operation record: storage round trip, lifetimes, the per-user lock, form idempotency."""

from __future__ import annotations

import json

import pytest

from webapp.microsoft.requester import MIN_RETRY_READ, RetryPolicy
from webapp.microsoft.session import DEFAULT_TIMEOUT
from webapp.photo.operations import (
    FINISHED_TTL,
    LOCK_TTL,
    UNFINISHED_TTL,
    Kind,
    Operation,
    OperationBusyError,
    OperationStore,
    Side,
    SideState,
)
from webapp.photo.update import MAX_PUSH_ATTEMPTS, Outcome, outcome, retry_allowed
from webapp.store import FileStore

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4


class RecordingStore(FileStore):
    """A file store that remembers the TTL of every write."""

    def __init__(self, directory: str) -> None:
        super().__init__(directory)
        self.ttls: dict[str, int] = {}

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.ttls[key] = ttl
        super().set(key, value, ttl)


@pytest.fixture
def store(tmp_path) -> RecordingStore:  # type: ignore[no-untyped-def]
    return RecordingStore(str(tmp_path))


@pytest.fixture
def ops(store: RecordingStore) -> OperationStore:
    return OperationStore(store, clock=lambda: 1_000.0)


def test_record_round_trips_with_both_photos_and_side_states(ops: OperationStore) -> None:
    op = ops.new("oid.tid", Kind.UPLOAD, image=JPEG)
    op.previous, op.previous_captured = None, True
    op.sharepoint = Side(state=SideState.THROTTLED, not_before=1_120.0, error="sharepoint:429:x")
    ops.save(op)
    again = ops.get("oid.tid", op.id)
    assert again == op
    assert len(op.id) >= 22


def test_a_record_written_by_the_previous_version_still_loads(ops: OperationStore) -> None:
    """Records outlive a deploy (7 days): fields a newer version dropped must not break them."""
    op = ops.new("oid.tid", Kind.UPLOAD, image=JPEG)
    older = json.loads(op.to_json())
    older.update(image_sha256="ab" * 32, graph_match="same")
    assert Operation.from_json(json.dumps(older).encode()) == op


def test_repr_shows_sizes_never_bytes(ops: OperationStore) -> None:
    op = ops.new("oid.tid", Kind.UPLOAD, image=JPEG)
    assert f"{len(JPEG)} bytes" in repr(op)
    assert "xff" not in repr(op)


def test_another_users_op_is_invisible(ops: OperationStore) -> None:
    op = ops.new("alice.tid", Kind.REMOVE)
    ops.save(op)
    assert ops.get("mallory.tid", op.id) is None


def test_unfinished_records_live_a_week_verified_ones_a_day(
    ops: OperationStore, store: RecordingStore
) -> None:
    op = ops.new("oid.tid", Kind.UPLOAD, image=JPEG)
    ops.save(op)
    assert store.ttls[f"op:{op.id}"] == UNFINISHED_TTL >= 7 * 24 * 3600
    op.graph.state = op.sharepoint.state = SideState.VERIFIED
    ops.save(op)
    assert store.ttls[f"op:{op.id}"] == FINISHED_TTL


def test_lock_refuses_a_second_change_and_names_the_running_one(ops: OperationStore) -> None:
    with ops.lock("oid.tid", "first"):
        assert ops.running("oid.tid") == "first"
        with pytest.raises(OperationBusyError) as busy, ops.lock("oid.tid", "second"):
            pass
        assert busy.value.op_id == "first"
    assert ops.running("oid.tid") is None
    with ops.lock("oid.tid", "second"):
        pass


def test_a_form_token_binds_once(ops: OperationStore) -> None:
    first = ops.new("oid.tid", Kind.REMOVE)
    ops.save(first)
    assert ops.remember_form("oid.tid", "token-0123456789ab", first)
    assert not ops.remember_form("oid.tid", "token-0123456789ab", ops.new("oid.tid", Kind.REMOVE))
    again = ops.for_form("oid.tid", "token-0123456789ab")
    assert again is not None and again.id == first.id


@pytest.mark.parametrize(
    ("graph", "sharepoint", "expected"),
    [
        (SideState.FAILED, SideState.PENDING, Outcome.NOTHING_CHANGED),
        (SideState.THROTTLED, SideState.PENDING, Outcome.WAIT_THEN_RETRY),
        (SideState.DONE, SideState.FAILED, Outcome.PARTIAL),
        (SideState.IN_PROGRESS, SideState.PENDING, Outcome.INTERRUPTED),
        (SideState.VERIFIED, SideState.VERIFIED, Outcome.VERIFIED),
        (SideState.VERIFIED, SideState.REFUSED_BY_SHAREPOINT, Outcome.SHAREPOINT_LATER),
    ],
)
def test_outcome_names_the_half_state(
    ops: OperationStore, graph: SideState, sharepoint: SideState, expected: Outcome
) -> None:
    op = ops.new("oid.tid", Kind.UPLOAD, image=JPEG)
    op.graph.state, op.sharepoint.state = graph, sharepoint
    assert outcome(op, now=10_000.0) is expected


def test_throttled_op_is_not_retried_before_its_time(ops: OperationStore) -> None:
    op = ops.new("oid.tid", Kind.UPLOAD, image=JPEG)
    op.graph = Side(state=SideState.THROTTLED, not_before=1_120.0)
    assert not retry_allowed(op, 1_100.0)
    assert retry_allowed(op, 1_121.0)


@pytest.mark.parametrize(
    ("state", "first"),
    [(SideState.FAILED, Outcome.PARTIAL), (SideState.THROTTLED, Outcome.WAIT_THEN_RETRY)],
)
def test_a_push_sharepoint_keeps_refusing_is_given_up_after_its_attempts(
    ops: OperationStore, state: SideState, first: Outcome
) -> None:
    # One push, one more when the user asks: never "try again" for ever (reference §9.1).
    op = ops.new("oid.tid", Kind.UPLOAD, image=JPEG)
    op.graph.state = SideState.VERIFIED
    op.sharepoint = Side(state=state, attempts=1)
    assert outcome(op, now=10_000.0) is first
    assert retry_allowed(op, 10_000.0)
    op.sharepoint = Side(state=state, attempts=MAX_PUSH_ATTEMPTS)
    assert outcome(op, now=10_000.0) is Outcome.SHAREPOINT_LATER
    assert not retry_allowed(op, 10_000.0)


def test_a_record_without_attempts_reads_as_none_made(ops: OperationStore) -> None:
    op = ops.new("oid.tid", Kind.RESYNC)
    raw = op.to_json().replace(b',"attempts":0', b"")
    assert b"attempts" not in raw
    assert Operation.from_json(raw).sharepoint.attempts == 0


def test_a_lock_left_by_a_dead_worker_expires_after_the_longest_change(tmp_path) -> None:  # type: ignore[no-untyped-def]
    now = [1_000_000.0]
    ops = OperationStore(FileStore(str(tmp_path), clock=lambda: now[0]), clock=lambda: now[0])
    held = ops.lock("oid.tid", "killed-mid-change")
    held.__enter__()  # the worker dies here: the lock is never released
    now[0] += LOCK_TTL - 1
    with pytest.raises(OperationBusyError), ops.lock("oid.tid", "next"):
        pass
    now[0] += 2
    with ops.lock("oid.tid", "next"):
        assert ops.running("oid.tid") == "next"


def test_the_lock_outlives_the_longest_change_it_protects() -> None:
    # A change makes up to 7 calls to Microsoft (read the old photo, the Graph write, the
    # SharePoint push, then Graph's photo and what SharePoint serves read back: userphoto.aspx
    # and its redirect, and after a removal the placeholder's two as well) and up to 3 token
    # requests; each may take a whole connect + read timeout (retries stay inside the 10 s
    # budget).
    connect, read = DEFAULT_TIMEOUT
    longest_call = max(connect + read, RetryPolicy().budget + connect + MIN_RETRY_READ)
    assert 10 * longest_call <= LOCK_TTL
