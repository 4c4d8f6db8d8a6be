"""In Chromium, 360 px wide, in Copenhagen: a person changes their photo, finds the change
under "Your changes" with its local time and both pictures, puts the previous photo back from
there and downloads the list as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import imagegen
from tests.support.chromium import axe_report, demo_sign_in, new_context, watched_page
from tests.support.demo_app import LiveServer
from webapp.imaging.fingerprint import same_picture

pytestmark = pytest.mark.e2e

PHONE = {"width": 360, "height": 740}
ZONE = "Europe/Copenhagen"
DONE = "Done: Outlook, Teams and SharePoint show the same photo."


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = new_context(
        browser, live_server, viewport=PHONE, timezone_id=ZONE, accept_downloads=True
    )
    yield watched_page(context)
    context.close()


def _clean(page: Page) -> None:
    """axe finds nothing on the whole page (navigation included), and nothing is wider than
    the phone."""
    report = axe_report(page)
    assert not report, report
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _wait_for_pictures(page: Page, change: str, count: int) -> None:
    """Until `count` pictures of `change` have arrived, 96 px wide (shown is not yet loaded)."""
    page.wait_for_function(
        "([s, n]) => [...document.querySelectorAll(s + ' img')]"
        ".filter((img) => img.complete && img.naturalWidth === 96).length === n",
        arg=[change, count],
        timeout=15_000,
    )


def test_a_person_sees_their_photo_change_puts_the_old_photo_back_and_downloads_the_list(
    phone: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    page = phone
    original = live_server.tenant.user("stale-photo").photo.data
    photo = tmp_path / "IMG_0042.JPG"
    photo.write_bytes(imagegen.jpeg((1600, 1200), orientation=6, gps=True))
    demo_sign_in(page, live_server, "stale-photo", start="/photo")
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    page.get_by_role("button", name="Save my new photo").click()
    expect(page.locator("#status-headline")).to_have_text(DONE, timeout=30_000)
    uploaded = live_server.tenant.user("stale-photo").photo.data

    page.get_by_role("navigation", name="Your pages").get_by_role(
        "link", name="Your changes"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your changes")
    newest = page.locator(".change").first
    expect(newest.get_by_role("heading", level=2)).to_have_text("New photo")
    expect(newest).to_contain_text("Done")
    expect(newest).to_contain_text("Outlook and Teams (Exchange and Entra ID): saved and checked")
    expect(newest.get_by_role("img", name="Your photo before this change")).to_be_visible()
    expect(newest.get_by_role("img", name="Your photo after this change")).to_be_visible()
    _wait_for_pictures(page, ".change:first-child", 2)
    # The time in Copenhagen's zone, written by the page's script over the UTC fallback.
    when = newest.locator("time")
    moment = datetime.fromisoformat(when.get_attribute("datetime").replace("Z", "+00:00"))
    local = moment.astimezone(ZoneInfo(ZONE))
    expect(when).to_contain_text(local.strftime("%H:%M"))
    expect(when).not_to_contain_text("UTC")
    _clean(page)

    newest.get_by_role("button", name="Put the photo from before back").click()
    expect(page.locator("#status-headline")).to_have_text(DONE, timeout=30_000)
    shown = live_server.tenant.user("stale-photo").photo.data
    assert same_picture(shown, original)
    assert not same_picture(shown, uploaded)

    page.get_by_role("link", name="Your changes").click()
    expect(page.locator(".change").first.get_by_role("heading", level=2)).to_have_text(
        "Earlier photo put back"
    )
    expect(page.locator(".change").nth(1).get_by_role("heading", level=2)).to_have_text("New photo")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV (spreadsheet)").click()
    assert download.value.suggested_filename.startswith("profilefix-changes-")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Time (UTC)", "What changed", "Result", "Details", "Request id"]
    assert [row[1] for row in rows[1:3]] == ["Earlier photo put back", "New photo"]
    assert all(row[4] for row in rows[1:3])  # each with its request id
    _clean(page)
    assert page.csp_violations == []  # type: ignore[attr-defined]
