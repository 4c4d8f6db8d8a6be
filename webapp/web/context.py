"""This request's Graph and SharePoint clients, built once per request and cached on `g`, and
the app's change history log.

Tokens are fetched lazily per resource and per host through MSAL's cache (silent refresh),
so a page that only reads Graph never asks for a SharePoint token.
"""

from __future__ import annotations

from flask import current_app, g

from webapp.auth.views import auth
from webapp.changes.log import HistoryLog
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.sharepoint import SharePointClient


def graph() -> GraphClient:
    if "graph_client" not in g:
        settings = current_app.extensions["settings"]
        signed_in = auth()  # bound now: calls may run on worker threads without `g`
        g.graph_client = GraphClient(
            settings.graph_endpoint,
            # force_refresh: the client asks once more after a 401 (token revoked early).
            lambda force_refresh=False: signed_in.access_token(
                settings.graph_scopes, force_refresh=force_refresh
            ),
            current_app.extensions["http"],
            current_app.extensions["call_options"],
            account=_account(),
        )
    return g.graph_client


def sharepoint() -> SharePointClient:
    if "sharepoint_client" not in g:
        settings = current_app.extensions["settings"]
        signed_in = auth()
        g.sharepoint_client = SharePointClient(
            settings.sharepoint_url,
            lambda origin, force_refresh=False: signed_in.access_token(
                settings.sharepoint_scopes(origin), force_refresh=force_refresh
            ),
            current_app.extensions["http"],
            current_app.extensions["call_options"],
            account=_account(),
        )
    return g.sharepoint_client


def history() -> HistoryLog:
    """Where changes are recorded and read (webapp/changes/log.py)."""
    log: HistoryLog = current_app.extensions["history"]
    return log


def _account() -> str | None:
    """Whose calls a Retry-After holds back (oid.tid, security.md A6); None before sign-in."""
    user = g.get("user")
    return f"{user.oid}.{user.tid}" if user is not None else None
