"""Screenshots at phone (360×740) and desktop (1280×800) widths: no sideways scrolling, and every
control is on screen and at least 44 px tall (WCAG 2.5.8 asks for 24; phones want 44)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import imagegen
from tests.support.chromium import keyboard_sign_in
from tests.support.demo_app import LiveServer

pytestmark = pytest.mark.e2e


SCREENS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}
# The overview in its main states, the upload page before and after a photo is chosen.
USERS = ("stale-photo", "drifted-attributes", "sharepoint-down")
CONTROLS = (
    "header select, header button, main button, main select, main .button,"
    " main input:not([type=hidden]), main .actions a"
)
MIN_HEIGHT = 44


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: $SCREENSHOT_DIR if set (to keep them), else a temp dir."""
    wanted = os.environ.get("SCREENSHOT_DIR")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        return Path(wanted)
    return tmp_path_factory.mktemp("screens")


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer) -> Iterator:
    phone = request.param == "phone"
    context = browser.new_context(
        base_url=live_server.url,
        viewport=SCREENS[request.param],
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=2 if phone else 1,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield request.param, page
    context.close()


def _check_layout(page: Page, where: str) -> list[str]:
    problems = []
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    if scroll_width > inner_width:
        problems.append(f"{where}: scrolls sideways ({scroll_width} > {inner_width} px)")
    for control in page.locator(CONTROLS).all():
        if not control.is_visible():
            continue
        box = control.bounding_box()
        assert box is not None
        label = control.evaluate(
            "e => e.id || e.getAttribute('name') || e.textContent.trim().slice(0, 30)"
        )
        if box["height"] < MIN_HEIGHT:
            problems.append(f"{where}: {label!r} is {box['height']:.0f} px tall")
        if box["x"] < 0 or box["x"] + box["width"] > inner_width + 0.5:
            problems.append(f"{where}: {label!r} sticks out of the screen")
    return problems


def _shoot(page: Page, shots: Path, name: str) -> Path:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    return path


@pytest.mark.parametrize("key", USERS)
def test_overview_fits_the_screen(
    screen: tuple[str, Page], live_server: LiveServer, shots: Path, key: str
) -> None:
    size, page = screen
    page.goto("/login?next=/?ticket%3DINC0012345")
    keyboard_sign_in(page, live_server.tenant.user(key).upn)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
    page.wait_for_load_state("networkidle")
    _shoot(page, shots, f"overview-{key}-{size}")
    problems = _check_layout(page, f"overview {key} {size}")
    page.goto("/attributes")
    _shoot(page, shots, f"attributes-{key}-{size}")
    problems += _check_layout(page, f"attributes {key} {size}")
    assert not problems, "\n".join(problems)


def test_upload_page_fits_the_screen(
    screen: tuple[str, Page], live_server: LiveServer, shots: Path, tmp_path: Path
) -> None:
    size, page = screen
    page.goto("/photo")
    keyboard_sign_in(page, live_server.tenant.user("stale-photo").upn)
    expect(page.get_by_role("button", name="Save my new photo")).to_be_visible()
    _shoot(page, shots, f"upload-{size}")
    problems = _check_layout(page, f"upload {size}")

    photo = tmp_path / "wide.jpg"
    photo.write_bytes(imagegen.jpeg((2400, 1600)))
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    expect(page.locator("#crop-box")).to_be_visible()
    page.locator("#crop-box").scroll_into_view_if_needed()
    expect(page.locator("#crop-box")).to_be_in_viewport()
    _shoot(page, shots, f"upload-crop-{size}")
    problems += _check_layout(page, f"upload with crop {size}")
    assert not problems, "\n".join(problems)


def test_helpdesk_page_fits_the_screen(screen: tuple[str, Page], shots: Path) -> None:
    size, page = screen
    page.goto("/helpdesk")
    page.get_by_label("Ticket number (optional)").fill("INC0012345")
    _shoot(page, shots, f"helpdesk-{size}")
    problems = _check_layout(page, f"helpdesk {size}")
    assert not problems, "\n".join(problems)
