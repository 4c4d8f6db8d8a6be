"""Probes, the Host check and /metrics in-process (Flask's test client, no Redis needed)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from flask import Flask

from webapp import create_app
from webapp.settings import Settings, SettingsError

PUBLIC = "https://profile.contoso.com"


def tenant_settings(**changes: object) -> Settings:
    """A real-tenant-shaped Settings; probes and metrics need no emulator behind them."""
    base = Settings(
        client_id="client",
        client_secret="secret",
        tenant_id="tenant",
        authority="https://login.microsoftonline.com/tenant",
        graph_endpoint="https://graph.microsoft.com/v1.0",
        sharepoint_url="https://contoso.sharepoint.com",
        secret_key="probe-test-secret-key-0123456789abcdef",
    )
    return base.with_overrides(**changes)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    settings = tenant_settings(public_url=PUBLIC, metrics_allowed_from=("127.0.0.1", "10.1.0.0/16"))
    return create_app(settings, instance_path=str(tmp_path))


def test_probes_answer_any_host_and_never_open_a_session(app: Flask) -> None:
    client = app.test_client()
    client.set_cookie("__Host-session", "not-a-session-id", domain="10.0.0.4")
    for path in ("/healthz", "/readyz"):
        response = client.get(path, base_url="http://10.0.0.4:8000")  # a probe by address
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    assert client.get("/readyz", base_url=PUBLIC).get_json()["checks"] == {
        "settings": "ok",
        "store": "ok",
    }


def test_a_host_we_do_not_serve_is_a_plain_400(app: Flask) -> None:
    client = app.test_client()
    for headers in ({"Host": "evil.example"}, {"Host": "profile.contoso.com.evil.example"}):
        response = client.get("/", base_url="http://evil.example", headers=headers)
        assert response.status_code == 400
        assert "Traceback" not in response.get_data(as_text=True)
    posted = client.post("/logout", base_url="http://evil.example")
    assert posted.status_code == 400
    assert client.get("/", base_url=PUBLIC).status_code == 200


def test_metrics_only_for_listed_addresses_and_networks(app: Flask) -> None:
    client = app.test_client()
    client.get("/", base_url=PUBLIC)
    allowed = client.get("/metrics", base_url=PUBLIC, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert allowed.status_code == 200
    assert "profilefix_request_duration_seconds" in allowed.get_data(as_text=True)
    refused = client.get("/metrics", base_url=PUBLIC, environ_base={"REMOTE_ADDR": "10.2.0.1"})
    assert refused.status_code == 403


def _metrics(tmp_path: Path, trusted_proxies: int, peer: str, **headers: str) -> int:
    settings = tenant_settings(
        public_url=PUBLIC, trusted_proxies=trusted_proxies, metrics_allowed_from=("127.0.0.1",)
    )
    client = create_app(settings, instance_path=str(tmp_path)).test_client()
    response = client.get(
        "/metrics", base_url=PUBLIC, environ_base={"REMOTE_ADDR": peer}, headers=headers
    )
    return response.status_code


@pytest.mark.parametrize(
    ("trusted_proxies", "headers"),
    [
        # A proxy on the same host that the app was not told about: its own address is
        # allowed, but the request is from whoever it forwarded.
        (0, {"X-Forwarded-For": "203.0.113.9"}),
        (0, {"Forwarded": "for=203.0.113.9;proto=https"}),
        (0, {"X-Real-IP": "203.0.113.9"}),
        # Through the trusted proxy: the client it reports decides, not the proxy.
        (1, {"X-Forwarded-For": "203.0.113.9"}),
        # Fewer hops than configured: the address left is a proxy's, not the client's.
        (2, {"X-Forwarded-For": "127.0.0.1"}),
    ],
)
def test_metrics_are_never_allowed_by_a_proxys_own_address(
    tmp_path: Path, trusted_proxies: int, headers: dict[str, str]
) -> None:
    assert _metrics(tmp_path, trusted_proxies, "127.0.0.1", **headers) == 403


def test_metrics_are_allowed_by_the_address_the_trusted_proxy_reports(tmp_path: Path) -> None:
    assert _metrics(tmp_path, 1, "10.0.0.2", **{"X-Forwarded-For": "127.0.0.1"}) == 200


def test_metrics_cannot_be_reached_by_a_forged_forwarded_for_without_a_proxy(
    tmp_path: Path,
) -> None:
    assert _metrics(tmp_path, 0, "198.51.100.4", **{"X-Forwarded-For": "127.0.0.1"}) == 403
    assert _metrics(tmp_path, 0, "127.0.0.1") == 200  # a scraper on the host, no proxy


def test_a_bad_metrics_address_stops_start_up_with_one_line(tmp_path: Path) -> None:
    settings = tenant_settings(metrics_allowed_from=("localhost",))
    with pytest.raises(SettingsError, match="METRICS_ALLOWED_FROM"):
        create_app(settings, instance_path=str(tmp_path))


def test_the_request_line_is_json_with_a_pseudonym_and_survives_crlf(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="profilefix.request"):
        client.get(
            '/login?next=/%0d%0a{"forged":1}',
            base_url=PUBLIC,
            headers={"X-Request-ID": "<script>bad id"},
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "profilefix.request"]
    assert len(lines) == 1 and "\n" not in lines[0] and "\r" not in lines[0]
    record = json.loads(lines[0])
    assert record["endpoint"] == "auth.login"
    assert record["request_id"] != "<script>bad id"  # an invalid incoming id is replaced
    assert record["user"] is None


def test_a_proxy_the_app_was_not_told_about_gets_a_page_saying_what_to_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No PUBLIC_URL, TRUSTED_PROXIES=0: links and the redirect URI come from the request,
    # which behind a TLS-terminating proxy says http:// and the proxy's idea of the host.
    app = create_app(tenant_settings(), instance_path=str(tmp_path))
    client = app.test_client()
    assert client.get("/").status_code == 200  # reached directly: fine
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with caplog.at_level(logging.ERROR):
        response = client.get("/", headers=forwarded)
        client.get("/helpdesk", headers=forwarded)
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "PUBLIC_URL" in page and "TRUSTED_PROXIES" in page
    errors = [r for r in caplog.records if "TRUSTED_PROXIES" in r.getMessage()]
    assert len(errors) == 1  # said once, not per request
    assert client.get("/healthz", headers=forwarded).status_code == 200
