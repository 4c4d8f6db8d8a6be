"""This request's Graph and SharePoint clients, built once per request and cached on `g`.

Tokens are fetched lazily per resource and per host through MSAL's cache (silent refresh),
so a page that only reads Graph never asks for a SharePoint token. A token that cannot be had
silently, and a 401 that one silent refresh does not cure, become `AuthRequiredError` for the
service while this session may still take a sign-in round for it, and `AccessRefusedError`
once it has (the loop guard, auth/guard.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from flask import current_app, g

from webapp.auth.flow import Auth, InteractionRequiredError
from webapp.auth.guard import SignInRounds, rounds
from webapp.auth.views import auth
from webapp.microsoft.errors import AuthRequiredError
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.requester import CallOptions
from webapp.microsoft.sharepoint import SharePointClient


def _token_provider(
    signed_in: Auth, guard: SignInRounds, service: str, scopes: Callable[..., list[str]]
) -> Callable[..., str]:
    """A token provider for the clients: `(*origin, force_refresh=, claims_challenge=)`.

    Bound now: calls may run on worker threads without `g`.
    """

    def provide(
        *origin: str, force_refresh: bool = False, claims_challenge: str | None = None
    ) -> str:
        try:
            return signed_in.access_token(
                scopes(*origin), force_refresh=force_refresh, claims_challenge=claims_challenge
            )
        except InteractionRequiredError as exc:
            code = "consent_required" if exc.consent else exc.detail
            needed = AuthRequiredError(
                service, code=code, claims_challenge=exc.claims, consent=exc.consent
            )
            raise guard.checked(needed) from None

    return provide


def _options(guard: SignInRounds) -> CallOptions:
    options: CallOptions = current_app.extensions["call_options"]
    return dataclasses.replace(options, on_auth_failure=guard.checked)


def graph() -> GraphClient:
    if "graph_client" not in g:
        settings = current_app.extensions["settings"]
        guard = rounds()
        g.graph_client = GraphClient(
            settings.graph_endpoint,
            _token_provider(auth(), guard, "graph", lambda: settings.graph_scopes),
            current_app.extensions["http"],
            _options(guard),
            account=_account(),
        )
    return g.graph_client


def sharepoint() -> SharePointClient:
    if "sharepoint_client" not in g:
        settings = current_app.extensions["settings"]
        guard = rounds()
        g.sharepoint_client = SharePointClient(
            settings.sharepoint_url,
            _token_provider(auth(), guard, "sharepoint", settings.sharepoint_scopes_for),
            current_app.extensions["http"],
            _options(guard),
            account=_account(),
        )
    return g.sharepoint_client


def _account() -> str | None:
    """Whose calls a Retry-After holds back (oid.tid, security.md A6); None before sign-in."""
    user = g.get("user")
    return f"{user.oid}.{user.tid}" if user is not None else None
