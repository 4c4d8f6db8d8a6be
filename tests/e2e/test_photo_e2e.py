"""In Chromium: a user with a stale SharePoint photo fixes it by uploading a phone photo (cropped
with the keyboard) and, separately, with the re-sync button; both end with both sides equal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests import imagegen
from tests.support.chromium import demo_sign_in
from tests.support.demo_app import LiveServer
from webapp.imaging.fingerprint import same_picture

pytestmark = pytest.mark.e2e

DONE_UPLOAD = "Done: Outlook, Teams and SharePoint show the same photo."
DONE_RESYNC = "Done: SharePoint shows the same photo as Outlook and Teams."


def _no_axe_violations(page: Page) -> None:
    # The page chrome (base.html) is checked by its own tests; this checks the photo pages.
    results = Axe().run(page, context="#main")
    assert results.violations_count == 0, results.generate_report()


def _shown(live_server: LiveServer, key: str) -> tuple[bytes, bytes]:
    user = live_server.tenant.user(key)
    assert user.photo is not None and user.sharepoint.pictures is not None
    return user.photo.data, user.sharepoint.pictures.large


def test_stale_photo_user_uploads_a_rotated_phone_photo_crops_it_and_sees_both_verified(
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
def test_resync_button_fixes_sharepoint(page: Page, live_server: LiveServer, key: str) -> None:
    demo_sign_in(page, live_server, key, start="/photo/resync")
    _no_axe_violations(page)
    page.get_by_role("button", name="Copy my photo to SharePoint").click()
    expect(page.locator("#status-headline")).to_have_text(DONE_RESYNC, timeout=30_000)
    graph, sharepoint = _shown(live_server, key)
    assert same_picture(graph, sharepoint)
    assert page.csp_violations == []  # type: ignore[attr-defined]
