"""deploy/nginx.conf in front of the two instances: it starts, buffers request bodies so that
slow clients never reach gunicorn, and passes X-Forwarded-* to TRUSTED_PROXIES=1 (issue 16
item 6). The figures with and without nginx come from benchmarks/slow_clients.py."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.support.gunicorn import Instance
from tests.support.nginx import Nginx
from tests.support.ports import wait_until
from tests.support.slow_clients import SlowUploads, probe

# A client address of its own on the loopback network, so that what the app logs as the
# client can only be what nginx reported (nginx itself connects from 127.0.0.1).
CLIENT = "127.0.0.5"


@pytest.fixture(scope="module")
def nginx(
    instances: tuple[Instance, Instance], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Nginx]:
    proxy = Nginx([f"127.0.0.1:{i.port}" for i in instances], tmp_path_factory.mktemp("nginx"))
    proxy.start()
    yield proxy
    proxy.stop()


class _FromAddress(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["source_address"] = (CLIENT, 0)
        super().init_poolmanager(*args, **kwargs)


def _client(nginx: Nginx) -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    http.verify = str(nginx.ca)
    http.mount("https://", _FromAddress())
    return http


def test_the_deploy_config_starts_and_serves_the_app_over_https(nginx: Nginx) -> None:
    with _client(nginx) as http:
        page = http.get(f"{nginx.url}/helpdesk", timeout=10)
    assert page.status_code == 200 and "Links for the helpdesk" in page.text
    assert page.headers["Server"] == "nginx"  # no version to look up exploits for (D2)
    plain = requests.get(f"http://localhost:{nginx.http_port}/", allow_redirects=False, timeout=5)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    # Machines' paths are not for the internet (metrics) or only for the local network.
    with _client(nginx) as http:
        assert http.get(f"{nginx.url}/metrics", timeout=5).status_code == 404
        assert http.get(f"{nginx.url}/healthz", timeout=5).status_code == 403
    assert requests.get(f"{nginx.url}/healthz", verify=str(nginx.ca), timeout=5).status_code == 200


def test_the_app_sees_the_client_and_the_request_id_nginx_reports(
    nginx: Nginx, instances: tuple[Instance, Instance]
) -> None:
    with _client(nginx) as http:
        # A forged X-Forwarded-For is replaced at the edge, not believed.
        refused = http.post(
            f"{nginx.url}/logout", headers={"X-Forwarded-For": "203.0.113.66"}, timeout=10
        )
    assert refused.status_code == 400  # no CSRF token: a security event
    request_id = refused.headers["X-Request-ID"]
    assert len(request_id) == 32  # nginx's $request_id, believed from a trusted proxy

    def event() -> dict | None:
        lines = [e for i in instances for e in i.security_log() if e["request_id"] == request_id]
        return lines[0] if lines else None

    wait_until(lambda: event() is not None, 5, "the security event")
    line = event()
    assert line is not None and line["event"] == "csrf.failed"
    assert line["client"] == CLIENT


def test_a_slow_body_reaches_the_app_only_when_complete(
    nginx: Nginx, instances: tuple[Instance, Instance]
) -> None:
    tls = ssl.create_default_context(cafile=str(nginx.ca))
    upload = SlowUploads(
        "127.0.0.1", nginx.https_port, 1, tls=tls, body_bytes=2_000, bytes_per_second=1_000
    )
    upload.start()  # about two seconds of body
    sock = upload.sockets[0]
    deadline = time.monotonic() + 15
    answer = b""
    while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
        sock.settimeout(15)
        answer += sock.recv(4096)
    upload.stop()
    assert answer.startswith(b"HTTP/1.1 400")
    request_id = next(
        line.split(b":", 1)[1].strip().decode()
        for line in answer.split(b"\r\n")
        if line.lower().startswith(b"x-request-id:")
    )
    (line,) = [r for i in instances for r in i.request_log() if r["request_id"] == request_id]
    # The app read the whole body at local speed: it never waited for the client.
    assert line["duration_ms"] < 500


def test_slow_clients_do_not_make_the_instances_deaf(nginx: Nginx, tmp_path: Path) -> None:
    tls = ssl.create_default_context(cafile=str(nginx.ca))
    # More slow uploads than the two instances have threads (2 x 8 here).
    slow = SlowUploads("127.0.0.1", nginx.https_port, 40, tls=tls)
    slow.start()
    try:
        probes = probe(f"{nginx.url}/healthz", 6.0, verify=str(nginx.ca))
    finally:
        slow.stop()
    assert probes.answered == len(probes.samples) > 10
    assert probes.max_latency is not None and probes.max_latency < 2.0
