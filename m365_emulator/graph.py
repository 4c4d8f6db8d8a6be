"""Microsoft Graph v1.0 for the signed-in user: `/me`, its profile edits and its photo.

Wire formats follow reference §3 (user, photo, errors) and §8.2 (`PATCH /me`). What the
emulator models for the photo store (reference §3.4): since MC678855 (Oct 2023) Entra ID is the
photo store and Graph is the management path. Users with an Exchange Online mailbox get the HD
renditions Exchange serves (square, 48..648, none larger than the original); users without a
mailbox get the Entra copy only, in its own dimensions, with no renditions. Writes succeed for
both. The pre-2023 `ErrorNonExistentMailbox` 404 for mailbox-less users is not modelled.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

from flask import Blueprint, Response, current_app, g, jsonify, request

from m365_emulator import faults, pictures, sync
from m365_emulator.conditional_access import ClaimsChallengeError, ContextRefusedError
from m365_emulator.faults import Fault
from m365_emulator.tenant import StoredPhoto, Tenant, User
from m365_emulator.tokens import (
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    BearerError,
    BearerProblem,
    require_bearer,
)

bp = Blueprint("graph", __name__, url_prefix="/v1.0")

# Delegated scopes per operation (reference §3.2 [S11], §3.3 permission table, §8.2 [S57]).
READ_PROFILE_SCOPES = {
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
}
WRITE_PROFILE_SCOPES = {"User.ReadWrite", "User.ReadWrite.All"}
READ_PHOTO_SCOPES = {
    "ProfilePhoto.Read.All",
    "ProfilePhoto.ReadWrite.All",
    "User.Read",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite",
    "User.ReadWrite.All",
}
WRITE_PHOTO_SCOPES = {"ProfilePhoto.ReadWrite.All", "User.ReadWrite", "User.ReadWrite.All"}
# DELETE: `User.ReadWrite` on the older page, `ProfilePhoto.ReadWrite.All` expected on the newer
# one (reference §3.3, UNCONFIRMED): both accepted.
DELETE_PHOTO_SCOPES = WRITE_PHOTO_SCOPES

# Returned without $select (reference §3.2 [S11]).
DEFAULT_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
)
# Further user properties served on $select (reference §3.2, §8.1); collections default to [].
SELECTABLE_PROPERTIES = (
    *DEFAULT_PROPERTIES,
    "accountEnabled",
    "city",
    "companyName",
    "country",
    "department",
    "employeeId",
    "faxNumber",
    "mySite",
    "onPremisesSyncEnabled",
    "otherMails",
    "postalCode",
    "preferredName",
    "state",
    "streetAddress",
    "usageLocation",
    *sync.SPO_BACKED_FIELDS,
)
_COLLECTIONS = frozenset({"businessPhones", "otherMails"})
_BY_LOWER = {name.lower(): name for name in SELECTABLE_PROPERTIES}

# Must be sent in a PATCH of their own (reference §8.2 [S57]); `mySite` is in Microsoft's list
# but is not SharePoint-backed here (it is stored with the directory values).
OWN_REQUEST_PROPERTIES = frozenset({*sync.SPO_BACKED_FIELDS, "mySite"})
# What a member may change on themselves besides those (reference §8.1, §8.2 [S60][S61]).
MEMBER_WRITABLE_DIRECTORY = frozenset({"mobilePhone"})
MAX_MOBILE_PHONE = 64  # "The maximum length is 64 characters." (user resource, reference [S59])

# Exchange HD renditions (reference §3.3 [S13]).
HD_SIZES = (48, 64, 96, 120, 240, 360, 432, 504, 648)
# "Max photo size: 4 MB (4,000,000 bytes)" (reference §9.1; §3.3 [S14]): decimal, not 4 MiB.
MAX_PHOTO_BYTES = 4_000_000

# The "no photo" messages per 404 code (reference §3.3 [S10]).
_NOT_FOUND_MESSAGES = {
    "ImageNotFound": "Exception of type 'Microsoft.Fast.Profile.Core.Exception."
    "ImageNotFoundException' was thrown.",
    "ErrorEntityNotFound": "Exception of type 'Microsoft.Fast.Profile.Core.Exception."
    "ImageNotFoundException' was thrown.",
    "ErrorItemNotFound": "The photo wasn't found.",
}

# Codes for scripted failures: 429 as observed (reference §3.1 [S10]); 503 `serviceNotAvailable`
# from Graph's error-code list (https://learn.microsoft.com/en-us/graph/errors); the others are
# generic choices (UNCONFIRMED).
_FAULT_CODES = {
    429: ("TooManyRequests", "Too many requests. Please try again later."),
    500: ("generalException", "An unspecified error has occurred."),
    502: ("BadGateway", "The gateway received an invalid response."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Try again later."),
    504: ("GatewayTimeout", "The gateway did not receive a timely response."),
}


class GraphError(Exception):
    """A Graph error answer: status, `error.code`, message and extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@bp.errorhandler(GraphError)
def handle_graph_error(exc: GraphError) -> Response:
    response = _error_body(exc.status, exc.code, exc.message)
    response.headers.update(exc.headers)
    return response


def error_response(fault: Fault) -> Response:
    """A scripted failure (fault plan) in Graph's error shape; a 401 carries Graph's bearer
    challenge unless the fault brings its own `WWW-Authenticate`."""

    def body() -> Response:
        default = ("generalException", "An error has occurred.")
        code, message = _FAULT_CODES.get(fault.status, default)
        response = _error_body(fault.status, fault.code or code, fault.message or message)
        if fault.status == 401:
            response.headers["WWW-Authenticate"] = _bearer_challenge()
        return response

    return faults.render(fault, body)


def _request_ids() -> tuple[str, str]:
    """This request's `request-id` and the `client-request-id` echoed (or the same id)."""
    if "graph_request_id" not in g:
        g.graph_request_id = str(uuid.uuid4())
    return g.graph_request_id, request.headers.get("client-request-id", g.graph_request_id)


@bp.after_request
def add_request_ids(response: Response) -> Response:
    """Every Graph answer names its request ids in headers, as error bodies do (§3.1)."""
    request_id, client_request_id = _request_ids()
    response.headers.setdefault("request-id", request_id)
    response.headers.setdefault("client-request-id", client_request_id)
    return response


def _error_body(status: int, code: str, message: str) -> Response:
    """Graph's error body with `innerError` date/request-id/client-request-id (reference §3.1)."""
    request_id, client_request_id = _request_ids()
    response = jsonify(
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": _tenant().clock.now().strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                },
            }
        }
    )
    response.status_code = status
    return response


def _tenant() -> Tenant:
    tenant: Tenant = current_app.extensions["m365_tenant"]
    return tenant


# Bearer failures in Graph's words. The 401 code `InvalidAuthenticationToken` and these messages
# are UNCONFIRMED (reference §3.5); 403 for missing scopes is `Authorization_RequestDenied`
# (reference §8.2 [S63]).
_BEARER_MESSAGES = {
    BearerProblem.MISSING: "Access token is empty.",
    BearerProblem.INVALID: "Access token validation failure.",
    BearerProblem.EXPIRED: "Lifetime validation failed, the token is expired.",
    BearerProblem.AUDIENCE: "Access token validation failure. Invalid audience.",
}


def _bearer_challenge() -> str:
    """Graph's challenge header on 401 (UNCONFIRMED exact value; the shape of the CAE
    challenge Azure SDK tests capture, without `error`)."""
    login = _tenant().origins.login
    return (
        f'Bearer realm="", authorization_uri="{login}/common/oauth2/authorize", '
        f'client_id="{GRAPH_APP_ID}"'
    )


def caller(scopes: set[str]) -> User:
    """The signed-in user of a valid Graph token carrying one of `scopes`, else GraphError."""
    tenant = _tenant()
    try:
        claims = require_bearer(
            tenant, request.headers.get("Authorization"), {GRAPH_RESOURCE, GRAPH_APP_ID}, scopes
        )
    except BearerError as exc:
        if exc.status == 403:
            raise GraphError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ) from exc
        raise GraphError(
            401,
            "InvalidAuthenticationToken",
            _BEARER_MESSAGES.get(exc.reason, "Access token validation failure."),
            {"WWW-Authenticate": _bearer_challenge()},
        ) from exc
    try:
        tenant.conditional_access.check("graph", claims.raw)
    except ClaimsChallengeError as challenge:
        header = challenge.www_authenticate(tenant.origins.login, GRAPH_APP_ID)
        # Code as for any refused token; the message is the challenge's description, as the
        # Graph SDK errors in public reports quote it (UNCONFIRMED for the code).
        raise GraphError(
            401, "InvalidAuthenticationToken", challenge.description, {"WWW-Authenticate": header}
        ) from challenge
    except ContextRefusedError as refused:
        # No challenge for a client without cp1 (conditional_access.py); code UNCONFIRMED.
        raise GraphError(
            403,
            "AccessDenied",
            "The caller does not meet the authentication bar to carry out this operation.",
        ) from refused
    with tenant.lock:
        user = tenant.users.get(claims.oid)
    if user is None:
        # Missing user → 404 (reference §3.2 [S11]); code and message UNCONFIRMED.
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{claims.oid}' does not exist or one of its queried reference-property "
            "objects are not present.",
        )
    return user


# -- /me ------------------------------------------------------------------------------------


@bp.get("/me")
def get_me() -> Response:
    """The signed-in user; SharePoint-backed fields only on $select (reference §8.2 [S59])."""
    tenant = _tenant()
    user = caller(READ_PROFILE_SCOPES)
    selected = _parse_select(request.args.get("$select"))
    _require_sharepoint(user, selected)
    base = f"{tenant.origins.graph}/v1.0/$metadata#users"
    # Context strings: with $select as in reference §3.2; without it UNCONFIRMED (§3.2).
    context = f"{base}({','.join(selected)})/$entity" if selected else f"{base}/$entity"
    with tenant.lock:
        values = _user_values(user)
    body: dict[str, object] = {"@odata.context": context}
    for name in selected or DEFAULT_PROPERTIES:
        body[name] = values.get(name, [] if name in _COLLECTIONS else None)
    return jsonify(body)


def _require_sharepoint(user: User, names: Iterable[str]) -> None:
    """SharePoint-backed fields of a user without SharePoint: Graph's 400 as observed
    (microsoft-graph-docs #4233; body as in qkqpttgf/OneManager-cfworkerskv #6). Per user,
    not per tenant: the fields live in the user's own SharePoint profile, and the same
    message is reported from tenants that do have SharePoint (onedrive-api-docs #1773)."""
    if not user.has_sharepoint and any(n in sync.SPO_BACKED_FIELDS for n in names):
        raise GraphError(400, "BadRequest", "Tenant does not have a SPO license.")


def _parse_select(raw: str | None) -> list[str]:
    """Canonical property names from `$select` (case-insensitive); 400 for unknown ones."""
    if not raw:
        return []
    names: list[str] = []
    for part in raw.split(","):
        wanted = part.strip()
        if not wanted:
            continue
        name = _BY_LOWER.get(wanted.lower())
        if name is None:
            # Graph's answer for an unknown property (UNCONFIRMED wording, not in the reference).
            raise GraphError(
                400,
                "Request_BadRequest",
                f"Could not find a property named '{wanted}' on type "
                "'Microsoft.DirectoryServices.User'.",
            )
        if name not in names:
            names.append(name)
    return names


def _user_values(user: User) -> dict[str, object]:
    values: dict[str, object] = {name: None for name in SELECTABLE_PROPERTIES}
    values.update({name: [] for name in _COLLECTIONS})
    values.update(user.directory)
    values["id"] = user.oid
    values["userPrincipalName"] = user.upn
    values["onPremisesSyncEnabled"] = True if user.on_premises_synced else None
    # v1.0: "not supported, returns empty string" (reference §8.1 [S59]).
    values["preferredName"] = ""
    values.update(sync.profile_fields(user))
    return values


@bp.patch("/me")
def patch_me() -> Response:
    """Profile edits with Microsoft's rules for members (reference §8.2); 204 on success."""
    tenant = _tenant()
    user = caller(WRITE_PROFILE_SCOPES)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body:
        # UNCONFIRMED wording for a missing/invalid JSON body.
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    for name in body:
        if name not in SELECTABLE_PROPERTIES and name not in OWN_REQUEST_PROPERTIES:
            # Unknown property (UNCONFIRMED code and wording).
            raise GraphError(
                400,
                "Request_BadRequest",
                f"Property '{name}' does not exist as a declared property or extension property.",
            )
    _require_sharepoint(user, body)
    own_request = OWN_REQUEST_PROPERTIES & body.keys()
    directory = body.keys() - own_request
    if own_request and directory:
        # Reference §8.2 [S62]: SharePoint-backed fields need a request of their own (status
        # 400 inferred there).
        raise GraphError(
            400, "BadRequest", "The request is currently not supported on the targeted entity set"
        )
    if directory - MEMBER_WRITABLE_DIRECTORY:
        # Organisation-owned fields (name, job title, ...): reference §8.2 [S63].
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )
    if directory and user.on_premises_synced:
        # Synced users' attributes are mastered on-premises (reference §8.1, §8.2 [S57][S59]).
        # The answer is a 400, as observed for `mobile`
        # (https://github.com/MicrosoftDocs/azure-docs/issues/78115), not a 403.
        raise GraphError(
            400,
            "Request_BadRequest",
            "Unable to update the specified properties for on-premises mastered Directory Sync "
            "objects or objects currently undergoing migration.",
        )
    changes = {name: _validated(name, value) for name, value in body.items()}
    with tenant.lock:
        profile_changes = {k: v for k, v in changes.items() if k in sync.SPO_BACKED_FIELDS}
        sync.write_profile_fields(tenant, user, profile_changes)
        directory_changes = {k: v for k, v in changes.items() if k not in profile_changes}
        user.directory.update(directory_changes)
        sync.directory_changed(tenant, user, directory_changes)
    return Response(status=204)


def _validated(name: str, value: object) -> object:
    """`value` as stored, or GraphError 400 (UNCONFIRMED wording) when its type is wrong."""
    invalid = GraphError(
        400,
        "Request_BadRequest",
        f"Invalid value specified for property '{name}' of resource 'User'.",
    )
    if name in sync.MULTI_VALUED_FIELDS:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid
        return value
    if value is not None and not isinstance(value, str):
        raise invalid
    if name == "birthday" and value is not None:
        normalised = sync.normalise_birthday(value)
        if normalised is None:
            raise invalid
        return normalised
    if name == "mobilePhone" and value is not None and len(value) > MAX_MOBILE_PHONE:
        raise invalid
    return value


# -- photo ----------------------------------------------------------------------------------


def _renditions(user: User) -> list[tuple[int, int]]:
    """The (width, height) pairs Graph offers for the user's photo, smallest first."""
    photo = user.photo
    if photo is None:
        return []
    if not user.has_mailbox:
        return [(photo.width, photo.height)]  # the Entra copy, any dimensions (reference §3.3)
    edge = min(photo.width, photo.height)
    sizes = [(s, s) for s in HD_SIZES if s <= edge]
    return sizes or [(photo.width, photo.height)]


def _parse_size(size_id: str) -> tuple[int, int] | None:
    """`"240x240"` (case-insensitive, reference §3.3) → (240, 240)."""
    width, sep, height = size_id.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        return None
    return int(width), int(height)


def _metadata(user: User, size: tuple[int, int] | None, context: str) -> dict[str, object]:
    """profilePhoto JSON (reference §3.3 [S13]); `size` None → the 1x1 image/gif "no photo"."""
    tenant = _tenant()
    body: dict[str, object] = {
        "@odata.context": f"{tenant.origins.graph}/v1.0/$metadata#{context}",
        "@odata.id": f"{tenant.origins.graph}/v1.0/users('{user.oid}@{tenant.tenant_id}')/photo",
    }
    photo = user.photo
    if photo is None or size is None:
        body.update(
            {
                "@odata.mediaContentType": "image/gif",
                "@odata.mediaEtag": "",
                "id": "1x1",
                "width": 1,
                "height": 1,
            }
        )
        return body
    body.update(
        {
            "@odata.mediaContentType": _content_type(user, photo),
            "@odata.mediaEtag": photo.etag,
            "id": f"{size[0]}x{size[1]}",
            "width": size[0],
            "height": size[1],
        }
    )
    return body


def _content_type(user: User, photo: StoredPhoto) -> str:
    # Exchange serves JPEG renditions; the Entra copy keeps its own type (reference §3.3).
    return "image/jpeg" if user.has_mailbox else photo.content_type


def _photo_bytes(user: User, photo: StoredPhoto, size: tuple[int, int]) -> bytes:
    if not user.has_mailbox or (
        (photo.width, photo.height) == size and photo.content_type == "image/jpeg"
    ):
        return photo.data
    return pictures.square_rendition(photo.data, size[0])


def _not_found(user: User) -> GraphError:
    code = user.photo_not_found_code
    return GraphError(404, code, _NOT_FOUND_MESSAGES.get(code, "The photo wasn't found."))


def _value_response(user: User, size: tuple[int, int] | None) -> Response:
    """The image bytes of one rendition (largest when `size` is None)."""
    with _tenant().lock:
        photo = user.photo
        offered = _renditions(user)
        if photo is None or not offered:
            raise _not_found(user)
        if size is None:
            size = offered[-1]
        elif size not in offered:
            raise _not_found(user)
        data = _photo_bytes(user, photo, size)
        content_type = _content_type(user, photo)
        etag = photo.etag
    # Content-Type of `$value`: the stored type (reference §3.3, exact header UNCONFIRMED).
    response = Response(data, content_type=content_type)
    response.headers["ETag"] = etag
    return response


@bp.get("/me/photo")
def get_photo() -> Response:
    """Metadata of the largest photo, or the 1x1 gif metadata when there is none (§3.3)."""
    user = caller(READ_PHOTO_SCOPES)
    with _tenant().lock:
        offered = _renditions(user)
        return jsonify(_metadata(user, offered[-1] if offered else None, "Me/photo/$entity"))


@bp.get("/me/photo/$value")
def get_photo_value() -> Response:
    user = caller(READ_PHOTO_SCOPES)
    return _value_response(user, None)


@bp.get("/me/photos")
def list_photos() -> Response:
    """All offered sizes (list shape UNCONFIRMED, reference §3.3: `{"value": [...]}`)."""
    tenant = _tenant()
    user = caller(READ_PHOTO_SCOPES)
    with tenant.lock:
        items = [_metadata(user, size, "") for size in _renditions(user)]
    for item in items:
        del item["@odata.context"]
    return jsonify(
        {
            "@odata.context": f"{tenant.origins.graph}/v1.0/$metadata#users('{user.oid}')/photos",
            "value": items,
        }
    )


@bp.get("/me/photos/<size_id>")
def get_photo_size(size_id: str) -> Response:
    """One size's metadata; a size not offered yields the 1x1 metadata ([S13-beta], §3.3)."""
    user = caller(READ_PHOTO_SCOPES)
    size = _parse_size(size_id)
    with _tenant().lock:
        offered = size if size in _renditions(user) else None
        context = f"users('{user.oid}')/photos/$entity"
        return jsonify(_metadata(user, offered, context))


@bp.get("/me/photos/<size_id>/$value")
@bp.get("/me/photo/<size_id>/$value")
def get_photo_size_value(size_id: str) -> Response:
    """One size's bytes; both URL forms appear in the docs (reference §3.3 [S13])."""
    user = caller(READ_PHOTO_SCOPES)
    size = _parse_size(size_id)
    if size is None:
        raise _not_found(user)
    return _value_response(user, size)


@bp.route("/me/photo/$value", methods=["PUT", "PATCH"])
def put_photo() -> Response:
    """Store a new photo: JPEG/PNG by content, at most 4 MB; 200 with an empty body (§3.3).

    Status and code for a rejected upload are UNCONFIRMED (reference §3.3: "expect 413 or 400");
    the emulator answers 400 `BadRequest` for both too large and not an image.
    """
    tenant = _tenant()
    user = caller(WRITE_PHOTO_SCOPES)
    _require_photo_policy(tenant, user)
    data = request.get_data(cache=False)
    if len(data) > MAX_PHOTO_BYTES:
        raise GraphError(400, "BadRequest", "The photo exceeds the maximum size of 4 MB.")
    content_type = pictures.sniff(data)
    size = pictures.dimensions(data) if content_type in ("image/jpeg", "image/png") else None
    if content_type not in ("image/jpeg", "image/png") or size is None:
        raise GraphError(
            400, "BadRequest", "The image format is not supported. Use a JPEG or PNG image."
        )
    with tenant.lock:
        previous = [user.photo.version if user.photo else 0]
        if user.sharepoint.pictures and user.sharepoint.pictures.source_version:
            previous.append(user.sharepoint.pictures.source_version)
        version = max(previous) + 1
        user.photo = StoredPhoto(
            data=data,
            content_type=content_type,
            width=size[0],
            height=size[1],
            etag=photo_etag(data, version),
            version=version,
            stored_at=tenant.clock.time(),
        )
    return Response(status=200)


@bp.delete("/me/photo/$value")
def delete_photo() -> Response:
    """Remove the photo: documented 200 (reference §3.3 [S16]); 404 when there is none."""
    tenant = _tenant()
    user = caller(DELETE_PHOTO_SCOPES)
    _require_photo_policy(tenant, user)
    with tenant.lock:
        if user.photo is None:
            raise _not_found(user)
        user.photo = None
    return Response(status=200)


def _require_photo_policy(tenant: Tenant, user: User) -> None:
    """A photo change the tenant's photoUpdateSettings forbid: 403, nothing stored (reference
    §9.1). The message is the one Graph's people store gives for a refused profile write
    (graph-docs-contrib #1802); for this refusal it is UNCONFIRMED."""
    settings = user.photo_policy or tenant.photo_update_settings
    if not settings.allows(user):
        raise GraphError(
            403,
            settings.refusal_code,
            "Exception of type 'Microsoft.Fast.Profile.Core.Exception."
            "ProfileAccessDeniedException' was thrown.",
        )


def photo_etag(data: bytes, version: int) -> str:
    """An `@odata.mediaEtag` in Graph's form, e.g. `"BA09D118"` with quotes (reference §3.3)."""
    digest = hashlib.sha256(data + version.to_bytes(8, "big")).hexdigest()[:8].upper()
    return f'"{digest}"'
