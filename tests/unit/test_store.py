"""The file-backed record store keeps one-time records one-time across processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from webapp.store import FileStore


def _try_add(directory: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    results.put(FileStore(directory).add("lock:user", b"mine", ttl=60))


def test_only_one_process_gets_a_lock(tmp_path: Path) -> None:
    results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [
        multiprocessing.Process(target=_try_add, args=(str(tmp_path), results)) for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    outcomes = [results.get(timeout=5) for _ in workers]
    assert outcomes.count(True) == 1


def test_a_one_time_record_is_read_once(tmp_path: Path) -> None:
    store = FileStore(str(tmp_path))
    store.set("flow:abc", b"record", ttl=60)
    assert store.pop("flow:abc") == b"record"
    assert store.pop("flow:abc") is None


class Clock:
    """A clock the test moves by hand (no sleeps)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_an_expired_lock_can_be_taken_again(tmp_path: Path) -> None:
    clock = Clock()
    store = FileStore(str(tmp_path), clock=clock)
    assert store.add("op-lock:user", b"crashed-worker", ttl=60)
    clock.now += 59
    assert not store.add("op-lock:user", b"next", ttl=60)
    assert store.get("op-lock:user") == b"crashed-worker"
    clock.now += 2  # the holder died: its lock has expired
    assert store.get("op-lock:user") is None
    assert store.add("op-lock:user", b"next", ttl=60)
    assert store.get("op-lock:user") == b"next"


def test_expired_records_are_gone_for_every_reader(tmp_path: Path) -> None:
    clock = Clock()
    store = FileStore(str(tmp_path), clock=clock)
    store.set("flow:abc", b"record", ttl=600)
    clock.now += 601
    assert store.get("flow:abc") is None
    assert store.pop("flow:abc") is None


def test_a_lock_is_released_only_by_its_holder(tmp_path: Path) -> None:
    store = FileStore(str(tmp_path))
    store.add("op-lock:user", b"second", ttl=60)
    assert not store.delete_if("op-lock:user", b"first")
    assert store.get("op-lock:user") == b"second"
    assert store.delete_if("op-lock:user", b"second")
    assert store.get("op-lock:user") is None
