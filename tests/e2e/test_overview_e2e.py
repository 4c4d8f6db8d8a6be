"""The overview in Chromium: both pictures and the way to fix them, the attribute table, a
SharePoint that is down, the helpdesk summary to copy.

Every demo user's verdict: test_sign_in_e2e.py; axe on every page for every demo user:
test_accessibility_e2e.py; phone and desktop screens: test_screens_e2e.py.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.chromium import demo_sign_in
from tests.support.demo_app import SHAREPOINT_DOWN_RETRY_AFTER, LiveServer

pytestmark = pytest.mark.e2e

SAME = "SharePoint shows your current photo, the same as Outlook and Teams."
OLDER = "SharePoint still shows an older copy of your photo from its cache."


def open_overview(page: Page, live_server: LiveServer, key: str, start: str = "/") -> None:
    demo_sign_in(page, live_server, key, start=start)
    page.wait_for_load_state("load")


def test_stale_photo_user_sees_both_pictures_and_the_way_to_fix_it(
    page: Page, live_server: LiveServer
) -> None:
    open_overview(page, live_server, "stale-photo")
    expect(page.get_by_alt_text("Photo of Sam Okafor as Outlook and Teams show it")).to_be_visible()
    expect(
        page.get_by_alt_text("Large picture of Sam Okafor as SharePoint shows it")
    ).to_be_visible()
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
    expect(page.get_by_text("Reference from your helpdesk link:")).to_contain_text("INC0012345")
    summary = page.get_by_label("Summary for your helpdesk")
    expect(summary).to_have_value(re.compile("Ticket: INC0012345"))
    page.get_by_role("button", name="Copy summary").click()
    expect(page.locator(".copy-status")).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Ticket: INC0012345" in copied
    assert "[sharepoint_older]" in copied
