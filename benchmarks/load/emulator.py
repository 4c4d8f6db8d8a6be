"""The standalone HTTPS emulator as `python -m m365_emulator` serves it, plus load-test users
(one per virtual user, so per-user locks and limits do not serialise the run) and a report of
what each user's photo looks like on each side, for counting uploads that did not arrive.

Run by `benchmarks/load_test.py`; prints one JSON line with the app settings, then serves.
"""

from __future__ import annotations

import argparse
import io
import json
import ssl
import sys
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from PIL import Image
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from m365_emulator import create_app, demo_tenant, pictures, sync, tls
from m365_emulator.__main__ import register_demo_client
from m365_emulator.graph import photo_etag
from m365_emulator.tenant import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    Origins,
    SharePointProfile,
    StoredPhoto,
    Tenant,
    User,
)


def load_user_oid(index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"profilefix-load-test:{index}"))


def add_load_users(tenant: Tenant, count: int) -> None:
    """`count` mailbox users whose photo is in sync on both sides to begin with."""
    now = tenant.clock.time()
    with tenant.lock:
        for i in range(count):
            upn = f"load{i:03d}@{tenant.domain}"
            personal = upn.replace("@", "_").replace(".", "_")
            user = User(
                key=f"load-{i:03d}",
                oid=load_user_oid(i),
                upn=upn,
                directory={
                    "displayName": f"Load User {i:03d}",
                    "givenName": "Load",
                    "surname": f"User {i:03d}",
                    "jobTitle": "Tester",
                    "department": "Load",
                    "officeLocation": "Lab",
                    "businessPhones": [],
                    "mail": upn,
                    "companyName": "Contoso",
                    "accountEnabled": True,
                    "preferredLanguage": "en-US",
                    "usageLocation": "US",
                    "mySite": f"{tenant.origins.mysite}/personal/{personal}/",
                },
                demonstrates="load-test user",
            )
            data = pictures.initials_photo("LU", 1)
            user.photo = StoredPhoto(
                data=data,
                content_type="image/jpeg",
                width=648,
                height=648,
                etag=photo_etag(data, 1),
                version=1,
                stored_at=now,
            )
            profile = SharePointProfile(sync.imported_properties(user))
            profile.pictures = sync.make_pictures(data, 1, now)
            profile.placeholder_state = "0"
            profile.last_photo_pull = now
            user.sharepoint = profile
            tenant.add_user(user)


def _centre_colour(data: bytes | None) -> list[int] | None:
    if data is None:
        return None
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
        return list(rgb.getpixel((rgb.width // 2, rgb.height // 2)))  # type: ignore[arg-type]


def report_app(tenant: Tenant) -> Flask:
    """`GET /report`: per load user, the centre colour of the Graph photo and SharePoint's M."""
    app = Flask(__name__)

    @app.get("/report")
    def report() -> Any:
        with tenant.lock:
            users = [u for u in tenant.users.values() if u.key.startswith("load-")]
            sides = {
                u.oid: (
                    u.photo.data if u.photo else None,
                    u.sharepoint.pictures.medium if u.sharepoint.pictures else None,
                )
                for u in users
            }
        return jsonify(
            {
                oid: {"graph": _centre_colour(graph), "sharepoint": _centre_colour(sp)}
                for oid, (graph, sp) in sides.items()
            }
        )

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--redirect-uri", action="append", required=True)
    args = parser.parse_args()
    certs = tls.generate(Path(args.state_dir))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert, certs.key)
    apps: list[Any] = []
    server = make_server(
        "127.0.0.1",
        args.port,
        lambda environ, start_response: apps[0](environ, start_response),
        threaded=True,
        ssl_context=context,
    )
    origin = f"https://127.0.0.1:{server.server_port}"
    # Classic photo model: the report checks that every accepted upload reached SharePoint's
    # own copy (its library), which only a classic tenant keeps and takes pushes into; on the
    # current model SharePoint serves Graph's photo through its cache (reference §9.1).
    tenant = demo_tenant(Origins.single(origin), photo_model="classic")
    register_demo_client(tenant, args.redirect_uri)
    add_load_users(tenant, args.users)
    tenant.faults.set_latency("*", args.latency_ms / 1000)
    apps.append(DispatcherMiddleware(create_app(tenant), {"/_load": report_app(tenant)}))
    settings = {
        "CLIENT_ID": DEMO_CLIENT_ID,
        "CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "TENANT_ID": tenant.tenant_id,
        "AUTHORITY": f"{origin}/{tenant.tenant_id}",
        "GRAPH_ENDPOINT": f"{origin}/v1.0",
        "SHAREPOINT_URL": origin,
        "REQUESTS_CA_BUNDLE": str(certs.ca),
        "EMULATOR_URL": origin,
        "LOAD_USER_OIDS": [load_user_oid(i) for i in range(args.users)],
    }
    print(json.dumps(settings), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
