"""The per-service cap on calls in flight (microsoft/session.py), with a stand-in transport."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from webapp.microsoft.session import OutboundBusyError, bound_concurrency, service_classifier
from webapp.settings import Settings

SETTINGS = Settings(
    client_id="c",
    client_secret="s",
    tenant_id="t",
    authority="https://login.microsoftonline.com/t",
    graph_endpoint="https://graph.microsoft.com/v1.0",
    sharepoint_url="https://contoso.sharepoint.com",
    secret_key="k" * 40,
)


class _Held(BaseAdapter):
    """Answers 200 once `release` is set; counts calls in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.entered.release()
        self.release.wait(5)
        response = requests.Response()
        response.status_code = 200
        response.request = request
        return response

    def close(self) -> None:
        return None


def test_services_are_told_apart_by_configured_endpoints() -> None:
    service_of = service_classifier(SETTINGS)
    assert service_of("https://graph.microsoft.com/v1.0/me/photo/$value") == "graph"
    assert service_of("https://login.microsoftonline.com/t/oauth2/v2.0/token") == "entra"
    assert service_of("https://contoso.sharepoint.com/_api/SP.UserProfiles") == "sharepoint"
    assert service_of("https://contoso-my.sharepoint.com/User%20Photos/x.jpg") == "sharepoint"
    # One origin for everything (the emulator): paths decide.
    one = SETTINGS.with_overrides(
        authority="https://127.0.0.1:9/t",
        graph_endpoint="https://127.0.0.1:9/v1.0",
        sharepoint_url="https://127.0.0.1:9",
    )
    service_of = service_classifier(one)
    assert service_of("https://127.0.0.1:9/v1.0/me") == "graph"
    assert service_of("https://127.0.0.1:9/t/v2.0/.well-known/openid-configuration") == "entra"
    assert service_of("https://127.0.0.1:9/_api/web") == "sharepoint"


def test_calls_beyond_the_cap_wait_then_fail_like_a_timeout() -> None:
    session = requests.Session()
    held = _Held()
    session.mount("https://", held)
    limits = {"graph": 2, "sharepoint": 1, "entra": 1}
    bound_concurrency(session, SETTINGS, limits=limits, slot_wait=0.2)
    bound_concurrency(session, SETTINGS)  # idempotent: no second layer
    results: list[int] = []
    callers = [
        threading.Thread(
            target=lambda: results.append(
                session.get("https://graph.microsoft.com/v1.0/me", timeout=5).status_code
            )
        )
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    for _ in callers:
        assert held.entered.acquire(timeout=5)
    # Graph's two slots are taken; SharePoint has its own.
    with pytest.raises(requests.Timeout) as caught:
        session.get("https://graph.microsoft.com/v1.0/me", timeout=5)
    assert isinstance(caught.value, OutboundBusyError)
    held.release.set()
    for caller in callers:
        caller.join(5)
    assert results == [200, 200]
    assert session.get("https://contoso.sharepoint.com/_api/web", timeout=5).status_code == 200
