"""Production-shaped fixtures: a real redis-server, the emulator over HTTPS, and two gunicorn
instances of the app sharing that Redis, driven like a browser behind a load balancer.

Both instances believe they are served at PUBLIC_URL (http://localhost:5000, the redirect URI
the test registration knows); the tests play the load balancer and pick an instance for each
request. Cookies ignore ports, so one `requests.Session` carries the same cookies to both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from m365_emulator.tenant import Tenant
from tests.support.balancer import Browser
from tests.support.emulator import TEST_CLIENT_ID, TEST_CLIENT_SECRET, Emulator
from tests.support.gunicorn import Instance, clean_environment
from tests.support.redis_server import RedisServer
from tests.support.signin import APP_URL

SECRET_KEY = "production-test-secret-key-0123456789abcdef"


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
    env = clean_environment()
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
        PUBLIC_URL=APP_URL,
        # The tests act as one proxy in front of both: X-Forwarded-For names the client.
        TRUSTED_PROXIES="1",
        REQUESTS_CA_BUNDLE=str(emulator.ca_path),
        PROFILEFIX_ENV_FILE=str(tmp_path_factory.mktemp("env") / "none.env"),
    )
    root = tmp_path_factory.mktemp("instances")
    # One small worker each keeps the tests quick; the config file is production's otherwise.
    pair = tuple(
        Instance(name, env, root / name.lower(), workers=1, threads=8) for name in ("A", "B")
    )
    try:
        for instance in pair:
            instance.start()
        yield pair  # type: ignore[misc]
    finally:
        for instance in pair:
            instance.stop()


@pytest.fixture
def browser(emulator: Emulator, tenant: Tenant) -> Iterator[Browser]:
    b = Browser(emulator, tenant)
    yield b
    b.close()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist every production test runs on one worker (`--dist loadgroup`): one
    redis-server and one pair of instances for them all, not one per worker. (Without the
    plugin, `-p no:xdist`, its marker is unknown and there is nothing to group.)"""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("production"))
