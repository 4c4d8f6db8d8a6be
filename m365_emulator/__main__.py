"""`python -m m365_emulator`: the emulator as its own HTTPS server, one tenant for several apps.

MSAL needs the authority and token endpoint on https (reference §1.1), so the server makes a
throw-away CA and certificate, and prints the CA path and the settings an app needs.
"""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import ssl
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from m365_emulator import DEMO_PHOTO_CACHE_LIFETIME, create_app, demo_tenant, tls
from m365_emulator.tenant import DEMO_CLIENT_ID, PHOTO_MODELS, Origins, Tenant

DEFAULT_REDIRECT_URIS = (
    "http://localhost:5000/auth/redirect",
    "http://127.0.0.1:5000/auth/redirect",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state_dir = Path(args.state_dir or Path(tempfile.gettempdir()) / "m365-emulator")
    hosts = tuple(dict.fromkeys((args.host, "127.0.0.1", "localhost", "::1")))
    certs = tls.generate(state_dir, hosts)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert, certs.key)
    # The origin names the port, known for --port 0 only once bound: bind, then build the app.
    apps: list[Any] = []
    server = make_server(
        args.host,
        args.port,
        lambda environ, start_response: apps[0](environ, start_response),
        threaded=True,
        ssl_context=context,
    )
    public_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    if ":" in public_host:
        public_host = f"[{public_host}]"
    origin = f"https://{public_host}:{server.server_port}"
    tenant = demo_tenant(
        Origins.single(origin),
        photo_model=args.photo_model,
        photo_cache_lifetime=args.photo_cache_lifetime,
    )
    register_demo_client(tenant, args.redirect_uri or list(DEFAULT_REDIRECT_URIS))
    if args.latency_ms:
        tenant.faults.set_latency("*", args.latency_ms / 1000)
    apps.append(create_app(tenant))
    print(_banner(tenant, origin, certs.ca), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def register_demo_client(tenant: Tenant, redirect_uris: list[str]) -> None:
    """Register the demo app with exactly these redirect URIs (no demo any-origin rule)."""
    with tenant.lock:
        seeded = tenant.clients[DEMO_CLIENT_ID]
        tenant.add_client(
            dataclasses.replace(seeded, redirect_uris=list(redirect_uris), any_origin_paths=())
        )


def _banner(tenant: Tenant, origin: str, ca: Path) -> str:
    client = tenant.clients[DEMO_CLIENT_ID]
    if tenant.photo_model == "current":
        photos = (
            "current (SharePoint serves the Graph photo through a cache kept "
            f"{tenant.photo_cache_lifetime:g} s)"
        )
    else:
        photos = (
            "classic (SharePoint pulls the Exchange photo when the user views it, at most every "
            f"{tenant.photo_pull_interval:g} s)"
        )
    lines = [
        f"Microsoft 365 emulator for {tenant.domain} on {origin}",
        f"Photo model: {photos}",
        f"Certificate authority to trust: {ca}",
        "",
        "Settings for the app (e.g. in .env):",
        f"CLIENT_ID={client.client_id}",
        f"CLIENT_SECRET={client.secret}",
        f"TENANT_ID={tenant.tenant_id}",
        f"AUTHORITY={origin}/{tenant.tenant_id}",
        f"GRAPH_ENDPOINT={origin}/v1.0",
        f"SHAREPOINT_URL={tenant.origins.sharepoint}",
        f"REQUESTS_CA_BUNDLE={ca}",
        "# the same key on every app instance that shares this tenant:",
        f"SECRET_KEY={secrets.token_urlsafe(48)}",
        "# your organisation's name, one word (it goes into every call's User-Agent):",
        "ORGANISATION_NAME=Contoso",
        "# the address you open the app at (plain http is fine on this machine only):",
        "PUBLIC_URL=http://127.0.0.1:5000",
        "",
        "Registered redirect URIs (any port on http://localhost and http://127.0.0.1):",
        *(f"  {uri}" for uri in client.redirect_uris),
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m m365_emulator",
        description="Serve the Microsoft 365 emulator (Entra ID, Graph, SharePoint) over HTTPS.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8443, help="port (0: any free port)")
    parser.add_argument(
        "--state-dir", help="where the generated certificate files go (default: a temp dir)"
    )
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="added latency for every service call"
    )
    parser.add_argument(
        "--photo-model",
        choices=PHOTO_MODELS,
        default="current",
        help="how SharePoint shows photos: current (since 2024: a cache of the Graph photo) or "
        "classic (pulled into its own library, uploads accepted); default: current",
    )
    parser.add_argument(
        "--photo-cache-lifetime",
        type=float,
        default=DEMO_PHOTO_CACHE_LIFETIME,
        metavar="SECONDS",
        help="how long SharePoint's photo cache serves a copy before fetching the Graph photo "
        f"again (current model; default: {DEMO_PHOTO_CACHE_LIFETIME:g})",
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        help="a redirect URI of the demo app (repeatable; default: the two on port 5000)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
