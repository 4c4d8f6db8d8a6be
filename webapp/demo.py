"""Demo mode: the only importer of `m365_emulator`, wiring the built-in tenant.

With no CLIENT_ID the app runs against the emulator in-process: MSAL and the Graph and
SharePoint clients get a `requests.Session` whose transport hands `https://…` calls for
the demo tenant's hosts straight to the emulator, and the pages a browser visits
(sign-in, consent, sign-out) are served under the app's own origin at `/_m365`. The rest
of the app runs exactly as against Microsoft.
"""

from __future__ import annotations

import os
import secrets

import requests
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from m365_emulator import Origins, demo_tenant
from m365_emulator import create_app as create_emulator
from m365_emulator.tenant import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID
from m365_emulator.transport import mount
from webapp.microsoft.session import build_session, decorated_user_agent
from webapp.settings import Settings

BROWSER_PREFIX = "/_m365"


def wire(app: Flask) -> tuple[Settings, requests.Session]:
    """Mount the emulator on `app` and return settings and HTTP session pointing at it."""
    tenant = demo_tenant(Origins.virtual(BROWSER_PREFIX))
    emulator = create_emulator(tenant)
    dispatcher = DispatcherMiddleware(app.wsgi_app, {BROWSER_PREFIX: emulator})
    app.wsgi_app = dispatcher  # type: ignore[method-assign]  # Flask's way to add middleware
    app.extensions["demo_tenant"] = tenant
    http = build_session(user_agent=decorated_user_agent("Contoso"))
    mount(http, emulator, tenant.origins)
    origins = tenant.origins
    settings = Settings(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        tenant_id=DEMO_TENANT_ID,
        authority=f"{origins.login}/{DEMO_TENANT_ID}",
        graph_endpoint=f"{origins.graph}/v1.0",
        sharepoint_url=origins.sharepoint,
        # A fresh key per start: demo sessions need not survive a restart.
        secret_key=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
        redis_url=os.environ.get("REDIS_URL") or None,
        public_url=(os.environ.get("PUBLIC_URL") or "").rstrip("/") or None,
        organisation_name="Contoso",
        demo=True,
    )
    settings.validate()
    return settings, http
