"""A throttle one instance is told about holds back every instance (issue 8 item 5)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
import requests

from m365_emulator.tenant import Tenant
from tests.production.conftest import Browser, Instance, free_port
from webapp.microsoft.throttle import RedisThrottleGate
from webapp.store import connect_redis

HOLD_KEY = "profilefix:throttle:graph"


@pytest.fixture
def graph_hold_cleared(redis_client: redis.Redis) -> Iterator[None]:
    yield
    redis_client.delete(HOLD_KEY)  # Redis is the truth while up: this releases every instance


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
    graph_hold_cleared: None,
) -> None:
    a, b = instances
    browser.sign_in(a)
    # Longer than the 10 s in-request budget: A must not sleep, only record and report.
    tenant.faults.fail_next("graph", 1, 429, retry_after=30)
    page = browser.get(a, "/")
    assert page.status_code < 500
    assert 25_000 < redis_client.pttl(HOLD_KEY) <= 30_000
    graph_calls = len(tenant.requests_to("graph"))
    waits_before = _throttle_waits(b)
    page = browser.get(b, "/")
    assert page.status_code < 500
    assert len(tenant.requests_to("graph")) == graph_calls  # B never called Graph
    assert _throttle_waits(b) > waits_before
    # SharePoint is another service with its own budget: B still asked it.
    assert tenant.requests_to("sharepoint")


def test_holds_only_ever_lengthen_and_expire_in_redis(redis_client: redis.Redis) -> None:
    gate = RedisThrottleGate(redis_client, prefix="test:throttle:")
    gate.hold("sharepoint", 5)
    gate.hold("sharepoint", 1)  # a shorter Retry-After later must not cut the first
    assert 4.5 < gate.wait_time("sharepoint") <= 5
    assert gate.wait_time("graph") == 0
    redis_client.delete("test:throttle:sharepoint")
    assert gate.wait_time("sharepoint") == 0  # Redis is the truth while it answers


def test_the_gate_fails_open_and_fast_when_redis_is_unreachable() -> None:
    dead = connect_redis(f"redis://127.0.0.1:{free_port()}/0")
    waits: list[tuple[str, float]] = []
    gate = RedisThrottleGate(
        dead, on_wait=lambda service, seconds: waits.append((service, seconds))
    )
    started = time.monotonic()
    gate.hold("graph", 3)  # remembered by this process even though Redis cannot take it
    for _ in range(50):
        assert 2 < gate.wait_time("graph") <= 3
        assert gate.wait_time("sharepoint") == 0
    assert time.monotonic() - started < 0.5
    assert waits and waits[0][0] == "graph"
