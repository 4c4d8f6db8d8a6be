"""Headless Debian Chromium through Playwright, and signing in to the demo the way a person does."""

from __future__ import annotations

from weakref import WeakSet

from axe_playwright_python.base import AXE_SCRIPT, AxeResults
from playwright.sync_api import Browser, BrowserContext, Page

from tests.support.demo_app import LiveServer

CHROMIUM = "/usr/bin/chromium"
# Words a person should not meet before opening "Details for the helpdesk" (issue 15).
TECHNICAL_TERMS = ("SPS-", "ETag", "PictureURL", "Graph", "request id", "Microsoft's reference")
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


def watched_page(context: BrowserContext) -> Page:
    """A new page of `context` that collects Content-Security-Policy violations in
    `page.csp_violations` (a strict CSP breaks pages silently otherwise)."""
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
    return page


def new_context(browser: Browser, live_server: LiveServer, **options: object) -> BrowserContext:
    """A fresh context (no cookies) on the live server; a real hang still fails in 20 s."""
    context = browser.new_context(base_url=live_server.url, **options)  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    return context


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


def wait_for_every_picture(page: Page) -> None:
    """Until every picture on the page has arrived and none is broken."""
    page.wait_for_function(
        "() => Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0)"
    )


def keyboard_sign_in(page: Page, upn: str) -> None:
    """The emulator's own pages stay English (issue 7): pick the account, consent if asked,
    pressing the buttons with the keyboard as a person without a pointer would."""
    page.get_by_label(upn, exact=False).check()
    page.get_by_role("button", name="Sign in").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    if page.get_by_role("button", name="Accept").count():
        page.get_by_role("button", name="Accept").focus()
        page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/_m365/" not in url and "/auth/redirect" not in url)


# axe-core goes into every page of a context checked once (an init script: its 0.6 MB are sent
# once, not for every page), and only the violations come back: the whole result, each rule
# that passed with its nodes, took longer to send back than axe took to run (157 ms against
# 68 ms for the photo page). Playwright's objects take weak references.
_contexts_with_axe: WeakSet[BrowserContext] = WeakSet()
_RUN_AXE = "([within, options]) => axe.run(within || document, options).then((r) => r.violations)"


def load_axe(page: Page) -> None:
    """axe-core in this page now and in every page its context opens from now on."""
    if page.context not in _contexts_with_axe:
        page.context.add_init_script(AXE_SCRIPT)
        _contexts_with_axe.add(page.context)
    if not page.evaluate("() => 'axe' in window"):
        page.evaluate(AXE_SCRIPT)  # a page loaded before the context had the init script


def violations_report(page: Page, violations: list[dict]) -> str:
    """axe-core's violations on `page` as a readable report; "" when there are none."""
    if not violations:
        return ""
    return f"\n== {page.url} ({page.locator('html').get_attribute('lang')})\n" + (
        AxeResults({"violations": violations}).generate_report()
    )


def axe_report(page: Page, within: str | None = None, without: tuple[str, ...] = ()) -> str:
    """What axe-core finds wrong with the page as it is now (WCAG 2.2 AA); "" when nothing.
    `within`: a selector, to check only that part; `without`: axe rules another run already
    checked on the same page."""
    options: dict[str, object] = {"resultTypes": ["violations"]}
    if without:
        options["rules"] = {rule: {"enabled": False} for rule in without}
    load_axe(page)
    return violations_report(page, page.evaluate(_RUN_AXE, [within, options]))


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until `selector` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")
