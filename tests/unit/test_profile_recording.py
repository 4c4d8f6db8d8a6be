"""What a profile save leaves in the history: one entry when anything went to Microsoft, none
when nothing did; refusals alone are a refusal, values kept as plain JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.changes.log import EntryKind, HistoryLog
from webapp.microsoft.errors import ServiceUnavailableError
from webapp.profile.reading import build_view
from webapp.profile.recording import plain, record_save
from webapp.profile.refusals import Refusal
from webapp.profile.saving import SaveResult
from webapp.profile.values import Birthday
from webapp.store import FileStore

VIEW = build_view(None, None, read_only={})


@pytest.fixture
def history(tmp_path: Path) -> HistoryLog:
    return HistoryLog(FileStore(str(tmp_path)), clock=lambda: 1_700_000_000.0)


def test_values_are_kept_as_text_lists_and_iso_birthdays() -> None:
    assert plain("Hello") == "Hello"
    assert plain("") is None
    assert plain(("a", "b")) == ["a", "b"]
    assert plain(()) is None
    assert plain(Birthday(12, 3)) == "--03-12"  # day and month only (reference §9.3)
    assert plain(None) is None


def test_a_save_that_sent_nothing_leaves_no_entry(history: HistoryLog) -> None:
    assert record_save(history, "u", SaveResult(profile=VIEW), request_id="r") is None
    assert history.entries("u") == []


def test_fields_refused_and_nothing_saved_is_a_policy_refusal(history: HistoryLog) -> None:
    result = SaveResult(profile=VIEW, refused={"birthday": Refusal.ORGANISATION})
    record_save(history, "u", result, request_id="r")
    (entry,) = history.entries("u")
    assert entry.kind is EntryKind.REFUSED
    assert entry.details == {"reason": "policy", "fields": {"birthday": "organisation"}}


def test_a_partial_save_keeps_changes_refusals_and_failures_in_one_entry(
    history: HistoryLog,
) -> None:
    result = SaveResult(
        profile=VIEW,
        submitted={"skills": ("Go",), "birthday": Birthday(1, 2), "schools": ("AU",)},
        before={"skills": (), "birthday": None, "schools": ()},
        saved=("skills", "birthday"),
        refused={"mobile_phone": Refusal.ON_PREMISES},
        failed={"schools": ServiceUnavailableError("graph", 503, code="x", request_id="g-1")},
    )
    record_save(history, "u", result, request_id="r")
    (entry,) = history.entries("u")
    assert entry.kind is EntryKind.PROFILE_SAVED
    assert entry.request_id == "r"
    assert entry.details == {
        "changes": [
            {"field": "skills", "old": None, "new": ["Go"]},
            {"field": "birthday", "old": None, "new": "--02-01"},
        ],
        "refused": {"mobile_phone": "on_premises"},
        "failed": {"schools": {"code": "graph:503:x", "request_id": "g-1"}},
    }
