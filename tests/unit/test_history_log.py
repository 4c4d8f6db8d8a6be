"""The change history keeps the newest entries and forgets old ones, on an injected clock, in the
file store the demo uses (the same rules run in Redis: tests/production/test_history_redis.py)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from PIL import Image

from tests import imagegen
from webapp.changes.log import DAY, EntryKind, HistoryLog
from webapp.imaging.thumbnail import THUMBNAIL_SIDE, thumbnail
from webapp.store import FileStore

START = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def history(tmp_path: Path, clock: Clock) -> HistoryLog:
    return HistoryLog(FileStore(str(tmp_path)), max_entries=5, days=10, clock=clock)


def saved(history: HistoryLog, user: str, n: int) -> str | None:
    return history.record(user, EntryKind.PROFILE_SAVED, {"n": n}, request_id=f"req-{n:04d}")


def numbers(history: HistoryLog, user: str = "alice") -> list[int]:
    return [entry.details["n"] for entry in history.entries(user)]


def test_entries_come_newest_first_with_time_and_request_id(
    history: HistoryLog, clock: Clock
) -> None:
    for n in range(3):
        saved(history, "alice", n)
        clock.now += 60
    entries = history.entries("alice")
    assert [e.details["n"] for e in entries] == [2, 1, 0]
    assert [e.request_id for e in entries] == ["req-0002", "req-0001", "req-0000"]
    assert entries[-1].at.timestamp() == START
    assert entries[0].iso_time == "2023-11-14T22:15:20Z"


def test_only_the_newest_max_entries_are_kept(history: HistoryLog, clock: Clock) -> None:
    for n in range(8):
        saved(history, "alice", n)
        clock.now += 1
    assert numbers(history) == [7, 6, 5, 4, 3]
    assert [entry.details["n"] for entry in history.recent("alice", 2)] == [7, 6]


def test_entries_older_than_the_window_are_dropped_when_written_and_hidden_when_read(
    tmp_path: Path, history: HistoryLog, clock: Clock
) -> None:
    saved(history, "alice", 0)
    clock.now += 6 * DAY
    saved(history, "alice", 1)
    clock.now += 5 * DAY  # entry 0 is 11 days old now, entry 1 five
    assert numbers(history) == [1]
    saved(history, "alice", 2)  # the write trims entry 0 away for good
    clock.now -= 5 * DAY  # even with the clock set back, it does not come back
    assert numbers(history) == [2, 1]


def test_a_history_nobody_wrote_to_for_the_whole_window_is_deleted(
    tmp_path: Path, history: HistoryLog, clock: Clock
) -> None:
    saved(history, "alice", 0)
    assert list((tmp_path / "streams").glob("*.json"))
    clock.now += 11 * DAY
    assert history.entries("alice") == []
    assert not list((tmp_path / "streams").glob("*.json"))


def test_ids_never_go_back_in_time_when_the_clock_does(history: HistoryLog, clock: Clock) -> None:
    first = saved(history, "alice", 0)
    clock.now -= 30  # another instance whose clock is behind
    second = saved(history, "alice", 1)
    assert first is not None and second is not None
    assert first.split("-")[0] == second.split("-")[0]
    assert numbers(history) == [1, 0]


def test_each_person_sees_only_their_own_history(history: HistoryLog) -> None:
    entry = saved(history, "alice", 0)
    assert entry is not None
    saved(history, "bob", 1)
    assert numbers(history, "alice") == [0]
    assert numbers(history, "bob") == [1]
    assert history.picture("bob", entry, "new") is None


def test_photos_are_kept_only_as_small_clean_thumbnails(history: HistoryLog) -> None:
    photo = imagegen.jpeg((1200, 900), orientation=6, gps=True)
    entry_id = history.record(
        "alice", EntryKind.PHOTO_UPLOADED, {}, new_photo=photo, previous_photo=None
    )
    assert entry_id is not None
    (entry,) = history.entries("alice")
    assert set(entry.thumbnails) == {"new"}
    small = history.picture("alice", entry_id, "new")
    assert small is not None and small == entry.thumbnails["new"]
    assert len(small) < 8_000
    with Image.open(io.BytesIO(small)) as image:
        assert image.format == "JPEG"
        assert image.size == (THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        assert not image.getexif()
        assert "icc_profile" not in image.info
    assert history.picture("alice", entry_id, "previous") is None
    assert history.picture("alice", "not-an-id", "new") is None


def test_unreadable_photo_bytes_give_no_thumbnail() -> None:
    assert thumbnail(b"not a picture") is None
    assert thumbnail(None) is None


def test_a_limit_refusal_is_kept_once_per_window(history: HistoryLog, clock: Clock) -> None:
    for _ in range(4):
        history.record("alice", EntryKind.REFUSED, {"n": 0}, once_per=("limit:photo", 600))
    assert numbers(history) == [0]


def test_a_store_that_fails_loses_the_entry_not_the_change(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    history = HistoryLog(FileStore(str(tmp_path)), clock=clock)
    (tmp_path / "streams").write_text("a file where the store wants its directory")
    with caplog.at_level(logging.WARNING):
        assert saved(history, "alice", 0) is None
    assert "history entry profile_saved not recorded" in caplog.text
    assert history.recent("alice", 5) == []
