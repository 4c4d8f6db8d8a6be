"""Holding back from Microsoft after a Retry-After: per user, or for everyone when the whole
app is throttled, shared by every instance through Redis.

Graph and SharePoint count most limits per user (per app per user), some per app in the tenant
(security.md §1.4, §1.5; reference §3.1, §4.8). A wait one user was told applies to that user's
next calls on every instance, and to nobody else's: otherwise one throttled user (or one user
whose SharePoint answers 503) would stall everyone. Only a response that says the app or the
tenant is throttled (`holds_everyone`) holds back every user's calls to that service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import redis

from webapp.store import RedisStore, Store

logger = logging.getLogger(__name__)

# The longest hold recorded, per user or for everyone. A hold only stops us from asking; when it
# lapses the next call asks again, and a service still throttling answers with a fresh
# Retry-After that renews it. Graph usually asks for 10-20 s; 300 s (SharePoint) and 315 s
# (Graph) have been seen (security.md §1.4). For those rare long waits the cap costs one more
# refused call per user every 120 s, which barely counts against a limit; a long cap (the 600 s
# of old, or a wrong `Retry-After: 86400` held as is) keeps users from a service long after it
# recovered. 120 s also spans two of SharePoint's one-minute resource-unit windows (security.md
# §1.5), so an app-wide hold outlasts the window that caused it.
MAX_HOLD = 120.0

# After Redis failed, how long the gate keeps to its local state before asking Redis again, so
# that a black-holed Redis costs one connect timeout per interval, not one per outbound call.
REDIS_RETRY_INTERVAL = 5.0

# Graph names the scope of a throttle in `x-ms-throttle-scope: <Scope>/<Limit>/<AppId>/<Id>`;
# these scopes cover every user of the app ("Tenant_Application": this app in this tenant,
# "Tenant": every app in the tenant, "Application": this app everywhere). Source: Microsoft
# Graph service-specific throttling limits, "Throttled responses requests"
# (learn.microsoft.com/graph/throttling-limits; microsoftgraph/microsoft-graph-docs,
# concepts/throttling-limits.md).
_APP_WIDE_SCOPES = frozenset({"tenant_application", "tenant", "application"})

# SharePoint sends the IETF RateLimit headers only for its per-app resource-unit limits, when
# the app nears or exceeds its budget in the tenant; a per-user throttle carries Retry-After
# alone. Sources: "Avoid getting throttled or blocked in SharePoint Online", RateLimit headers
# (learn.microsoft.com/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-
# blocked-in-sharepoint-online); "Prevent throttling in your application by using RateLimit
# headers in SharePoint Online" (devblogs.microsoft.com/microsoft365dev, SharePoint team).
_APP_BUDGET_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def holds_everyone(headers: Mapping[str, str]) -> bool:
    """Whether a throttled response says the whole app (or tenant) is throttled, not one user.

    Without such a sign a 429 or 503 is taken as the caller's own: Graph's and SharePoint's
    ordinary limits are per user (reference §3.1, §4.8).
    """
    scope = headers.get("x-ms-throttle-scope", "")
    if scope.split("/", 1)[0].strip().lower() in _APP_WIDE_SCOPES:
        return True
    return any(headers.get(name) is not None for name in _APP_BUDGET_HEADERS)


class ThrottleGate(Protocol):
    """Shared "service throttled until" state, so all instances hold back, not only the one told.

    `account` names one user (e.g. "oid.tid"); a hold without one is for every user.
    """

    def wait_time(self, service: str, account: str | None = None) -> float:
        """Seconds until `account` may call `service` again (0 when it may call now)."""
        ...

    def hold(self, service: str, seconds: float, account: str | None = None) -> None:
        """Record that `service` asked `account` (None: every caller) to wait `seconds`."""
        ...


def _key(service: str, account: str | None) -> str:
    return service if account is None else f"{service}:user:{account}"


def _capped(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_HOLD)


class NoThrottleGate:
    """A gate that shares nothing: each call learns about throttling by itself."""

    def wait_time(self, service: str, account: str | None = None) -> float:
        return 0.0

    def hold(self, service: str, seconds: float, account: str | None = None) -> None:
        return None


class LocalThrottleGate:
    """A gate shared by the threads of one process (a Redis-backed one shares across instances)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_time(self, service: str, account: str | None = None) -> float:
        keys = {_key(service, None), _key(service, account)}
        with self._lock:
            until = max(self._until.get(key, 0.0) for key in keys)
            return max(0.0, until - self._clock())

    def hold(self, service: str, seconds: float, account: str | None = None) -> None:
        key = _key(service, account)
        with self._lock:
            until = self._clock() + _capped(seconds)
            self._until[key] = max(until, self._until.get(key, 0.0))


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
    """A `ThrottleGate` whose holds every instance sees (one Redis key per service and user,
    and one per service for holds on everyone; PX expiry).

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

    def key(self, service: str, account: str | None = None) -> str:
        """The Redis key of a hold on `account` (None: on everyone) for `service`."""
        return self._prefix + _key(service, account)

    def wait_time(self, service: str, account: str | None = None) -> float:
        wait = self._shared_wait(service, account)
        if wait is None:
            wait = self._local.wait_time(service, account)
        if wait > 0 and self._on_wait is not None:
            self._on_wait(service, wait)
        return wait

    def hold(self, service: str, seconds: float, account: str | None = None) -> None:
        seconds = _capped(seconds)
        self._local.hold(service, seconds, account)
        milliseconds = int(seconds * 1000)
        if milliseconds <= 0 or self._hold_script is None or not self._redis_usable():
            return
        try:
            self._hold_script(
                keys=[self.key(service, account)], args=[milliseconds, str(time.time())]
            )
        except redis.RedisError as exc:
            self._redis_failed(exc)
            return
        who = "every user's calls" if account is None else "one user's calls"
        logger.info("%s asked to wait %.1f s; every instance holds back %s", service, seconds, who)

    def _shared_wait(self, service: str, account: str | None) -> float | None:
        """Redis's answer, which is the truth while it can be had; None when it cannot."""
        if self._client is None or not self._redis_usable():
            return None
        keys = [self.key(service, None)]
        if account is not None:
            keys.append(self.key(service, account))
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.pttl(key)
                remaining_ms = pipe.execute()
        except redis.RedisError as exc:
            self._redis_failed(exc)
            return None
        # -2: no key, -1: no expiry (never written by us); both mean "no hold".
        return max(max(int(ms), 0) for ms in remaining_ms) / 1000

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
