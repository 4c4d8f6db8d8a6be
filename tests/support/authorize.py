"""Driving the emulator's sign-in pages without a browser: pick a user, consent, come back."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests


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
