"""Shared fixtures: the Microsoft 365 emulator over HTTPS, its tenant, and a page driver."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from m365_emulator import create_app, demo_tenant, tls
from m365_emulator.tenant import ClientRegistration, Origins, Tenant

# The app registration every contract test signs in with (seed.py registers the demo one).
TEST_CLIENT_ID = "7c3f0b8e-2a61-4d0e-9b7a-3e5d9a1c4f21"
TEST_CLIENT_SECRET = "test-secret"
TEST_REDIRECT_URI = "http://localhost:5000/auth/redirect"
TEST_POST_LOGOUT_URI = "http://localhost:5000/signed-out"


@dataclass
class Emulator:
    """The emulator served over HTTPS on a free loopback port for the whole test session."""

    url: str
    tenant: Tenant
    ca_path: Path
    app: Flask

    @property
    def authority(self) -> str:
        """The MSAL `authority` for this tenant (reference §1.3)."""
        return f"{self.url}/{self.tenant.tenant_id}"

    def session(self) -> requests.Session:
        """A `requests.Session` that trusts the emulator's CA (nothing global is set).

        `trust_env` is off because requests lets `REQUESTS_CA_BUNDLE` from the environment
        override `Session.verify`.
        """
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca_path)
        return session


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    certs = tls.generate(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert, certs.key)
    # The tenant's origins must name the port, which is known only once the server is bound:
    # bind first, then create the app the server forwards to.
    apps: list[Flask] = []
    server = make_server(
        "127.0.0.1",
        0,
        lambda environ, start_response: apps[0](environ, start_response),
        threaded=True,
        ssl_context=context,
    )
    url = f"https://127.0.0.1:{server.server_port}"
    tenant = demo_tenant(Origins.single(url))
    apps.append(create_app(tenant))
    thread = threading.Thread(target=server.serve_forever, name="m365-emulator", daemon=True)
    thread.start()
    yield Emulator(url=url, tenant=tenant, ca_path=certs.ca, app=apps[0])
    server.shutdown()
    server.server_close()


@pytest.fixture
def tenant(emulator: Emulator) -> Tenant:
    """The emulator's tenant, reset to its seeded state, with the test app registered."""
    tenant = emulator.tenant
    tenant.reset()
    tenant.add_client(
        ClientRegistration(
            client_id=TEST_CLIENT_ID,
            secret=TEST_CLIENT_SECRET,
            redirect_uris=[TEST_REDIRECT_URI],
            name="ProfileFix tests",
            post_logout_redirect_uris=[TEST_POST_LOGOUT_URI],
        )
    )
    return tenant


@pytest.fixture
def http(emulator: Emulator) -> Iterator[requests.Session]:
    """A fresh session (no emulator sign-in cookie) trusting the emulator's CA."""
    with emulator.session() as session:
        yield session


@pytest.fixture
def pages(http: requests.Session) -> AuthorizePages:
    return AuthorizePages(http)


# -- driving the emulator's sign-in pages without a browser ---------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)  # radio name → values


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif tag == "input" and self.forms:
            form = self.forms[-1]
            if a.get("type") == "radio":
                form.options.setdefault(a["name"], []).append(a["value"])
                if "checked" in a:
                    form.fields[a["name"]] = a["value"]
            elif "name" in a:
                form.fields[a["name"]] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(data.strip())


class AuthorizePages:
    """Walks the emulator's authorize pages like a browser: pick a user, verify (step-up),
    consent, come back.

    `complete()` returns the authorization response the app's redirect URI would receive
    (from the query/fragment of the final redirect, or the form_post fields).
    """

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self.last: requests.Response | None = None

    def complete(
        self, auth_uri: str, user_oid: str | None = None, *, consent: bool = True
    ) -> dict[str, str]:
        response = self.session.get(auth_uri, allow_redirects=False, timeout=10)
        for _ in range(5):
            self.last = response
            if response.is_redirect:
                return _answer_from(response.headers["Location"])
            forms, texts = _parse(response.text)
            form = forms[0] if forms else None
            if form is None:
                raise AssertionError(f"emulator page without a form: {' '.join(texts)}")
            target = urljoin(response.url, form.action)
            if form.action.endswith("/authorize/signin"):
                if user_oid is None:
                    raise AssertionError("the sign-in picker appeared but no user was given")
                response = self._post(target, {**form.fields, "user": user_oid})
            elif form.action.endswith("/authorize/consent"):
                decision = "accept" if consent else "cancel"
                response = self._post(target, {**form.fields, "decision": decision})
            elif form.action.endswith("/authorize/verify"):
                response = self._post(target, form.fields)
            else:
                return form.fields  # form_post: what the browser would POST to the app
        raise AssertionError("the authorize pages did not finish")

    def open(self, auth_uri: str) -> tuple[requests.Response, list[Form], list[str]]:
        """GET the authorize URL and parse the page (for tests of the pages themselves)."""
        response = self.session.get(auth_uri, allow_redirects=False, timeout=10)
        forms, texts = _parse(response.text)
        return response, forms, texts

    def _post(self, url: str, data: dict[str, Any]) -> requests.Response:
        return self.session.post(url, data=data, allow_redirects=False, timeout=10)


def _parse(html: str) -> tuple[list[Form], list[str]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms, parser.texts


def _answer_from(location: str) -> dict[str, str]:
    parts = urlsplit(location)
    return dict(parse_qsl(parts.fragment or parts.query))
