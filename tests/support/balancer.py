"""A browser behind a load balancer, as the production tests drive two app instances."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlsplit

import requests

from m365_emulator.tenant import Tenant
from tests.support.authorize import AuthorizePages
from tests.support.emulator import Emulator
from tests.support.gunicorn import Instance

_client_addresses = itertools.count(1)


class Browser:
    """One cookie jar, each request sent to a chosen instance.

    Each Browser has its own client address (X-Forwarded-For; the instances trust one proxy),
    so per-address rate limits of one test never spill into another.
    """

    def __init__(self, emulator: Emulator, tenant: Tenant) -> None:
        self.http = emulator.session()
        n = next(_client_addresses)
        self.address = f"198.51.100.{n % 250 + 1}"
        self.http.headers["X-Forwarded-For"] = self.address
        self.pages = AuthorizePages(self.http)
        self.tenant = tenant

    def get(self, instance: Instance, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return self.http.get(instance.url + path, allow_redirects=False, **kwargs)

    def post(self, instance: Instance, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return self.http.post(instance.url + path, allow_redirects=False, **kwargs)

    def start_sign_in(self, instance: Instance, next_page: str | None = None) -> str:
        """GET /login on `instance`; returns the authority URL it sent the browser to."""
        response = self.get(instance, "/login", params={"next": next_page} if next_page else {})
        assert response.status_code == 302, response.status_code
        return response.headers["Location"]

    def finish_sign_in(self, instance: Instance, auth_uri: str, user_key: str) -> str:
        """Walk the emulator's pages as `user_key`, deliver the form_post to `instance`;
        returns the local path the app sent the browser to afterwards."""
        fields = self.pages.complete(auth_uri, self.tenant.user(user_key).oid)
        response = self.post(instance, "/auth/redirect", data=fields)
        assert response.status_code == 302, response.text[:300]
        location = response.headers["Location"]
        parts = urlsplit(location)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def sign_in(
        self, start: Instance, finish: Instance | None = None, user: str = "in-sync"
    ) -> str:
        return self.finish_sign_in(finish or start, self.start_sign_in(start), user)

    def close(self) -> None:
        self.http.close()
