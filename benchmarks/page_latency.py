"""Overview page latency against one upstream round trip, with emulator latency injected.

Runs the demo app (in-process emulator) on a free loopback port, signs in as `in-sync` in
headless Chromium, adds the same latency to every Graph and SharePoint answer, and prints:

* upstream: one Graph/SharePoint call's round trip as our client measures it (median);
* page: the overview's HTML (a plain HTTP client with the browser's cookies), the first load
  after sign-in (SharePoint's picture address not yet known) and warm loads (median);
* page with pictures: Chromium loading the page and every picture with its cache disabled,
  and a reload with the cache on (pictures answer from the browser cache).

Targets (issue 5): page ≤ 1.2 round trips, page with all pictures ≤ 2.2.

    .venv/bin/python benchmarks/page_latency.py [--latency 0.2] [--runs 15]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared harness, tests/support

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS, demo_sign_in
from tests.support.demo_app import serve_demo_app
from webapp.microsoft.requester import UpstreamCall

USER = "in-sync"

# Time from navigation start until the load event: the document and every image are in.
LOAD_TIME = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return nav.loadEventStart - nav.startTime;
}"""
PICTURES_OK = "() => Array.from(document.images).every((i) => i.complete && i.naturalWidth > 0)"


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per upstream call")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    # Figures only: no request log lines from werkzeug or the app.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("profilefix").setLevel(logging.ERROR)
    with (
        tempfile.TemporaryDirectory(prefix="profilefix-bench-") as instance,
        serve_demo_app(Path(instance)) as server,
        sync_playwright() as playwright,
    ):
        app, base, tenant = server.app, server.url, server.tenant
        # Every upstream call's round trip as the client sees it (retries excluded).
        calls: list[UpstreamCall] = []
        app.extensions["call_options"] = replace(
            app.extensions["call_options"], on_call=calls.append
        )
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base)
        page = context.new_page()
        # Land on the upload page: nothing has read SharePoint yet, so the first overview load
        # below does not know where SharePoint keeps the picture (a new session's first page).
        demo_sign_in(page, server, USER, start="/photo")
        http = requests.Session()
        for cookie in context.cookies():
            http.cookies.set(cookie["name"], cookie["value"])

        tenant.faults.set_latency("graph", args.latency)
        tenant.faults.set_latency("sharepoint", args.latency)
        calls.clear()
        started = time.perf_counter()
        response = http.get(f"{base}/")
        first_page = time.perf_counter() - started
        assert response.status_code == 200 and "data-verdict" in response.text

        pages: list[float] = []
        for _ in range(args.runs):
            started = time.perf_counter()
            response = http.get(f"{base}/")
            pages.append(time.perf_counter() - started)
            assert response.status_code == 200 and "data-verdict" in response.text
        upstream = [c.duration for c in calls if c.status == 200 and c.attempt == 0]

        # A new tab per load with the HTTP cache off: every picture comes through the app.
        with_pictures: list[float] = []
        calls.clear()
        for _ in range(args.runs):
            tab = context.new_page()
            cdp = context.new_cdp_session(tab)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            tab.goto(f"{base}/", wait_until="load")
            assert tab.evaluate(PICTURES_OK), "a picture did not load"
            with_pictures.append(tab.evaluate(LOAD_TIME) / 1000)
            tab.close()
        cold_calls = len(calls) / args.runs

        # Reloads with the cache on: the pictures' max-age spares the upstream calls.
        page.goto(f"{base}/", wait_until="load")
        reloads: list[float] = []
        calls.clear()
        for _ in range(args.runs):
            page.reload(wait_until="load")
            assert page.evaluate(PICTURES_OK), "a picture did not load"
            reloads.append(page.evaluate(LOAD_TIME) / 1000)
        reload_calls = len(calls) / args.runs
        browser.close()

    round_trip = statistics.median(upstream)
    print(f"injected latency: {args.latency * 1000:.0f} ms per Graph/SharePoint call")
    print(f"upstream round trip (median of {len(upstream)} calls): {round_trip * 1000:.0f} ms")
    rows = [
        ("page, first load of a session (no picture hint yet)", first_page),
        (f"page, warm (median of {args.runs})", statistics.median(pages)),
        (
            f"page + all pictures, new tab, cache off ({cold_calls:.1f} upstream calls per load)",
            statistics.median(with_pictures),
        ),
        (
            f"page + all pictures, reload ({reload_calls:.1f} upstream calls per load)",
            statistics.median(reloads),
        ),
    ]
    for label, seconds in rows:
        print(f"{label}: {seconds * 1000:.0f} ms = {seconds / round_trip:.2f} round trips")
    print("targets: page ≤ 1.20 round trips; page with all pictures ≤ 2.20 round trips")


if __name__ == "__main__":
    main()
