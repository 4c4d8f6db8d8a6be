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
