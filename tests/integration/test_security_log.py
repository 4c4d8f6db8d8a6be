"""Security events: one JSON line each at INFO, naming the user by pseudonym only (issue 16
item 10), and a client's X-Request-ID is believed only through a trusted proxy."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from m365_emulator.tenant import Tenant
from tests.support.signin import SignIn
from webapp import create_app
from webapp.settings import Settings

LOGGER = "profilefix.security"


def events(caplog: pytest.LogCaptureFixture, name: str | None = None) -> list[dict[str, Any]]:
    found = []
    for record in caplog.records:
        if record.name == LOGGER:
            assert record.levelno == logging.INFO
            line = json.loads(record.getMessage())
            if name is None or line["event"] == name:
                found.append(line)
    return found


def pseudonym(tenant: Tenant, key: str) -> str:
    return hashlib.sha256(f"{tenant.user(key).oid}.{tenant.tenant_id}".encode()).hexdigest()[:16]


@pytest.fixture(autouse=True)
def capture(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def test_sign_in_success_is_an_event_with_the_users_pseudonym(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    sign_in.as_user("in-sync")
    (line,) = events(caplog, "sign_in.succeeded")
    assert line["user"] == pseudonym(tenant, "in-sync")
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", line["request_id"])
    assert line["client"] == "127.0.0.1"
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == LOGGER)
    assert tenant.user("in-sync").oid not in text and "eyJ" not in text
    assert tenant.user("in-sync").upn not in text


def test_sign_in_failure_is_an_event_with_its_reason(
    client: FlaskClient, sign_in: SignIn, caplog: pytest.LogCaptureFixture
) -> None:
    answer = sign_in.answer(sign_in.start(), "in-sync")
    client.post("/auth/redirect", data={**answer, "state": "forged"})
    (line,) = events(caplog, "sign_in.failed")
    assert line["reason"] == "state"
    assert line["user"] is None


def test_a_csrf_failure_is_an_event(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    sign_in.as_user("in-sync")
    assert client.post("/logout").status_code == 400
    (line,) = events(caplog, "csrf.failed")
    assert line["user"] == pseudonym(tenant, "in-sync")
    assert line["route"] == "/logout"


def test_a_limit_hit_is_an_event(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(31):
        client.get("/login")
    (line,) = events(caplog, "rate_limit.hit")
    assert line["limit"] == "30 per 1 minute"
    assert line["scope"] == "auth.login"
    assert line["route"] == "/login"


def test_a_refused_request_is_an_event(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 403
    (line,) = events(caplog, "request.refused")
    assert line["status"] == 403 and line["route"] == "/metrics"
    assert line["client"] == "198.51.100.7"


def test_a_clients_request_id_is_not_believed_without_a_trusted_proxy(
    client: FlaskClient,
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "client-chosen-id-123"})
    assert response.headers["X-Request-ID"] != "client-chosen-id-123"


def test_a_trusted_proxys_request_id_joins_the_logs(
    settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    app: Flask = create_app(
        settings.with_overrides(trusted_proxies=1), instance_path=str(tmp_path / "i")
    )
    response = app.test_client().get(
        "/healthz",
        headers={"X-Request-ID": "proxy-chosen-id-123", "X-Forwarded-For": "203.0.113.5"},
    )
    assert response.headers["X-Request-ID"] == "proxy-chosen-id-123"
