"""SharePoint Online for the signed-in user: PeopleManager, userphoto.aspx and the photo library.

Wire formats follow reference §4: `GetMyProperties` in the shape the `Accept` header asks for
(verbose, minimal or no metadata; Atom XML without a JSON `Accept`), `SetMyProfilePicture`,
`userphoto.aspx`, the My Site host's `User Photos/Profile Pictures` thumbnails and SharePoint's
OData error bodies. What `userphoto.aspx` serves depends on the photo model (`sync.py`): on
`current` a redirect to the front-door cache `afdcache.ashx` (reference §9.1); on `classic` the
library thumbnail, and reading one's own photo there is the sync trigger.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

from flask import Blueprint, Response, current_app, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from m365_emulator import faults, pictures, sync
from m365_emulator.conditional_access import ClaimsChallengeError, ContextRefusedError
from m365_emulator.faults import Fault
from m365_emulator.tenant import Tenant, User
from m365_emulator.tokens import SHAREPOINT_APP_ID, BearerError, require_bearer

bp = Blueprint("sharepoint", __name__)

# Delegated scopes per call. Microsoft documents none of them (reference §4.9, §8.4, UNCONFIRMED):
# reads accept any SharePoint delegated scope, picture upload the write scopes §4.9 guesses.
READ_SCOPES = {
    "AllSites.Read",
    "AllSites.Write",
    "AllSites.Manage",
    "AllSites.FullControl",
    "MyFiles.Read",
    "MyFiles.Write",
    "User.Read.All",
    "User.ReadWrite.All",
    "Sites.Search.All",
}
WRITE_PICTURE_SCOPES = {
    "AllSites.Write",
    "AllSites.Manage",
    "AllSites.FullControl",
    "MyFiles.Write",
    "User.ReadWrite.All",
}

# SetSingleValueProfileProperty / SetMultiValuedProfileProperty: the scope for one's own profile
# is undocumented; reference §8.4 [S70] best-guesses `User.ReadWrite.All` (admin consent).
WRITE_PROPERTY_SCOPES = {"User.ReadWrite.All"}
MAX_PICTURE_BYTES = 5_000_000  # SetMyProfilePicture limit (reference §4.5 [S40])
_PICTURE_TYPES = ("image/jpeg", "image/png", "image/bmp")  # reference §4.5 [S40]
LIBRARY_PATH = "/User Photos/Profile Pictures"  # English My Site host locale (reference §4.7)
# Where userphoto.aspx redirects on the current photo model (reference §9.1, sp-dev-docs #7909).
AFDCACHE_PATH = "/_vti_bin/afdcache.ashx/_userprofile/userphoto.jpg"
# The redirect's `_oat_` makes it a "Time-Limited URL" (sp-dev-docs #7909: "ERROR 403:
# Time-Limited URL validation failed"). Its lifetime and content are UNCONFIRMED: the emulator
# signs account, size and expiry with a per-process key and lets it live an hour.
OAT_LIFETIME = 3600.0
_OAT_KEY = secrets.token_bytes(32)

_DATA_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices"
_META_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"

# Content types SharePoint labels its JSON with (UNCONFIRMED details; the odata= flavour is the
# one asked for, reference §4.1).
_JSON_TYPES = {
    "verbose": "application/json;odata=verbose;charset=utf-8",
    "minimal": "application/json;odata=minimalmetadata;streaming=true;charset=utf-8",
    "nometadata": "application/json;odata=nometadata;streaming=true;charset=utf-8",
}


class SharePointError(Exception):
    """A SharePoint OData error: status, `"<HRESULT>, <.NET type>"` code and message; `headers`
    win over SharePoint's own."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.body = body  # a raw JSON body instead of the OData error (token refusals)


@bp.errorhandler(SharePointError)
def _sharepoint_error(exc: SharePointError) -> Response:
    if exc.body is not None:
        response = Response(exc.body, status=exc.status, content_type="application/json")
    else:
        response = _error_body(exc.status, exc.code, exc.message)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = _bearer_challenge()
    response.headers.update(exc.headers)
    return response


def _bearer_challenge() -> str:
    """SharePoint's bearer challenge names its resource app id (reference §4.9 [S49])."""
    return f'Bearer realm="{_tenant().tenant_id}",client_id="{SHAREPOINT_APP_ID}"'


# Scripted failures: 429 and 503 with Retry-After are SharePoint's throttling answers (reference
# §4.8 [S29]); the OData codes and messages for them are UNCONFIRMED choices.
_FAULT_MESSAGES = {
    429: "The request has been throttled. Please retry after the time in Retry-After.",
    503: "The service is temporarily unavailable (server too busy).",
}

# `x-ms-diagnostics` values of SharePoint's token refusals (401). A token SharePoint cannot
# verify: sp-dev-docs #7152, SharePoint/PnP-JS-Core #174. A user SharePoint does not serve (no
# SharePoint licence): reference §9.2 names sp-dev-docs #5889 without the value; this one is
# SharePoint's generic authentication failure (UNCONFIRMED for that case).
INVALID_SIGNATURE = '3000006;reason="Token contains invalid signature.";category="invalid_client"'
NOT_LICENSED = (
    '3001000;reason="There has been an error authenticating the request.";category="invalid_client"'
)
_DIAGNOSTICS = re.compile(r'reason="(?P<reason>[^"]*)"(?:;category="(?P<category>[^"]*)")?')


def token_refusal(diagnostics: str, *, user_oid: str | None = None) -> Fault:
    """A fault that makes SharePoint refuse the caller's token as its authentication layer
    does: 401, `x-ms-diagnostics`, and a small JSON body instead of an OData error. The body
    shape (`error` = category, `error_description` = reason) is SharePoint Server's as seen
    in public CVE-2023-29357 write-ups; SharePoint Online's is UNCONFIRMED (`{}` and
    `{"error_description": ...}` are reported too)."""
    return Fault(
        401,
        user_oid=user_oid,
        headers={"x-ms-diagnostics": diagnostics},
        body=token_refusal_body(diagnostics),
    )


def token_refusal_body(diagnostics: str) -> bytes:
    found = _DIAGNOSTICS.search(diagnostics)
    reason = found["reason"] if found else "There has been an error authenticating the request."
    category = (found["category"] if found else None) or "invalid_client"
    return json.dumps({"error": category, "error_description": reason}).encode()


def error_response(fault: Fault) -> Response:
    """A scripted failure (fault plan) as a SharePoint OData error; a 401 carries SharePoint's
    bearer challenge unless the fault brings its own `WWW-Authenticate`."""

    def body() -> Response:
        message = fault.message or _FAULT_MESSAGES.get(
            fault.status, "An unexpected error has occurred."
        )
        code = fault.code or "-1, Microsoft.SharePoint.SPException"
        return _error_body(fault.status, code, message)

    response = faults.render(fault, body)
    if fault.status == 401:
        response.headers.setdefault("WWW-Authenticate", _bearer_challenge())
    return response


def _error_body(status: int, code: str, message: str) -> Response:
    """OData error in the requested flavour: verbose `error`, JSON light `odata.error`
    (reference §4.8 [S48]); without a JSON Accept, the OData v3 XML error (UNCONFIRMED)."""
    flavour = _flavour()
    payload = {"code": code, "message": {"lang": "en-US", "value": message}}
    if flavour == "atom":
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<m:error xmlns:m="{_META_NS}"><m:code>{escape(code)}</m:code>'
            f'<m:message xml:lang="en-US">{escape(message)}</m:message></m:error>'
        )
        return Response(xml, status=status, content_type="application/xml;charset=utf-8")
    key = "error" if flavour == "verbose" else "odata.error"
    response = jsonify({key: payload})
    response.status_code = status
    response.content_type = _JSON_TYPES[flavour]
    return response


def _flavour() -> str:
    """Which body shape the `Accept` header asks for (reference §4.1 [S28])."""
    accept = request.headers.get("Accept", "").lower()
    if "odata=verbose" in accept:
        return "verbose"
    if "odata=nometadata" in accept or "odata.metadata=none" in accept:
        return "nometadata"
    if "application/json" in accept:
        return "minimal"
    return "atom"  # no Accept, */* or XML: SharePoint answers Atom XML


def _tenant() -> Tenant:
    tenant: Tenant = current_app.extensions["m365_tenant"]
    return tenant


def _called_origin() -> str:
    """The tenant origin this request came in on (My Site host or the SharePoint root)."""
    tenant = _tenant()
    # URLs SharePoint hands out carry an explicit default port (`:443`, reference §4.2).
    default_port = ":443" if request.scheme == "https" else ":80"
    host = request.host.lower().removesuffix(default_port)
    for origin in (tenant.origins.mysite, tenant.origins.sharepoint):
        if urlsplit(origin).netloc.lower().removesuffix(default_port) == host:
            return origin
    return tenant.origins.sharepoint


def _caller(audience: str, scopes: set[str]) -> User:
    """The signed-in user of a valid token for `audience` carrying one of `scopes`.

    The audience is the origin called: whether a root-site token is accepted on the My Site
    host is UNCONFIRMED (reference §4.1); the emulator is strict, since the product requests a
    token for the host it calls. The 401/403 body is §4.8's access-denied error (exact 401 body
    UNCONFIRMED).
    """
    tenant = _tenant()
    try:
        claims = require_bearer(tenant, request.headers.get("Authorization"), {audience}, scopes)
    except BearerError as exc:
        raise _access_denied(exc.status) from exc
    with tenant.lock:
        user = tenant.users.get(claims.oid)
    if user is not None and not user.has_sharepoint:
        fault = token_refusal(NOT_LICENSED)
        raise SharePointError(401, "", "", dict(fault.headers), fault.body)
    try:
        tenant.conditional_access.check("sharepoint", claims.raw)
    except ClaimsChallengeError as challenge:
        # Body UNCONFIRMED: SharePoint's access-denied error with the challenge header.
        header = challenge.www_authenticate(tenant.origins.login, SHAREPOINT_APP_ID)
        raise _access_denied(401, {"WWW-Authenticate": header}) from challenge
    except ContextRefusedError as refused:
        # No challenge for a client without cp1 (conditional_access.py); status UNCONFIRMED.
        raise _access_denied(403) from refused
    if user is None:
        # A user without a UPA profile (UNCONFIRMED code and message).
        raise SharePointError(
            404,
            "-2146232832, Microsoft.Office.Server.UserProfiles.UserNotFoundException",
            "User Profile Error 1000: User Not Found: Could not load profile data from the "
            "database.",
        )
    return user


def _access_denied(status: int, headers: dict[str, str] | None = None) -> SharePointError:
    return SharePointError(
        status,
        "-2147024891, System.UnauthorizedAccessException",
        "Access denied. You do not have permission to perform this action or access this resource.",
        headers,
    )


# -- PeopleManager ---------------------------------------------------------------------------


@bp.route("/_api/<path:call>", methods=["GET", "POST"])
@bp.route("/sites/<site>/_api/<path:call>", methods=["GET", "POST"])
def people_manager(call: str, site: str | None = None) -> Response:
    """PeopleManager is exposed under any site's `_api` (reference §4.1 [S25]); names are matched
    case-insensitively as SharePoint does."""
    name = call.lower()
    if request.method == "GET" and name == "sp.userprofiles.peoplemanager/getmyproperties":
        return _get_my_properties(site)
    if request.method == "POST" and name == "sp.userprofiles.peoplemanager/setmyprofilepicture":
        return _set_my_profile_picture()
    if request.method == "POST" and name in _SET_PROPERTY_CALLS:
        return _set_profile_property(_SET_PROPERTY_CALLS[name])
    # Unknown endpoint (UNCONFIRMED code and message).
    raise SharePointError(
        404,
        "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
        f'The expression "{call}" is not valid.',
    )


def _get_my_properties(site: str | None) -> Response:
    """The caller's PersonProperties (reference §4.2).

    Not a photo-sync trigger: SharePoint pulls the Exchange photo when the user requests their
    own *photo* (reference §5.2 step 1: a page rendering their picture, i.e. userphoto.aspx),
    and reading profile properties over REST renders no picture.
    """
    tenant = _tenant()
    origin = _called_origin()
    user = _caller(origin, READ_SCOPES)
    sync.apply_due_imports(tenant, user)
    api_base = f"{origin}/sites/{site}/_api" if site else f"{origin}/_api"
    with tenant.lock:
        properties = person_properties(tenant, user)
    selected = _parse_select(request.args.get("$select"), properties)
    if selected:
        properties = {k: v for k, v in properties.items() if k in selected}
    flavour = _flavour()
    entity_id = f"{api_base}/SP.UserProfiles.PersonProperties{uuid.uuid4()}"
    if flavour == "atom":
        return _atom_entry(entity_id, api_base, properties, tenant)
    response = jsonify(_json_entity(flavour, entity_id, api_base, properties))
    response.content_type = _JSON_TYPES[flavour]
    return response


def _parse_select(raw: str | None, properties: dict[str, Any]) -> list[str]:
    """`$select` names (case-sensitive, reference §4.4 [S38]); 400 for unknown ones."""
    if not raw:
        return []
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        if name not in properties:
            # Wording of SharePoint's OData query error (UNCONFIRMED).
            raise SharePointError(
                400,
                "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
                f"The property '{name}' does not exist on type "
                "'SP.UserProfiles.PersonProperties'. Make sure to only use property names that "
                "are defined by the type.",
            )
    return names


def _with_default_port(origin: str) -> str:
    """SharePoint writes its host URLs with an explicit `:443` (reference §4.2 [S26])."""
    parts = urlsplit(origin)
    if parts.scheme == "https" and parts.port is None:
        return f"{origin}:443"
    return origin


def picture_url(tenant: Tenant, user: User, size: str = "M") -> str:
    """The library URL of one thumbnail; `PictureURL` points at `_MThumb` (reference §4.7).

    The file prefix is the Entra object id, as in newer tenants (reference §4.7 [S26]).
    """
    mysite = _with_default_port(tenant.origins.mysite)
    return f"{mysite}{quote(LIBRARY_PATH)}/{user.oid}_{size}Thumb.jpg"


def _upa_properties(tenant: Tenant, user: User) -> list[tuple[str, str]]:
    """`UserProfileProperties` as SharePoint lists them: every value a string, unset `""`
    (reference §4.2 [S26][S30]). Multi-valued properties are "|"-joined (UNCONFIRMED)."""
    sp = user.sharepoint
    props = sp.properties
    pics = sp.pictures
    showing = pics is not None and sp.placeholder_state == "0"
    upn = props.get("UserName", user.upn)
    values = {
        "UserProfile_GUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"upa:{user.oid}")),
        "AccountName": props.get("AccountName", sync.account_name(user)),
        "FirstName": props.get("FirstName", ""),
        "LastName": props.get("LastName", ""),
        "PreferredName": props.get("PreferredName", ""),
        "WorkPhone": props.get("WorkPhone", ""),
        "Department": props.get("Department", ""),
        "Title": props.get("Title", ""),
        "SPS-JobTitle": props.get("SPS-JobTitle", ""),
        "SPS-Department": props.get("SPS-Department", ""),
        "Manager": props.get("Manager", ""),
        "AboutMe": props.get("AboutMe", ""),
        "PersonalSpace": f"/personal/{_personal_segment(user)}/",
        # A PictureURL stored on the profile wins (admin tools can set any value; tests set
        # hostile ones), else the library's _MThumb while a picture is shown.
        "PictureURL": props.get("PictureURL") or (picture_url(tenant, user) if showing else ""),
        "UserName": upn,
        "SPS-SipAddress": props.get("SPS-SipAddress", ""),
        "SPS-UserPrincipalName": props.get("SPS-UserPrincipalName", ""),
        "SPS-ClaimID": upn.lower(),  # listed in reference §4.2's notes; value UNCONFIRMED
        "WorkEmail": props.get("WorkEmail", ""),
        "CellPhone": props.get("CellPhone", ""),
        "HomePhone": props.get("HomePhone", ""),
        "Fax": "",
        "Office": props.get("Office", ""),
        "SPS-Location": props.get("SPS-Location", ""),
        "SPS-PictureTimestamp": sync.picture_timestamp(pics.taken_at) if pics and showing else "",
        "SPS-PicturePlaceholderState": sp.placeholder_state,
        "SPS-PictureExchangeSyncState": sp.exchange_sync_state,
        "SPS-MUILanguages": props.get("SPS-MUILanguages", ""),
        "SPS-HideFromAddressLists": props.get("SPS-HideFromAddressLists", "False"),
        "msOnline-ObjectId": user.oid,
    }
    for graph_name, key in sync.SPO_BACKED_FIELDS.items():
        if graph_name in sync.MULTI_VALUED_FIELDS:
            values[key] = "|".join(sp.multi_values.get(key, []))
        else:
            values[key] = props.get(key, "")
    return list(values.items())


def _personal_segment(user: User) -> str:
    # OneDrive/personal site path: the UPN with "@" and "." as "_" (reference §4.2 [S26]).
    return user.upn.lower().replace("@", "_").replace(".", "_")


def person_properties(tenant: Tenant, user: User) -> dict[str, Any]:
    """SP.UserProfiles.PersonProperties of `user`, shape-neutral (reference §4.2).

    Collections are lists, `UserProfileProperties` a list of (key, value) pairs.
    """
    upa = _upa_properties(tenant, user)
    props = dict(upa)
    mysite = _with_default_port(tenant.origins.mysite)
    account = props["AccountName"]
    timestamp = props["SPS-PictureTimestamp"]
    return {
        "AccountName": account,
        "DirectReports": [],
        "DisplayName": props["PreferredName"] or None,
        "Email": props["WorkEmail"] or None,
        "ExtendedManagers": [props["Manager"]] if props["Manager"] else [],
        "ExtendedReports": [account],
        "IsFollowed": False,
        "LatestPost": None,
        "Peers": [],
        "PersonalSiteHostUrl": f"{mysite}/",
        "PersonalUrl": f"{tenant.origins.mysite}{props['PersonalSpace']}",
        # Top-level PictureUrl carries the timestamp as `?t=` (reference §4.3).
        "PictureUrl": f"{props['PictureURL']}?t={timestamp}" if props["PictureURL"] else None,
        "Title": props["Title"] or None,  # null when empty (reference §4.2 [S26])
        "UserProfileProperties": upa,
        "UserUrl": f"{mysite}/Person.aspx?accountname={quote(account, safe='')}",
    }


def _json_entity(
    flavour: str, entity_id: str, api_base: str, properties: dict[str, Any]
) -> dict[str, object]:
    """The verbose / minimalmetadata / nometadata JSON of a PersonProperties (reference §4.2)."""
    body: dict[str, object] = {}
    if flavour == "verbose":
        body["__metadata"] = {
            "id": entity_id,
            "uri": entity_id,
            "type": "SP.UserProfiles.PersonProperties",
        }
    elif flavour == "minimal":
        body.update(
            {
                "odata.metadata": f"{api_base}/$metadata#SP.UserProfiles.PersonProperties/@Element",
                "odata.type": "SP.UserProfiles.PersonProperties",
                "odata.id": entity_id,
                "odata.editLink": "sp.userprofiles.peoplemanager/getmyproperties",
            }
        )
    for name, value in properties.items():
        if name == "UserProfileProperties":
            entries = [{"Key": k, "Value": v, "ValueType": "Edm.String"} for k, v in value]
            if flavour == "verbose":
                entries = [{"__metadata": {"type": "SP.KeyValue"}} | e for e in entries]
                body[name] = {"results": entries}
            else:
                body[name] = entries
        elif isinstance(value, list) and flavour == "verbose":
            body[name] = {"__metadata": {"type": "Collection(Edm.String)"}, "results": value}
        else:
            body[name] = value
    return {"d": body} if flavour == "verbose" else body


def _atom_entry(
    entity_id: str, api_base: str, properties: dict[str, Any], tenant: Tenant
) -> Response:
    """The Atom XML entry SharePoint answers without a JSON Accept (reference §4.1 [S28])."""
    parts = []
    for name, value in properties.items():
        if name == "UserProfileProperties":
            elements = "".join(
                f"<d:element><d:Key>{escape(k)}</d:Key><d:Value>{escape(v)}</d:Value>"
                "<d:ValueType>Edm.String</d:ValueType></d:element>"
                for k, v in value
            )
            parts.append(f'<d:{name} m:type="Collection(SP.KeyValue)">{elements}</d:{name}>')
        elif isinstance(value, list):
            elements = "".join(f"<d:element>{escape(str(v))}</d:element>" for v in value)
            parts.append(f'<d:{name} m:type="Collection(Edm.String)">{elements}</d:{name}>')
        elif isinstance(value, bool):
            parts.append(f'<d:{name} m:type="Edm.Boolean">{str(value).lower()}</d:{name}>')
        elif value is None:
            parts.append(f'<d:{name} m:null="true" />')
        else:
            parts.append(f"<d:{name}>{escape(str(value))}</d:{name}>")
    updated = tenant.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<entry xml:base={quoteattr(api_base + "/")} xmlns="http://www.w3.org/2005/Atom" '
        f'xmlns:d="{_DATA_NS}" xmlns:m="{_META_NS}" '
        'xmlns:georss="http://www.georss.org/georss" xmlns:gml="http://www.opengis.net/gml">'
        f"<id>{escape(entity_id)}</id>"
        '<category term="SP.UserProfiles.PersonProperties" '
        'scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme" />'
        f'<link rel="edit" href={quoteattr(entity_id.removeprefix(api_base + "/"))} />'
        f"<title /><updated>{updated}</updated><author><name /></author>"
        f'<content type="application/xml"><m:properties>{"".join(parts)}</m:properties>'
        "</content></entry>"
    )
    return Response(xml, content_type="application/atom+xml;type=entry;charset=utf-8")


def _set_my_profile_picture() -> Response:
    """Store the posted picture as S/M/L thumbnails at once (reference §4.5), where SharePoint
    still accepts local uploads (the classic photo model)."""
    tenant = _tenant()
    user = _caller(_called_origin(), WRITE_PICTURE_SCOPES)
    if sync.uploads_refused(tenant, user):
        # Local uploads disabled (MC653734, reference §4.5, §5.4, §9.1). The answer is
        # UNCONFIRMED (403 and 5xx are both seen); the emulator answers 403 with SharePoint's
        # access-denied code.
        raise SharePointError(
            403,
            "-2147024891, System.UnauthorizedAccessException",
            "Profile picture uploads to SharePoint are disabled in this organization. Change "
            "your picture in Microsoft 365 instead.",
        )
    data = request.get_data(cache=False)
    valid = (
        len(data) <= MAX_PICTURE_BYTES
        and pictures.sniff(data) in _PICTURE_TYPES
        and pictures.dimensions(data) is not None
    )
    if not valid:
        # Observed answer for bytes SharePoint cannot use (reference §4.5 [S41]); the same for a
        # picture over the size limit (UNCONFIRMED).
        raise SharePointError(
            400, "-2147024809, System.ArgumentException", "Parameter is not valid."
        )
    sync.store_uploaded_picture(tenant, user, data)
    return _null_result("SetMyProfilePicture")


def _null_result(method: str) -> Response:
    """A void method's success body per flavour (reference §4.5, §8.4; UNCONFIRMED)."""
    flavour = _flavour()
    if flavour == "atom":
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<d:{method} xmlns:d="{_DATA_NS}" xmlns:m="{_META_NS}" m:null="true" />'
        )
        return Response(xml, content_type="application/xml;charset=utf-8")
    body: dict[str, object] = (
        {"d": {method: None}} if flavour == "verbose" else {"odata.null": True}
    )
    response = jsonify(body)
    response.content_type = _JSON_TYPES[flavour]
    return response


# -- pictures ---------------------------------------------------------------------------------


@bp.get("/_layouts/15/userphoto.aspx")
@bp.get("/sites/<site>/_layouts/15/userphoto.aspx")
def userphoto(site: str | None = None) -> BaseResponse:
    """A user's picture at S/M/L (reference §4.7), as the photo model has SharePoint serve it.

    Current model: a 302 to the front-door cache on the same origin, outside any site (reference
    §9.1, sp-dev-docs #7909). Classic model: a `200` image, the library thumbnail or the
    placeholder silhouette, and asking for one's own picture is the sync trigger (§5.2 step 1).
    Without `accountname`/`username` the caller's own picture is served (UNCONFIRMED).
    """
    tenant = _tenant()
    origin = _called_origin()
    caller = _caller(origin, READ_SCOPES)
    size = _size_arg()
    wanted = request.args.get("accountname") or request.args.get("username")
    target = _find_user(tenant, wanted) if wanted else caller
    if target is not None and target.oid == caller.oid:
        sync.apply_due_imports(tenant, caller)
    model = tenant.photo_model_of(target) if target is not None else tenant.photo_model
    if model == "current":
        account = target.upn if target is not None else str(wanted)
        oat = _oat(account, size, tenant.clock.time() + OAT_LIFETIME)
        query = urlencode({"_oat_": oat, "size": size, "accountName": account})
        return redirect(f"{origin}{AFDCACHE_PATH}?{query}", code=302)
    if target is not None and target.oid == caller.oid:
        sync.own_photo_requested(tenant, caller)
    with tenant.lock:
        sp = target.sharepoint if target is not None else None
        if sp is not None and sp.pictures is not None and sp.placeholder_state == "0":
            data = {"S": sp.pictures.small, "M": sp.pictures.medium, "L": sp.pictures.large}[size]
            content_type = "image/jpeg"
        else:
            data = pictures.placeholder_silhouette(sync.THUMBNAIL_SIZES[size])
            content_type = "image/png"  # placeholder image type UNCONFIRMED
    response = Response(data, content_type=content_type)
    # SharePoint lets clients cache user photos for about a day (reference §4.7 [S45]).
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.get(AFDCACHE_PATH)
def afdcache() -> Response:
    """The front-door cache's copy of a user's photo at S/M/L (reference §9.1): the Graph photo as
    it was when the cache last fetched it (`sync.front_door_copy`).

    Bearer rules as for userphoto.aspx. A `_oat_` that is not the one issued for this account and
    size, or has expired, is refused as in sp-dev-docs #7909 (status and text as reported there;
    content type UNCONFIRMED). With no Graph photo the placeholder silhouette is served: what
    SharePoint serves then is UNCONFIRMED (reference §4.7 has userphoto.aspx return a placeholder;
    pnp/sp-starter-kit#500 reports a placeholder image unless `&default=none` is added).
    """
    tenant = _tenant()
    _caller(_called_origin(), READ_SCOPES)
    size = request.args.get("size", "")
    account = request.args.get("accountName", "")
    if size not in sync.THUMBNAIL_SIZES or not _oat_valid(
        request.args.get("_oat_", ""), account, size, tenant.clock.time()
    ):
        return Response(
            "ERROR 403: Time-Limited URL validation failed",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    target = _find_user(tenant, account)
    copy = sync.front_door_copy(tenant, target) if target is not None else None
    if copy is None or copy.data is None:
        data = pictures.placeholder_silhouette(sync.THUMBNAIL_SIZES[size])
        content_type = "image/png"
    else:
        data = pictures.square_rendition(copy.data, sync.THUMBNAIL_SIZES[size])
        content_type = "image/jpeg"
    response = Response(data, content_type=content_type)
    if copy is not None and copy.filled_at is not None:
        # Browsers may keep it as long as the front door does (header values UNCONFIRMED).
        left = copy.filled_at + tenant.photo_cache_lifetime - tenant.clock.time()
        response.headers["Cache-Control"] = f"private, max-age={max(0, int(left))}"
    return response


def _size_arg() -> str:
    """The `size` letter asked for; S when absent or unknown (reference §4.7 [S45])."""
    size = request.args.get("size", "S").upper()
    return size if size in sync.THUMBNAIL_SIZES else "S"


def _oat_mac(account: str, size: str, expires: int) -> str:
    message = f"{account.lower()}|{size}|{expires}".encode()
    return hmac.new(_OAT_KEY, message, hashlib.sha256).hexdigest()


def _oat(account: str, size: str, expires_at: float) -> str:
    """An opaque, time-limited `_oat_` for one account and size (format UNCONFIRMED)."""
    expires = int(expires_at)
    token = f"{expires}.{_oat_mac(account, size, expires)}".encode()
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def _oat_valid(oat: str, account: str, size: str, now: float) -> bool:
    try:
        decoded = base64.urlsafe_b64decode(oat + "=" * (-len(oat) % 4)).decode()
        expires_text, _, mac = decoded.partition(".")
        expires = int(expires_text)
    except ValueError:
        return False
    return now < expires and hmac.compare_digest(mac, _oat_mac(account, size, expires))


def _find_user(tenant: Tenant, account: str) -> User | None:
    """A user by claims account name, UPN or e-mail (reference §4.7: "email or account")."""
    name = account.split("|")[-1].strip().lower()
    with tenant.lock:
        for user in tenant.users.values():
            mail = str(user.directory.get("mail") or "").lower()
            if name in (user.upn.lower(), mail):
                return user
    return None


@bp.get(f"{LIBRARY_PATH}/<filename>")
def library_file(filename: str) -> Response:
    """A thumbnail in the My Site host's User Photos library (reference §4.7); 404 if absent."""
    tenant = _tenant()
    origin = _called_origin()
    not_found = SharePointError(
        404, "-2147024894, System.IO.FileNotFoundException", "File Not Found."
    )
    if origin != tenant.origins.mysite:
        raise not_found  # the library lives on the My Site host only
    _caller(origin, READ_SCOPES)
    stem, _, suffix = filename.rpartition("_")
    size = suffix.removesuffix("Thumb.jpg")
    with tenant.lock:
        owner = tenant.users.get(stem)
        pics = owner.sharepoint.pictures if owner is not None else None
        if pics is None or size not in sync.THUMBNAIL_SIZES or not suffix.endswith("Thumb.jpg"):
            raise not_found
        data = {"S": pics.small, "M": pics.medium, "L": pics.large}[size]
        taken_at = pics.taken_at
    response = Response(data, content_type="image/jpeg")
    # A file's ETag names its item id and version, e.g. "{GUID},3" (format UNCONFIRMED).
    item = uuid.uuid5(uuid.NAMESPACE_URL, f"{stem}_{size}")
    response.headers["ETag"] = f'"{{{str(item).upper()}}},{int(taken_at)}"'
    response.last_modified = datetime.fromtimestamp(taken_at, UTC)
    return response


# -- SetSingleValueProfileProperty / SetMultiValuedProfileProperty --------------------------

_SET_PROPERTY_CALLS = {
    "sp.userprofiles.peoplemanager/setsinglevalueprofileproperty": "SetSingleValueProfileProperty",
    "sp.userprofiles.peoplemanager/setmultivaluedprofileproperty": "SetMultiValuedProfileProperty",
}
# User-editable UPA properties: those the classic editor offered (reference §8.4 [S74]); the
# defaults of SPS-Interests/SPS-School/SPS-Birthday are UNCONFIRMED (§4.6), taken as editable.
_EDITABLE = {key: graph_name for graph_name, key in sync.SPO_BACKED_FIELDS.items()}


def _set_profile_property(method: str) -> Response:
    """Write one user-editable property of one's own profile (reference §4.6, §8.4).

    It lands in the same store Graph's `aboutMe`/`skills`/... read (reference §8.5).
    """
    tenant = _tenant()
    user = _caller(_called_origin(), WRITE_PROPERTY_SCOPES)
    body = request.get_json(force=True, silent=True)
    invalid = SharePointError(
        400, "-2147024809, System.ArgumentException", "Parameter is not valid."
    )
    if not isinstance(body, dict):
        raise invalid
    account = str(body.get("accountName", "")).split("|")[-1].lower()
    if account not in (user.upn.lower(), str(user.directory.get("mail") or "").lower()):
        # Message as reported (reference §8.4 [S71]); status and code UNCONFIRMED.
        raise SharePointError(
            403,
            "-2147024891, System.UnauthorizedAccessException",
            "This operation requires you to be managing your own data or have administrator "
            "privileges.",
        )
    key = str(body.get("propertyName", ""))
    if key not in _EDITABLE:
        known = key in dict(_upa_properties(tenant, user))
        # Reference §8.4 [S71]: not editable → this body; unknown → "Property No…" (the rest of
        # that message is UNCONFIRMED).
        raise SharePointError(
            500,
            "-1, Microsoft.Office.Server.UserProfiles.PropertyNotEditableException"
            if known
            else "-1, Microsoft.Office.Server.UserProfiles.PropertyNotFoundException",
            "Property Not Editable: This property can only be modified by an administrator."
            if known
            else f"Property Not Found: {key}",
        )
    graph_name = _EDITABLE[key]
    multi = graph_name in sync.MULTI_VALUED_FIELDS
    if method == "SetMultiValuedProfileProperty":
        values = body.get("propertyValues")
        if not multi or not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise invalid
        value: object = values
    else:
        single = body.get("propertyValue")
        if multi or not isinstance(single, str):
            raise invalid
        value = single or None
        if graph_name == "birthday" and single:
            value = sync.normalise_birthday(single)
            if value is None:
                raise invalid
    sync.write_profile_fields(tenant, user, {graph_name: value})
    return _null_result(method)
