"""In Chromium: a new phone photo (cropped with the keyboard) and the re-sync button, on the
current photo model, where the page ends "done" once SharePoint's cache serves the photo, and on
the classic sync (stale-photo, placeholder), where SharePoint takes the push at once."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests import imagegen
from tests.support.chromium import axe_report, demo_sign_in
from tests.support.demo_app import LiveServer
from webapp.imaging.fingerprint import same_picture

pytestmark = pytest.mark.e2e

DONE_UPLOAD = "Done: Outlook, Teams and SharePoint show the same photo."
DONE_RESYNC = "Done: SharePoint shows your current photo."
CACHED = "SharePoint pages still show the previous picture, from SharePoint's cache."
COACH = "Still seeing your previous photo somewhere?"


def _no_axe_violations(page: Page) -> None:
    # The page chrome (base.html) is checked by its own tests; this checks the photo pages.
    report = axe_report(page, within="#main")
    assert not report, report


def _shown(live_server: LiveServer, key: str) -> tuple[bytes, bytes]:
    """Graph's photo and the picture SharePoint shows: its cache's copy on the current model,
    its library on the classic one."""
    user = live_server.tenant.user(key)
    assert user.photo is not None
    if live_server.tenant.photo_model_of(user) == "current":
        assert user.sharepoint.front_door is not None and user.sharepoint.front_door.data
        return user.photo.data, user.sharepoint.front_door.data
    assert user.sharepoint.pictures is not None
    return user.photo.data, user.sharepoint.pictures.large


def _choose_photo(page: Page, tmp_path: Path) -> None:
    photo = tmp_path / "IMG_0042.JPG"
    photo.write_bytes(imagegen.jpeg((1600, 1200), orientation=6, gps=True))
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    expect(page.locator("#crop-box")).to_be_visible()


def test_classic_stale_photo_user_uploads_a_rotated_phone_photo_crops_it_and_sees_both_verified(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    photo = tmp_path / "IMG_0042.JPG"
    photo.write_bytes(imagegen.jpeg((1600, 1200), orientation=6, gps=True))
    demo_sign_in(page, live_server, "stale-photo", start="/photo")
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your photo")

    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    box = page.locator("#crop-box")
    expect(box).to_be_visible()
    # The camera stored the 1600×1200 picture turned (EXIF orientation 6); upright, its centred
    # square is 1200 px at (200, 0), as the browser and the server both see it.
    expect(page.locator("#crop-size")).to_have_value("1200")
    expect(page.locator("#crop-x")).to_have_value("200")
    # Drag with the pointer (touch uses the same pointer events): the square follows.
    box.scroll_into_view_if_needed()
    bounds = box.bounding_box()
    assert bounds is not None
    centre = (bounds["x"] + bounds["width"] / 2, bounds["y"] + bounds["height"] / 2)
    page.mouse.move(*centre)
    page.mouse.down()
    page.mouse.move(centre[0] - 40, centre[1], steps=4)
    page.mouse.up()
    assert int(page.locator("#crop-x").input_value()) < 200
    page.get_by_role("button", name="Centre").click()
    expect(page.locator("#crop-x")).to_have_value("200")
    box.focus()
    for key in ("-", "-", "-", "ArrowUp", "ArrowUp", "ArrowLeft"):
        page.keyboard.press(key)
    size = int(page.locator("#crop-size").input_value())
    assert size < 1200
    assert int(page.locator("#crop-y").input_value()) < (1200 - size) // 2
    assert int(page.locator("#crop-x").input_value()) < 200 + (1200 - size) // 2
    expect(page.locator("canvas.avatar")).to_have_count(5)
    _no_axe_violations(page)

    page.get_by_role("button", name="Save my new photo").click()
    expect(page.locator("#status-headline")).to_have_text(DONE_UPLOAD, timeout=30_000)
    expect(page.locator('[data-service="graph"] span')).to_have_attribute("data-state", "verified")
    expect(page.locator('[data-service="sharepoint"] span')).to_have_attribute(
        "data-state", "verified"
    )
    _no_axe_violations(page)
    graph, sharepoint = _shown(live_server, "stale-photo")
    assert same_picture(graph, sharepoint)
    assert time.monotonic() - started < 120
    assert page.csp_violations == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("key", ["stale-photo", "placeholder"])
def test_classic_resync_button_fixes_sharepoint(
    page: Page, live_server: LiveServer, key: str
) -> None:
    demo_sign_in(page, live_server, key, start="/photo/resync")
    _no_axe_violations(page)
    page.get_by_role("button", name="Make SharePoint show my current photo now").click()
    expect(page.locator("#status-headline")).to_have_text(DONE_RESYNC, timeout=30_000)
    graph, sharepoint = _shown(live_server, key)
    assert same_picture(graph, sharepoint)
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_a_new_photo_ends_done_once_sharepoints_cache_serves_it(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    tenant = live_server.tenant
    demo_sign_in(page, live_server, "in-sync")  # the overview: SharePoint's cache is filled now
    page.goto("/photo")
    _choose_photo(page, tmp_path)
    page.get_by_role("button", name="Save my new photo").click()
    expect(page.locator("#status-served")).to_have_text(CACHED)
    expect(page.locator('[data-service="sharepoint"] span')).to_have_attribute(
        "data-state", "refused_by_sharepoint"
    )
    expect(page.locator(".status-failed")).to_have_count(0)
    expect(page.get_by_role("heading", name=COACH)).to_have_count(0)  # not while checking
    # The status page belongs to the photo section of the navigation.
    nav = page.get_by_role("navigation", name="Your pages")
    expect(nav.locator('[aria-current="page"]')).to_have_attribute("href", "/photo")
    # The cache's lifetime passes on the emulator's clock; the page's own polling sees it.
    tenant.clock.advance(tenant.photo_cache_lifetime)
    expect(page.locator("#status-headline")).to_have_text(DONE_UPLOAD, timeout=30_000)
    graph, sharepoint = _shown(live_server, "in-sync")
    assert same_picture(graph, sharepoint)
    # Verified: where the previous photo may still show (the polling reloads the page).
    expect(page.get_by_role("heading", name=COACH)).to_be_visible(timeout=30_000)
    expect(page.get_by_text("up to 60 days")).to_be_visible()
    _no_axe_violations(page)
    # The overview offers it again, one click away.
    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="Overview").click()
    page.locator("[data-coach]").get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}/photo/caches")
    expect(page.get_by_role("heading", name=COACH)).to_be_visible()
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_resync_on_the_current_model_says_what_time_fixes_then_ends_done(
    page: Page, live_server: LiveServer
) -> None:
    tenant = live_server.tenant
    demo_sign_in(page, live_server, "cached-photo", start="/photo/resync")
    page.get_by_role("button", name="Make SharePoint show my current photo now").click()
    expect(page.locator("#status-headline")).to_have_text("Checking what SharePoint shows…")
    expect(page.locator("#status-served")).to_have_text(CACHED)
    expect(page.get_by_text("SharePoint did not take the copy")).to_be_visible()
    _no_axe_violations(page)
    tenant.clock.advance(tenant.photo_cache_lifetime)
    expect(page.locator("#status-headline")).to_have_text(DONE_RESYNC, timeout=30_000)
    graph, sharepoint = _shown(live_server, "cached-photo")
    assert same_picture(graph, sharepoint)
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_a_photo_the_organisations_policy_refuses_is_said_first_with_the_details_folded(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    live_server.tenant.reset()
    page.set_viewport_size({"width": 360, "height": 740})
    demo_sign_in(page, live_server, "photo-blocked")
    page.locator("#photo-area").get_by_role("link", name="Change my photo").click()
    # Loaded, scripts included: a file chosen before upload.js listens opens no crop box.
    page.wait_for_url(re.compile(r"/photo(\?|$)"))
    _choose_photo(page, tmp_path)
    page.get_by_role("button", name="Save my new photo").click()
    expect(page.locator("#status-headline")).to_have_text(
        "Your organisation does not let you change your photo here. Nothing was changed."
    )
    expect(page.get_by_text("give them the summary in “Details for the helpdesk”")).to_be_visible()
    nav = page.get_by_role("navigation", name="Your pages")
    expect(nav.locator('[aria-current="page"]')).to_have_attribute("href", "/photo")
    expect(page.get_by_role("button", name="Try again")).to_have_count(0)
    # Microsoft's code and reference wait in the folded details, for the helpdesk.
    summary = page.get_by_label("Summary for your helpdesk")
    expect(summary).to_be_hidden()
    page.get_by_text("Details for the helpdesk", exact=True).click()
    expect(summary).to_be_visible()
    expect(summary).to_have_value(re.compile("status 403, code ErrorAccessDenied"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    _no_axe_violations(page)
    assert page.csp_violations == []  # type: ignore[attr-defined]
