"""In Chromium: a phone photo is sent as a small upright copy of the chosen square, with a
progress bar and the saving steps; a file the browser cannot read, and a browser without
JavaScript, send the camera file as before; a refusal comes back as the server's own page."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import Browser, Page, expect
from werkzeug.formparser import parse_form_data

from tests import imagegen
from tests.support.chromium import axe_report, demo_sign_in
from tests.support.demo_app import LiveServer

pytestmark = pytest.mark.e2e

DONE_UPLOAD = "Done: Outlook, Teams and SharePoint show the same photo."
USER = "stale-photo"
# Chrome DevTools Protocol, Network.emulateNetworkConditions: throughput in bytes per second.
PHONE_LINK = {
    "offline": False,
    "latency": 150,
    "uploadThroughput": 1_500_000 / 8,
    "downloadThroughput": 10_000_000 / 8,
}


@dataclass
class Received:
    """One photo form as the app received it."""

    fields: dict[str, str]
    photo: bytes


@pytest.fixture
def received(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> list[Received]:
    """Every photo form posted to the app in this test, read off the wire before the app."""
    forms: list[Received] = []
    inner = live_server.app.wsgi_app

    def recording(environ: dict, start_response):  # type: ignore[no-untyped-def]
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/photo":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            _, form, files = parse_form_data({**environ, "wsgi.input": io.BytesIO(body)})
            forms.append(Received(dict(form), files["photo"].read()))
        return inner(environ, start_response)

    monkeypatch.setattr(live_server.app, "wsgi_app", recording)
    return forms


def _nearest_marker(colour: tuple[int, ...]) -> str:
    options = {**imagegen.MARKERS, "grey": (128, 128, 128)}
    return min(
        options, key=lambda n: sum((a - b) ** 2 for a, b in zip(options[n], colour, strict=True))
    )


def _corners(picture: Image.Image) -> dict[str, str]:
    """Which marker (or the grey field) each corner of `picture` shows, averaged over a patch."""
    w, h = picture.size
    patch = max(4, w // 20)
    at = {
        "top_left": (patch, patch),
        "top_right": (w - 2 * patch, patch),
        "bottom_left": (patch, h - 2 * patch),
        "bottom_right": (w - 2 * patch, h - 2 * patch),
    }
    return {
        corner: _nearest_marker(
            tuple(round(v) for v in ImageStat.Stat(picture.crop((x, y, x + patch, y + patch))).mean)
        )
        for corner, (x, y) in at.items()
    }


def _same_picture(shown: Image.Image, expected: Image.Image) -> bool:
    """Equal at 32 × 32 within a few levels: grain and JPEG average out, a shift or turn not."""
    small = [p.convert("RGB").resize((32, 32), Image.Resampling.BOX) for p in (shown, expected)]
    return max(ImageStat.Stat(ImageChops.difference(*small)).mean) < 12


def _choose_top_left_square(page: Page) -> tuple[int, int, int]:
    """Shrink the square four steps and push it into the top-left corner, by keyboard."""
    for _ in range(4):
        page.get_by_role("button", name="Smaller square").click()
    box = page.locator("#crop-box")
    box.focus()
    for key in ("Shift+ArrowLeft",) * 12 + ("Shift+ArrowUp",) * 12:
        page.keyboard.press(key)
    expect(page.locator("#crop-x")).to_have_value("0")
    expect(page.locator("#crop-y")).to_have_value("0")
    return 0, 0, int(page.locator("#crop-size").input_value())


def test_a_phone_photo_arrives_as_a_small_upright_copy_of_the_square_without_metadata(
    page: Page, live_server: LiveServer, tmp_path: Path, received: list[Received]
) -> None:
    original = imagegen.camera_card((4000, 3000), orientation=6)
    photo = tmp_path / "IMG_1001.JPG"
    photo.write_bytes(original)
    demo_sign_in(page, live_server, USER, start="/photo")
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    expect(page.locator("#crop-box")).to_be_visible()
    expect(page.locator("#crop-size")).to_have_value("3000")  # upright: 4000 × 3000
    x, y, size = _choose_top_left_square(page)
    assert 1296 < size < 3000

    page.get_by_role("button", name="Save my new photo").click()
    expect(page.locator("#status-headline")).to_have_text(DONE_UPLOAD, timeout=30_000)
    assert page.url.startswith(f"{live_server.url}/photo/status/")

    # The browser sent a 1296-px JPEG of the square, and said it is the whole picture.
    [sent] = received
    assert len(sent.photo) < len(original) / 5
    copy = Image.open(io.BytesIO(sent.photo))
    assert (copy.format, copy.size) == ("JPEG", (1296, 1296))
    assert [sent.fields[n] for n in ("x", "y", "size")] == ["0", "0", "1296"]
    assert not copy.getexif() and "exif" not in copy.info

    # Graph got the square, upright: red top-left marker only, grey elsewhere; no metadata.
    stored = live_server.tenant.user(USER).photo.data
    shown = Image.open(io.BytesIO(stored))
    assert shown.size == (648, 648)
    assert not shown.getexif() and "exif" not in shown.info and b"GPS" not in stored
    assert _corners(shown.convert("RGB")) == {
        "top_left": "top_left",
        "top_right": "grey",
        "bottom_left": "grey",
        "bottom_right": "grey",
    }
    # ... and the very square chosen: it matches Pillow's crop of the upright original.
    assert _same_picture(shown, imagegen.card((4000, 3000)).crop((x, y, x + size, y + size)))
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_a_heic_the_browser_cannot_read_goes_as_it_is(
    page: Page, live_server: LiveServer, tmp_path: Path, received: list[Received]
) -> None:
    original = imagegen.heic((640, 480), orientation=6)
    photo = tmp_path / "IMG_1002.HEIC"
    photo.write_bytes(original)
    demo_sign_in(page, live_server, USER, start="/photo")
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    expect(page.locator("#crop-unavailable")).to_be_visible()

    page.get_by_role("button", name="Save my new photo").click()
    expect(page.locator('[data-step="prepare"]')).to_have_attribute("data-state", "skipped")
    expect(page.locator("#status-headline")).to_have_text(DONE_UPLOAD, timeout=30_000)

    [sent] = received
    assert sent.photo == original
    assert [sent.fields[n] for n in ("x", "y", "size")] == ["", "", ""]
    # The server turned it upright (640 × 480) and used the centred square.
    shown = Image.open(io.BytesIO(live_server.tenant.user(USER).photo.data)).convert("RGB")
    assert shown.size == (480, 480)
    assert _same_picture(shown, imagegen.card((640, 480)).crop((80, 0, 560, 480)))
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_without_javascript_the_form_posts_the_camera_file(
    browser: Browser, page: Page, live_server: LiveServer, tmp_path: Path, received: list[Received]
) -> None:
    original = imagegen.jpeg((1600, 1200), orientation=6, gps=True)
    photo = tmp_path / "IMG_1003.JPG"
    photo.write_bytes(original)
    demo_sign_in(page, live_server, USER, start="/photo")
    context = browser.new_context(
        base_url=live_server.url,
        java_script_enabled=False,
        storage_state=page.context.storage_state(),
    )
    try:
        plain = context.new_page()
        plain.goto("/photo")
        expect(plain.locator("#upload-progress")).to_be_hidden()
        plain.get_by_label("Photo", exact=True).set_input_files(str(photo))
        plain.get_by_role("button", name="Save my new photo").click()
        expect(plain.locator("#status-headline")).to_have_text(DONE_UPLOAD, timeout=30_000)
        assert [sent.photo for sent in received] == [original]
        shown = Image.open(io.BytesIO(live_server.tenant.user(USER).photo.data))
        assert shown.size == (648, 648)  # the centred 1200-px square, scaled
    finally:
        context.close()


def test_the_progress_bar_fills_while_sending_on_a_slow_link_and_the_steps_end(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    photo = tmp_path / "IMG_1004.JPG"
    photo.write_bytes(imagegen.camera_card((4000, 3000), orientation=6))
    demo_sign_in(page, live_server, USER, start="/photo")
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    expect(page.locator("#crop-box")).to_be_visible()
    # Every value the bar shows, as (value, max), reported from a MutationObserver.
    seen: list[tuple[float, float]] = []
    page.expose_function("reportProgress", lambda value, top: seen.append((value, top)))
    page.evaluate(
        """() => {
        const bar = document.getElementById("upload-bar");
        new MutationObserver(() => window.reportProgress(bar.value, bar.max))
          .observe(bar, {attributes: true});
    }"""
    )
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", PHONE_LINK)

    page.get_by_role("button", name="Save my new photo").click()
    expect(page.locator("#upload-progress")).to_be_visible()
    expect(page.locator("#upload-progress-title")).to_be_focused()
    expect(page.locator('[data-step="prepare"]')).to_have_attribute("data-state", "done")
    expect(page.locator('[data-step="send"]')).to_have_attribute("data-state", "working")
    expect(page.locator('[data-step="send"] .step-state')).to_contain_text(" MB")
    expect(page.locator("#status-headline")).to_have_text(DONE_UPLOAD, timeout=30_000)

    top = seen[-1][1]
    assert top > 100_000  # the form's bytes, not a placeholder
    assert any(0 < value < top for value, _ in seen), seen
    assert seen[-1] == (top, top)
    assert [value for value, _ in seen] == sorted(value for value, _ in seen)
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_a_refusal_replaces_the_page_and_the_next_photo_goes_through(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    animated = tmp_path / "moving.webp"
    animated.write_bytes(imagegen.animated_webp((300, 300)))
    photo = tmp_path / "IMG_1005.JPG"
    photo.write_bytes(imagegen.camera_card((1600, 1200), orientation=3))
    demo_sign_in(page, live_server, USER, start="/photo")

    page.get_by_label("Photo", exact=True).set_input_files(str(animated))
    page.get_by_role("button", name="Save my new photo").click()
    # The server's own refusal page (422), at the upload page's address, scripts running again.
    expect(page.locator("#upload-errors")).to_contain_text(
        "Animated pictures cannot be profile photos."
    )
    expect(page.locator("#upload-errors")).to_contain_text("Nothing was changed.")
    assert page.url == f"{live_server.url}/photo"
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    expect(page.locator("#crop-box")).to_be_visible()
    page.get_by_role("button", name="Save my new photo").click()
    expect(page.locator("#status-headline")).to_have_text(DONE_UPLOAD, timeout=30_000)
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your photo")
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_when_the_connection_breaks_the_same_copy_can_be_sent_again_with_the_keyboard(
    page: Page, live_server: LiveServer, tmp_path: Path, received: list[Received]
) -> None:
    photo = tmp_path / "IMG_1006.JPG"
    photo.write_bytes(imagegen.camera_card((2400, 1800), orientation=8))
    demo_sign_in(page, live_server, USER, start="/photo")
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    expect(page.locator("#crop-size")).to_have_value("1800")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {**PHONE_LINK, "offline": True})

    page.get_by_role("button", name="Save my new photo").click()
    expect(page.locator("#upload-failed")).to_be_visible()
    expect(page.get_by_role("button", name="Try again")).to_be_focused()
    assert received == []
    report = axe_report(page, within="#upload-progress")
    assert not report, report

    cdp.send("Network.emulateNetworkConditions", {**PHONE_LINK, "offline": False})
    page.keyboard.press("Enter")
    expect(page.locator("#status-headline")).to_have_text(DONE_UPLOAD, timeout=30_000)
    # The plain form carried the same copy: 1296 px, the whole of it the square.
    [sent] = received
    assert Image.open(io.BytesIO(sent.photo)).size == (1296, 1296)
    assert [sent.fields[n] for n in ("x", "y", "size")] == ["0", "0", "1296"]
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_a_file_over_the_limit_is_refused_before_a_byte_is_sent(
    page: Page, live_server: LiveServer, tmp_path: Path, received: list[Received]
) -> None:
    demo_sign_in(page, live_server, USER, start="/photo")
    limit = int(page.locator("#photo").get_attribute("data-max-bytes") or 0)
    huge = tmp_path / "IMG_1007.JPG"
    huge.write_bytes(imagegen.jpeg((400, 300)) + bytes(limit))
    page.get_by_label("Photo", exact=True).set_input_files(str(huge))
    page.get_by_role("button", name="Save my new photo").click()
    mb = limit // (1024 * 1024)
    expect(page.get_by_role("alert")).to_have_text(
        f"The file is larger than {mb} MB. Nothing was changed."
    )
    expect(page.get_by_label("Photo", exact=True)).to_be_focused()
    expect(page.locator("#upload-progress")).to_be_hidden()
    assert received == []
