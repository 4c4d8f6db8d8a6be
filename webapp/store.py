"""Short-lived shared records (sign-in flows, undo photos, pending work) with a TTL.

With `REDIS_URL` every instance sees the same records; without it a file-backed store
serves the processes of one machine. Both fail fast: a dead Redis must become a 503
page within a second (security.md §0 item 8, §3.7), not a hung worker.
"""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any, Protocol

import redis
from cachelib import FileSystemCache
from redis.backoff import NoBackoff
from redis.retry import Retry

# security.md §3.7: explicit short timeouts, no client-side retry storm.
REDIS_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 0.5,
    "socket_timeout": 1.0,
    "retry": Retry(NoBackoff(), 0),
    "health_check_interval": 30,
}


class Store(Protocol):
    """What the app needs from a key-value store with expiry."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: int) -> None: ...

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        """Set only if absent; True when this call set it (a lock or a one-time record)."""
        ...

    def pop(self, key: str) -> bytes | None:
        """Read and delete in one step (one-time records)."""
        ...

    def delete(self, key: str) -> None: ...

    def ping(self) -> None:
        """:raise Exception: when the store cannot be used."""
        ...


def connect_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, **REDIS_OPTIONS)


class RedisStore:
    """Records in Redis, shared by every instance."""

    def __init__(self, client: redis.Redis, prefix: str = "profilefix:") -> None:
        self.client = client
        self.prefix = prefix

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

    def ping(self) -> None:
        self.client.ping()


class FileStore:
    """Records in files under one directory: one machine, any number of processes."""

    def __init__(self, directory: str) -> None:
        self.cache = FileSystemCache(directory, threshold=10_000, default_timeout=3600)
        self._lock_path = os.path.join(directory, ".add.lock")

    def get(self, key: str) -> bytes | None:
        return self.cache.get(key)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.cache.set(key, value, timeout=ttl)

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        # cachelib's add is check-then-set; an exclusive file lock makes it one step for
        # every process on this machine (the per-user write lock relies on it).
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return bool(self.cache.add(key, value, timeout=ttl))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def pop(self, key: str) -> bytes | None:
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                value = self.cache.get(key)
                if value is not None:
                    self.cache.delete(key)
                return value
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def delete(self, key: str) -> None:
        self.cache.delete(key)

    def ping(self) -> None:
        return None


def set_json(store: Store, key: str, value: Any, ttl: int) -> None:
    store.set(key, json.dumps(value).encode(), ttl)


def pop_json(store: Store, key: str) -> Any | None:
    raw = store.pop(key)
    return None if raw is None else json.loads(raw)
