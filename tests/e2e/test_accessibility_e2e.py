"""WCAG 2.2 AA in Chromium: axe-core finds nothing on any page, for every demo user, in English and
Danish; the upload-and-crop path works with the keyboard alone; pictures say whose and where."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.base import AxeResults
from axe_playwright_python.sync_playwright import Axe
from flask import g as flask_g
from flask import render_template
from playwright.sync_api import Browser, Page, Route, expect

from m365_emulator.seed import DEMO_USERS
from tests import imagegen
from tests.support.chromium import demo_sign_in, watched_page
from tests.support.demo_app import LiveServer

pytestmark = pytest.mark.e2e


LANGUAGES = ("en", "da")
USER_KEYS = [user.key for user in DEMO_USERS]
# Every page a signed-in person can open: those that show the person's own state, checked for
# every demo user, and those the same for everyone (the helpdesk page, a link to no page, which
# lands on the overview with a note, and an error page), checked for one.
PAGES_OF_EACH_USER = (
    "/",
    "/attributes",
    "/photo",
    "/photo/resync",
    "/photo/remove",
    "/profile",
    "/history",
)
PAGES_ALIKE_FOR_ALL = ("/helpdesk", "/old-link?ticket=INC0012345", "/pictures/no-such-picture")
# Pages without sign-in: welcome, helpdesk, signed out, a failed sign-in and an error page.
SIGNED_OUT_PAGES = ("/", "/helpdesk", "/signed-out", "/auth/redirect", "/static/no-such-file.css")
SERVICES = {"graph": re.compile("Outlook|Teams"), "sharepoint": re.compile("SharePoint")}

_axe = Axe()
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


def _violations(page: Page) -> str:
    results = _axe.run(page)
    if results.violations_count == 0:
        return ""
    return f"\n== {page.url} ({page.locator('html').get_attribute('lang')})\n" + (
        results.generate_report()
    )


def _violations_on_a_paused_clock(page: Page) -> str:
    """`_violations` on a page whose clock the test moves: axe schedules its own steps with
    timers, so the clock is moved on 1 s (fake) while it runs."""
    page.evaluate(_axe.axe_script)
    page.evaluate("() => { window.axeRun = axe.run({resultTypes: ['violations']}); }")
    page.clock.run_for(1000)
    results = AxeResults(page.evaluate("() => window.axeRun"))
    if results.violations_count == 0:
        return ""
    return f"\n== {page.url}\n" + results.generate_report()


def _check_pictures(page: Page, name: str) -> list[str]:
    """Every photo a service shows has alt text naming the person and that service (the
    history's thumbnails are the person's own, "your photo before/after this change")."""
    problems = []
    for picture in page.locator("img[src^='/pictures/']").all():
        src = picture.get_attribute("src") or ""
        alt = picture.get_attribute("alt") or ""
        service = "graph" if "/pictures/graph" in src else "sharepoint"
        if name not in alt or not SERVICES[service].search(alt):
            problems.append(f"{page.url}: {src} has alt {alt!r}")
    return problems


def _sweep(open_page, live_server: LiveServer, key: str, paths: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Sign in as `key` once, then open every path in each language: no axe violation, no CSP
    violation, and every photo's alt text names the person and the service."""
    name = str(live_server.tenant.user(key).directory["displayName"])
    english = open_page("en")
    demo_sign_in(english, live_server, key, start="/login")
    report = ""
    pictures: list[str] = []
    for language, page in (("en", english), ("da", open_page("da", signed_in=english))):
        for path in paths:
            page.goto(path)
            page.wait_for_load_state("load")
            expect(page.locator("html")).to_have_attribute("lang", language)
            report += _violations(page)
            pictures += _check_pictures(page, name)
        assert page.csp_violations == []  # type: ignore[attr-defined]
    assert not report, report
    assert not pictures, "\n".join(pictures)


@pytest.mark.parametrize("key", USER_KEYS)
def test_every_page_is_clean_for_every_user_in_both_languages(
    open_page, live_server: LiveServer, key: str
) -> None:
    _sweep(open_page, live_server, key, PAGES_OF_EACH_USER)


def test_pages_alike_for_every_user_are_clean_in_both_languages(
    open_page, live_server: LiveServer
) -> None:
    _sweep(open_page, live_server, "stale-photo", PAGES_ALIKE_FOR_ALL)


@pytest.mark.parametrize("language", LANGUAGES)
def test_signed_out_pages_are_clean(open_page, language: str) -> None:
    page = open_page(language)
    report = ""
    for path in SIGNED_OUT_PAGES:
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", language)
        report += _violations(page)
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
    assert not _violations(page)


def _tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until `selector` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


@pytest.mark.parametrize("language", LANGUAGES)
def test_upload_and_crop_with_the_keyboard_alone(
    open_page, live_server: LiveServer, tmp_path: Path, language: str
) -> None:
    before = live_server.tenant.user("stale-photo").photo.data
    photo = tmp_path / "portrait.jpg"
    photo.write_bytes(imagegen.jpeg((1200, 900)))
    page = open_page(language)
    demo_sign_in(page, live_server, "stale-photo", start="/login")
    page.goto("/photo/resync")
    # To the upload page by keyboard: the re-sync page offers an upload instead.
    _tab_to(page, "main a[href^='/photo']:not([href^='/photo/'])")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/photo$"))

    _tab_to(page, "#photo")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(photo))
    expect(page.locator("#crop-box")).to_be_visible()
    expect(page.locator("#crop-size")).to_have_value("900")
    _tab_to(page, "#crop-box")
    for key in ("-", "-", "ArrowRight", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    size = int(page.locator("#crop-size").input_value())
    assert size < 900
    assert int(page.locator("#crop-x").input_value()) > (1200 - size) // 2
    assert page.locator("#crop-position").inner_text().strip()  # read out to screen readers
    _tab_to(page, "button[data-crop='centre']")
    page.keyboard.press("Enter")
    # "Centre" starts over from the largest centred square.
    expect(page.locator("#crop-size")).to_have_value("900")
    expect(page.locator("#crop-x")).to_have_value("150")
    _tab_to(page, "button[data-crop='smaller']")
    page.keyboard.press("Enter")
    _tab_to(page, "#crop-box")
    page.keyboard.press("ArrowLeft")
    assert int(page.locator("#crop-size").input_value()) < 900
    report = _violations(page)

    _tab_to(page, "#save-photo")
    page.keyboard.press("Enter")
    for service in ("graph", "sharepoint"):
        expect(page.locator(f'[data-service="{service}"] span')).to_have_attribute(
            "data-state", "verified", timeout=30_000
        )
    report += _violations(page)
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
        report += _violations(page)
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
    report = _violations_on_a_paused_clock(page)
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
