"""What operators see: one JSON line per request, metrics summed over workers, /metrics guarded."""

from __future__ import annotations

import hashlib

import requests

from m365_emulator.tenant import Tenant
from tests.support.balancer import Browser
from tests.support.gunicorn import Instance


def test_each_request_is_one_json_line_naming_its_upstream_calls_and_no_person(
    instances: tuple[Instance, Instance], browser: Browser, tenant: Tenant
) -> None:
    a, _ = instances
    browser.sign_in(a, user="stale-photo")
    page = browser.get(a, "/", headers={"X-Request-ID": "probe-0123456789"})
    assert page.headers["X-Request-ID"] == "probe-0123456789"
    lines = [line for line in a.request_log() if line["request_id"] == "probe-0123456789"]
    assert len(lines) == 1
    line = lines[0]
    user = tenant.user("stale-photo")
    assert line["endpoint"] == "overview.index"
    assert line["route"] == "/"
    assert line["status"] == 200
    assert line["duration_ms"] > 0
    assert (
        line["user"] == hashlib.sha256(f"{user.oid}.{tenant.tenant_id}".encode()).hexdigest()[:16]
    )
    services = {call["service"] for call in line["upstream"]}
    assert services == {"graph", "sharepoint"}
    assert all(call["status"] and call["duration_ms"] >= 0 for call in line["upstream"])
    # Never a token, an e-mail address or a photo in the log (security.md A7, E8).
    text = a.log_path.read_text()
    assert user.upn not in text and user.upn.split("@")[0] not in text
    assert "eyJ" not in text  # every JWT starts with it
    assert "\\xff\\xd8" not in text and "/9j/" not in text  # JPEG bytes, raw or base64


def test_metrics_are_only_for_allowed_addresses(
    instances: tuple[Instance, Instance], browser: Browser
) -> None:
    a, _ = instances
    browser.sign_in(a)
    browser.get(a, "/")  # an overview: upstream calls to count
    # Through the proxy a client address is known: not in METRICS_ALLOWED_FROM.
    assert browser.get(a, "/metrics").status_code == 403
    # A scraper on the host itself (no proxy hop) is allowed.
    metrics = requests.get(f"{a.url}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert 'profilefix_request_duration_seconds_bucket{endpoint="overview.index"' in metrics.text
    assert "profilefix_upstream_duration_seconds_bucket" in metrics.text


def test_security_events_are_json_lines_on_stdout_with_the_client_the_proxy_reports(
    instances: tuple[Instance, Instance], browser: Browser, tenant: Tenant
) -> None:
    a, _ = instances
    browser.sign_in(a, user="in-sync")
    refused = browser.post(a, "/logout", headers={"X-Request-ID": "csrf-probe-0123456"})
    assert refused.status_code == 400
    user = tenant.user("in-sync")
    pseudonym = hashlib.sha256(f"{user.oid}.{tenant.tenant_id}".encode()).hexdigest()[:16]
    events = a.security_log()
    signed_in = [e for e in events if e["event"] == "sign_in.succeeded" and e["user"] == pseudonym]
    assert signed_in and signed_in[-1]["client"] == browser.address
    (csrf,) = [e for e in events if e["request_id"] == "csrf-probe-0123456"]
    assert csrf["event"] == "csrf.failed" and csrf["user"] == pseudonym
    assert user.oid not in a.log_path.read_text()
