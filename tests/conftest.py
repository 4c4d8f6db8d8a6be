"""Shared fixtures: the Microsoft 365 emulator over HTTPS, its tenant, and a page driver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from m365_emulator.tenant import Tenant
from tests.support.authorize import AuthorizePages
from tests.support.emulator import Emulator, register_test_client, serve_emulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The emulator served over HTTPS on a free loopback port for the whole test session."""
    with serve_emulator(tmp_path_factory.mktemp("tls")) as served:
        yield served


@pytest.fixture
def tenant(emulator: Emulator) -> Tenant:
    """The emulator's tenant, reset to its seeded state, with the test app registered."""
    tenant = emulator.tenant
    tenant.reset()
    register_test_client(tenant)
    return tenant


@pytest.fixture
def http(emulator: Emulator) -> Iterator[requests.Session]:
    """A fresh session (no emulator sign-in cookie) trusting the emulator's CA."""
    with emulator.session() as session:
        yield session


@pytest.fixture
def pages(http: requests.Session) -> AuthorizePages:
    return AuthorizePages(http)
