"""Every demo user signs in to the demo tenant in Chromium, lands on their page, reads the
verdict a person would read, and signs out."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.chromium import demo_sign_in
from tests.support.demo_app import LiveServer

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
    "sharepoint-down": CANNOT_TELL,
}

ALL_IMAGES_SHOWN = """
() => Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0)
"""


def test_every_demo_user_signs_in_reads_the_verdict_and_signs_out(
    page: Page, live_server: LiveServer
) -> None:
    assert set(EXPECTED) == {u.key for u in live_server.tenant.users.values()}
    for key, sentence in EXPECTED.items():
        user = live_server.tenant.user(key)
        demo_sign_in(page, live_server, key)
        page.wait_for_load_state("load")
        expect(page.get_by_role("heading", level=1)).to_contain_text(
            str(user.directory["displayName"])
        )
        expect(page.get_by_text("Demo tenant")).to_be_visible()
        expect(page.locator("[data-verdict]")).to_have_text(sentence)
        # Pictures arrive through the app and none is broken; "no photo" is text.
        assert page.evaluate(ALL_IMAGES_SHOWN), key
        if sentence == NO_PHOTO:
            assert page.locator("img").count() == 0
            expect(
                page.get_by_text("No photo. Outlook and Teams show your initials")
            ).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("signed out")
        page.goto("/")
        expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert page.csp_violations == []  # type: ignore[attr-defined]
