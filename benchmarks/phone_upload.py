"""A phone photo saved over a slow phone link, against sending the camera file alone (issue 17).

Runs the demo app (in-process emulator, classic photo model: SharePoint takes the copy at once,
so no display cache is timed) on a free loopback port and signs in as `stale-photo` in headless
Chromium. Chromium's own network emulation (DevTools `Network.emulateNetworkConditions`) gives
the page a phone link: 1.5 Mbit/s up, 10 Mbit/s down, 150 ms latency. The photo is a noisy
24-megapixel camera JPEG stored turned (EXIF orientation 6), with GPS, of 6-12 MB.

For each run it picks the photo (the preview and the square are ready before the clock starts),
presses "Save my new photo" and stops the clock when the page says the photo is saved and
checked in both services. It prints, with JavaScript on (the browser sends a copy of the
square) and off (the form sends the camera file):

* save → "saved and checked" (median of the runs);
* the camera file's own send time on the link: bytes × 8 / 1.5 Mbit/s + 150 ms;
* their ratio (target with JavaScript on: ≤ 0.2);
* the bytes of the form the app received.

    .venv/bin/python benchmarks/phone_upload.py [--runs 3] [--noise 0.2]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared harness, tests/support

from tests import imagegen
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS, demo_sign_in, new_context
from tests.support.demo_app import LiveServer, serve_demo_app
from webapp.extensions import limiter

USER = "stale-photo"
DONE = "Done: Outlook, Teams and SharePoint show the same photo."
UP_BITS_PER_SECOND = 1_500_000
LATENCY_SECONDS = 0.150
# DevTools Protocol, Network.emulateNetworkConditions: latency in ms, throughput in bytes/s.
PHONE_LINK = {
    "offline": False,
    "latency": LATENCY_SECONDS * 1000,
    "uploadThroughput": UP_BITS_PER_SECOND / 8,
    "downloadThroughput": 10_000_000 / 8,
}


def camera_photo(path: Path, noise: float) -> bytes:
    """A 24 MP portrait as a phone stores it: 6000 × 4000 turned by EXIF 6, with GPS."""
    picture = imagegen.noise_photo((4000, 6000), seed=24, noise=noise)
    data = imagegen.jpeg(image=picture, orientation=6, gps=True, quality=92)
    path.write_bytes(data)
    return data


def record_uploads(app) -> list[int]:  # type: ignore[no-untyped-def]
    """The body size of every photo form the app receives, read from its Content-Length."""
    sizes: list[int] = []
    inner = app.wsgi_app

    def recording(environ, start_response):  # type: ignore[no-untyped-def]
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/photo":
            sizes.append(int(environ.get("CONTENT_LENGTH") or 0))
        return inner(environ, start_response)

    app.wsgi_app = recording
    return sizes


def one_save(context: BrowserContext, base: str, photo: Path, javascript: bool) -> float:
    """Seconds from pressing save until the status page says saved and checked."""
    page = context.new_page()
    page.goto(f"{base}/photo")
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    if javascript:
        # The person looks at the preview and the square before saving: not timed.
        page.locator("#crop-box").wait_for(state="visible", timeout=60_000)
        page.wait_for_function("() => document.getElementById('crop-size').value !== ''")
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", PHONE_LINK)
    # Without JavaScript the click itself waits for the form's navigation: the whole upload.
    page.set_default_timeout(600_000)
    started = time.perf_counter()
    page.get_by_role("button", name="Save my new photo").click()
    page.locator("#status-headline", has_text=DONE).wait_for()
    elapsed = time.perf_counter() - started
    page.close()
    return elapsed


def signed_in(browser: Browser, server: LiveServer) -> dict[str, BrowserContext]:
    """A context signed in as USER with JavaScript, and one without sharing its cookies (the
    sign-in pages need JavaScript)."""
    scripted = new_context(browser, server)
    demo_sign_in(scripted.new_page(), server, USER, start="/photo")
    plain = browser.new_context(java_script_enabled=False, storage_state=scripted.storage_state())
    return {"on": scripted, "off": plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="saves per mode")
    parser.add_argument("--noise", type=float, default=0.2, help="sensor noise of the photo")
    args = parser.parse_args()

    photo = Path(tempfile.mkdtemp(prefix="profilefix-phone-")) / "IMG_0001.JPG"
    raw = len(camera_photo(photo, args.noise))
    raw_send = raw * 8 / UP_BITS_PER_SECOND + LATENCY_SECONDS

    # Figures only: no request log lines from werkzeug or the app.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("profilefix").setLevel(logging.ERROR)
    results: dict[str, list[float]] = {"on": [], "off": []}
    sent: dict[str, list[int]] = {"on": [], "off": []}
    with (
        tempfile.TemporaryDirectory(prefix="profilefix-bench-") as instance,
        serve_demo_app(Path(instance)) as server,
        sync_playwright() as playwright,
    ):
        server.tenant.photo_model = "classic"
        uploads = record_uploads(server.app)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Every save writes both services and reads them back, whatever was there before.
        for mode, context in signed_in(browser, server).items():
            for _ in range(args.runs):
                limiter.reset()  # ten photo changes an hour per user
                uploads.clear()
                results[mode].append(one_save(context, server.url, photo, mode == "on"))
                sent[mode].extend(uploads)
        browser.close()

    print(
        f"photo: 6000 × 4000 JPEG, EXIF orientation 6, {raw:,} bytes; link: 1.5 Mbit/s up, "
        f"10 Mbit/s down, {LATENCY_SECONDS * 1000:.0f} ms"
    )
    print(f"camera file's send time alone: {raw_send:.2f} s")
    for mode in ("on", "off"):
        median = statistics.median(results[mode])
        runs = ", ".join(f"{s:.2f}" for s in results[mode])
        print(
            f"JavaScript {mode}: save → saved and checked {median:.2f} s (runs: {runs}); "
            f"ratio {median / raw_send:.3f}; form bytes sent {statistics.median(sent[mode]):,.0f}"
        )
    print("target: ratio ≤ 0.2 with JavaScript on")


if __name__ == "__main__":
    main()
