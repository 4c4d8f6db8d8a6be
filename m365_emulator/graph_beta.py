"""Microsoft Graph beta endpoints the emulator serves: the tenant's photo update settings.

`GET`/`PATCH /beta/admin/people/photoUpdateSettings` (reference §9.1; graph-docs-contrib
api-reference/beta/api/photoupdatesettings-get.md and -update.md, concepts/
profilephoto-configure-settings.md). Delegated callers need `PeopleSettings.Read.All` or
`PeopleSettings.ReadWrite.All` and an admin role ("People Administrator is the least privileged
role supported", rbac-peopleadmin-apis-write.md), so an ordinary user's token gets 403. Same
token rules, error bodies and request ids as v1.0 (graph.py).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from m365_emulator import graph
from m365_emulator.graph import GraphError
from m365_emulator.tenant import (
    GLOBAL_ADMINISTRATOR,
    PEOPLE_ADMINISTRATOR,
    PhotoUpdateSettings,
    Tenant,
)

bp = Blueprint("graph_beta", __name__, url_prefix="/beta")
bp.register_error_handler(GraphError, graph.handle_graph_error)
bp.after_request(graph.add_request_ids)

READ_SETTINGS_SCOPES = {"PeopleSettings.Read.All", "PeopleSettings.ReadWrite.All"}
WRITE_SETTINGS_SCOPES = {"PeopleSettings.ReadWrite.All"}
# Roles allowed to read or change the settings: People Administrator and Global Administrator
# for writes (rbac include above); the same for reads is UNCONFIRMED.
SETTINGS_ROLES = {PEOPLE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR}
_SOURCES = {"cloud": "cloud", "onpremises": "onPremises"}


def _tenant() -> Tenant:
    tenant: Tenant = current_app.extensions["m365_tenant"]
    return tenant


def _require_admin(scopes: set[str]) -> None:
    user = graph.caller(scopes)
    if not SETTINGS_ROLES & set(user.roles):
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )


def _body(settings: PhotoUpdateSettings) -> Response:
    # The documented answers disagree (a `value` wrapper with `id` on the GET page, a bare
    # object on the update page and in the concept article); the bare entity is served.
    context = f"{_tenant().origins.graph}/beta/$metadata#admin/people/photoUpdateSettings/$entity"
    return jsonify(
        {
            "@odata.context": context,
            "source": settings.source,
            "allowedRoles": list(settings.allowed_roles),
        }
    )


# Graph path segments are case-insensitive; the concept article writes them in lower case.
@bp.get("/admin/people/photoUpdateSettings")
@bp.get("/admin/people/photoupdatesettings")
def get_photo_update_settings() -> Response:
    _require_admin(READ_SETTINGS_SCOPES)
    return _body(_tenant().photo_update_settings)


@bp.patch("/admin/people/photoUpdateSettings")
@bp.patch("/admin/people/photoupdatesettings")
def update_photo_update_settings() -> Response:
    """Change `source` and/or `allowedRoles` (null: anyone); 200 with the new settings."""
    _require_admin(WRITE_SETTINGS_SCOPES)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body or body.keys() - {"source", "allowedRoles"}:
        # Wording UNCONFIRMED.
        raise GraphError(400, "BadRequest", "Invalid request body for photoUpdateSettings.")
    tenant = _tenant()
    with tenant.lock:
        current = tenant.photo_update_settings
        source = current.source
        if "source" in body:
            source = _SOURCES.get(str(body["source"]).lower(), "")
        roles = body.get("allowedRoles", current.allowed_roles) or []
        if not source or not isinstance(roles, list):
            raise GraphError(400, "BadRequest", "Invalid value for photoUpdateSettings.")
        current.source = source
        # The concept article's example carries a stray leading space in a role id.
        current.allowed_roles = [str(r).strip() for r in roles]
        return _body(current)
