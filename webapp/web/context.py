"""This request's Graph and SharePoint clients, built once per request and cached on `g`.

Tokens are fetched lazily per resource and per host through MSAL's cache (silent refresh),
so a page that only reads Graph never asks for a SharePoint token.
"""

from __future__ import annotations

from flask import current_app, g

from webapp.auth.views import auth
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
        )
    return g.graph_client


def sharepoint() -> SharePointClient:
    if "sharepoint_client" not in g:
        settings = current_app.extensions["settings"]
        signed_in = auth()
        g.sharepoint_client = SharePointClient(
            settings.sharepoint_url,
            lambda origin, force_refresh=False: signed_in.access_token(
                settings.sharepoint_scopes_for(origin), force_refresh=force_refresh
            ),
            current_app.extensions["http"],
            current_app.extensions["call_options"],
        )
    return g.sharepoint_client
