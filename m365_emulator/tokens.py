"""Issues and checks the tenant's RS256-signed tokens and resolves scopes to resources.

One RSA key per `Tenant` signs everything; `jwks()` publishes it. ID tokens are v2.0 tokens for
the app (reference §1.7); access tokens are v1-style JWTs whose audience is the resource (Graph
or the SharePoint origin) and whose `scp` lists short scope names (reference §1.5, §4.9). The
Graph and SharePoint blueprints call `require_bearer` and turn a `BearerError` into their own
error bodies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

if TYPE_CHECKING:
    from m365_emulator.tenant import Tenant, User

# Audience of Graph access tokens, whatever host the emulated Graph is reached on (reference §3).
GRAPH_RESOURCE = "https://graph.microsoft.com"
# Application ids of the two resources (reference §4.9 [S49]; Graph's is Microsoft's
# well-known id, https://learn.microsoft.com/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in).
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
SHAREPOINT_APP_ID = "00000003-0000-0ff1-ce00-000000000000"
# Scopes that name no resource: the OIDC ones MSAL always adds (reference §1.4) plus `email`.
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with its JWK key id (the RFC 7638 thumbprint)."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        canonical = json.dumps(
            {k: public[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True
        )
        kid = _b64url(hashlib.sha256(canonical.encode()).digest())
        return cls(kid=kid, private_key=private_key)

    def jwk(self) -> dict[str, Any]:
        """The public key as Entra publishes it in its JWKS (reference §1.2 `jwks_uri`)."""
        public = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "n": public["n"], "e": public["e"]}


def signing_key(tenant: Tenant) -> SigningKey:
    """The tenant's signing key, generated on first use and kept on `tenant.signing_key`."""
    with tenant.lock:
        key = tenant.signing_key
        if not isinstance(key, SigningKey):
            key = SigningKey.generate()
            tenant.signing_key = key
        return key


def jwks(tenant: Tenant) -> dict[str, Any]:
    """The JWKS document served at `/{tenant}/discovery/v2.0/keys`."""
    return {"keys": [signing_key(tenant).jwk()]}


def id_token_issuer(tenant: Tenant) -> str:
    """The v2.0 issuer: the discovery document's `issuer` (reference §1.2, §1.7)."""
    return f"{tenant.origins.login}/{tenant.tenant_id}/v2.0"


def access_token_issuer(tenant: Tenant) -> str:
    """The v1 issuer Graph and SharePoint access tokens carry (reference §1.5 `access_token`)."""
    return f"https://sts.windows.net/{tenant.tenant_id}/"


def issue_id_token(
    tenant: Tenant,
    user: User,
    client_id: str,
    nonce: str | None,
    *,
    auth_time: int | None = None,
) -> str:
    """An ID token for `client_id`; `tenant.id_token_tamper` overrides claims (test switch)."""
    now = int(tenant.clock.time())
    claims: dict[str, Any] = {
        # Claims per reference §1.7.
        "aud": client_id,
        "iss": id_token_issuer(tenant),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "name": str(user.directory.get("displayName", user.upn)),
        "oid": user.oid,
        "preferred_username": user.upn,
        "sub": _pairwise_subject(user.oid, client_id),
        "tid": tenant.tenant_id,
        "uti": uuid.uuid4().hex,
        "ver": "2.0",
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if auth_time is not None:
        claims["auth_time"] = auth_time
    with tenant.lock:
        tamper = dict(tenant.id_token_tamper)
    for name, value in tamper.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return _sign(tenant, claims)


def issue_access_token(
    tenant: Tenant,
    user: User,
    client_id: str,
    resource: str,
    scopes: list[str],
    *,
    claims: Mapping[str, Any] | None = None,
    lifetime: float | None = None,
    not_before: int = 0,
) -> str:
    """A v1-style access token for `resource` with `scp` = the short `scopes` names.

    `claims` adds or overrides claims (`xms_cc`, `acrs`, `amr`); `lifetime` defaults to the
    tenant's; the token is dated no earlier than `not_before` (a CAE `nbf` demand).
    """
    now = max(int(tenant.clock.time()), not_before)
    lifetime = tenant.access_token_lifetime if lifetime is None else lifetime
    payload: dict[str, Any] = {
        "aud": resource,
        "iss": access_token_issuer(tenant),
        "iat": now,
        "nbf": now,
        "exp": now + int(lifetime),
        "acr": "1",
        "amr": ["pwd"],
        "appid": client_id,
        "appidacr": "1",
        "idtyp": "user",
        "name": str(user.directory.get("displayName", user.upn)),
        "oid": user.oid,
        "scp": " ".join(scopes),
        "sub": _pairwise_subject(user.oid, resource),
        "tid": tenant.tenant_id,
        "unique_name": user.upn,
        "upn": user.upn,
        "uti": uuid.uuid4().hex,
        "ver": "1.0",
    }
    payload.update(claims or {})
    return _sign(tenant, payload)


class BearerProblem(StrEnum):
    """Why a bearer token was refused; the services map these to their own error codes."""

    MISSING = "missing_token"
    INVALID = "invalid_token"  # malformed, bad signature, wrong issuer
    EXPIRED = "expired_token"
    AUDIENCE = "wrong_audience"
    SCOPE = "insufficient_scope"


class BearerError(Exception):
    """A refused bearer token: `status` is 401, or 403 for a valid token lacking scopes."""

    def __init__(self, status: int, reason: BearerProblem, detail: str = "") -> None:
        super().__init__(f"{status} {reason}: {detail}" if detail else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class AccessClaims:
    """The verified claims of an access token."""

    oid: str
    tid: str
    upn: str
    audience: str
    app_id: str
    scopes: frozenset[str]
    expires_at: int
    raw: dict[str, Any] = field(repr=False)


def require_bearer(
    tenant: Tenant,
    authorization_header: str | None,
    audiences: set[str],
    any_of_scopes: set[str],
) -> AccessClaims:
    """The token's claims if it is this tenant's, unexpired, for one of `audiences` and
    carries at least one of `any_of_scopes` (compared case-insensitively); else `BearerError`.
    """
    if not authorization_header:
        raise BearerError(401, BearerProblem.MISSING)
    scheme, _, token = authorization_header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise BearerError(401, BearerProblem.MISSING, "no Bearer token in Authorization")
    key = signing_key(tenant)
    try:
        header = jwt.get_unverified_header(token)
        if header.get("kid") != key.kid:
            raise BearerError(401, BearerProblem.INVALID, "unknown signing key")
        # Time claims are checked below against the tenant's (movable) clock.
        claims = jwt.decode(
            token,
            key.private_key.public_key(),
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,  # checked below, to tell a wrong audience apart
                "require": ["exp", "nbf", "aud", "oid", "tid"],
            },
            issuer=access_token_issuer(tenant),
            leeway=0,
        )
    except jwt.PyJWTError as exc:
        raise BearerError(401, BearerProblem.INVALID, type(exc).__name__) from exc
    now = tenant.clock.time()
    if claims["nbf"] > now + 300 or claims["exp"] <= now:
        raise BearerError(401, BearerProblem.EXPIRED)
    if claims["aud"] not in audiences:
        raise BearerError(401, BearerProblem.AUDIENCE, str(claims["aud"]))
    granted = frozenset(str(claims.get("scp", "")).split())
    wanted = {s.lower() for s in any_of_scopes}
    if not {s.lower() for s in granted} & wanted:
        raise BearerError(403, BearerProblem.SCOPE, " ".join(sorted(granted)))
    return AccessClaims(
        oid=claims["oid"],
        tid=claims["tid"],
        upn=str(claims.get("upn", "")),
        audience=claims["aud"],
        app_id=str(claims.get("appid", "")),
        scopes=granted,
        expires_at=int(claims["exp"]),
        raw=claims,
    )


# -- scopes and resources ------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """One resource scope of a request: its audience, short name and the client's spelling."""

    resource: str  # the token audience: GRAPH_RESOURCE or a SharePoint origin
    name: str  # short name, e.g. "User.Read", "AllSites.Read", ".default"
    spelling: str  # exactly as the client wrote it (echoed in the token response)

    @property
    def app_id(self) -> str:
        return GRAPH_APP_ID if self.resource == GRAPH_RESOURCE else SHAREPOINT_APP_ID

    @property
    def consent_key(self) -> str:
        """How a consent to this scope is stored in `tenant.consents` (case-insensitive)."""
        return f"{self.app_id}/{self.name.lower()}"

    @property
    def is_default(self) -> bool:
        return self.name.lower() == ".default"


@dataclass(frozen=True)
class ScopeRequest:
    """A parsed `scope` parameter: resource scopes in request order plus the OIDC scopes."""

    scopes: tuple[Scope, ...]
    oidc: frozenset[str]

    @property
    def resources(self) -> list[str]:
        """Distinct audiences named, in the order they first appear."""
        return list(dict.fromkeys(s.resource for s in self.scopes))


class ScopeError(Exception):
    """A scope string Entra would refuse: `error` and AADSTS `code` as Entra answers."""

    def __init__(self, error: str, code: int, message: str) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.error = error
        self.code = code
        self.message = message


def parse_scopes(tenant: Tenant, scope: str) -> ScopeRequest:
    """Resolve each space-separated scope to its resource; `ScopeError` for unknown ones.

    Short names and `https://graph.microsoft.com/X` mean Graph; `https://<origin>/X` must be the
    tenant's SharePoint or My Site origin (reference §4.9), else AADSTS500011 as Entra answers
    an unknown resource (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
    """
    resources: list[Scope] = []
    oidc: set[str] = set()
    sharepoint = {tenant.origins.sharepoint.lower(), tenant.origins.mysite.lower()}
    for spelling in scope.split():
        if spelling.lower() in OIDC_SCOPES:
            oidc.add(spelling.lower())
            continue
        if "://" not in spelling and "/" in spelling:
            # The app-id form, e.g. 00000003-0000-0000-c000-000000000000/User.Read.
            app, _, name = spelling.partition("/")
            if app.lower() != GRAPH_APP_ID or not name:
                raise _unknown_resource(tenant, app)
            resources.append(Scope(GRAPH_RESOURCE, name, spelling))
            continue
        if "://" not in spelling:
            resources.append(Scope(GRAPH_RESOURCE, spelling, spelling))
            continue
        origin, slash, name = spelling.rpartition("/")
        if not slash or not name or origin.count("/") != 2:
            raise ScopeError(
                "invalid_scope", 70011, f"The provided value for scope {spelling} is not valid."
            )
        if origin.lower() == GRAPH_RESOURCE:
            resources.append(Scope(GRAPH_RESOURCE, name, spelling))
        elif origin.lower() in sharepoint:
            canonical = next(
                o
                for o in (tenant.origins.sharepoint, tenant.origins.mysite)
                if o.lower() == origin.lower()
            )
            resources.append(Scope(canonical, name, spelling))
        else:
            raise _unknown_resource(tenant, origin)
    return ScopeRequest(tuple(resources), frozenset(oidc))


def _unknown_resource(tenant: Tenant, resource: str) -> ScopeError:
    return ScopeError(
        "invalid_resource",
        500011,
        f"The resource principal named {resource} was not found in the tenant named "
        f"{tenant.domain}. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You might have "
        "sent your authentication request to the wrong tenant.",
    )


# -- helpers -------------------------------------------------------------------------------


def _sign(tenant: Tenant, claims: dict[str, Any]) -> str:
    key = signing_key(tenant)
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def _pairwise_subject(oid: str, audience: str) -> str:
    """A stable per-(user, audience) subject, as Entra's pairwise `sub` (reference §1.7)."""
    return _b64url(hashlib.sha256(f"{oid}|{audience}".encode()).digest())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
