"""Scripted latency and failures per service, for tests, benchmarks and demo users.

A test says what Microsoft will do next ("the next 3 Graph calls answer 429 with
Retry-After: 2", "SharePoint takes 200 ms", "Graph accepts the connection and never
answers"); the emulator's request hook consumes the plan before the real handler runs.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

SERVICES = ("entra", "graph", "sharepoint")


@dataclass(frozen=True)
class Fault:
    """One scripted failure: the status to answer with and an optional Retry-After."""

    status: int
    retry_after: int | None = None
    user_oid: str | None = None  # only for this user's calls (None: anyone's)
    path_contains: str | None = None  # only for paths containing this (None: any path)

    def matches(self, user_oid: str | None, path: str) -> bool:
        if self.user_oid is not None and self.user_oid != user_oid:
            return False
        return self.path_contains is None or self.path_contains in path


class Faults:
    """The fault plan of one tenant; safe to change while requests are served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._latency: dict[str, float] = dict.fromkeys(SERVICES, 0.0)
            self._queued: dict[str, deque[Fault]] = {s: deque() for s in SERVICES}
            self._persistent: dict[str, list[Fault]] = {s: [] for s in SERVICES}
            self._hang: dict[str, float] = dict.fromkeys(SERVICES, 0.0)

    def set_latency(self, service: str, seconds: float) -> None:
        """Add `seconds` before every answer of `service` (all services: "*")."""
        with self._lock:
            for s in self._services(service):
                self._latency[s] = seconds

    def fail_next(
        self,
        service: str,
        count: int,
        status: int,
        retry_after: int | None = None,
        *,
        user_oid: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """The next `count` matching calls to `service` answer `status`."""
        fault = Fault(status, retry_after, user_oid, path_contains)
        with self._lock:
            self._queued[service].extend([fault] * count)

    def fail_always(
        self,
        service: str,
        status: int,
        retry_after: int | None = None,
        *,
        user_oid: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Every matching call to `service` answers `status` until `clear()`/`heal()`."""
        with self._lock:
            self._persistent[service].append(Fault(status, retry_after, user_oid, path_contains))

    def heal(self, service: str) -> None:
        """Stop the scripted failures of `service` (latency stays)."""
        with self._lock:
            self._queued[service].clear()
            self._persistent[service].clear()
            self._hang[service] = 0.0

    def hang(self, service: str, seconds: float = 3600.0) -> None:
        """Accept calls to `service` but answer only after `seconds` (a hung connection)."""
        with self._lock:
            self._hang[service] = seconds

    def latency(self, service: str) -> float:
        with self._lock:
            return self._latency.get(service, 0.0) + self._hang.get(service, 0.0)

    def take(self, service: str, user_oid: str | None, path: str) -> Fault | None:
        """The fault this call must answer with, consuming a queued one; None: serve it."""
        with self._lock:
            for fault in self._persistent.get(service, ()):
                if fault.matches(user_oid, path):
                    return fault
            queue = self._queued.get(service)
            if not queue:
                return None
            for i, fault in enumerate(queue):
                if fault.matches(user_oid, path):
                    del queue[i]
                    return fault
        return None

    @staticmethod
    def _services(service: str) -> tuple[str, ...]:
        return SERVICES if service == "*" else (service,)
