"""A throttle one instance is told about holds back every instance (issue 8 item 5): for the
user it was sent for, or for everyone when the whole app is throttled (issue 16 item 5)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
import requests

from m365_emulator.tenant import Tenant
from tests.support.balancer import Browser
from tests.support.emulator import Emulator
from tests.support.gunicorn import Instance
from tests.support.ports import free_port
from webapp.microsoft.throttle import MAX_HOLD, RedisThrottleGate
from webapp.store import connect_redis

PREFIX = "profilefix:throttle:"


def hold_key(tenant: Tenant, user: str, service: str = "graph") -> str:
    return f"{PREFIX}{service}:user:{tenant.user(user).oid}.{tenant.tenant_id}"


@pytest.fixture
def holds_cleared(redis_client: redis.Redis) -> Iterator[None]:
    yield
    # Redis is the truth while up: this releases every instance.
    for key in redis_client.scan_iter(f"{PREFIX}*"):
        redis_client.delete(key)


def _throttle_waits(instance: Instance) -> float:
    metrics = requests.get(f"{instance.url}/metrics", timeout=5).text
    for line in metrics.splitlines():
        if line.startswith('profilefix_throttle_wait_seconds_count{service="graph"}'):
            return float(line.split()[-1])
    return 0.0


def test_a_graph_429_seen_by_one_instance_is_honoured_by_the_other(
    instances: tuple[Instance, Instance],
    browser: Browser,
    tenant: Tenant,
    redis_client: redis.Redis,
    holds_cleared: None,
) -> None:
    a, b = instances
    browser.sign_in(a)
    # Longer than the 10 s in-request budget: A must not sleep, only record and report.
    tenant.faults.fail_next("graph", 1, 429, retry_after=30)
    page = browser.get(a, "/")
    assert page.status_code < 500
    assert 25_000 < redis_client.pttl(hold_key(tenant, "in-sync")) <= 30_000
    assert redis_client.pttl(f"{PREFIX}graph") == -2  # nobody else is held back
    graph_calls = len(tenant.requests_to("graph"))
    waits_before = _throttle_waits(b)
    page = browser.get(b, "/")
    assert page.status_code < 500
    assert len(tenant.requests_to("graph")) == graph_calls  # B never called Graph
    assert _throttle_waits(b) > waits_before
    # SharePoint is another service with its own budget: B still asked it.
    assert tenant.requests_to("sharepoint")


def test_one_users_throttle_does_not_hold_back_another_user_on_the_other_instance(
    instances: tuple[Instance, Instance],
    browser: Browser,
    emulator: Emulator,
    tenant: Tenant,
    redis_client: redis.Redis,
    holds_cleared: None,
) -> None:
    a, b = instances
    browser.sign_in(a, user="graph-throttled")
    tenant.faults.fail_always("graph", 429, 60, user_oid=tenant.user("graph-throttled").oid)
    assert browser.get(a, "/").status_code < 500
    colleague = Browser(emulator, tenant)
    try:
        colleague.sign_in(b, user="in-sync")
        graph_calls = len(tenant.requests_to("graph"))
        page = colleague.get(b, "/")
        assert len(tenant.requests_to("graph")) > graph_calls  # B asked Graph for the colleague
        assert page.status_code == 200
        assert "Microsoft is busy" not in page.text
    finally:
        colleague.http.close()
    # The throttled user stays held back, on every instance.
    assert redis_client.pttl(hold_key(tenant, "graph-throttled")) > 55_000


def test_an_app_wide_hold_is_honoured_for_every_user_and_capped(
    instances: tuple[Instance, Instance],
    browser: Browser,
    tenant: Tenant,
    redis_client: redis.Redis,
    holds_cleared: None,
) -> None:
    _a, b = instances
    gate = RedisThrottleGate(redis_client)
    gate.hold("graph", 3_600)  # e.g. Graph said x-ms-throttle-scope: Tenant_Application/...
    assert MAX_HOLD * 1000 - 5_000 < redis_client.pttl(f"{PREFIX}graph") <= MAX_HOLD * 1000
    browser.sign_in(b)
    graph_calls = len(tenant.requests_to("graph"))
    page = browser.get(b, "/")
    assert page.status_code < 500
    assert len(tenant.requests_to("graph")) == graph_calls  # B held this user back as well


def test_holds_only_ever_lengthen_and_expire_in_redis(redis_client: redis.Redis) -> None:
    gate = RedisThrottleGate(redis_client, prefix="test:throttle:")
    gate.hold("sharepoint", 5, "alice")
    gate.hold("sharepoint", 1, "alice")  # a shorter Retry-After later must not cut the first
    assert 4.5 < gate.wait_time("sharepoint", "alice") <= 5
    assert gate.wait_time("sharepoint", "bob") == 0
    assert gate.wait_time("graph", "alice") == 0
    redis_client.delete("test:throttle:sharepoint:user:alice")
    assert gate.wait_time("sharepoint", "alice") == 0  # Redis is the truth while it answers


def test_the_gate_fails_open_and_fast_when_redis_is_unreachable() -> None:
    dead = connect_redis(f"redis://127.0.0.1:{free_port()}/0")
    waits: list[tuple[str, float]] = []
    gate = RedisThrottleGate(
        dead, on_wait=lambda service, seconds: waits.append((service, seconds))
    )
    started = time.monotonic()
    gate.hold("graph", 3)  # remembered by this process even though Redis cannot take it
    gate.hold("sharepoint", 3, "alice")
    for _ in range(50):
        assert 2 < gate.wait_time("graph", "bob") <= 3
        assert 2 < gate.wait_time("sharepoint", "alice") <= 3
        assert gate.wait_time("sharepoint", "bob") == 0
    assert time.monotonic() - started < 0.5
    assert waits and waits[0][0] == "graph"
