"""Every demo user opens their page in Chromium and reads the verdict a person would read."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.support.chromium import demo_sign_in
from tests.support.demo_app import SHAREPOINT_DOWN_RETRY_AFTER, LiveServer

pytestmark = pytest.mark.e2e

SAME = "SharePoint shows the same photo as Outlook and Teams."
OLDER = "SharePoint shows an older photo than Outlook and Teams."
PLACEHOLDER = "SharePoint shows a placeholder instead of your photo."
NO_PHOTO = "You have no profile photo in Microsoft 365 yet."
CANNOT_TELL = "We cannot tell right now whether your photo is in sync."

EXPECTED = {
    "in-sync": SAME,
    "stale-photo": OLDER,
    "placeholder": PLACEHOLDER,
    "no-photo": NO_PHOTO,
    "drifted-attributes": SAME,
    "no-mailbox": PLACEHOLDER,
    "graph-throttled": SAME,
    "half-profile": NO_PHOTO,
    "synced-onprem": NO_PHOTO,
    # On the classic model (tests/e2e/conftest.py) these two show SharePoint's older library
    # copy; the app side of issue 13 gives them their current-model verdicts.
    "cached-photo": OLDER,
    "legacy-copy": OLDER,
    "sharepoint-down": CANNOT_TELL,
}

ALL_IMAGES_SHOWN = """
() => Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0)
"""


def open_overview(page: Page, live_server: LiveServer, key: str, start: str = "/") -> None:
    demo_sign_in(page, live_server, key, start=start)
    page.wait_for_load_state("load")


def test_every_demo_user_reads_the_right_verdict(page: Page, live_server: LiveServer) -> None:
    assert set(EXPECTED) == {u.key for u in live_server.tenant.users.values()}
    for key, sentence in EXPECTED.items():
        open_overview(page, live_server, key)
        verdict = page.locator("[data-verdict]")
        expect(verdict).to_have_text(sentence)
        # Pictures arrive through the app and none is broken; "no photo" is text.
        assert page.evaluate(ALL_IMAGES_SHOWN), key
        if sentence == NO_PHOTO:
            assert page.locator("img").count() == 0
            expect(
                page.get_by_text("No photo. Outlook and Teams show your initials")
            ).to_be_visible()
        page.context.clear_cookies()
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_stale_photo_user_sees_both_pictures_and_the_way_to_fix_it(
    page: Page, live_server: LiveServer
) -> None:
    open_overview(page, live_server, "stale-photo")
    expect(page.get_by_alt_text("Photo of Sam Okafor as Outlook and Teams show it")).to_be_visible()
    expect(
        page.get_by_alt_text("Large picture of Sam Okafor as SharePoint shows it")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Push your photo to SharePoint now")).to_have_attribute(
        "href", "/photo/resync"
    )


def test_drifted_attributes_are_marked_in_the_table(page: Page, live_server: LiveServer) -> None:
    open_overview(page, live_server, "drifted-attributes", start="/attributes")
    department = page.get_by_role("row", name="Department")
    expect(department).to_contain_text("Operations")
    expect(department).to_contain_text("Product Management")
    expect(department).to_contain_text("Differs")
    expect(page.locator("[data-attributes-verdict]")).to_have_text(
        "SharePoint shows some profile details that differ from Entra ID."
    )


def test_sharepoint_down_still_shows_the_graph_side_with_a_retry(
    page: Page, live_server: LiveServer
) -> None:
    open_overview(page, live_server, "sharepoint-down")
    expect(
        page.get_by_alt_text("Photo of Omar Haddad as Outlook and Teams show it")
    ).to_be_visible()
    sharepoint = page.locator("section.source-sharepoint")
    expect(sharepoint.get_by_role("alert")).to_contain_text(
        f"try again in {SHAREPOINT_DOWN_RETRY_AFTER} s"
    )
    expect(sharepoint.get_by_role("link", name="Try again")).to_be_visible()


def test_helpdesk_summary_copies_with_the_ticket(page: Page, live_server: LiveServer) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_overview(page, live_server, "stale-photo", start="/?ticket=INC0012345")
    expect(page.get_by_text("Helpdesk ticket:")).to_contain_text("INC0012345")
    summary = page.get_by_label("Summary for your helpdesk")
    expect(summary).to_have_value(re.compile("Ticket: INC0012345"))
    page.get_by_role("button", name="Copy summary").click()
    expect(page.locator(".copy-status")).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Ticket: INC0012345" in copied
    assert "[sharepoint_older]" in copied


def test_page_fits_a_360_px_phone(page: Page, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 360, "height": 800})
    open_overview(page, live_server, "drifted-attributes")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


@pytest.mark.parametrize(
    "key", ["stale-photo", "no-photo", "drifted-attributes", "sharepoint-down"]
)
def test_overview_has_no_axe_violations(page: Page, live_server: LiveServer, key: str) -> None:
    open_overview(page, live_server, key)
    results = Axe().run(page, context="#main")
    assert results.violations_count == 0, results.generate_report()
