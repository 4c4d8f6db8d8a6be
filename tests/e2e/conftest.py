"""End-to-end fixtures: the demo app on a live server and headless Debian Chromium.

Every test gets a demo app of its own (a fresh demo tenant, sessions, sign-in rate limits and
throttle holds; starting one takes a few milliseconds), so no test inherits another's state and
nothing has to be reset between tests. The throttled demo users answer without a wait and
every demo user has already consented to the app's permissions (tests/support/demo_app.py);
Chromium is started once per session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS, new_context, watched_page
from tests.support.demo_app import LiveServer, script_throttled_users_without_waits, serve_demo_app

# An assertion waits up to 15 s (Playwright's default is 5 s): on a busy 2-core machine decoding
# a photo for the crop can take longer; a real failure still fails.
expect.set_options(timeout=15_000)


@pytest.fixture
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This test's demo app, as `./dev demo` runs it, on a free port."""
    with serve_demo_app(tmp_path_factory.mktemp("instance")) as server:
        script_throttled_users_without_waits(server.tenant)
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, collecting CSP violations."""
    context = new_context(browser, live_server)
    yield watched_page(context)
    context.close()
