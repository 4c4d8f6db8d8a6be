"""Signing in to the app under Flask's test client, through real MSAL and the emulator's pages
(flaskr's AuthActions): the integration tests' way in."""

from __future__ import annotations

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from m365_emulator.tenant import Tenant
from tests.support.authorize import AuthorizePages

# Where the app believes it is served (the redirect URI the test registration knows).
APP_URL = "http://localhost:5000"


class SignIn:
    """`sign_in.as_user("stale-photo")`: the whole sign-in round trip, as a browser would."""

    def __init__(self, client: FlaskClient, pages: AuthorizePages, tenant: Tenant) -> None:
        self.client = client
        self.pages = pages
        self.tenant = tenant

    def start(self, next_page: str | None = None) -> str:
        """GET /login; returns the authority URL the app redirected to."""
        query = {"next": next_page} if next_page else {}
        response = self.client.get("/login", query_string=query)
        assert response.status_code == 302, response.status_code
        return response.headers["Location"]

    def answer(self, auth_uri: str, key: str, *, consent: bool = True) -> dict[str, str]:
        """What the emulator posts back to the redirect URI for user `key`."""
        return self.pages.complete(auth_uri, self.tenant.user(key).oid, consent=consent)

    def finish(self, answer: dict[str, str]) -> TestResponse:
        return self.client.post("/auth/redirect", data=answer)

    def as_user(self, key: str, next_page: str | None = None) -> TestResponse:
        response = self.finish(self.answer(self.start(next_page), key))
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response
