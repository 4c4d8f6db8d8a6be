"""A helpdesk link on a Danish phone leads through sign-in to its page with the ticket shown;
the staff page puts a typed ticket into every link and reply."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.chromium import keyboard_sign_in
from tests.support.demo_app import LiveServer

pytestmark = pytest.mark.e2e


PHONE = {"width": 360, "height": 740}


@pytest.fixture
def danish_phone(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A phone-sized touch browser whose language is Danish (Accept-Language: da)."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="da-DK",
        extra_http_headers={"Accept-Language": "da"},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def staff_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(base_url=live_server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/photo?ticket=INC0012345", "Skift dit billede"),
        ("/photo/resync?ticket=INC0012345", "Vis dit aktuelle billede i SharePoint"),
        ("/attributes?ticket=INC0012345", "Dine profiloplysninger i Outlook, Teams og SharePoint"),
        ("/?ticket=INC0012345", "Hej Sam Okafor"),
    ],
)
def test_a_helpdesk_link_on_a_danish_phone_leads_through_sign_in_to_its_page(
    danish_phone: Page, live_server: LiveServer, path: str, heading: str
) -> None:
    page = danish_phone
    page.goto(path)
    if path.startswith("/?"):  # the overview welcomes signed-out visitors first
        expect(page.get_by_role("heading", level=1)).to_contain_text("Microsoft 365")
        page.get_by_role("link", name="Log på").tap()
    keyboard_sign_in(page, live_server.tenant.user("stale-photo").upn)
    page.wait_for_url(f"{live_server.url}{path}")
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    ticket = page.get_by_text("INC0012345", exact=True).first
    expect(ticket).to_be_visible()
    expect(page.get_by_text("Reference fra dit helpdesk-link:").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_malformed_ticket_is_shown_as_a_note_not_as_markup(
    danish_phone: Page, live_server: LiveServer
) -> None:
    page = danish_phone
    page.goto("/photo?ticket=%3Cscript%3Ealert(1)%3C/script%3E")
    keyboard_sign_in(page, live_server.tenant.user("in-sync").upn)
    page.wait_for_url(re.compile(r"/photo\?ticket="))
    expect(page.get_by_text("Referencen i dit link er ikke et sagsnummer")).to_be_visible()
    assert "<script>alert(1)" not in page.content()
    expect(page.get_by_text("Reference fra dit helpdesk-link:")).to_have_count(0)


def test_an_old_link_lands_on_the_overview_with_a_note(
    danish_phone: Page, live_server: LiveServer
) -> None:
    page = danish_phone
    page.goto("/billede?ticket=INC0012345")
    expect(page).to_have_url(f"{live_server.url}/?ticket=INC0012345")
    expect(page.get_by_role("status").first).to_contain_text("Det link fører ikke til en side her")
    expect(page.get_by_text("INC0012345", exact=True)).to_be_visible()


def test_staff_page_puts_a_typed_ticket_into_every_link_and_reply(
    staff_page: Page, live_server: LiveServer
) -> None:
    page = staff_page
    page.goto("/helpdesk")
    link = page.get_by_label("Link", exact=True).nth(1)
    expect(link).to_have_value(f"{live_server.url}/photo")
    page.get_by_label("Ticket number (optional)").fill("INC0012345")
    expect(link).to_have_value(f"{live_server.url}/photo?ticket=INC0012345")
    danish = page.locator("#reply-photo-da")
    assert f"{live_server.url}/photo?ticket=INC0012345" in danish.input_value()
    assert danish.input_value().startswith("Hej")
    assert f"{live_server.url}/photo/resync?ticket=INC0012345" in (
        page.locator("#reply-resync-en").input_value()
    )
    expect(page.locator("a.open-link").nth(0)).to_have_attribute(
        "href", f"{live_server.url}/?ticket=INC0012345"
    )

    page.locator("[data-copy-target='reply-photo-da']").click()
    status = page.locator(".reply", has=page.locator("#reply-photo-da")).locator(".copy-status")
    expect(status).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == danish.input_value()

    page.get_by_label("Ticket number (optional)").fill("<b>")
    expect(page.locator("#reference-status")).to_contain_text("not a valid ticket number")
    expect(link).to_have_value(f"{live_server.url}/photo")
    expect(page.get_by_label("Ticket number (optional)")).to_have_attribute("aria-invalid", "true")


def test_staff_page_works_without_javascript(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/helpdesk")
        expect(page.get_by_text("?ticket=INC…", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Copy link")).to_have_count(0)  # hidden
        page.get_by_label("Ticket number (optional)").fill("INC0012345")
        page.get_by_role("button", name="Put it in the links").click()
        expect(page.get_by_label("Link", exact=True).first).to_have_value(
            f"{live_server.url}/?ticket=INC0012345"
        )
    finally:
        context.close()


def test_the_language_switch_sticks_over_the_browser_language(danish_phone: Page) -> None:
    page = danish_phone
    page.goto("/helpdesk")
    expect(page.get_by_role("heading", level=1)).to_have_text("Links til helpdesken")
    # Two languages: one button switches to the other.
    page.get_by_role("button", name="English").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Links for the helpdesk")
    expect(page).to_have_url(re.compile(r"/helpdesk$"))
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")


@pytest.mark.slow
def test_deep_links_survive_sign_in_twenty_times_out_of_twenty(
    browser: Browser, live_server: LiveServer
) -> None:
    """security.md D6: every run lands exactly on the linked page with its ticket. Each run
    starts signed out (no cookie of the app's or of Entra's), as on a phone whose session
    ended; one browser serves them all, as one phone would."""
    paths = ("/photo", "/photo/resync", "/attributes", "/profile")
    landed = 0
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True, locale="da"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        for run in range(20):
            target = f"{paths[run % len(paths)]}?ticket=INC{run:07d}"
            context.clear_cookies()
            page.goto(target)
            keyboard_sign_in(page, live_server.tenant.user("in-sync").upn)
            expect(page).to_have_url(f"{live_server.url}{target}")
            expect(page.locator("main")).to_contain_text(
                f"Reference fra dit helpdesk-link: INC{run:07d}"
            )
            landed += 1
    finally:
        context.close()
    assert landed == 20
