"""This request's typed context: the app's settings, record store, change history, HTTP
session and call options, the signed-in account with its Graph and SharePoint clients, and
absolute links.

Views and helpers use these accessors; only this module looks into `app.extensions`, which
`create_app()` fills. Clients are built once per request and cached on `g`; their tokens are
fetched lazily per resource and per host through MSAL's cache (silent refresh), so a page that
only reads Graph never asks for a SharePoint token. A token that cannot be had silently, and a
401 that one silent refresh does not cure, become `AuthRequiredError` for the service while
this session may still take a sign-in round for it, and `AccessRefusedError` once it has (the
loop guard, auth/rounds.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, cast

import requests
from flask import current_app, g, session, url_for
from flask.sessions import SessionMixin
from werkzeug.local import LocalProxy

from webapp.auth.flow import Auth, EntraMemory, InteractionRequiredError, SignedInUser
from webapp.auth.rounds import SignInRounds
from webapp.changes.log import HistoryLog
from webapp.microsoft.errors import AuthRequiredError
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.requester import CallOptions
from webapp.microsoft.sharepoint import SharePointClient
from webapp.settings import Settings
from webapp.store import Store

T = TypeVar("T")


def _extension(key: str, kind: type[T]) -> T:
    value = current_app.extensions[key]
    if not isinstance(value, kind):
        raise TypeError(
            f"app.extensions[{key!r}] holds {type(value).__name__}, not {kind.__name__}"
        )
    return value


def settings() -> Settings:
    return _extension("settings", Settings)


def http() -> requests.Session:
    """The app's one HTTP session (connection pools, CA bundle, user agent)."""
    return _extension("http", requests.Session)


def call_options() -> CallOptions:
    """Transport policy for Graph and SharePoint calls (timeouts, throttle gate, metrics)."""
    return _extension("call_options", CallOptions)


def store() -> Store:
    """The record store (Redis, or files on one machine)."""
    return cast(Store, current_app.extensions["store"])


def history() -> HistoryLog:
    """Where changes are recorded and read (webapp/changes/log.py)."""
    return _extension("history", HistoryLog)


def per_app(kind: type[T]) -> T:
    """The app's one `kind()`, made on first use: process memory, one per worker."""
    name = f"{kind.__module__}.{kind.__qualname__}"
    if name not in current_app.extensions:
        current_app.extensions.setdefault(name, kind())
    return _extension(name, kind)


def auth() -> Auth:
    """This request's sign-in helper over the server-side session."""
    if "auth" not in g:
        # The session object itself, not the proxy: upstream calls for one page run on
        # worker threads, where Flask's context-local proxies are not bound.
        g.auth = Auth(settings(), http(), _session_object(), per_app(EntraMemory))
    return cast(Auth, g.auth)


def _session_object() -> SessionMixin:
    """The session object itself, not the proxy (Flask types `session` as what the proxy
    stands for)."""
    proxy = cast("LocalProxy[SessionMixin]", session)
    return proxy._get_current_object()


def sign_in_rounds() -> SignInRounds:
    """This session's sign-in rounds (the loop guard), bound to the session object itself so
    that calls on worker threads can consult it."""
    return SignInRounds(_session_object())


def user() -> SignedInUser:
    """Who is signed in (`auth.guard` loads it); only for views behind `login_required`."""
    signed_in = g.get("user")
    if signed_in is None:
        raise LookupError("no user is signed in on this request")
    return cast(SignedInUser, signed_in)


def user_key() -> str:
    """The signed-in account: records, locks and limits are per `oid.tid` (security.md A6)."""
    signed_in = user()
    return f"{signed_in.oid}.{signed_in.tid}"


def absolute_url(endpoint: str, **values: Any) -> str:
    """An absolute link to a page: on PUBLIC_URL when it is set, never on a spoofable Host
    (security.md A12); else on this request's host."""
    public_url = settings().public_url
    if public_url:
        return public_url + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


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


def _guarded_options(guard: SignInRounds) -> CallOptions:
    return dataclasses.replace(call_options(), on_auth_failure=guard.checked)


def graph() -> GraphClient:
    if "graph_client" not in g:
        config = settings()
        guard = sign_in_rounds()
        g.graph_client = GraphClient(
            config.graph_endpoint,
            _token_provider(auth(), guard, "graph", lambda: config.graph_scopes),
            http(),
            _guarded_options(guard),
            account=_account(),
        )
    return cast(GraphClient, g.graph_client)


def sharepoint() -> SharePointClient:
    if "sharepoint_client" not in g:
        config = settings()
        guard = sign_in_rounds()
        g.sharepoint_client = SharePointClient(
            config.sharepoint_url,
            _token_provider(auth(), guard, "sharepoint", config.sharepoint_scopes_for),
            http(),
            _guarded_options(guard),
            account=_account(),
        )
    return cast(SharePointClient, g.sharepoint_client)


def _account() -> str | None:
    """Whose calls a Retry-After holds back (oid.tid, security.md A6); None before sign-in."""
    return user_key() if g.get("user") is not None else None
