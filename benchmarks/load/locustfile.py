"""Locust users of a photo campaign: sign in, look at the overview, upload a photo, follow it,
re-sync, and keep checking the overview; every request goes to a random app instance.

Driven by `benchmarks/load_test.py`, which passes the set-up in environment variables:
LOAD_INSTANCES (comma-separated base URLs), LOAD_CA (the emulator's CA), LOAD_USER_OIDS
(comma-separated, one emulator user per virtual user), LOAD_RESULTS (a JSON file written at
the end: statuses seen, failovers, uploads with their colour and last known state).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import re
import time
from collections import Counter
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from locust import HttpUser, events, task
from PIL import Image

INSTANCES = os.environ.get("LOAD_INSTANCES", "").split(",")
CA = os.environ.get("LOAD_CA", "")
USER_OIDS = os.environ.get("LOAD_USER_OIDS", "").split(",")
RESULTS = os.environ.get("LOAD_RESULTS", "")

_FORM = re.compile(r'<form[^>]*action="([^"]*)"', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
# A dead instance is skipped for this long, as nginx's fail_timeout would (deploy/nginx.conf).
FAIL_TIMEOUT = 10.0
# How long a person keeps the status page open. An op whose instance died mid-write keeps its
# per-user lock for up to a minute (webapp/photo/operations.py LOCK_TTL) before "Try again".
FOLLOW_SECONDS = 150.0
FINAL_OUTCOMES = {"verified", "sharepoint_later", "nothing_changed"}  # when no retry is offered

_next_user = itertools.count()
statuses: Counter[int] = Counter()
failovers = Counter()
uploads: list[dict[str, Any]] = []
# Time the virtual users existed and time they spent waiting on purpose (think time, polling
# pauses): the rest is time spent in requests, which the latency bound is computed from.
timing = {"active": 0.0, "slept": 0.0}
_dead_until: dict[str, float] = {}


def colour_for(index: int) -> tuple[int, int, int]:
    """A distinct, JPEG-stable colour per virtual user, recognisable on both sides later."""
    return (40 + (index * 67) % 180, 40 + (index * 131) % 180, 40 + (index * 29) % 180)


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), colour).save(out, "JPEG", quality=92)
    return out.getvalue()


def _hidden(html: str) -> dict[str, str]:
    return dict(_HIDDEN.findall(html))


class JourneyBrokenError(Exception):
    """The journey broke (e.g. the session was lost); start it again from sign-in."""


def pause(seconds: float) -> None:
    timing["slept"] += seconds
    time.sleep(seconds)


class CampaignUser(HttpUser):
    host = INSTANCES[0] or "http://localhost"

    def wait_time(self) -> float:
        seconds = random.uniform(1, 3)  # a person reading the page
        timing["slept"] += seconds
        return seconds

    def on_start(self) -> None:
        self.started = time.monotonic()
        self.index = next(_next_user)
        self.oid = USER_OIDS[self.index % len(USER_OIDS)]
        self.client.verify = CA
        self.client.trust_env = False  # a REQUESTS_CA_BUNDLE in the environment would win
        self.uploaded = False
        self.resynced = False
        # Each person comes from their own address; the proxy passes it on (TRUSTED_PROXIES=1).
        self.client.headers["X-Forwarded-For"] = f"10.{self.index // 250}.{self.index % 250}.7"

    def on_stop(self) -> None:
        timing["active"] += time.monotonic() - self.started

    # -- transport: a load balancer that picks an instance at random ------------------

    def _instances(self) -> list[str]:
        now = time.monotonic()
        alive = [i for i in INSTANCES if _dead_until.get(i, 0.0) <= now]
        return random.sample(alive or INSTANCES, len(alive or INSTANCES))

    def app(self, method: str, path: str, name: str, **kwargs: Any) -> requests.Response:
        """One request to the app through the "load balancer"; 503s are retried like the
        branded page's automatic retry does; unreachable instances are failed over."""
        for attempt in range(4):
            for base in self._instances():
                with self.client.request(
                    method,
                    base + path,
                    name=name,
                    allow_redirects=False,
                    catch_response=True,
                    timeout=30,
                    **kwargs,
                ) as response:
                    if response.status_code == 0 and isinstance(
                        response.error, requests.ConnectionError
                    ):
                        _dead_until[base] = time.monotonic() + FAIL_TIMEOUT
                        failovers[name] += 1
                        response.request_meta["name"] = "(instance unreachable: failed over)"
                        response.failure("connection refused")
                        continue
                    statuses[response.status_code] += 1
                    if response.status_code < 400 or response.status_code == 429:
                        response.success()
                    break
            if response.status_code != 503 or attempt == 3:
                return response
            pause(1.0)
        return response

    def emulator(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = self.client.request(
            method, url, name="sign-in: emulator pages", allow_redirects=False, timeout=30, **kwargs
        )
        return response

    # -- the journey ---------------------------------------------------------------------

    def sign_in(self, next_page: str = "/") -> None:
        start = self.app("GET", "/login", "sign-in: /login", params={"next": next_page})
        if start.status_code != 302:
            raise JourneyBrokenError
        page = self.emulator("GET", start.headers["Location"])
        for _ in range(4):
            forms = _FORM.findall(page.text)
            if not forms:
                raise JourneyBrokenError
            action = urljoin(page.url, forms[0])
            fields = _hidden(page.text)
            if action.endswith("/authorize/signin"):
                page = self.emulator("POST", action, data={**fields, "user": self.oid})
            elif action.endswith("/authorize/consent"):
                page = self.emulator("POST", action, data={**fields, "decision": "accept"})
            else:
                done = self.app("POST", urlsplit(action).path, "sign-in: callback", data=fields)
                if done.status_code != 302:
                    raise JourneyBrokenError
                return
        raise JourneyBrokenError

    def page(self, path: str, name: str) -> requests.Response:
        response = self.app("GET", path, name)
        if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
            self.sign_in(path)  # the session is gone: sign in and come back (issue 8 item 4)
            response = self.app("GET", path, name)
        return response

    def follow(self, status_path: str, record: dict[str, Any]) -> None:
        """Poll the status JSON like the status page does; press "Try again" when offered."""
        deadline = time.monotonic() + FOLLOW_SECONDS
        while time.monotonic() < deadline:
            response = self.app("GET", f"{status_path}.json", "photo: status.json")
            if response.status_code != 200:
                pause(1)
                continue
            view = response.json()
            record["sides"] = {s["service"]: s["state"] for s in view["sides"]}
            record["outcome"] = view["outcome"]
            if view["can_retry"]:
                # What a person does when the page offers "Try again" (partial, interrupted,
                # or nothing changed yet): the stored photo is sent again, not re-uploaded.
                record["retries"] = record.get("retries", 0) + 1
                form = _hidden(self.app("GET", status_path, "photo: status page").text)
                if "op_id" in form:
                    self.app("POST", "/photo/retry", "photo: retry", data=form)
            elif view["outcome"] in FINAL_OUTCOMES:
                return
            pause(1)

    def upload(self) -> None:
        form = _hidden(self.page("/photo", "photo: page").text)
        if "form_token" not in form:
            raise JourneyBrokenError
        colour = colour_for(self.index)
        record: dict[str, Any] = {"oid": self.oid, "colour": colour, "accepted": False}
        uploads.append(record)
        response = self.app(
            "POST",
            "/photo",
            "photo: upload",
            data={"csrf_token": form["csrf_token"], "form_token": form["form_token"]},
            files={"photo": ("phone.jpg", _jpeg(colour), "image/jpeg")},
        )
        record["status"] = response.status_code
        if response.status_code == 303:
            record["accepted"] = True
            self.uploaded = True
            self.follow(response.headers["Location"], record)

    def resync(self) -> None:
        form = _hidden(self.page("/photo/resync", "resync: page").text)
        if "form_token" not in form:
            return
        response = self.app("POST", "/photo/resync", "resync: start", data=form)
        self.resynced = True
        if response.status_code == 303 and "/photo/status/" in response.headers["Location"]:
            self.follow(response.headers["Location"], {})

    @task
    def campaign(self) -> None:
        try:
            overview = self.page("/", "overview")
            if overview.status_code == 200 and 'action="/logout"' not in overview.text:
                self.sign_in("/")  # the welcome page: not signed in (yet, or any more)
                self.page("/", "overview")
            if not self.uploaded:
                self.upload()
            elif not self.resynced:
                self.resync()
        except JourneyBrokenError:
            self.client.cookies.clear()


@events.test_stop.add_listener
def _write_results(**_: Any) -> None:
    if RESULTS:
        with open(RESULTS, "w") as out:
            json.dump(
                {
                    "statuses": dict(statuses),
                    "failovers": dict(failovers),
                    "uploads": uploads,
                    "active_seconds": timing["active"],
                    "slept_seconds": timing["slept"],
                },
                out,
            )
