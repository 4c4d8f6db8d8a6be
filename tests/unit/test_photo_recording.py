"""What a photo change tells the history: a step for every state a side can be in, a restore
only where a photo was replaced and can be put back."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.changes.log import EntryKind, HistoryLog, Step
from webapp.photo.operations import FINISHED_TTL, Kind, OperationStore, Side, SideState
from webapp.photo.recording import details, record, step
from webapp.photo.update import NO_GRAPH_PHOTO
from webapp.store import FileStore

NOW = 1_700_000_000.0


@pytest.fixture
def ops(tmp_path: Path) -> OperationStore:
    return OperationStore(FileStore(str(tmp_path)), clock=lambda: NOW)


@pytest.mark.parametrize("state", list(SideState))
def test_every_side_state_is_a_step(ops: OperationStore, state: SideState) -> None:
    op = ops.new("u", Kind.UPLOAD, image=b"new", graph=Side(state=state))
    assert step(op, "graph") in Step


def test_a_403_is_the_organisations_refusal_and_offers_no_restore(ops: OperationStore) -> None:
    op = ops.new("u", Kind.UPLOAD, image=b"new", previous=b"old", previous_captured=True)
    op.graph = Side(state=SideState.FAILED, status=403, error="graph:403:Forbidden")
    found = details(op, retried=False, now=NOW)
    assert found["steps"]["graph"] == {"step": "refused", "code": "graph:403:Forbidden"}
    assert "restorable_until" not in found


def test_a_replaced_photo_can_be_put_back_as_long_as_the_undo_copy(ops: OperationStore) -> None:
    op = ops.new("u", Kind.UPLOAD, image=b"new", previous=b"old", previous_captured=True)
    op.graph = Side(state=SideState.VERIFIED, writes=1)
    assert details(op, retried=False, now=NOW)["restorable_until"] == NOW + FINISHED_TTL
    first_photo = ops.new("u", Kind.UPLOAD, image=b"new", previous=None, previous_captured=True)
    assert "restorable_until" not in details(first_photo, retried=False, now=NOW)


def test_removing_leaves_sharepoint_to_follow_and_resync_says_when_nothing_was_copied(
    ops: OperationStore,
) -> None:
    removal = ops.new("u", Kind.REMOVE)
    removal.sharepoint = Side(state=SideState.DONE)
    assert step(removal, "sharepoint") is Step.TAKES_FROM_MICROSOFT_365
    resync = ops.new("u", Kind.RESYNC, graph=Side(state=SideState.NOT_NEEDED))
    resync.sharepoint = Side(state=SideState.NOT_NEEDED, error=NO_GRAPH_PHOTO)
    assert details(resync, retried=False, now=NOW)["steps"] == {
        "sharepoint": {"step": "nothing_to_copy"}
    }


def test_a_retry_is_its_own_entry_naming_the_change_it_finished(
    ops: OperationStore, tmp_path: Path
) -> None:
    history = HistoryLog(FileStore(str(tmp_path / "h")), clock=lambda: NOW)
    op = ops.new("u", Kind.REMOVE, previous=b"old", previous_captured=True)
    record(history, op, retried=True, request_id="r")
    (entry,) = history.entries("u")
    assert entry.kind is EntryKind.PHOTO_RETRIED
    assert entry.details["of"] == "photo_removed"
    assert entry.thumbnails == {}
