"""The change history on a real redis-server: the stream trims itself as the file store does,
both instances show the same history, and it survives a Redis crash with AOF."""

from __future__ import annotations

import io
import re
import secrets
from html import unescape

import pytest
import redis
from PIL import Image

from m365_emulator.tenant import Tenant
from tests.support.balancer import Browser
from tests.support.clients import add_user
from tests.support.clock import Clock
from tests.support.gunicorn import Instance
from tests.support.redis_server import RedisServer
from webapp.changes.log import DAY, EntryKind, HistoryLog
from webapp.sealing import Sealer
from webapp.store import RedisStore, connect_redis

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
START = 1_700_000_000.0


@pytest.fixture
def clock() -> Clock:
    return Clock(start=START)


@pytest.fixture
def history(redis_server: RedisServer, clock: Clock) -> HistoryLog:
    # A prefix of its own: the instances of the other tests share this Redis.
    store = RedisStore(
        connect_redis(redis_server.url), Sealer.random(), prefix=f"t{secrets.token_hex(4)}:"
    )
    return HistoryLog(store, max_entries=5, days=10, clock=clock)


def saved(history: HistoryLog, n: int) -> str | None:
    return history.record("alice", EntryKind.PROFILE_SAVED, {"n": n}, request_id=f"r{n}")


def numbers(history: HistoryLog) -> list[int]:
    return [entry.details["n"] for entry in history.entries("alice")]


# -- the stream's rules in Redis, as in the file store (tests/unit/test_history_log.py) ---------


def test_redis_keeps_only_the_newest_entries(history: HistoryLog, clock: Clock) -> None:
    for n in range(8):
        saved(history, n)
        clock.now += 1
    assert numbers(history) == [7, 6, 5, 4, 3]
    assert [entry.details["n"] for entry in history.recent("alice", 2)] == [7, 6]


def test_redis_drops_entries_older_than_the_window_and_forgets_an_idle_stream(
    history: HistoryLog, clock: Clock, redis_client: redis.Redis
) -> None:
    saved(history, 0)
    clock.now += 6 * DAY
    saved(history, 1)
    clock.now += 5 * DAY
    assert numbers(history) == [1]
    saved(history, 2)
    clock.now -= 5 * DAY
    assert numbers(history) == [2, 1]
    key = f"{history.store.prefix}history:alice"  # type: ignore[attr-defined]
    assert redis_client.xlen(key) == 2  # MINID trimmed entry 0 away for good
    assert 9 * DAY < redis_client.ttl(key) <= 10 * DAY  # gone after 10 days without a change


def test_redis_ids_never_go_back_in_time(history: HistoryLog, clock: Clock) -> None:
    first = saved(history, 0)
    clock.now -= 30  # an instance whose clock is behind
    second = saved(history, 1)
    assert first is not None and second is not None
    assert first.split("-")[0] == second.split("-")[0] and first != second
    assert numbers(history) == [1, 0]


# -- two instances, one Redis, a crash --------------------------------------------------------


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (720, 720), colour).save(out, "JPEG", quality=90)
    return out.getvalue()


def _upload(browser: Browser, instance: Instance, data: bytes) -> str:
    form = dict(_HIDDEN.findall(browser.get(instance, "/photo").text))
    response = browser.post(
        instance,
        "/photo",
        data={"csrf_token": form["csrf_token"], "form_token": form["form_token"]},
        files={"photo": ("phone.jpg", data, "image/jpeg")},
        headers={"Referer": f"{instance.url}/photo"},
    )
    assert response.status_code == 303, response.text[:300]
    return response.headers["Location"]


def _changes(browser: Browser, instance: Instance) -> list[str]:
    page = browser.get(instance, "/history")
    assert page.status_code == 200, page.status_code
    return [unescape(title) for title in re.findall(r"<h2>([^<]+)</h2>", page.text)]


def test_both_instances_show_the_same_history_and_it_survives_a_redis_crash(
    instances: tuple[Instance, Instance],
    browser: Browser,
    redis_server: RedisServer,
    tenant: Tenant,
) -> None:
    a, b = instances
    # A person of this test's own: the instances' Redis outlives every test, and with it the
    # history of any demo user another test changed.
    browser.sign_in(a, user=add_user(tenant).key)
    _upload(browser, a, _jpeg((30, 140, 200)))
    _upload(browser, b, _jpeg((200, 60, 30)))
    assert _changes(browser, a) == ["New photo", "New photo"]
    assert _changes(browser, b) == _changes(browser, a)
    page = browser.get(b, "/history").text
    first_picture = re.search(r'src="(/history/pictures/[0-9-]+/new)"', page)
    assert first_picture is not None
    assert browser.get(a, first_picture[1]).headers["Content-Type"] == "image/jpeg"

    redis_server.kill()  # SIGKILL: only what AOF already has comes back
    redis_server.start()

    assert _changes(browser, b) == ["New photo", "New photo"]
    assert browser.get(a, first_picture[1]).status_code == 200
    csv = browser.get(a, "/history.csv")
    assert csv.headers["Content-Disposition"].startswith("attachment;")
    assert csv.content.decode("utf-8-sig").count("New photo") == 2
