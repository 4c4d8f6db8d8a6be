"""The overview in Chromium: both pictures and the way to fix them, the attribute table, a
SharePoint that is down, the helpdesk summary to copy.

Every demo user's verdict, axe on every page for every demo user, phone and desktop screens,
and each job one visible click away on a phone: test_screens_e2e.py.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from m365_emulator.faults import Fault
from tests.support.chromium import (
    TECHNICAL_TERMS,
    axe_report,
    demo_sign_in,
    in_app,
    tab_to,
    wait_for_every_picture,
)
from tests.support.demo_app import LiveServer

pytestmark = pytest.mark.e2e

SAME = "SharePoint shows your current photo, the same as Outlook and Teams."
OLDER = "SharePoint still shows an older copy of your photo from its cache."


def open_details(page: Page) -> None:
    """Open "Details for the helpdesk" as a person would, and let its pictures arrive."""
    page.get_by_text("Details for the helpdesk", exact=True).click()
    expect(page.locator("details.helpdesk-details")).to_have_attribute("open", "")
    wait_for_every_picture(page)


def open_overview(page: Page, live_server: LiveServer, key: str, start: str = "/") -> None:
    demo_sign_in(page, live_server, key, start=start)
    page.wait_for_load_state("load")


def test_stale_photo_user_sees_both_pictures_and_the_way_to_fix_it(
    page: Page, live_server: LiveServer
) -> None:
    open_overview(page, live_server, "stale-photo")
    expect(page.get_by_alt_text("Photo of Sam Okafor as Outlook and Teams show it")).to_be_visible()
    expect(page.get_by_alt_text("Photo of Sam Okafor as SharePoint shows it")).to_be_visible()
    expect(
        page.get_by_role("link", name="Make SharePoint show my current photo now")
    ).to_have_attribute("href", "/photo/resync")


def test_cached_photo_user_sees_sharepoints_older_copy_until_its_cache_refreshes(
    page: Page, live_server: LiveServer
) -> None:
    open_overview(page, live_server, "cached-photo")
    expect(page.locator("[data-verdict]")).to_have_text(OLDER)
    expect(page.get_by_text("SharePoint refreshes its copy by itself")).to_be_visible()
    live_server.tenant.clock.advance(live_server.tenant.photo_cache_lifetime)
    page.reload()
    expect(page.locator("[data-verdict]")).to_have_text(SAME)


def test_legacy_copy_user_sees_the_old_copy_as_a_fact_beside_the_verdict(
    page: Page, live_server: LiveServer
) -> None:
    open_overview(page, live_server, "legacy-copy")
    expect(page.locator("[data-verdict]")).to_have_text(SAME)
    # A fact for the helpdesk, not the verdict: folded away until asked for.
    expect(page.get_by_text("An old copy of your photo is still stored here.")).to_be_hidden()
    open_details(page)
    expect(page.get_by_text("An old copy of your photo is still stored here.")).to_be_visible()
    expect(
        page.get_by_alt_text("Old copy of the photo of Aisha Bello in SharePoint's picture library")
    ).to_be_visible()


def test_drifted_attributes_are_marked_in_the_table(page: Page, live_server: LiveServer) -> None:
    open_overview(page, live_server, "drifted-attributes", start="/attributes")
    department = page.get_by_role("row", name="Department")
    expect(department).to_contain_text("Operations")
    expect(department).to_contain_text("Product Management")
    expect(department).to_contain_text("Differs")
    expect(page.locator("[data-attributes-verdict]")).to_have_text(
        "SharePoint shows some profile details that differ from Outlook and Teams."
    )


def test_sharepoint_down_still_shows_the_graph_side_with_a_retry(
    page: Page, live_server: LiveServer
) -> None:
    open_overview(page, live_server, "sharepoint-down")
    expect(
        page.get_by_alt_text("Photo of Omar Haddad as Outlook and Teams show it")
    ).to_be_visible()
    photo = page.locator("#photo-area")
    # The wait it names is SharePoint's Retry-After, or what is left of the app's hold (at most
    # MAX_HOLD) when a parallel read was held back by the first answer: the unit tests pin those.
    expect(photo.get_by_role("alert")).to_contain_text(
        "Microsoft is busy (SharePoint asked us to slow down): try again in"
    )
    expect(photo.get_by_role("link", name="Try again")).to_be_visible()
    # Said and offered once on the page.
    expect(page.get_by_role("link", name="Try again")).to_have_count(1)


def test_helpdesk_summary_copies_with_the_ticket(page: Page, live_server: LiveServer) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_overview(page, live_server, "stale-photo", start="/?ticket=INC0012345")
    expect(page.get_by_text("Reference from your helpdesk link:")).to_contain_text("INC0012345")
    open_details(page)
    summary = page.get_by_label("Summary for your helpdesk")
    expect(summary).to_have_value(re.compile("Ticket: INC0012345"))
    page.get_by_role("button", name="Copy summary").click()
    expect(page.locator(".copy-status")).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Ticket: INC0012345" in copied
    assert "[sharepoint_older]" in copied


PHONE = {"width": 360, "height": 740}


def test_the_in_sync_overview_fits_about_two_phone_screens(
    page: Page, live_server: LiveServer
) -> None:
    page.set_viewport_size(PHONE)
    open_overview(page, live_server, "in-sync")
    page.wait_for_load_state("networkidle")
    # It was over 5,700 px before issue 15; 1,247 px (under 1.7 screens) in both languages when
    # this was written, which leaves room for a longer name.
    assert page.evaluate("document.documentElement.scrollHeight") <= 2 * PHONE["height"]
    page.get_by_role("button", name="Dansk").press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "da")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollHeight") <= 2 * PHONE["height"]


@pytest.mark.parametrize(("language", "pages"), [("en", "Your pages"), ("da", "Dine sider")])
def test_the_navigation_works_with_the_keyboard_on_a_phone(
    page: Page, live_server: LiveServer, language: str, pages: str
) -> None:
    page.set_viewport_size(PHONE)
    open_overview(page, live_server, "in-sync")
    if language == "da":
        page.get_by_role("button", name="Dansk").press("Enter")
        expect(page.locator("html")).to_have_attribute("lang", "da")
    nav = page.get_by_role("navigation", name=pages)
    links = nav.get_by_role("link")
    expect(links).to_have_count(4)
    # One row across a 360 px screen, every link a full touch target.
    boxes = [link.bounding_box() for link in links.all()]
    assert len({round(box["y"]) for box in boxes if box}) == 1
    assert all(box and box["height"] >= 44 and box["x"] + box["width"] <= 360 for box in boxes)
    expect(nav.locator('[aria-current="page"]')).to_have_attribute("href", "/")
    for path, current in (("/photo", "/photo"), ("/profile", "/profile"), ("/history", "/history")):
        tab_to(page, f'nav a[href="{path}"]')
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(f"{path}$"))
        expect(nav.locator('[aria-current="page"]')).to_have_attribute("href", current)
    # A page below a section marks that section.
    for path, current in (
        ("/photo/resync", "/photo"),
        ("/photo/caches", "/photo"),
        ("/attributes", "/profile"),
    ):
        page.goto(path)
        expect(nav.locator('[aria-current="page"]')).to_have_attribute("href", current)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_next_page_asks_the_app_for_no_stylesheet_or_script_it_already_has(
    page: Page, live_server: LiveServer
) -> None:
    """Each stylesheet and script is kept until it changes (webapp/web/static_files.py); before,
    every page asked again for each of its five to eight, a round trip each on a phone."""
    open_overview(page, live_server, "in-sync")
    page.wait_for_load_state("load")  # every file the overview names has been asked for
    had = {path for path in live_server.paths if path.startswith("/static/")}
    assert {"/static/css/app.css", "/static/js/localtime.js"} <= had
    asked_before = len(live_server.paths)
    page.goto("/attributes")  # the overview's stylesheets and scripts again
    page.wait_for_load_state("load")
    page.reload()  # a person reloading does not make the browser ask either
    page.wait_for_load_state("load")
    asked = live_server.paths[asked_before:]
    assert asked.count("/attributes") == 2
    assert [path for path in asked if path.startswith("/static/")] == []


@pytest.mark.parametrize("language", ["en", "da"])
def test_the_overview_with_its_details_open_has_no_axe_violations(
    page: Page, live_server: LiveServer, language: str
) -> None:
    open_overview(page, live_server, "legacy-copy")
    if language == "da":
        page.get_by_role("button", name="Dansk").press("Enter")
        expect(page.locator("html")).to_have_attribute("lang", "da")
        page.get_by_text("Detaljer til helpdesken", exact=True).click()
    else:
        page.get_by_text("Details for the helpdesk", exact=True).click()
    wait_for_every_picture(page)
    report = axe_report(page)
    assert not report, report


# A claims challenge for an authentication context (c9) no sign-in satisfies: after the one
# round through sign-in the app explains instead of sending the person round again (issue 14).
UNSATISFIABLE = (
    'Bearer realm="", error="insufficient_claims", '
    'claims="eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzkifX19"'
)


@pytest.mark.parametrize("language", ["en", "da"])
def test_a_refused_sign_in_says_what_happened_first_with_the_details_folded_on_a_phone(
    page: Page, live_server: LiveServer, language: str
) -> None:
    page.set_viewport_size(PHONE)
    open_overview(page, live_server, "in-sync")
    if language == "da":
        page.get_by_role("button", name="Dansk").press("Enter")
        expect(page.locator("html")).to_have_attribute("lang", "da")
    live_server.tenant.faults.add(
        "graph", Fault(401, path_contains="/me", headers={"WWW-Authenticate": UNSATISFIABLE})
    )
    page.goto("/")
    page.get_by_role("button", name="Verify").click()  # Entra's step-up page, once
    page.wait_for_url(in_app)
    expect(page.get_by_role("alert")).to_contain_text(
        "signing in again did not help" if language == "en" else "hjalp ikke at logge på igen"
    )
    # The navigation stays; the facts and the summary wait in the folded details.
    nav = page.get_by_role("navigation", name="Your pages" if language == "en" else "Dine sider")
    expect(nav.get_by_role("link")).to_have_count(4)
    details = page.locator("details.helpdesk-details")
    assert details.evaluate("(d) => d.open") is False
    visible = page.locator("main").inner_text()
    assert not [term for term in TECHNICAL_TERMS if term in visible]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    details.locator("summary").click()
    expect(page.locator("#helpdesk-summary")).to_be_visible()
    report = axe_report(page)
    assert not report, report
    assert page.csp_violations == []  # type: ignore[attr-defined]
