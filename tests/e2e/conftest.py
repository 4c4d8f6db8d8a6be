"""End-to-end fixtures: the demo app on a live server and headless Debian Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from webapp import create_app
from webapp.extensions import limiter

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's hosts,
# which this closed network refuses (env notes for this machine).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    app: Flask

    @property
    def tenant(self):  # type: ignore[no-untyped-def]
        """The demo tenant the app runs on (its emulator, in-process)."""
        return self.app.extensions["demo_tenant"]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app exactly as `./dev demo` runs it (no settings: demo tenant), on a free port."""
    mp = pytest.MonkeyPatch()
    for name in ("CLIENT_ID", "CLIENT_SECRET", "SHAREPOINT_URL", "AUTHORITY", "REDIS_URL"):
        mp.delenv(name, raising=False)
    mp.setenv("PROFILEFIX_ENV_FILE", str(tmp_path_factory.mktemp("env") / "none.env"))
    app = create_app(instance_path=str(tmp_path_factory.mktemp("instance")))
    mp.undo()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()


@pytest.fixture(autouse=True)
def _fresh_demo_tenant(request: pytest.FixtureRequest) -> None:
    """Every e2e test starts from the seeded demo tenant (one test's fixes don't leak)."""
    if "live_server" in request.fixturenames:
        request.getfixturevalue("live_server").tenant.reset()


@pytest.fixture(autouse=True)
def _fresh_sign_in_budget() -> Iterator[None]:
    """/login allows 30 sign-ins a minute per address, and every test comes from 127.0.0.1:
    leave the next test the whole budget."""
    yield
    limiter.reset()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, collecting CSP violations."""
    context = browser.new_context(base_url=live_server.url)
    # Generous: CI machines may be busy; a real hang still fails within a minute.
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.csp_violations = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda msg: (
            page.csp_violations.append(msg.text)  # type: ignore[attr-defined]
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    yield page
    context.close()


def in_app(url: str) -> bool:
    """Back on the app's own pages (not the emulator's sign-in pages, not the redirect URI)."""
    return "/_m365/" not in url and "/auth/redirect" not in url


def stepping_up(url: str) -> bool:
    """Entra's authorize page asked for an authentication context: the stronger sign-in the
    app sends a user to after a claims challenge (issue 14)."""
    return "/_m365/" in url and "/oauth2/v2.0/authorize?" in url and "acrs" in url


def demo_sign_in(page: Page, live_server: LiveServer, key: str, start: str = "/") -> None:
    """Sign in through the emulator's pages as the demo user `key`, starting at `start`, and
    verify on the step-up page when the app's page asks for a stronger sign-in."""
    user = live_server.tenant.user(key)
    page.goto(start)
    if page.get_by_role("link", name="Sign in").count():
        page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label(user.upn, exact=False).check()
    page.get_by_role("button", name="Sign in").click()
    # The consent page (or the answer going back to the app) must have loaded before asking
    # whether it has an Accept button: the click returns once the navigation has started.
    page.wait_for_load_state()
    if page.get_by_role("button", name="Accept").count():
        page.get_by_role("button", name="Accept").click()
    page.wait_for_url(lambda url: in_app(url) or stepping_up(url))
    if stepping_up(page.url):
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(in_app)


_axe = Axe()


def axe_report(page: Page) -> str:
    """What axe-core finds wrong with the page as it is now (WCAG 2.2 AA); "" when nothing."""
    results = _axe.run(page)
    if results.violations_count == 0:
        return ""
    return f"\n== {page.url} ({page.locator('html').get_attribute('lang')})\n" + (
        results.generate_report()
    )


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until `selector` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")
