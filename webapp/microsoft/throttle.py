"""Holding back from Microsoft together: a throttle gate shared through Redis, and a cap on
how many calls one worker process has in flight per service.

Graph and SharePoint throttle per app and per tenant, not per server (security.md §1.4, §1.5):
when one instance is told "429, Retry-After: 30", every instance must wait, or the others keep
spending the budget and prolong the block. The cap keeps one busy worker from opening dozens
of parallel calls to SharePoint, whose per-app budget is the tightest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import redis
import requests
from requests.adapters import BaseAdapter

from webapp.microsoft.http import LocalThrottleGate, ThrottleGate
from webapp.settings import Settings
from webapp.store import RedisStore, Store

logger = logging.getLogger(__name__)

# Calls in flight per service in ONE worker process (an instance has `workers` of them, see
# config/gunicorn.conf.py: 2 workers x 16 threads by default); fleet-wide in-flight calls =
# instances x workers x these numbers. A page reads both services in parallel (2-4 calls at
# once), so 16 threads could want ~32 Graph and ~32 SharePoint calls at a time. Graph's bound
# equals the thread count. SharePoint's per-app budget (1,200 resource units/min below 1k
# licences, security.md §1.5; ~1-2 units per REST call) is the one a photo campaign exhausts,
# so it gets fewer: 12 still serves a worker's 16 threads at ordinary load (measured with
# benchmarks/load_test.py; 6 made pages wait for slots at 50 users) but stops one slow or
# throttling SharePoint from tying up every thread. Its rate is policed by Retry-After, shared
# through the gate above; this cap only bounds the pile-up. Sign-in (Entra) sits in between.
OUTBOUND_LIMITS: Mapping[str, int] = {"graph": 16, "sharepoint": 12, "entra": 8}

# How long a call waits for a free slot before it fails like a timeout (no retry: the service
# is already busy with this worker's other calls). Well inside the clients' 10 s budget.
SLOT_WAIT = 5.0

# After Redis failed, how long the gate keeps to its local state before asking Redis again, so
# that a black-holed Redis costs one connect timeout per interval, not one per outbound call.
REDIS_RETRY_INTERVAL = 5.0

# PTTL is Redis's own clock: instances with skewed clocks still agree on the remaining wait.
# Only ever lengthen a hold: a shorter Retry-After seen later must not cut an earlier one.
_HOLD = """
local remaining = redis.call('PTTL', KEYS[1])
if remaining < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
end
return remaining
"""


class RedisThrottleGate:
    """A `ThrottleGate` whose holds every instance sees (one Redis key per service, PX expiry).

    While Redis answers it is the one truth (so clearing a key releases every instance). It
    fails open: while Redis is unreachable the gate answers from this process's own record of
    the holds it was told about, so a Redis outage never blocks calls to Microsoft. Without a
    client it is that local gate alone (one instance without Redis).
    """

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        prefix: str = "profilefix:throttle:",
        on_wait: Callable[[str, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._on_wait = on_wait
        self._clock = clock
        self._local = LocalThrottleGate(clock)
        self._redis_down_until = 0.0
        self._hold_script = client.register_script(_HOLD) if client is not None else None

    def wait_time(self, service: str) -> float:
        wait = self._shared_wait(service)
        if wait is None:
            wait = self._local.wait_time(service)
        if wait > 0 and self._on_wait is not None:
            self._on_wait(service, wait)
        return wait

    def hold(self, service: str, seconds: float) -> None:
        self._local.hold(service, seconds)
        milliseconds = int(seconds * 1000)
        if milliseconds <= 0 or not self._redis_usable():
            return
        try:
            self._hold_script(  # type: ignore[misc]
                keys=[self._prefix + service], args=[milliseconds, str(time.time())]
            )
        except redis.RedisError as exc:
            self._redis_failed(exc)
            return
        logger.info("%s asked to wait %.1f s; every instance holds back", service, seconds)

    def _shared_wait(self, service: str) -> float | None:
        """Redis's answer, which is the truth while it can be had; None when it cannot."""
        if not self._redis_usable():
            return None
        try:
            remaining_ms = self._client.pttl(self._prefix + service)  # type: ignore[union-attr]
        except redis.RedisError as exc:
            self._redis_failed(exc)
            return None
        # -2: no key, -1: no expiry (never written by us); both mean "no hold".
        return remaining_ms / 1000 if remaining_ms > 0 else 0.0

    def _redis_usable(self) -> bool:
        return self._client is not None and self._clock() >= self._redis_down_until

    def _redis_failed(self, exc: redis.RedisError) -> None:
        self._redis_down_until = self._clock() + REDIS_RETRY_INTERVAL
        logger.warning(
            "throttle gate: Redis unavailable (%s); using this process's holds for %.0f s",
            type(exc).__name__,
            REDIS_RETRY_INTERVAL,
        )


def gate_for(store: Store, on_wait: Callable[[str, float], None] | None = None) -> ThrottleGate:
    """The shared gate when records live in Redis, else one for this process only."""
    client = store.client if isinstance(store, RedisStore) else None
    return RedisThrottleGate(client, on_wait=on_wait)


class OutboundBusyError(requests.exceptions.ConnectTimeout):
    """No call slot for the service freed up in time; handled like a timeout (no retry)."""


class _BoundedAdapter(BaseAdapter):
    """Wraps a transport adapter so that each service has at most N requests in flight."""

    def __init__(
        self,
        inner: BaseAdapter,
        service_of: Callable[[str], str],
        slots: Mapping[str, threading.BoundedSemaphore],
        slot_wait: float,
    ) -> None:
        super().__init__()
        self.inner = inner
        self._service_of = service_of
        self._slots = slots
        self._slot_wait = slot_wait

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        service = self._service_of(request.url or "")
        slot = self._slots[service]
        if not slot.acquire(timeout=self._slot_wait):
            raise OutboundBusyError(
                f"all {service} call slots of this worker stayed busy for {self._slot_wait} s",
                request=request,
            )
        try:
            return self.inner.send(request, **kwargs)
        finally:
            slot.release()

    def close(self) -> None:
        self.inner.close()


def service_classifier(settings: Settings) -> Callable[[str], str]:
    """Which service a URL belongs to, from the configured endpoints (hosts may coincide, as
    on the emulator, so paths decide first)."""
    graph = settings.graph_endpoint + "/"
    authority = settings.authority + "/"
    login_host = urlsplit(settings.authority).netloc
    sharepoint_host = urlsplit(settings.sharepoint_url).netloc

    def service_of(url: str) -> str:
        if url.startswith(graph):
            return "graph"
        if url.startswith(authority):
            return "entra"
        host = urlsplit(url).netloc
        if host == login_host and host != sharepoint_host:
            return "entra"
        return "sharepoint"  # the SharePoint origin and its My Site host

    return service_of


def bound_concurrency(
    session: requests.Session,
    settings: Settings,
    limits: Mapping[str, int] = OUTBOUND_LIMITS,
    slot_wait: float = SLOT_WAIT,
) -> None:
    """Cap in-flight calls per service on every adapter mounted on `session` (idempotent)."""
    slots = {service: threading.BoundedSemaphore(n) for service, n in limits.items()}
    service_of = service_classifier(settings)
    for prefix, adapter in list(session.adapters.items()):
        if not isinstance(adapter, _BoundedAdapter):
            session.mount(prefix, _BoundedAdapter(adapter, service_of, slots, slot_wait))
