"""WCAG 2.2 AA in Chromium: axe-core finds nothing on the pages without sign-in and on those no
demo link reaches, in English and Danish; the upload-and-crop path works with the keyboard
alone. (Every signed-in page, for every demo user, is checked in tests/e2e/test_screens_e2e.py,
together with its screenshots.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import g as flask_g
from flask import render_template
from playwright.sync_api import Browser, Page, Route, expect

from tests import imagegen
from tests.support.chromium import (
    axe_report,
    demo_sign_in,
    load_axe,
    tab_to,
    violations_report,
    watched_page,
)
from tests.support.demo_app import LiveServer

pytestmark = pytest.mark.e2e


LANGUAGES = ("en", "da")
# Pages without sign-in: welcome, helpdesk, signed out, a failed sign-in and an error page.
SIGNED_OUT_PAGES = ("/", "/helpdesk", "/signed-out", "/auth/redirect", "/static/no-such-file.css")
CLOCK_START = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


@pytest.fixture
def open_page(browser: Browser, live_server: LiveServer) -> Iterator[callable]:
    """`open_page(language, signed_in=None)`: a fresh browser context whose Accept-Language is
    `language`; with `signed_in` (another page), it carries that page's cookies."""
    contexts = []

    def _open(language: str, signed_in: Page | None = None) -> Page:
        state = signed_in.context.storage_state() if signed_in is not None else None
        context = browser.new_context(
            base_url=live_server.url, locale=language, storage_state=state
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return watched_page(context)

    yield _open
    for context in contexts:
        context.close()


def _axe_report_on_a_paused_clock(page: Page) -> str:
    """`axe_report` on a page whose clock the test moves: axe schedules its own steps with
    timers, so the clock is moved on 1 s (fake) while it runs."""
    load_axe(page)
    page.evaluate("() => { window.axeRun = axe.run().then((r) => r.violations); }")
    page.clock.run_for(1000)
    return violations_report(page, page.evaluate("() => window.axeRun"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_signed_out_pages_are_clean(open_page, language: str) -> None:
    page = open_page(language)
    report = ""
    for path in SIGNED_OUT_PAGES:
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", language)
        report += axe_report(page)
    assert not report, report


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_expired_form_page_is_clean(open_page, live_server: LiveServer, language: str) -> None:
    # A form posted with a token that no longer holds (signed-out pages have no forms that
    # need one: the language switch is a cookie of its own).
    page = open_page(language)
    demo_sign_in(page, live_server, "in-sync", start="/login")
    page.goto("/photo/remove")
    page.locator("form.actions input[name=csrf_token]").evaluate("e => e.value = 'stale'")
    page.locator("#confirm-remove").press("Enter")
    page.wait_for_load_state()
    expect(page.locator("h1")).to_have_text(
        "The form expired" if language == "en" else "Formularen er udløbet"
    )
    assert not axe_report(page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_upload_and_crop_with_the_keyboard_alone(
    open_page, live_server: LiveServer, tmp_path: Path, language: str
) -> None:
    before = live_server.tenant.user("stale-photo").photo.data
    photo = tmp_path / "portrait.jpg"
    photo.write_bytes(imagegen.jpeg((1200, 900)))
    page = open_page(language)
    # Playwright turns on Chromium's file-chooser interception when the first listener is
    # added, without waiting for it (`fire_and_forget` in its channel_owner.py): a key pressed
    # right after `expect_file_chooser` could open the headless, invisible native dialog
    # instead. A listener from the start has it on long before (puppeteer/puppeteer#6040).
    page.on("filechooser", lambda _: None)
    demo_sign_in(page, live_server, "stale-photo", start="/login")
    page.goto("/photo/resync")
    # To the upload page by keyboard: the re-sync page offers an upload instead.
    tab_to(page, "main a[href^='/photo']:not([href^='/photo/'])")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/photo$"))

    tab_to(page, "#photo")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(photo))
    expect(page.locator("#crop-box")).to_be_visible()
    expect(page.locator("#crop-size")).to_have_value("900")
    tab_to(page, "#crop-box")
    for key in ("-", "-", "ArrowRight", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    size = int(page.locator("#crop-size").input_value())
    assert size < 900
    assert int(page.locator("#crop-x").input_value()) > (1200 - size) // 2
    assert page.locator("#crop-position").inner_text().strip()  # read out to screen readers
    tab_to(page, "button[data-crop='centre']")
    page.keyboard.press("Enter")
    # "Centre" starts over from the largest centred square.
    expect(page.locator("#crop-size")).to_have_value("900")
    expect(page.locator("#crop-x")).to_have_value("150")
    tab_to(page, "button[data-crop='smaller']")
    page.keyboard.press("Enter")
    tab_to(page, "#crop-box")
    page.keyboard.press("ArrowLeft")
    assert int(page.locator("#crop-size").input_value()) < 900
    report = axe_report(page)

    tab_to(page, "#save-photo")
    page.keyboard.press("Enter")
    for service in ("graph", "sharepoint"):
        expect(page.locator(f'[data-service="{service}"] span')).to_have_attribute(
            "data-state", "verified", timeout=30_000
        )
    report += axe_report(page)
    assert not report, report
    assert live_server.tenant.user("stale-photo").photo.data != before
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_the_skip_link_is_the_first_stop_and_reaches_the_content(open_page) -> None:
    page = open_page("da")
    page.goto("/helpdesk")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Gå til indholdet")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()


def _rendered(live_server: LiveServer, language: str, template: str, **context: object) -> str:
    """A page as its handler renders it, for pages no link of the demo leads to."""
    app = live_server.app
    with app.test_request_context("/attributes", headers={"Accept-Language": language}):
        app.preprocess_request()
        if context.pop("store_down", False):
            flask_g.store_down = True
        return render_template(template, request_id="0123456789abcdef", **context)


def _serve(body: str) -> Callable[[Route], None]:
    """A route handler answering `body` (one parameter, so Playwright passes only the route)."""
    return lambda route: route.fulfill(body=body, content_type="text/html")


@pytest.mark.parametrize("language", LANGUAGES)
def test_pages_no_demo_link_reaches_are_clean(
    open_page, live_server: LiveServer, language: str
) -> None:
    pages = {
        "upstream": _rendered(
            live_server, language, "errors/upstream.html", status=502, message="Graph failed."
        ),
        "unavailable": _rendered(
            live_server, language, "errors/unavailable.html", status=503, store_down=True
        ),
        "limited": _rendered(live_server, language, "photo/limited.html", message="Wait."),
    }
    page = open_page(language)
    report = ""
    for name, body in pages.items():
        page.route(f"**/{name}", _serve(body))
        page.goto(f"/{name}")
        report += axe_report(page)
    assert not report, report


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_microsoft_is_busy_page_retries_only_as_long_as_the_user_lets_it(
    open_page, live_server: LiveServer, language: str
) -> None:
    busy = _rendered(
        live_server,
        language,
        "errors/upstream.html",
        status=503,
        message="Microsoft is busy: try again in 2 s.",
        auto_retry=2,
    )
    page = open_page(language)
    # The page's timers run only when the test moves its clock on.
    page.clock.install(time=CLOCK_START)
    page.clock.pause_at(CLOCK_START + timedelta(seconds=1))
    page.route("**/busy", _serve(busy))
    page.goto("/busy")
    report = _axe_report_on_a_paused_clock(page)
    page.evaluate("() => addEventListener('beforeunload', () => { window.leaving = true; })")
    page.locator("#auto-retry-stop").press("Enter")
    expect(page.locator("#try-again")).to_be_focused()
    page.clock.run_for(2500)  # past the 2 s Microsoft named
    assert page.evaluate("() => window.leaving !== true")  # stopped: no retry
    assert page.url.endswith("/busy")
    page.goto("/busy")
    with page.expect_request("**/attributes", timeout=5_000):  # not stopped: it asks again
        page.clock.run_for(2500)
    assert not report, report
