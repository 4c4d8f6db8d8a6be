"""Production-shaped fixtures: a real redis-server, the emulator over HTTPS, and two gunicorn
instances of the app sharing that Redis, driven like a browser behind a load balancer.

Both instances believe they are served at PUBLIC_URL (http://localhost:5000, the redirect URI
the test registration knows); the tests play the load balancer and pick an instance for each
request. Cookies ignore ports, so one `requests.Session` carries the same cookies to both.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import requests

from m365_emulator.tenant import Tenant
from tests.conftest import TEST_CLIENT_ID, TEST_CLIENT_SECRET, AuthorizePages, Emulator

REPO = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PUBLIC_URL = "http://localhost:5000"
SECRET_KEY = "production-test-secret-key-0123456789abcdef"
# Settings an outer environment might carry into the instances.
_SETTING_NAMES = (
    "CLIENT_ID",
    "CLIENT_SECRET",
    "TENANT_ID",
    "AUTHORITY",
    "GRAPH_ENDPOINT",
    "SHAREPOINT_URL",
    "SECRET_KEY",
    "ORGANISATION_NAME",
    "SHAREPOINT_SCOPES",
    "REDIS_URL",
    "PUBLIC_URL",
    "TRUSTED_PROXIES",
    "METRICS_ALLOWED_FROM",
    "PROMETHEUS_MULTIPROC_DIR",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, redis.RedisError, requests.RequestException):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} did not come up within {timeout} s")


class RedisServer:
    """A `redis-server` of our own on a free port, with AOF on (as production must run it)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=2)

    def start(self, directory: Path | None = None) -> None:
        """Start (again) on the same port; a new `directory` means an empty Redis."""
        if directory is not None:
            self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: self.client().ping(), 10, "redis-server")

    def kill(self) -> None:
        """SIGKILL: the crash case, no chance to save anything beyond what AOF already has."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class Instance:
    """One app instance: gunicorn with the production config, on its own port."""

    def __init__(self, name: str, env: dict[str, str], directory: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = env
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "stdout.log"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(self.directory / "metrics")}
        self.process = subprocess.Popen(
            [
                GUNICORN,
                "-c",
                str(REPO / "config" / "gunicorn.conf.py"),
                # Command-line options override the file: one small worker keeps tests quick.
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--threads",
                "8",
                "webapp:create_app()",
            ],
            cwd=REPO,
            env=env,
            stdout=self.log_path.open("ab"),
            stderr=(self.directory / "stderr.log").open("ab"),
        )
        wait_until(
            lambda: requests.get(f"{self.url}/healthz", timeout=1).status_code == 200,
            20,
            f"instance {self.name}",
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None

    def json_log(self) -> list[dict[str, Any]]:
        """Every JSON line this instance wrote to stdout so far."""
        lines = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def request_log(self) -> list[dict[str, Any]]:
        """The request lines (one per request) among them."""
        return [line for line in self.json_log() if "event" not in line]

    def security_log(self) -> list[dict[str, Any]]:
        """The security events among them (webapp/audit.py)."""
        return [line for line in self.json_log() if "event" in line]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def instances(
    emulator: Emulator, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instance, Instance]]:
    """Instances A and B: same settings, same Redis, separate processes."""
    env = {k: v for k, v in os.environ.items() if k not in _SETTING_NAMES}
    env.update(
        CLIENT_ID=TEST_CLIENT_ID,
        CLIENT_SECRET=TEST_CLIENT_SECRET,
        TENANT_ID=emulator.tenant.tenant_id,
        AUTHORITY=emulator.authority,
        GRAPH_ENDPOINT=f"{emulator.url}/v1.0",
        SHAREPOINT_URL=emulator.url,
        SECRET_KEY=SECRET_KEY,
        ORGANISATION_NAME="Contoso",
        REDIS_URL=redis_server.url,
        PUBLIC_URL=PUBLIC_URL,
        # The tests act as one proxy in front of both: X-Forwarded-For names the client.
        TRUSTED_PROXIES="1",
        REQUESTS_CA_BUNDLE=str(emulator.ca_path),
        PROFILEFIX_ENV_FILE=str(tmp_path_factory.mktemp("env") / "none.env"),
    )
    root = tmp_path_factory.mktemp("instances")
    pair = (Instance("A", env, root / "a"), Instance("B", env, root / "b"))
    try:
        for instance in pair:
            instance.start()
        yield pair
    finally:
        for instance in pair:
            instance.stop()


_client_addresses = itertools.count(1)


class Browser:
    """A browser behind the load balancer: one cookie jar, requests sent to a chosen instance.

    Each Browser has its own client address (X-Forwarded-For), so per-address rate limits of
    one test never spill into another.
    """

    def __init__(self, emulator: Emulator, tenant: Tenant) -> None:
        self.http = emulator.session()
        n = next(_client_addresses)
        self.address = f"198.51.100.{n % 250 + 1}"
        self.http.headers["X-Forwarded-For"] = self.address
        self.pages = AuthorizePages(self.http)
        self.tenant = tenant

    def get(self, instance: Instance, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return self.http.get(instance.url + path, allow_redirects=False, **kwargs)

    def post(self, instance: Instance, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return self.http.post(instance.url + path, allow_redirects=False, **kwargs)

    def start_sign_in(self, instance: Instance, next_page: str | None = None) -> str:
        """GET /login on `instance`; returns the authority URL it sent the browser to."""
        response = self.get(instance, "/login", params={"next": next_page} if next_page else {})
        assert response.status_code == 302, response.status_code
        return response.headers["Location"]

    def finish_sign_in(self, instance: Instance, auth_uri: str, user_key: str) -> str:
        """Walk the emulator's pages as `user_key`, deliver the form_post to `instance`;
        returns the local path the app sent the browser to afterwards."""
        fields = self.pages.complete(auth_uri, self.tenant.user(user_key).oid)
        response = self.post(instance, "/auth/redirect", data=fields)
        assert response.status_code == 302, response.text[:300]
        location = response.headers["Location"]
        parts = urlsplit(location)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def sign_in(
        self, start: Instance, finish: Instance | None = None, user: str = "in-sync"
    ) -> str:
        return self.finish_sign_in(finish or start, self.start_sign_in(start), user)


@pytest.fixture
def browser(emulator: Emulator, tenant: Tenant) -> Iterator[Browser]:
    b = Browser(emulator, tenant)
    yield b
    b.http.close()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()
