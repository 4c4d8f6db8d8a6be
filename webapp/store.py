"""Short-lived shared records (sign-in flows, undo photos, pending work) with a TTL, and
append-only streams that trim themselves (each person's change history).

With `REDIS_URL` every instance sees the same records; without it a file-backed store
serves the processes of one machine. Both fail fast: a dead Redis must become a 503
page within a second (security.md §0 item 8, §3.7), not a hung worker.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, cast

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

    def append(
        self,
        key: str,
        fields: Mapping[str, bytes],
        *,
        at_ms: int,
        max_entries: int,
        min_ms: int,
        ttl: int,
    ) -> str:
        """Add an entry to the stream `key` and return its id (`<ms>-<seq>`).

        The id's time is `at_ms`, or the newest entry's when that is later (ids only grow).
        Then only the newest `max_entries` entries and those from `min_ms` on are kept, and
        the stream disappears `ttl` seconds after its last append.
        """
        ...

    def entries(
        self, key: str, min_ms: int, count: int | None = None
    ) -> list[tuple[str, dict[str, bytes]]]:
        """The stream's entries from `min_ms` on, newest first (the newest `count` of them)."""
        ...

    def entry(self, key: str, entry_id: str) -> dict[str, bytes] | None: ...


# Stream ids as Redis writes them (https://redis.io/docs/latest/develop/data-types/streams/,
# "Entry IDs"): milliseconds, a dash, a sequence number.
STREAM_ID = re.compile(r"[0-9]{1,15}-[0-9]{1,10}")

# One step on the server, so that every instance trims alike and nothing interleaves: the id
# never goes back in time (`<ms>-*` needs Redis 7.0; an instance whose clock is behind the
# newest entry's uses that entry's millisecond), XADD trims to the newest ARGV[2] entries
# (MAXLEN), XTRIM drops those older than ARGV[3] (MINID, Redis 6.2), EXPIRE forgets a stream
# nobody wrote to for ARGV[4] seconds.
_APPEND = """
local ms = ARGV[1]
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if newest then
  local newest_ms = string.match(newest[1], '^(%d+)')
  if tonumber(newest_ms) > tonumber(ms) then ms = newest_ms end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], ms .. '-*', unpack(ARGV, 5))
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return id
"""


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
        self._append = client.register_script(_APPEND)

    # The client is made without decode_responses, so Redis answers bytes, never str.
    def get(self, key: str) -> bytes | None:
        return cast(bytes | None, self.client.get(self.prefix + key))

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.client.set(self.prefix + key, value, ex=ttl)

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        return bool(self.client.set(self.prefix + key, value, ex=ttl, nx=True))

    def pop(self, key: str) -> bytes | None:
        return cast(bytes | None, self.client.getdel(self.prefix + key))

    def delete(self, key: str) -> None:
        self.client.delete(self.prefix + key)

    def delete_if(self, key: str, value: bytes) -> bool:
        return bool(self._delete_if(keys=[self.prefix + key], args=[value]))

    def ping(self) -> None:
        self.client.ping()

    def append(
        self,
        key: str,
        fields: Mapping[str, bytes],
        *,
        at_ms: int,
        max_entries: int,
        min_ms: int,
        ttl: int,
    ) -> str:
        flat = [part for pair in fields.items() for part in pair]
        entry_id: bytes = self._append(
            keys=[self.prefix + key], args=[at_ms, max_entries, min_ms, ttl, *flat]
        )
        return entry_id.decode()

    def entries(
        self, key: str, min_ms: int, count: int | None = None
    ) -> list[tuple[str, dict[str, bytes]]]:
        found = self.client.xrevrange(self.prefix + key, "+", str(min_ms), count=count)
        return [(entry_id.decode(), _str_keys(fields)) for entry_id, fields in _entries(found)]

    def entry(self, key: str, entry_id: str) -> dict[str, bytes] | None:
        found = _entries(self.client.xrange(self.prefix + key, entry_id, entry_id))
        return _str_keys(found[0][1]) if found else None


def _entries(found: object) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """XRANGE's answer as the client parses it: without decode_responses every id, name and
    value is bytes (redis-py's types also allow str and nil, which this client never gives)."""
    return cast(list[tuple[bytes, dict[bytes, bytes]]], found)


def _str_keys(fields: Mapping[bytes, bytes]) -> dict[str, bytes]:
    return {name.decode(): value for name, value in fields.items()}


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
        # Streams are files of their own, not cache entries: cachelib drops entries past its
        # threshold. (Its pruning skips this folder as it skips the lock file: not a record.)
        self._streams = os.path.join(directory, "streams")

    def _exclusive(self) -> AbstractContextManager[None]:
        """One step for every process and thread on this machine."""
        return _locked(self._lock_path)

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

    def append(
        self,
        key: str,
        fields: Mapping[str, bytes],
        *,
        at_ms: int,
        max_entries: int,
        min_ms: int,
        ttl: int,
    ) -> str:
        # The same rules as the Redis script above. A file of at most `max_entries` entries is
        # rewritten whole: fine for one machine's demo, and it keeps the file always complete.
        # `ttl` needs no timer here: a stream whose entries are all older than `min_ms` is
        # deleted when next read (see `entries`), which is when Redis would have expired it.
        with self._stream_lock():
            stream = self._read_stream(key)
            ms = at_ms
            seq = 0
            if stream:
                newest_ms, newest_seq = (int(part) for part in stream[-1][0].split("-"))
                if newest_ms >= ms:
                    ms, seq = newest_ms, newest_seq + 1
            entry_id = f"{ms}-{seq}"
            stream.append((entry_id, dict(fields)))
            kept = stream[-max_entries:] if max_entries > 0 else []
            kept = [(i, f) for i, f in kept if _id_ms(i) >= min_ms]
            self._write_stream(key, kept)
        return entry_id

    def entries(
        self, key: str, min_ms: int, count: int | None = None
    ) -> list[tuple[str, dict[str, bytes]]]:
        with self._stream_lock():
            stream = self._read_stream(key)
            kept = [(i, f) for i, f in stream if _id_ms(i) >= min_ms]
            if stream and not kept:
                os.unlink(self._stream_path(key))
        return kept[::-1][:count]

    def entry(self, key: str, entry_id: str) -> dict[str, bytes] | None:
        with self._stream_lock():
            stream = self._read_stream(key)
        return next((fields for i, fields in stream if i == entry_id), None)

    def _stream_path(self, key: str) -> str:
        return os.path.join(self._streams, hashlib.sha256(key.encode()).hexdigest() + ".json")

    def _stream_lock(self) -> AbstractContextManager[None]:
        os.makedirs(self._streams, exist_ok=True)
        return _locked(os.path.join(self._streams, ".lock"))

    def _read_stream(self, key: str) -> list[tuple[str, dict[str, bytes]]]:
        try:
            with open(self._stream_path(key), encoding="utf-8") as f:
                raw = json.load(f)
        except FileNotFoundError:
            return []
        return [(i, {n: base64.b64decode(v) for n, v in fields.items()}) for i, fields in raw]

    def _write_stream(self, key: str, stream: list[tuple[str, dict[str, bytes]]]) -> None:
        path = self._stream_path(key)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump([[i, {n: _b64(v) for n, v in fields.items()}] for i, fields in stream], f)
        os.replace(temporary, path)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _id_ms(entry_id: str) -> int:
    return int(entry_id.split("-")[0])


@contextmanager
def _locked(path: str) -> Iterator[None]:
    """An exclusive lock on a file, for every process and thread on this machine (each call
    opens its own file description, so threads of one process exclude each other too)."""
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def set_json(store: Store, key: str, value: Any, ttl: int) -> None:
    store.set(key, json.dumps(value).encode(), ttl)


def pop_json(store: Store, key: str) -> Any | None:
    raw = store.pop(key)
    return None if raw is None else json.loads(raw)
