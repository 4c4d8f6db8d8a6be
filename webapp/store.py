"""Short-lived shared records (sign-in flows, undo photos, pending work) with a TTL.

With `REDIS_URL` every instance sees the same records; without it a file-backed store
serves the processes of one machine. Both fail fast: a dead Redis must become a 503
page within a second (security.md §0 item 8, §3.7), not a hung worker.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import redis
from cachelib import FileSystemCache
from redis.backoff import NoBackoff
from redis.retry import Retry

from webapp.sealing import Sealer

# security.md §3.7: explicit short timeouts, no client-side retry storm.
REDIS_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 0.5,
    "socket_timeout": 1.0,
    "retry": Retry(NoBackoff(), 0),
    "health_check_interval": 30,
}


class Store(Protocol):
    """What the app needs from a key-value store with expiry.

    `sealer` encrypts what must not sit in the store readable (webapp/sealing.py); the store
    itself keeps bytes as given, so that locks and counters stay comparable.
    """

    sealer: Sealer

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: int) -> None: ...

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        """Set only if absent; True when this call set it (a lock or a one-time record)."""
        ...

    def pop(self, key: str) -> bytes | None:
        """Read and delete in one step (one-time records)."""
        ...

    def delete(self, key: str) -> None: ...

    def delete_if(self, key: str, value: bytes) -> bool:
        """Delete only while the key still holds `value`, in one step (releasing a lock that
        may have expired and been taken by someone else); True when deleted."""
        ...

    def ping(self) -> None:
        """:raise Exception: when the store cannot be used."""
        ...


def connect_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, **REDIS_OPTIONS)


# Compare-and-delete in one step on the server (Redis's documented pattern for releasing a lock).
_DELETE_IF = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class RedisStore:
    """Records in Redis, shared by every instance."""

    def __init__(self, client: redis.Redis, sealer: Sealer, prefix: str = "profilefix:") -> None:
        self.client = client
        self.sealer = sealer
        self.prefix = prefix
        self._delete_if = client.register_script(_DELETE_IF)

    def get(self, key: str) -> bytes | None:
        return self.client.get(self.prefix + key)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.client.set(self.prefix + key, value, ex=ttl)

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        return bool(self.client.set(self.prefix + key, value, ex=ttl, nx=True))

    def pop(self, key: str) -> bytes | None:
        return self.client.getdel(self.prefix + key)

    def delete(self, key: str) -> None:
        self.client.delete(self.prefix + key)

    def delete_if(self, key: str, value: bytes) -> bool:
        return bool(self._delete_if(keys=[self.prefix + key], args=[value]))

    def ping(self) -> None:
        self.client.ping()


class FileStore:
    """Records in files under one directory: one machine, any number of processes.

    Each file holds the record and its expiry on `clock`; an expired record is absent for
    every operation, `add` included, so a lock left by a dead worker expires as in Redis
    (cachelib's own `add` only looks whether a file exists, expired or not). cachelib's
    own expiry on the wall clock still prunes old files.
    """

    def __init__(
        self,
        directory: str,
        clock: Callable[[], float] = time.time,
        sealer: Sealer | None = None,
    ) -> None:
        self.cache = FileSystemCache(directory, threshold=10_000, default_timeout=3600)
        self.clock = clock
        self.sealer = sealer or Sealer.random()
        self._lock_path = os.path.join(directory, ".add.lock")

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One step for every process and thread on this machine (each call opens its own
        file description, so threads of one process exclude each other too)."""
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, key: str) -> bytes | None:
        entry = self.cache.get(key)
        if not isinstance(entry, tuple) or len(entry) != 2:
            return None  # absent, or written by an older version without an expiry
        expires_at, value = entry
        return value if self.clock() < expires_at else None

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.cache.set(key, (self.clock() + ttl, value), timeout=ttl)

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        with self._exclusive():
            if self.get(key) is not None:
                return False
            self.set(key, value, ttl)
            return True

    def pop(self, key: str) -> bytes | None:
        with self._exclusive():
            value = self.get(key)
            self.cache.delete(key)
            return value

    def delete(self, key: str) -> None:
        self.cache.delete(key)

    def delete_if(self, key: str, value: bytes) -> bool:
        with self._exclusive():
            if self.get(key) != value:
                return False
            self.cache.delete(key)
            return True

    def ping(self) -> None:
        return None


def set_json(store: Store, key: str, value: Any, ttl: int) -> None:
    store.set(key, json.dumps(value).encode(), ttl)


def pop_json(store: Store, key: str) -> Any | None:
    raw = store.pop(key)
    return None if raw is None else json.loads(raw)
