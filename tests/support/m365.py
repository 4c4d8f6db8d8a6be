"""The Microsoft 365 emulator behind Flask's test client, called as a signed-in user would call
Graph and SharePoint (real tokens from `tokens.issue_access_token`, no network): the emulator's
own contract tests check it against the reference this way."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from m365_emulator.tenant import DEMO_CLIENT_ID, Tenant, User
from m365_emulator.tokens import GRAPH_RESOURCE, issue_access_token

# The contract tenant's timings (its own, not the demo's): long enough that nothing happens by
# itself while a test runs; tests move `tenant.clock` past them.
PHOTO_PULL_INTERVAL = 3600.0
ATTRIBUTE_IMPORT_DELAY = 600.0
PHOTO_CACHE_LIFETIME = 1800.0
GRAPH_SCOPES = ("User.Read", "User.ReadWrite")
SHAREPOINT_SCOPES = ("AllSites.Read",)
NOMETADATA = "application/json;odata=nometadata"


class M365:
    """The demo tenant and shortcuts to call its Graph and SharePoint hosts as a user."""

    def __init__(self, tenant: Tenant, app: Flask) -> None:
        self.tenant = tenant
        self.app = app
        self.client: FlaskClient = app.test_client()

    def user(self, key: str) -> User:
        return self.tenant.user(key)

    def token(self, key: str, resource: str, scopes: Iterable[str]) -> str:
        return issue_access_token(
            self.tenant, self.user(key), DEMO_CLIENT_ID, resource, list(scopes)
        )

    def graph(
        self,
        method: str,
        path: str,
        user: str = "in-sync",
        scopes: Iterable[str] = GRAPH_SCOPES,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: object,
    ) -> TestResponse:
        """A call to `https://graph…/v1.0{path}` with a Graph token for `user`."""
        token = token if token is not None else self.token(user, GRAPH_RESOURCE, scopes)
        all_headers = {"Authorization": f"Bearer {token}"} if token else {}
        all_headers.update(headers or {})
        return self.client.open(
            "/v1.0" + path,
            method=method,
            base_url=self.tenant.origins.graph,
            headers=all_headers,
            **kwargs,
        )

    def sharepoint(
        self,
        method: str,
        path: str,
        user: str = "in-sync",
        scopes: Iterable[str] = SHAREPOINT_SCOPES,
        *,
        accept: str | None = NOMETADATA,
        origin: str | None = None,
        token_origin: str | None = None,
        token: str | None = None,
        **kwargs: object,
    ) -> TestResponse:
        """A call to the SharePoint root (or `origin`) with a token for `token_origin`."""
        origin = origin or self.tenant.origins.sharepoint
        if token is None:
            token = self.token(user, token_origin or origin, scopes)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if accept is not None:
            headers["Accept"] = accept
        return self.client.open(path, method=method, base_url=origin, headers=headers, **kwargs)

    def my_properties(self, user: str = "in-sync", accept: str = NOMETADATA) -> TestResponse:
        return self.sharepoint(
            "GET", "/_api/SP.UserProfiles.PeopleManager/GetMyProperties", user, accept=accept
        )

    def upa(self, user: str = "in-sync") -> dict[str, str]:
        """The user's UserProfileProperties through GetMyProperties (nometadata)."""
        response = self.my_properties(user)
        assert response.status_code == 200, response.data
        return {p["Key"]: p["Value"] for p in response.json["UserProfileProperties"]}


def assert_graph_error(response, status: int, code: str) -> dict:
    """The Graph error body of reference §3.1, with request ids in body and headers."""
    assert response.status_code == status, response.data
    assert response.content_type == "application/json"
    error = response.json["error"]
    assert error["code"] == code
    assert error["message"]
    inner = error["innerError"]
    assert set(inner) == {"date", "request-id", "client-request-id"}
    assert response.headers["request-id"] == inner["request-id"]
    return error
