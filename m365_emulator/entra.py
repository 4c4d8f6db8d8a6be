"""Entra ID v2.0 as MSAL and a browser see it: discovery, authorize pages, token, JWKS, sign-out.

The browser pages (sign-in picker, consent, form_post, signed-out) are served under
`tenant.origins.browser`; discovery, token and JWKS under `tenant.origins.login` (reference
§1.1: MSAL needs https only for those). Every URL a page links to is built with `url_for`, so the
pages work both at the server root and mounted under a prefix such as `/_m365`.
Between the pages the validated authorize request travels as a token signed with the tenant's
key; the emulator's own sign-in session (SSO on a second authorize) is a signed cookie too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

import jwt
from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from m365_emulator import faults, tokens
from m365_emulator.conditional_access import CAPABILITY, MFA_POLICY_ID, ClaimsRequest
from m365_emulator.faults import Fault
from m365_emulator.tenant import ClientRegistration, Tenant, User

bp = Blueprint("entra", __name__, static_folder="static", static_url_path="/_entra/static")

SSO_COOKIE = "m365emu_signin"
# Entra's refresh tokens expire after 90 days of inactivity (AADSTS700082),
# https://learn.microsoft.com/entra/identity-platform/refresh-tokens#token-lifetime
REFRESH_TOKEN_INACTIVITY = 90 * 24 * 3600
# How long the pages may sit between the authorize request and the user's last click.
PAGE_LIFETIME = 15 * 60
# Our own pages allow no inline script or style (the product runs a strict CSP).
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_PROMPTS = {"none", "login", "consent", "select_account", "create"}
_RESPONSE_MODES = {"query", "fragment", "form_post"}
# RFC 7636 §4.1 (referenced by reference §1.4 `code_challenge`): 43–128 unreserved characters.
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")

# Delegated permissions the emulated resources know, with the words a consent page uses
# (Graph: https://learn.microsoft.com/graph/permissions-reference; SharePoint: reference §4.9).
_GRAPH_PERMISSIONS = {
    "User.Read": "Sign you in and read your profile",
    "User.ReadWrite": "Read and update your profile",
    "User.ReadBasic.All": "Read the basic profiles of all users",
    "User.Read.All": "Read the full profiles of all users",
    "User.ReadWrite.All": "Read and write the full profiles of all users",
    "ProfilePhoto.Read.All": "Read the profile photos of all users",
    "ProfilePhoto.ReadWrite.All": "Read and write the profile photos of all users",
    "Sites.Read.All": "Read items in all site collections",
    "Files.Read": "Read your files",
    # Admin-consent permissions of the people settings (graph_beta.py).
    "PeopleSettings.Read.All": "Read all tenant-wide people settings",
    "PeopleSettings.ReadWrite.All": "Read and write all tenant-wide people settings",
}
_SHAREPOINT_PERMISSIONS = {
    "AllSites.Read": "Read items in all site collections",
    "AllSites.Write": "Read and write items in all site collections",
    "AllSites.Manage": "Read and write items and lists in all site collections",
    "AllSites.FullControl": "Have full control of all site collections",
    "MyFiles.Read": "Read your files",
    "MyFiles.Write": "Read and write your files",
    "User.Read.All": "Read user profiles",
    "User.ReadWrite.All": "Read and write user profiles",
}
_OIDC_WORDS = {
    "openid": "Sign you in",
    "profile": "View your basic profile",
    "email": "View your email address",
    "offline_access": "Keep access to data you have given it access to",
}


# -- Entra's error bodies ------------------------------------------------------------------


class EntraError(Exception):
    """An error Entra answers with `error` + `AADSTSnnnn: message` (reference §1.5, §1.6).

    Codes and wording come from reference §1.5/§1.6 where listed there, otherwise from
    Microsoft's table https://learn.microsoft.com/entra/identity-platform/reference-error-codes
    (the full sentences Entra prints for 70000, 500112, 9002325 and 90033 are UNCONFIRMED).
    """

    def __init__(
        self,
        error: str,
        code: int,
        message: str,
        status: int = 400,
        suberror: str | None = None,
        claims: str | None = None,
    ) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.error = error
        self.code = code
        self.message = message
        self.status = status
        self.suberror = suberror
        self.claims = claims


@dataclass(frozen=True)
class _Trace:
    """The trace and correlation ids and the timestamp every Entra error carries."""

    trace_id: str
    correlation_id: str
    timestamp: str

    @classmethod
    def new(cls, tenant: Tenant) -> _Trace:
        # MSAL sends `client-request-id`; Entra echoes it as the correlation id (reference §1.5).
        correlation = request.headers.get("client-request-id") or str(uuid.uuid4())
        stamp = datetime.fromtimestamp(tenant.clock.time(), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return cls(str(uuid.uuid4()), correlation, stamp)

    def describe(self, code: int, message: str) -> str:
        return (
            f"AADSTS{code}: {message}\r\nTrace ID: {self.trace_id}\r\n"
            f"Correlation ID: {self.correlation_id}\r\nTimestamp: {self.timestamp}"
        )


def _error_body(tenant: Tenant, failure: EntraError) -> Response:
    """The token endpoint's JSON error, exactly in the reference §1.5 shape."""
    trace = _Trace.new(tenant)
    body: dict[str, Any] = {
        "error": failure.error,
        "error_description": trace.describe(failure.code, failure.message),
        "error_codes": [failure.code],
        "timestamp": trace.timestamp,
        "trace_id": trace.trace_id,
        "correlation_id": trace.correlation_id,
        "error_uri": f"{tenant.origins.login}/error?code={failure.code}",
    }
    if failure.suberror:
        body["suberror"] = failure.suberror
    if failure.claims:
        # A claims request the client must take to the authorize endpoint (the OBO article's
        # AADSTS50079 example: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow).
        body["claims"] = failure.claims
    response = jsonify(body)
    response.status_code = failure.status
    _no_store(response)
    return response


# What Entra says for the AADSTS codes the emulator answers itself or a fault scripts without
# a message: reference §1.5/§1.6 and
# https://learn.microsoft.com/entra/identity-platform/reference-error-codes (the full sentences
# for 50076, 50173 and 53003 are UNCONFIRMED; 50079 is the OBO article's).
_AADSTS_MESSAGES = {
    50076: "Due to a configuration change made by your administrator, or because you moved to "
    "a new location, you must use multi-factor authentication to access this resource.",
    50079: "Due to a configuration change made by your administrator, or because you moved to "
    "a new location, you must enroll in multi-factor authentication to access this resource.",
    50173: "The provided grant has expired due to it being revoked, a fresh auth token is "
    "needed. The user might have changed or reset their password.",
    53003: "Access has been blocked by Conditional Access policies. The access policy does not "
    "allow token issuance.",
    70008: "The provided authorization code or refresh token has expired due to inactivity. "
    "Send a new interactive authorization request for this user and resource.",
    90033: "A transient error has occurred. Please try again.",
}


def error_response(fault: Fault) -> Response:
    """A scripted failure (fault plan) in Entra's error body shape (reference §1.5).

    Without `code`/`aadsts`: 429 and 5xx are `temporarily_unavailable` (RFC 6749 §5.2,
    reference §1.6), anything else a malformed request. AADSTS65001 without a message gets
    the consent sentence naming the calling app.
    """
    tenant = _tenant()
    if fault.code is None and fault.aadsts is None:
        transient = fault.status == 429 or fault.status >= 500
        malformed = ("invalid_request", 9002313)
        error, code = ("temporarily_unavailable", 90033) if transient else malformed
    else:
        error, code = fault.code or "invalid_grant", fault.aadsts or 9002313
    message = fault.message or _AADSTS_MESSAGES.get(code)
    if message is None and code == 65001:
        client = tenant.clients.get(request.form.get("client_id", ""))
        message = _consent_message(client) if client else None
    failure = EntraError(
        error,
        code,
        message or "Invalid request. Request is malformed or invalid.",
        fault.status,
        fault.suberror,
        fault.claims,
    )
    return faults.render(fault, lambda: _error_body(tenant, failure))


def grant_owner(tenant: Tenant) -> str | None:
    """The user whose code or refresh token a token request redeems (for the fault plan)."""
    if request.method != "POST" or not request.path.endswith("/oauth2/v2.0/token"):
        return None
    form = request.form
    with tenant.lock:
        if form.get("grant_type") == "authorization_code":
            grant = tenant.codes.get(form.get("code", ""))
        elif form.get("grant_type") == "refresh_token":
            grant = tenant.refresh_tokens.get(form.get("refresh_token", ""))
        else:
            grant = None
        return None if grant is None else str(grant["oid"])


# -- public helpers for tests and seeding --------------------------------------------------


def grant_consent(tenant: Tenant, oid: str, client_id: str, scopes: list[str]) -> None:
    """Record that the user consented to `scopes` for the client (as the consent page does)."""
    parsed = tokens.parse_scopes(tenant, " ".join(scopes))
    with tenant.lock:
        granted = tenant.consents.setdefault((oid, client_id), set())
        granted.update(s.consent_key for s in parsed.scopes if not s.is_default)


def revoke_refresh_tokens(tenant: Tenant, oid: str) -> int:
    """Revoke every refresh token of the user (an admin's "revoke sessions"); returns how many."""
    with tenant.lock:
        grants = [g for g in tenant.refresh_tokens.values() if g["oid"] == oid]
        for grant in grants:
            grant["revoked"] = True
    return len(grants)


# -- discovery and keys --------------------------------------------------------------------


@bp.get("/<tenant_ref>/v2.0/.well-known/openid-configuration")
def discovery(tenant_ref: str) -> Response:
    """The OIDC discovery document (reference §1.2, shape of a tenant-specific document)."""
    tenant = _tenant()
    try:
        _check_tenant(tenant, tenant_ref)
    except EntraError as failure:
        return _error_body(tenant, failure)
    tid = tenant.tenant_id
    login = f"{tenant.origins.login}/{tid}"
    # The browser prefix may be a bare path (in-process demo): a relative authorize URL is
    # fine, MSAL only concatenates the query onto it (reference §1.1).
    browser = f"{tenant.origins.browser}/{tid}"
    # The reference's minimal document without `device_authorization_endpoint` and
    # `userinfo_endpoint` (optional for MSAL, §1.2), which the emulator does not serve.
    document = {
        "token_endpoint": f"{login}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{login}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": tokens.id_token_issuer(tenant),
        "authorization_endpoint": f"{browser}/oauth2/v2.0/authorize",
        "end_session_endpoint": f"{browser}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "msgraph_host": "graph.microsoft.com",
    }
    return jsonify(document)


@bp.get("/<tenant_ref>/discovery/v2.0/keys")
def keys(tenant_ref: str) -> Response:
    """The JWKS with the tenant's signing key (discovery `jwks_uri`, reference §1.2)."""
    tenant = _tenant()
    try:
        _check_tenant(tenant, tenant_ref)
    except EntraError as failure:
        return _error_body(tenant, failure)
    return jsonify(tokens.jwks(tenant))


# -- authorize: validation, sign-in picker, consent, answer --------------------------------


@bp.route("/<tenant_ref>/oauth2/v2.0/authorize", methods=["GET", "POST"])
def authorize(tenant_ref: str) -> BaseResponse:
    """The first leg (reference §1.4): validate, then sign in, consent and answer."""
    tenant = _tenant()
    params = request.form if request.method == "POST" else request.args
    try:
        _check_tenant(tenant, tenant_ref)
        client = _authorize_client(tenant, params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri:
            raise EntraError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'redirect_uri'.",
            )
        if not redirect_uri_allowed(client, redirect_uri):
            # Shown on Entra's page, never sent to an unregistered address (reference §1.4).
            raise EntraError(
                "invalid_request",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                f"redirect URIs configured for the application '{client.client_id}'. Make sure "
                "the redirect URI sent in the request matches one added to your application in "
                "the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn "
                "more about how to fix this.",
            )
    except EntraError as failure:
        return _error_page(tenant, failure)

    response_mode = params.get("response_mode") or "query"
    back = _Answer(redirect_uri, response_mode if response_mode in _RESPONSE_MODES else "query")
    state = params.get("state")
    try:
        request_ctx = _validate_authorize(tenant, client, params, redirect_uri, response_mode)
    except EntraError as failure:
        return back.error(tenant, failure, state)
    return _continue(tenant, client, request_ctx, back)


@bp.post("/<tenant_ref>/oauth2/v2.0/authorize/signin")
def sign_in(tenant_ref: str) -> BaseResponse:
    """The picker's submit: sign the chosen user in to the emulator, then consent or answer."""
    tenant = _tenant()
    try:
        _check_tenant(tenant, tenant_ref)
        ctx = _read_page_ctx(tenant, request.form.get("ctx", ""))
        client = _authorize_client(tenant, ctx["client_id"])
        user = tenant.user(request.form.get("user", ""))
    except KeyError:
        return _error_page(
            tenant, EntraError("invalid_request", 50034, "Pick one of the listed accounts.")
        )
    except EntraError as failure:
        return _error_page(tenant, failure)
    back = _Answer(ctx["redirect_uri"], ctx["response_mode"])
    session = _new_session(tenant, user, ctx)
    response: BaseResponse
    if ctx["prompt"] == "consent" or _missing_consent(tenant, user, client, ctx["scope"]):
        response = _consent_page(tenant, client, user, ctx, session["sid"])
    else:
        response = _issue_code(tenant, client, user, ctx, session, back)
    _set_session_cookie(tenant, response, session)
    return response


@bp.post("/<tenant_ref>/oauth2/v2.0/authorize/consent")
def consent(tenant_ref: str) -> BaseResponse:
    """The consent page's submit: Accept records the grant and answers, Cancel declines."""
    tenant = _tenant()
    try:
        ctx, client, user, session = _signed_in_page(tenant, tenant_ref)
    except EntraError as failure:
        return _error_page(tenant, failure)
    back = _Answer(ctx["redirect_uri"], ctx["response_mode"])
    if request.form.get("decision") != "accept":
        # The user declined (reference §1.4 error response; AADSTS65004, reference-error-codes).
        declined = EntraError("access_denied", 65004, "User declined to consent to access the app.")
        return back.error(tenant, declined, ctx["state"])
    grant_consent(tenant, user.oid, client.client_id, ctx["scope"].split())
    return _issue_code(tenant, client, user, ctx, session, back)


@bp.post("/<tenant_ref>/oauth2/v2.0/authorize/verify")
def verify(tenant_ref: str) -> BaseResponse:
    """The step-up page's submit: the user completed the stronger sign-in (multifactor
    authentication, the authentication contexts the claims ask for); then consent or answer."""
    tenant = _tenant()
    try:
        ctx, client, user, session = _signed_in_page(tenant, tenant_ref)
    except EntraError as failure:
        return _error_page(tenant, failure)
    state = tenant.conditional_access.state(user.oid)
    wanted = _claims_request(ctx["claims"])
    session = {
        **session,
        "mfa_epoch": state.mfa_epoch,
        "acrs": sorted(set(session["acrs"]) | wanted.acrs),
    }
    response: BaseResponse
    if ctx["prompt"] == "consent" or _missing_consent(tenant, user, client, ctx["scope"]):
        response = _consent_page(tenant, client, user, ctx, session["sid"])
    else:
        back = _Answer(ctx["redirect_uri"], ctx["response_mode"])
        response = _issue_code(tenant, client, user, ctx, session, back)
    _set_session_cookie(tenant, response, session)
    return response


def _signed_in_page(
    tenant: Tenant, tenant_ref: str
) -> tuple[dict[str, Any], ClientRegistration, User, dict[str, Any]]:
    """The context, client, user and emulator session behind a submitted page that follows
    the sign-in (consent, step-up); `EntraError` when they no longer fit together."""
    _check_tenant(tenant, tenant_ref)
    ctx = _read_page_ctx(tenant, request.form.get("ctx", ""))
    client = _authorize_client(tenant, ctx["client_id"])
    session = _read_session(tenant)
    if session is None or session["oid"] != ctx.get("oid"):
        raise EntraError("interaction_required", 50058, "The sign-in session ended. Sign in again.")
    return ctx, client, tenant.user(session["oid"]), session


def _validate_authorize(
    tenant: Tenant,
    client: ClientRegistration,
    params: Any,
    redirect_uri: str,
    response_mode: str,
) -> dict[str, Any]:
    """The authorize parameters the later pages need, after Entra's checks (reference §1.4)."""
    response_type = params.get("response_type", "")
    if not response_type:
        raise EntraError(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'response_type'.",
        )
    if response_type != "code":
        # The emulator serves the code flow only (reference §1.4: MSAL refuses anything else).
        raise EntraError(
            "unsupported_response_type",
            70005,
            f"response_type '{response_type}' is not enabled for the application.",
        )
    if response_mode not in _RESPONSE_MODES:
        raise EntraError(
            "invalid_request", 9002313, "Invalid request. Request is malformed or invalid."
        )
    scope = params.get("scope", "")
    if not scope.split():
        raise EntraError(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    parsed = _parse_scopes(tenant, client, scope)
    if not parsed.scopes and "openid" not in parsed.oidc:
        raise EntraError(
            "invalid_scope", 70011, f"The provided value for scope {scope} is not valid."
        )
    challenge = params.get("code_challenge", "")
    method = params.get("code_challenge_method", "")
    # Stricter than Entra, which still accepts `plain` or no PKCE for confidential clients:
    # this app must always send S256 (security.md §1.3, A3), so the emulator demands it.
    if not challenge:
        raise EntraError(
            "invalid_request",
            9002325,
            "Proof Key for Code Exchange is required for cross-origin authorization code "
            "redemption.",
        )
    if method != "S256":
        raise EntraError(
            "invalid_request",
            9002313,
            f"Invalid request. code_challenge_method '{method or 'plain'}' is not accepted; "
            "use S256.",
        )
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge):
        raise EntraError(
            "invalid_request", 9002313, "Invalid request. The code_challenge is malformed."
        )
    prompt = params.get("prompt") or ""
    if prompt and prompt not in _PROMPTS:
        raise EntraError(
            "invalid_request", 9002313, f"Invalid request. Invalid value for prompt: '{prompt}'."
        )
    max_age = params.get("max_age")
    if max_age is not None and not max_age.isdigit():
        raise EntraError("invalid_request", 9002313, "Invalid request. max_age must be a number.")
    _claims_request(params.get("claims"))
    return {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "response_mode": response_mode,
        "scope": scope,
        "state": params.get("state"),
        "nonce": params.get("nonce"),
        "code_challenge": challenge,
        "prompt": prompt,
        "login_hint": params.get("login_hint") or "",
        "max_age": int(max_age) if max_age is not None else None,
        # A claims request (claims challenge, client capabilities): conditional_access.py.
        "claims": params.get("claims"),
    }


def _continue(
    tenant: Tenant, client: ClientRegistration, ctx: dict[str, Any], back: _Answer
) -> BaseResponse:
    """After validation: use the emulator session (SSO) or show the picker."""
    session = _read_session(tenant)
    user: User | None = None
    if session is not None:
        try:
            user = tenant.user(session["oid"])
        except KeyError:
            session, user = None, None
    max_age = ctx["max_age"]
    # An older sign-in than max_age allows means signing in again (reference §1.4).
    if (
        session is not None
        and max_age is not None
        and tenant.clock.time() - session["auth_time"] > max_age
    ):
        session, user = None, None
    hint = ctx["login_hint"].lower()
    if ctx["prompt"] == "none":
        # Silent request (reference §1.4 error codes): no session → login_required.
        if user is None or session is None or (hint and hint != user.upn.lower()):
            failure = EntraError(
                "login_required",
                50058,
                "A silent sign-in request was sent but no user is signed in.",
            )
            return back.error(tenant, failure, ctx["state"])
        if _step_up_needed(tenant, session, ctx):
            failure = EntraError(
                "interaction_required", 50076, _AADSTS_MESSAGES[50076], suberror="basic_action"
            )
            return back.error(tenant, failure, ctx["state"])
        if _missing_consent(tenant, user, client, ctx["scope"]):
            failure = EntraError(
                "consent_required",
                65001,
                _consent_message(client),
                suberror="consent_required",
            )
            return back.error(tenant, failure, ctx["state"])
        return _issue_code(tenant, client, user, ctx, session, back)
    picker_prompts = {"login", "select_account", "create"}
    if user is None or session is None or ctx["prompt"] in picker_prompts:
        return _picker_page(tenant, ctx)
    if hint and hint != user.upn.lower():
        return _picker_page(tenant, ctx)
    if _step_up_needed(tenant, session, ctx):
        return _step_up_page(tenant, client, user, ctx, session["sid"])
    if ctx["prompt"] == "consent" or _missing_consent(tenant, user, client, ctx["scope"]):
        return _consent_page(tenant, client, user, ctx, session["sid"])
    return _issue_code(tenant, client, user, ctx, session, back)


def _picker_page(tenant: Tenant, ctx: dict[str, Any]) -> Response:
    hint = ctx["login_hint"].lower()
    with tenant.lock:
        users = list(tenant.users.values())
    return _page(
        "emulator/signin.html",
        tenant=tenant,
        users=users,
        selected=next((u.oid for u in users if u.upn.lower() == hint), None),
        ctx=_write_page_ctx(tenant, ctx),
        action=url_for("entra.sign_in", tenant_ref=tenant.tenant_id),
    )


def _consent_page(
    tenant: Tenant, client: ClientRegistration, user: User, ctx: dict[str, Any], sid: str
) -> Response:
    parsed = tokens.parse_scopes(tenant, ctx["scope"])
    groups: dict[str, list[str]] = {}
    for scope in parsed.scopes:
        if scope.resource == tokens.GRAPH_RESOURCE:
            resource, words = "Microsoft Graph", _GRAPH_PERMISSIONS
        else:
            resource, words = f"SharePoint ({scope.resource})", _SHAREPOINT_PERMISSIONS
        if scope.is_default:
            text = "Everything this app is already allowed to do"
        else:
            text = words[_canonical_name(scope)]
        groups.setdefault(resource, []).append(text)
    basics = [
        _OIDC_WORDS[s] for s in ("openid", "profile", "email", "offline_access") if s in parsed.oidc
    ]
    return _page(
        "emulator/consent.html",
        tenant=tenant,
        client=client,
        user=user,
        groups=groups,
        basics=basics,
        ctx=_write_page_ctx(tenant, {**ctx, "oid": user.oid, "sid": sid}),
        action=url_for("entra.consent", tenant_ref=tenant.tenant_id),
    )


def _step_up_page(
    tenant: Tenant, client: ClientRegistration, user: User, ctx: dict[str, Any], sid: str
) -> Response:
    """Entra's "verify your identity" interrupt, as one button (no real second factor)."""
    return _page(
        "emulator/step_up.html",
        tenant=tenant,
        client=client,
        user=user,
        contexts=sorted(_claims_request(ctx["claims"]).acrs),
        ctx=_write_page_ctx(tenant, {**ctx, "oid": user.oid, "sid": sid}),
        action=url_for("entra.verify", tenant_ref=tenant.tenant_id),
    )


def _issue_code(
    tenant: Tenant,
    client: ClientRegistration,
    user: User,
    ctx: dict[str, Any],
    session: dict[str, Any],
    back: _Answer,
) -> BaseResponse:
    """A one-time code for this request, delivered the way `response_mode` asks."""
    code = "1.A" + secrets.token_urlsafe(48)
    with tenant.lock:
        tenant.codes[code] = {
            "client_id": client.client_id,
            "redirect_uri": ctx["redirect_uri"],
            "oid": user.oid,
            "scope": ctx["scope"],
            "nonce": ctx["nonce"],
            "code_challenge": ctx["code_challenge"],
            "issued_at": tenant.clock.time(),
            "auth_time": int(session["auth_time"]),
            "max_age": ctx["max_age"],
            "redeemed": False,
            **_grant_state(session),
        }
    answer: dict[str, str] = {"code": code}
    if ctx["state"] is not None:
        answer["state"] = ctx["state"]
    answer["session_state"] = session["sid"]
    return back.send(tenant, answer)


class _Answer:
    """Delivers the authorize result to the redirect URI in the requested response mode."""

    def __init__(self, redirect_uri: str, response_mode: str) -> None:
        self.redirect_uri = redirect_uri
        self.response_mode = response_mode

    def send(self, tenant: Tenant, fields: dict[str, str]) -> BaseResponse:
        if self.response_mode == "form_post":
            # Reference §1.4: form_post = the same fields as an urlencoded POST body.
            return _page(
                "emulator/form_post.html", tenant=tenant, target=self.redirect_uri, fields=fields
            )
        separator = "#" if self.response_mode == "fragment" else "?"
        base = self.redirect_uri
        if separator == "?" and "?" in base:
            separator = "&"
        response = redirect(f"{base}{separator}{urlencode(fields)}", code=302)
        _no_store(response)
        return response

    def error(self, tenant: Tenant, failure: EntraError, state: str | None) -> BaseResponse:
        trace = _Trace.new(tenant)
        fields = {
            "error": failure.error,
            "error_description": trace.describe(failure.code, failure.message),
            "error_uri": f"{tenant.origins.login}/error?code={failure.code}",
        }
        if failure.suberror:
            fields["error_subcode"] = failure.suberror
        if state is not None:
            fields["state"] = state
        return self.send(tenant, fields)


# -- token endpoint ------------------------------------------------------------------------


@bp.post("/<tenant_ref>/oauth2/v2.0/token")
def token(tenant_ref: str) -> Response:
    """Code redemption and refresh (reference §1.5), with Entra's error bodies."""
    tenant = _tenant()
    try:
        _check_tenant(tenant, tenant_ref)
        client = _authenticate_client(tenant)
        grant_type = request.form.get("grant_type", "")
        if grant_type == "authorization_code":
            body = _redeem_code(tenant, client)
        elif grant_type == "refresh_token":
            body = _redeem_refresh_token(tenant, client)
        elif not grant_type:
            raise _missing("grant_type")
        else:
            raise EntraError(
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
    except EntraError as failure:
        return _error_body(tenant, failure)
    response = jsonify(body)
    _no_store(response)
    return response


def _authenticate_client(tenant: Tenant) -> ClientRegistration:
    """client_secret_post or client_secret_basic (discovery's auth methods, reference §1.2)."""
    client_id = request.form.get("client_id", "")
    secret = request.form.get("client_secret")
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        # RFC 6749 §2.3.1: both halves are form-urlencoded before Basic encoding.
        basic_id = unquote_plus(auth.username or "")
        if client_id and client_id != basic_id:
            raise EntraError(
                "invalid_request", 9002313, "Invalid request. Request is malformed or invalid."
            )
        client_id, secret = basic_id, unquote_plus(auth.password or "")
    if not client_id:
        raise _missing("client_id")
    client = _authorize_client(tenant, client_id)
    if not secret:
        # Reference §1.6: AADSTS7000218 missing credential, 7000215 wrong secret; 401.
        raise EntraError(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
            401,
        )
    if not hmac.compare_digest(secret.encode(), client.secret.encode()):
        raise EntraError(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app "
            f"'{client.client_id}'.",
            401,
        )
    return client


def _redeem_code(tenant: Tenant, client: ClientRegistration) -> dict[str, Any]:
    form = request.form
    code = form.get("code", "")
    if not code:
        raise _missing("code")
    scope = form.get("scope", "")
    if not scope.split():
        raise _missing("scope")
    verifier = form.get("code_verifier", "")
    with tenant.lock:
        grant = tenant.codes.get(code)
        if grant is None or grant["client_id"] != client.client_id:
            raise EntraError("invalid_grant", 70000, "Provided grant is invalid or malformed.")
        if grant["redeemed"]:
            # Reference §1.6: one-time codes.
            raise EntraError(
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid "
                "code or use an existing refresh token.",
            )
        if tenant.clock.time() - grant["issued_at"] > tenant.code_lifetime:
            # Codes live about 10 minutes (reference §1.4); expired → 70008 (§1.6).
            raise EntraError(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to "
                "inactivity. Send a new interactive authorization request for this user and "
                "resource.",
            )
        if form.get("redirect_uri", "") != grant["redirect_uri"]:
            raise EntraError(
                "invalid_grant",
                500112,
                f"The reply address '{form.get('redirect_uri', '')}' does not match the reply "
                f"address '{grant['redirect_uri']}' provided when requesting Authorization code.",
            )
        if not verifier:
            raise _missing("code_verifier")
        if not (_PKCE_VALUE.match(verifier) and _s256(verifier) == grant["code_challenge"]):
            raise EntraError(
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the "
                "authorization request.",
            )
        user = _grant_user(tenant, grant["oid"])
        parsed = _parse_scopes(tenant, client, scope)
        if len(parsed.resources) > 1:
            # One resource per token request (reference §1.5 "Redeem a code"; AADSTS700022).
            raise EntraError(
                "invalid_scope",
                700022,
                f"The provided value for the input parameter scope is not valid because it "
                f"contains more than one resource. Scope {scope} is not valid.",
            )
        body = _token_response(
            tenant,
            client,
            user,
            parsed,
            grant,
            nonce=grant["nonce"],
            with_auth_time=grant["max_age"] is not None,
        )
        # Used up only once tokens are issued: a refused request (scope, consent) leaves the
        # code for a corrected retry; the lock makes two concurrent redemptions impossible.
        grant["redeemed"] = True
    return body


def _redeem_refresh_token(tenant: Tenant, client: ClientRegistration) -> dict[str, Any]:
    form = request.form
    refresh_token = form.get("refresh_token", "")
    if not refresh_token:
        raise _missing("refresh_token")
    scope = form.get("scope", "")
    if not scope.split():
        raise _missing("scope")
    now = tenant.clock.time()
    with tenant.lock:
        grant = tenant.refresh_tokens.get(refresh_token)
        if grant is None or grant["revoked"] or grant["client_id"] != client.client_id:
            # Reference §1.6: 70008 expired or revoked grant.
            raise EntraError(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to "
                "inactivity. Send a new interactive authorization request for this user and "
                "resource.",
            )
        if now - grant["last_used"] > REFRESH_TOKEN_INACTIVITY:
            issued = datetime.fromtimestamp(grant["issued_at"], UTC).isoformat()
            raise EntraError(
                "invalid_grant",
                700082,
                f"The refresh token has expired due to inactivity. The token was issued on "
                f"{issued} and was inactive for 90.00:00:00.",
            )
        grant["last_used"] = now
    user = _grant_user(tenant, grant["oid"])
    parsed = _parse_scopes(tenant, client, scope)
    if len(parsed.resources) > 1:
        # On refresh Entra issues the token for the first resource named (reference §1.5).
        first = parsed.resources[0]
        parsed = tokens.ScopeRequest(
            tuple(s for s in parsed.scopes if s.resource == first), parsed.oidc
        )
    return _token_response(tenant, client, user, parsed, grant, nonce=None)


def _token_response(
    tenant: Tenant,
    client: ClientRegistration,
    user: User,
    parsed: tokens.ScopeRequest,
    grant: dict[str, Any],
    *,
    nonce: str | None,
    with_auth_time: bool = False,
) -> dict[str, Any]:
    """The success body of reference §1.5 for one resource, from a code or refresh token
    (`grant`) that Conditional Access still accepts."""
    wanted = _claims_request(request.form.get("claims"))
    _check_conditional_access(tenant, user, grant, wanted)
    auth_time = int(grant["auth_time"])
    with tenant.lock:
        consented = set(tenant.consents.get((user.oid, client.client_id), set()))
    resource = parsed.resources[0] if parsed.resources else tokens.GRAPH_RESOURCE
    names: list[str] = []
    echoed: list[str] = []
    for scope in parsed.scopes:
        if scope.is_default:
            # `.default` = every permission already granted for that resource (reference §2.5).
            granted = sorted(k.split("/", 1)[1] for k in consented if k.startswith(scope.app_id))
            for key in granted:
                name = _canonical_name(tokens.Scope(scope.resource, key, key))
                names.append(name)
                echoed.append(name if resource == tokens.GRAPH_RESOURCE else f"{resource}/{name}")
            continue
        if scope.consent_key not in consented:
            raise EntraError(
                "invalid_grant", 65001, _consent_message(client), suberror="consent_required"
            )
        names.append(_canonical_name(scope))
        echoed.append(scope.spelling)
    if parsed.scopes and not names:
        raise EntraError(
            "invalid_grant", 65001, _consent_message(client), suberror="consent_required"
        )
    if not parsed.scopes:
        # Only OIDC scopes asked: Entra issues a Graph token with the user's Graph grants.
        names = sorted(
            _canonical_name(tokens.Scope(resource, k.split("/", 1)[1], ""))
            for k in consented
            if k.startswith(tokens.GRAPH_APP_ID)
        )
    names = list(dict.fromkeys(names))
    echoed = list(dict.fromkeys(echoed))
    oidc_order = ("openid", "profile", "email", "offline_access")
    echoed += [s for s in oidc_order if s in parsed.oidc]
    # A client declaring cp1 gets a CAE session: longer-lived tokens carrying xms_cc
    # (conditional_access.py).
    lifetime = int(tenant.cae_token_lifetime if wanted.capable else tenant.access_token_lifetime)
    extra: dict[str, Any] = {"xms_cc": [CAPABILITY]} if wanted.capable else {}
    acrs = sorted(wanted.acrs & set(grant["acrs"]))
    if acrs:
        extra["acrs"] = acrs
    if grant["mfa_epoch"] is not None:
        extra["amr"] = ["pwd", "mfa"]
    # Never a token older than the user's latest critical event or the `nbf` asked for.
    not_before = max(tenant.conditional_access.state(user.oid).not_before, wanted.not_before or 0)
    access_token = tokens.issue_access_token(
        tenant,
        user,
        client.client_id,
        resource,
        names,
        claims=extra,
        lifetime=lifetime,
        not_before=not_before,
    )
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(echoed),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    }
    if "offline_access" in parsed.oidc:
        body["refresh_token"] = _new_refresh_token(tenant, client, user, grant)
    if "openid" in parsed.oidc:
        body["id_token"] = tokens.issue_id_token(
            tenant, user, client.client_id, nonce, auth_time=auth_time if with_auth_time else None
        )
    if request.form.get("client_info") == "1":
        # Reference §1.7: base64url of compact {"uid","utid"} JSON, padding stripped.
        info = json.dumps({"uid": user.oid, "utid": tenant.tenant_id}, separators=(",", ":"))
        body["client_info"] = base64.urlsafe_b64encode(info.encode()).rstrip(b"=").decode()
    return body


def _new_refresh_token(
    tenant: Tenant, client: ClientRegistration, user: User, grant: dict[str, Any]
) -> str:
    """A new opaque refresh token carrying the sign-in of `grant` (the code or refresh token
    redeemed); earlier ones stay valid, as Entra's do (reference §1.5)."""
    value = "1.A" + secrets.token_urlsafe(64)
    now = tenant.clock.time()
    with tenant.lock:
        tenant.refresh_tokens[value] = {
            "client_id": client.client_id,
            "oid": user.oid,
            "issued_at": now,
            "last_used": now,
            "auth_time": grant["auth_time"],
            "revoked": False,
            **_grant_state(grant),
        }
    return value


def _check_conditional_access(
    tenant: Tenant, user: User, grant: dict[str, Any], wanted: ClaimsRequest
) -> None:
    """Entra's re-evaluation when a code or refresh token is redeemed (reference §9.2).

    Revoked sessions: AADSTS50173 (reference-error-codes: "Either an admin or a user revoked
    the tokens for this user"). MFA now required, or an authentication context the sign-in
    did not satisfy: `interaction_required` AADSTS50076 with suberror `basic_action`
    (reference §1.6); the first hands back Entra's own claims request (`polids`, the shape of
    the on-behalf-of article's example) for the client to take to the authorize endpoint.
    """
    state = tenant.conditional_access.state(user.oid)
    if grant["gen"] != state.generation:
        raise EntraError("invalid_grant", 50173, _AADSTS_MESSAGES[50173])
    if not _mfa_current(tenant, user.oid, grant["mfa_epoch"]):
        policies = {"access_token": {"polids": {"essential": True, "values": [MFA_POLICY_ID]}}}
        raise EntraError(
            "interaction_required",
            50076,
            _AADSTS_MESSAGES[50076],
            suberror="basic_action",
            claims=json.dumps(policies, separators=(",", ":")),
        )
    if not wanted.acrs <= set(grant["acrs"]):
        raise EntraError(
            "interaction_required", 50076, _AADSTS_MESSAGES[50076], suberror="basic_action"
        )


def _grant_user(tenant: Tenant, oid: str) -> User:
    try:
        return tenant.user(oid)
    except KeyError:
        raise EntraError(
            "invalid_grant",
            50034,
            f"The user account {oid} does not exist in the {tenant.domain} directory.",
        ) from None


# -- end session ---------------------------------------------------------------------------


@bp.get("/<tenant_ref>/oauth2/v2.0/logout")
def logout(tenant_ref: str) -> BaseResponse:
    """Sign out of the emulator; back to a registered `post_logout_redirect_uri` if given.

    https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#send-a-sign-out-request
    """
    tenant = _tenant()
    try:
        _check_tenant(tenant, tenant_ref)
    except EntraError as failure:
        return _error_page(tenant, failure)
    target = request.args.get("post_logout_redirect_uri", "")
    allowed = bool(target) and _post_logout_allowed(tenant, target)
    if allowed:
        state = request.args.get("state")
        if state is not None:
            target += ("&" if "?" in target else "?") + urlencode({"state": state})
        response = redirect(target, code=302)
    else:
        response = _page(
            "emulator/signed_out.html", tenant=tenant, refused=target if target else None
        )
    response.delete_cookie(SSO_COOKIE, path=_cookie_path())
    _no_store(response)
    return response


def _post_logout_allowed(tenant: Tenant, uri: str) -> bool:
    client_id = request.args.get("client_id") or _hinted_client(request.args.get("id_token_hint"))
    with tenant.lock:
        clients = (
            [tenant.clients[client_id]]
            if client_id in tenant.clients
            else (list(tenant.clients.values()))
        )
    for client in clients:
        registered = client.post_logout_redirect_uris + client.redirect_uris
        if any(_same_redirect(r, uri) for r in registered):
            return True
        demo_paths = {urlsplit(r).path for r in client.post_logout_redirect_uris}
        if client.any_origin_paths and _any_origin_match(demo_paths, uri):
            return True
    return False


def _hinted_client(id_token_hint: str | None) -> str:
    if not id_token_hint:
        return ""
    try:
        claims = jwt.decode(id_token_hint, options={"verify_signature": False})
    except jwt.PyJWTError:
        return ""
    aud = claims.get("aud")
    return aud if isinstance(aud, str) else ""


# -- redirect URIs -------------------------------------------------------------------------


def redirect_uri_allowed(client: ClientRegistration, uri: str) -> bool:
    """Entra's reply-URL match: exact, except any port on http loopback (security.md §1.3).

    `ClientRegistration.any_origin_paths` is the demo-only relaxation: any origin with one
    of these paths is accepted.
    """
    if any(_same_redirect(registered, uri) for registered in client.redirect_uris):
        return True
    return _any_origin_match(set(client.any_origin_paths), uri)


def _same_redirect(registered: str, uri: str) -> bool:
    if registered == uri:
        return True
    reg, got = urlsplit(registered), urlsplit(uri)
    # A registered URI without a path is stored with "/" (security.md §1.3).
    if (reg.scheme, reg.netloc, reg.path or "/", reg.query) == (
        got.scheme,
        got.netloc,
        got.path or "/",
        got.query,
    ) and not got.fragment:
        return True
    # Loopback: the port is ignored (security.md §1.3, reply-url "localhost exceptions").
    loopback = {"localhost", "127.0.0.1"}
    return (
        reg.scheme == got.scheme == "http"
        and reg.hostname in loopback
        and got.hostname == reg.hostname
        and reg.path == got.path
        and reg.query == got.query
        and not got.fragment
    )


def _any_origin_match(paths: set[str], uri: str) -> bool:
    if not paths:
        return False
    got = urlsplit(uri)
    return (
        got.scheme in ("http", "https")
        and bool(got.hostname)
        and got.path in paths
        and not got.query
        and not got.fragment
    )


# -- scopes and consent --------------------------------------------------------------------


def _parse_scopes(tenant: Tenant, client: ClientRegistration, scope: str) -> tokens.ScopeRequest:
    """Scopes resolved to resources; unknown permissions refused as Entra does."""
    try:
        parsed = tokens.parse_scopes(tenant, scope)
    except tokens.ScopeError as failure:
        raise EntraError(failure.error, failure.code, failure.message) from None
    for item in parsed.scopes:
        if not item.is_default and _canonical_name(item) == "":
            # https://learn.microsoft.com/entra/identity-platform/reference-error-codes
            # (AADSTS650053: a scope that does not exist on the resource).
            raise EntraError(
                "invalid_client",
                650053,
                f"The application '{client.name}' asked for scope '{item.name}' that doesn't "
                f"exist on the resource '{item.app_id}'. Contact the app vendor.",
            )
    return parsed


def _canonical_name(scope: tokens.Scope) -> str:
    """The permission's own spelling (scope names are case-insensitive); "" if unknown."""
    known = (
        _GRAPH_PERMISSIONS if scope.resource == tokens.GRAPH_RESOURCE else (_SHAREPOINT_PERMISSIONS)
    )
    wanted = scope.name.lower()
    return next((name for name in known if name.lower() == wanted), "")


def _missing_consent(tenant: Tenant, user: User, client: ClientRegistration, scope: str) -> bool:
    parsed = tokens.parse_scopes(tenant, scope)
    with tenant.lock:
        granted = tenant.consents.get((user.oid, client.client_id), set())
        return any(s.consent_key not in granted for s in parsed.scopes if not s.is_default)


def _consent_message(client: ClientRegistration) -> str:
    # The AADSTS65001 wording of reference §1.5.
    return (
        f"The user or administrator has not consented to use the application with ID "
        f"'{client.client_id}' named '{client.name}'. Send an interactive authorization "
        "request for this user and resource."
    )


# -- pages, sessions, signed context -------------------------------------------------------


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status)
    response.headers["Content-Security-Policy"] = _PAGE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The browser default, spelled out: the form_post to the app keeps a real Origin header.
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    _no_store(response)
    return response


def _error_page(tenant: Tenant, failure: EntraError) -> Response:
    """Errors Entra shows on its own page instead of redirecting (reference §1.4)."""
    trace = _Trace.new(tenant)
    return _page(
        "emulator/error.html",
        status=failure.status,
        tenant=tenant,
        failure=failure,
        trace=trace,
    )


def _write_page_ctx(tenant: Tenant, ctx: dict[str, Any]) -> str:
    claims = {"typ": "authorize", "ctx": ctx, "exp": int(tenant.clock.time()) + PAGE_LIFETIME}
    key = tokens.signing_key(tenant)
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def _read_page_ctx(tenant: Tenant, value: str) -> dict[str, Any]:
    claims = _verify(tenant, value, "authorize")
    if claims is None or claims["exp"] < tenant.clock.time():
        raise EntraError(
            "invalid_request",
            50058,
            "This sign-in page has expired. Go back to the app and sign in again.",
        )
    ctx: dict[str, Any] = claims["ctx"]
    return ctx


def _new_session(tenant: Tenant, user: User, ctx: dict[str, Any]) -> dict[str, Any]:
    """The emulator's sign-in session after the picker: a full sign-in, which includes
    multifactor authentication when the user's policy requires it or the claims ask for more
    (authentication contexts, Entra's own policy ids)."""
    state = tenant.conditional_access.state(user.oid)
    wanted = _claims_request(ctx["claims"])
    mfa = state.mfa_epoch > 0 or bool(wanted.acrs or wanted.policies)
    return {
        "oid": user.oid,
        "sid": str(uuid.uuid4()),
        "auth_time": int(tenant.clock.time()),
        "gen": state.generation,
        "mfa_epoch": state.mfa_epoch if mfa else None,
        "acrs": sorted(wanted.acrs),
    }


def _read_session(tenant: Tenant) -> dict[str, Any] | None:
    """The emulator's own sign-in session from its cookie, if valid for this tenant and not
    revoked since (conditional_access.py `revoke_sessions`)."""
    claims = _verify(tenant, request.cookies.get(SSO_COOKIE, ""), "session")
    if claims is None:
        return None
    if claims.get("gen", 0) != tenant.conditional_access.state(claims["oid"]).generation:
        return None
    return {
        "oid": claims["oid"],
        "sid": claims["sid"],
        "auth_time": claims["auth_time"],
        "gen": claims.get("gen", 0),
        "mfa_epoch": claims.get("mfa_epoch"),
        "acrs": list(claims.get("acrs", [])),
    }


def _grant_state(session: dict[str, Any]) -> dict[str, Any]:
    """What a code, and the refresh tokens made from it, remember of the sign-in."""
    return {key: session[key] for key in ("gen", "mfa_epoch", "acrs")}


def _claims_request(raw: str | None) -> ClaimsRequest:
    try:
        return ClaimsRequest.parse(raw)
    except (ValueError, TypeError) as exc:
        # Wording UNCONFIRMED.
        raise EntraError(
            "invalid_request", 9002313, "Invalid request. The claims parameter is malformed."
        ) from exc


def _mfa_current(tenant: Tenant, oid: str, mfa_epoch: int | None) -> bool:
    """Whether a sign-in that did MFA at `mfa_epoch` (None: never) meets the user's policy."""
    required = tenant.conditional_access.state(oid).mfa_epoch
    return required == 0 or (mfa_epoch is not None and mfa_epoch >= required)


def _step_up_needed(tenant: Tenant, session: dict[str, Any], ctx: dict[str, Any]) -> bool:
    """Whether an existing session must sign in more strongly before this request."""
    wanted = _claims_request(ctx["claims"])
    return not wanted.acrs <= set(session["acrs"]) or not _mfa_current(
        tenant, session["oid"], session["mfa_epoch"]
    )


def _set_session_cookie(tenant: Tenant, response: BaseResponse, session: dict[str, Any]) -> None:
    key = tokens.signing_key(tenant)
    value = jwt.encode(
        {"typ": "session", "tid": tenant.tenant_id, **session},
        key.private_key,
        algorithm="RS256",
        headers={"kid": key.kid},
    )
    response.set_cookie(
        SSO_COOKIE,
        value,
        path=_cookie_path(),
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )


def _cookie_path() -> str:
    """Under the mount point only, so the cookie never travels to the app itself."""
    return f"{request.script_root}/"


def _verify(tenant: Tenant, value: str, typ: str) -> dict[str, Any] | None:
    if not value:
        return None
    key = tokens.signing_key(tenant)
    try:
        claims: dict[str, Any] = jwt.decode(
            value,
            key.private_key.public_key(),
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False},
        )
    except jwt.PyJWTError:
        return None
    return claims if claims.get("typ") == typ else None


# -- small things --------------------------------------------------------------------------


def _tenant() -> Tenant:
    tenant: Tenant = current_app.extensions["m365_tenant"]
    return tenant


def _check_tenant(tenant: Tenant, tenant_ref: str) -> None:
    """The path's tenant must be the GUID or the domain (reference §1.2 `{tenant}`)."""
    if tenant_ref.lower() not in {tenant.tenant_id.lower(), tenant.domain.lower()}:
        # https://learn.microsoft.com/entra/identity-platform/reference-error-codes (90002).
        raise EntraError(
            "invalid_tenant",
            90002,
            f"Tenant '{tenant_ref}' not found. Check to make sure you have the correct tenant "
            "ID and are signing into the correct cloud.",
        )


def _authorize_client(tenant: Tenant, client_id: str) -> ClientRegistration:
    with tenant.lock:
        client = tenant.clients.get(client_id)
    if client is None:
        raise EntraError(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{tenant.domain}'. This can happen if the application has not been installed by "
            "the administrator of the tenant or consented to by any user in the tenant. You "
            "may have sent your authentication request to the wrong tenant.",
        )
    return client


def _missing(parameter: str) -> EntraError:
    return EntraError(
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{parameter}'.",
    )


def _s256(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding (reference §1.4)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _no_store(response: BaseResponse) -> None:
    # RFC 6749 §5.1: token responses (and pages carrying codes) must not be cached.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
