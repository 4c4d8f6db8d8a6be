"""Every demo user opens their page in Chromium and reads the verdict a person would read."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, demo_sign_in

pytestmark = pytest.mark.e2e

SAME = "SharePoint shows your current photo, the same as Outlook and Teams."
OLDER = "SharePoint still shows an older copy of your photo from its cache."
PLACEHOLDER = "SharePoint shows a placeholder instead of your photo."
NO_PHOTO = "You have no profile photo in Microsoft 365 yet."
CANNOT_TELL = "We cannot tell right now which photo SharePoint shows."

# The demo tenant runs the current photo model (reference §9.1); stale-photo and placeholder
# keep the classic sync.
EXPECTED = {
    "in-sync": SAME,
    "stale-photo": OLDER,
    "placeholder": PLACEHOLDER,
    "no-photo": NO_PHOTO,
    "drifted-attributes": SAME,
    "no-mailbox": SAME,
    "graph-throttled": SAME,
    "half-profile": NO_PHOTO,
    "synced-onprem": NO_PHOTO,
    "cached-photo": OLDER,
    "legacy-copy": SAME,
    # SharePoint refuses every token of theirs: after one round through sign-in its part
    # could not be read (issue 14).
    "no-sharepoint": CANNOT_TELL,
    "photo-blocked": SAME,
    # Graph demands a stronger sign-in: verified once on Entra's page, then the page works.
    "step-up": SAME,
    # Last: its Retry-After holds SharePoint back for every user of this app for a while.
    "sharepoint-down": CANNOT_TELL,
}

ALL_IMAGES_SHOWN = """
() => Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0)
"""


def wait_out_throttling(live_server: LiveServer) -> None:
    """Let a shared Retry-After hold (microsoft/throttle.py) end, so later tests start clean."""
    gate = live_server.app.extensions["call_options"].gate
    time.sleep(max(gate.wait_time("graph"), gate.wait_time("sharepoint")))


def open_overview(page: Page, live_server: LiveServer, key: str, start: str = "/") -> None:
    # A fresh tenant per user: seeded faults re-armed, SharePoint's next pull not yet due; no
    # Retry-After hold left over from another test's throttled user.
    wait_out_throttling(live_server)
    live_server.tenant.reset()
    # A page that waits out a Retry-After (sharepoint-down: 5 s) may take a while on a busy
    # machine; the assertions keep their own short timeouts.
    page.set_default_timeout(30_000)
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
    wait_out_throttling(live_server)
    assert page.csp_violations == []  # type: ignore[attr-defined]


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
    expect(sharepoint.get_by_role("alert")).to_contain_text("try again in 5 s")
    expect(sharepoint.get_by_role("link", name="Try again")).to_be_visible()
    wait_out_throttling(live_server)


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
