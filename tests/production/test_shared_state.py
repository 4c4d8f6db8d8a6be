"""Two instances on one Redis: sessions, sign-in and rate limits do not care which one answers."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import redis

from m365_emulator.tenant import Tenant
from tests.support.balancer import Browser
from tests.support.emulator import Emulator
from tests.support.gunicorn import Instance
from tests.support.signin import APP_URL


def test_a_session_started_on_one_instance_continues_on_the_other(
    instances: tuple[Instance, Instance], browser: Browser
) -> None:
    a, b = instances
    assert browser.sign_in(a) == "/"
    for instance in (b, a, b):
        assert browser.get(instance, "/photo").status_code == 200


def test_sign_in_started_on_one_instance_completes_on_the_other(
    instances: tuple[Instance, Instance],
    emulator: Emulator,
    tenant: Tenant,
) -> None:
    a, b = instances
    for round_ in range(4):  # security.md A13; alternate which instance starts
        first, second = (a, b) if round_ % 2 == 0 else (b, a)
        browser = Browser(emulator, tenant)
        auth_uri = browser.start_sign_in(first, next_page="/photo/resync")
        assert browser.finish_sign_in(second, auth_uri, "stale-photo") == "/photo/resync"
        assert browser.get(first, "/photo/resync").status_code == 200
        browser.http.close()


def test_the_redirect_uri_is_the_configured_one_whatever_the_request_says(
    instances: tuple[Instance, Instance], browser: Browser
) -> None:
    a, _ = instances
    auth_uri = browser.start_sign_in(a)
    assert parse_qs(urlsplit(auth_uri).query)["redirect_uri"] == [f"{APP_URL}/auth/redirect"]
    # security.md A12/D8: a Host or X-Forwarded-Host we do not serve is refused outright.
    assert browser.get(a, "/login", headers={"Host": "evil.example"}).status_code == 400
    spoofed = browser.get(a, "/login", headers={"X-Forwarded-Host": "evil.example"})
    assert spoofed.status_code == 400
    assert "Traceback" not in spoofed.text


def test_a_rate_limit_is_counted_across_both_instances(
    instances: tuple[Instance, Instance], browser: Browser
) -> None:
    a, b = instances
    # Sign-in start is limited to 30 a minute per client address; the proxy appends the
    # address it saw, so forged entries before it must not open a new bucket (D8).
    for i in range(30):
        forged = {"X-Forwarded-For": f"203.0.113.{i + 1}, {browser.address}"}
        response = browser.get((a, b)[i % 2], "/login", headers=forged)
        assert response.status_code == 302, (i, response.status_code)
    for instance in (a, b):
        refused = browser.get(instance, "/login")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
    # Another client is not affected.
    other = browser.get(a, "/login", headers={"X-Forwarded-For": "192.0.2.77"})
    assert other.status_code == 302


def test_anonymous_page_views_leave_no_session_in_redis(
    instances: tuple[Instance, Instance], browser: Browser, redis_client: redis.Redis
) -> None:
    a, b = instances
    before = set(redis_client.scan_iter("profilefix:session:*"))
    for instance, path in ((a, "/"), (b, "/helpdesk"), (a, "/?ticket=INC0012345")):
        response = browser.get(instance, path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    assert set(redis_client.scan_iter("profilefix:session:*")) == before


def test_a_note_for_the_next_page_travels_in_the_shared_session(
    instances: tuple[Instance, Instance], browser: Browser
) -> None:
    """Flashed notes are stored in the Redis session, which holds plain values only."""
    a, b = instances
    browser.sign_in(a, user="half-profile")
    page = browser.get(a, "/profile").text
    csrf_token = re.findall(r'name="csrf_token" value="([^"]+)"', page)[0]
    # Choosing "keep what is stored" for every field saves nothing and says so on the next page.
    kept = browser.post(
        b,
        "/profile/resolve",
        data={"csrf_token": csrf_token},
        headers={"Referer": f"{b.url}/profile"},
    )
    assert kept.status_code == 302, kept.text[:300]
    assert "Kept what is stored in Microsoft 365" in browser.get(a, "/profile").text
