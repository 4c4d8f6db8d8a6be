"""Sign-in with MSAL (auth-code flow with PKCE) and per-resource tokens, without Flask.

The token cache and the signed-in user live in a `MutableMapping` the caller passes in
(the server-side session), never in a cookie; the token cache is encrypted there
(webapp/sealing.py). MSAL dicts become typed errors here and go
no further (STYLE §3.6). Since msal 1.38 the ID token is not validated by MSAL; we check
signature, audience, issuer, tenant and lifetime ourselves (security.md §0 item 4).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import msal
import requests
from msal.exceptions import MsalServiceError

from webapp.sealing import Sealer
from webapp.settings import Settings

logger = logging.getLogger(__name__)

CACHE_KEY = "auth.token_cache"
USER_KEY = "auth.user"
# Clock skew tolerated on ID-token times (seconds).
LEEWAY = 120
_DISCOVERY_TTL = 3600
# Graph and SharePoint send claims challenges (continuous access evaluation, authentication
# contexts) only to clients that declare this capability; MSAL sends it on every authorize
# and token request (reference §9.2; learn.microsoft.com/entra/identity-platform/
# claims-challenge, "Client capabilities").
CLIENT_CAPABILITIES = ["CP1"]
# How long to ask the user to wait when Entra failed without saying (MSAL's own default
# throttle for a 5xx without Retry-After is 5 s, msal/throttled_http_client.py).
ENTRA_RETRY_AFTER = 5
# Retry-After values beyond this are clamped (MSAL caps its own throttle at an hour).
MAX_ENTRA_RETRY_AFTER = 3600


class SignInError(Exception):
    """The sign-in did not complete; `reason` is a short code the page words for the user."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class InteractionRequiredError(Exception):
    """No token can be had silently; the user must go through sign-in (again).

    `consent` is True when the missing piece is consent for a resource's scopes; `claims`
    is the claims request the sign-in must satisfy (a resource's claims challenge merged
    with the one Entra handed back), None when there is none.
    """

    def __init__(
        self, detail: str = "", *, consent: bool = False, claims: str | None = None
    ) -> None:
        super().__init__(detail or "interaction required")
        self.detail = detail or "interaction_required"
        self.consent = consent
        self.claims = claims


class EntraUnavailableError(Exception):
    """Entra did not answer usefully (no connection, a 5xx, `temporarily_unavailable`), at
    sign-in or at a silent refresh; `retry_after` is the whole seconds to wait."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(f"{detail} (retry after {retry_after} s)")
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedInUser:
    """Who is signed in: identified by `oid` + `tid` (security.md A6), named for display."""

    oid: str
    tid: str
    name: str
    username: str
    home_account_id: str
    signed_in_at: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedInUser:
        return cls(**data)


class _OidcMetadata:
    """The authority's discovery document and signing keys, cached per process."""

    _lock = threading.Lock()
    _cache: dict[str, tuple[float, dict[str, Any]]] = {}

    @classmethod
    def get(cls, http: requests.Session, url: str) -> dict[str, Any]:
        now = time.monotonic()
        with cls._lock:
            hit = cls._cache.get(url)
            if hit is not None and now - hit[0] < _DISCOVERY_TTL:
                return hit[1]
        response = http.get(url, timeout=(3.05, 10), allow_redirects=False)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        with cls._lock:
            cls._cache[url] = (now, document)
        return document

    @classmethod
    def forget(cls, url: str) -> None:
        with cls._lock:
            cls._cache.pop(url, None)


class EntraMemory:
    """What every request's MSAL application in one app shares: MSAL's HTTP cache (discovery
    documents, and the 429/5xx and 400 answers it replays instead of asking Entra again,
    reference §1.8), and how long Entra last asked callers to wait.

    MSAL keys a throttled code redemption by client and scope only (msal/
    throttled_http_client.py: the code is not in the key), so after a 5xx every sign-in of
    this app waits out Entra's Retry-After; the replayed failure's remaining wait is read
    from `remaining()`.
    """

    def __init__(self) -> None:
        self.http_cache: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._until = 0.0

    def record(self, seconds: int) -> None:
        with self._lock:
            self._until = time.time() + seconds

    def remaining(self) -> int:
        with self._lock:
            left = self._until - time.time()
        return min(MAX_ENTRA_RETRY_AFTER, int(left) + 1) if left > 0 else ENTRA_RETRY_AFTER


class _EntraHttp:
    """The HTTP client MSAL talks to Entra through: our session, noting how long a 429/5xx
    asked callers to wait (`wait`, the latest one this request saw)."""

    def __init__(self, http: requests.Session, memory: EntraMemory) -> None:
        self._http = http
        self._memory = memory
        self.wait: int | None = None

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._note(self._http.get(url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._note(self._http.post(url, **kwargs))

    def close(self) -> None:
        """MSAL may close its client; the session is the app's and stays open."""

    def _note(self, response: requests.Response) -> requests.Response:
        if response.status_code == 429 or response.status_code >= 500:
            raw = response.headers.get("Retry-After", "").strip()
            # Entra's Retry-After is whole seconds (msal/throttled_http_client.py).
            seconds = int(raw) if raw.isascii() and raw.isdigit() else ENTRA_RETRY_AFTER
            self.wait = max(1, min(seconds, MAX_ENTRA_RETRY_AFTER))
            self._memory.record(self.wait)
        return response


def merge_claims(*claims: str | None) -> str | None:
    """One claims request asking for everything the given ones ask for (JSON objects merged
    member by member, OpenID Connect Core §5.5); unparseable ones are passed on unmerged."""
    merged: dict[str, Any] = {}
    for raw in claims:
        if not raw:
            continue
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            logger.warning("claims request is not a JSON object; passed on as it is")
            return raw
        merged = _merged(merged, document)
    return json.dumps(merged, separators=(",", ":")) if merged else None


def _merged(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    result = dict(left)
    for key, value in right.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merged(result[key], value)
        else:
            result[key] = value
    return result


class Auth:
    """One request's view of sign-in state, over the caller's session mapping."""

    def __init__(
        self,
        settings: Settings,
        http: requests.Session,
        session: MutableMapping[str, Any],
        memory: EntraMemory,
    ) -> None:
        self.settings = settings
        self.http = http
        self.session = session
        self.memory = memory
        # Refresh tokens are encrypted in the session store (issue 16 item 11).
        self._sealer = Sealer.from_secret(settings.secret_key, "token cache")
        # Upstream calls for one page run on worker threads and share one MSAL application
        # and cache (MSAL's token cache locks itself), so different resources refresh at
        # the same time; this lock guards only building it and writing it back.
        self._lock = threading.Lock()
        self._tokens: (
            tuple[msal.ConfidentialClientApplication, msal.SerializableTokenCache] | None
        ) = None
        self._entra = _EntraHttp(http, memory)

    # -- the MSAL application ----------------------------------------------------------
    def _msal(self) -> tuple[msal.ConfidentialClientApplication, msal.SerializableTokenCache]:
        cache = msal.SerializableTokenCache()
        blob = self._read_cache()
        if blob:
            cache.deserialize(blob)
        try:
            app = msal.ConfidentialClientApplication(
                self.settings.client_id,
                client_credential=self.settings.client_secret,
                authority=self.settings.authority,
                token_cache=cache,
                http_client=self._entra,
                http_cache=self.memory.http_cache,
                # Any https authority works (sovereign clouds, test tenants, our emulator):
                # no call to login.microsoftonline.com's instance discovery (reference §1.3).
                instance_discovery=False,
                client_capabilities=CLIENT_CAPABILITIES,
            )
        except (MsalServiceError, requests.RequestException) as exc:  # discovery failed
            raise self._unavailable(exc) from None
        return app, cache

    def _unavailable(self, exc: Exception) -> EntraUnavailableError:
        """A network error or 5xx from Entra (MSAL raises MsalServiceError for a 5xx from
        its token and discovery endpoints, reference §1.8), as the page's error."""
        logger.warning("Entra unavailable: %s", type(exc).__name__)
        if self._entra.wait is not None:
            wait = self._entra.wait
        elif isinstance(exc, MsalServiceError):  # replayed by MSAL from its HTTP cache
            wait = self.memory.remaining()
        else:  # no answer at all: nothing said how long
            wait = ENTRA_RETRY_AFTER
        return EntraUnavailableError(type(exc).__name__, wait)

    def _save(self, cache: msal.SerializableTokenCache) -> None:
        if cache.has_state_changed:
            sealed = self._sealer.seal(cache.serialize().encode(), CACHE_KEY)
            self.session[CACHE_KEY] = base64.urlsafe_b64encode(sealed).decode("ascii")

    def _read_cache(self) -> str | None:
        """The token cache, decrypted; None when there is none or it does not open (sealed
        under an earlier SECRET_KEY, or written before encryption): sign in again."""
        stored = self.session.get(CACHE_KEY)
        if not isinstance(stored, str) or not stored:
            return None
        try:
            sealed = base64.urlsafe_b64decode(stored)
        except ValueError:
            sealed = b""
        opened = self._sealer.open(sealed, CACHE_KEY)
        if opened is None:
            logger.info("token cache does not open with the current SECRET_KEY: treated as empty")
            return None
        return opened.decode()

    # -- sign-in -----------------------------------------------------------------------
    def start(
        self,
        redirect_uri: str,
        *,
        login_hint: str | None = None,
        prompt: str | None = "select_account",
        claims_challenge: str | None = None,
    ) -> dict[str, Any]:
        """A new auth-code flow (state, nonce, PKCE) for Graph and SharePoint together.

        One consent covers both resources: /authorize accepts scopes of several
        resources (reference §2.2, §2.7). The flow dict is kept server-side by the caller.
        """
        app, _ = self._msal()
        flow: dict[str, Any] = app.initiate_auth_code_flow(
            self.settings.sign_in_scopes,
            redirect_uri=redirect_uri,
            # Our own CSPRNG state even though msal>=1.36 uses secrets (security.md §0.3).
            state=secrets.token_urlsafe(32),
            prompt=prompt,
            login_hint=login_hint,
            response_mode="form_post",
            claims_challenge=claims_challenge,
        )
        return flow

    def complete(self, flow: dict[str, Any], auth_response: dict[str, str]) -> SignedInUser:
        """Redeem the code for a Graph token, validate the ID token, remember the user.

        :raise SignInError: cancelled, refused, state mismatch, or an invalid ID token.
        """
        if auth_response.get("error"):
            raise SignInError(
                _refusal_reason(auth_response), auth_response.get("error_description", "")[:300]
            )
        app, cache = self._msal()
        try:
            # A code is redeemed for one resource only (reference §1.5, §2.3).
            result = app.acquire_token_by_auth_code_flow(
                flow, auth_response, scopes=self.settings.graph_scopes
            )
        except ValueError as exc:  # state missing or mismatched
            raise SignInError("state", str(exc)) from None
        except RuntimeError as exc:  # nonce mismatch
            raise SignInError("id_token", str(exc)) from None
        except (MsalServiceError, requests.RequestException) as exc:
            raise self._unavailable(exc) from None
        if "error" in result:
            if result.get("error") == "temporarily_unavailable":
                raise EntraUnavailableError(_describe(result), ENTRA_RETRY_AFTER)
            raise SignInError("refused", _describe(result))
        try:
            claims = self.validate_id_token(result["id_token"], flow)
        except requests.RequestException as exc:  # discovery or signing keys
            raise self._unavailable(exc) from None
        home_account_id = _home_account_id(result, claims)
        user = SignedInUser(
            oid=claims["oid"],
            tid=claims["tid"],
            name=claims.get("name") or claims.get("preferred_username", ""),
            username=claims.get("preferred_username", ""),
            home_account_id=home_account_id,
            signed_in_at=time.time(),
        )
        self.session[USER_KEY] = user.to_dict()
        self._save(cache)
        return user

    def validate_id_token(self, id_token: str, flow: dict[str, Any]) -> dict[str, Any]:
        """Check signature, aud, iss, tid, exp and nonce; return the claims.

        :raise SignInError: with reason "id_token" when any check fails.
        """
        metadata = self.metadata()
        try:
            header = jwt.get_unverified_header(id_token)
            key = self._signing_key(metadata, header.get("kid"))
            claims = jwt.decode(
                id_token,
                key=key,
                algorithms=["RS256"],
                audience=self.settings.client_id,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "aud", "iss", "tid", "oid"]},
            )
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise SignInError("id_token", str(exc)) from None
        expected_issuer = str(metadata.get("issuer", "")).replace("{tenantid}", claims["tid"])
        if claims["iss"] != expected_issuer:
            raise SignInError("id_token", "issuer does not match the authority")
        tenant = self.settings.tenant_id
        if _looks_like_guid(tenant) and claims["tid"].lower() != tenant.lower():
            raise SignInError("id_token", "token is for another tenant")
        # MSAL compared the nonce already; check again so a future MSAL cannot drop it.
        expected_nonce = hashlib.sha256(flow.get("nonce", "").encode()).hexdigest()
        if claims.get("nonce") != expected_nonce:
            raise SignInError("id_token", "nonce mismatch")
        return claims

    def _signing_key(self, metadata: dict[str, Any], kid: str | None) -> Any:
        jwks_uri = metadata["jwks_uri"]
        for attempt in range(2):
            keys = _OidcMetadata.get(self.http, jwks_uri).get("keys", [])
            for jwk in keys:
                if kid is None or jwk.get("kid") == kid:
                    return jwt.PyJWK.from_dict(jwk).key
            # Keys roll over: fetch once more before giving up.
            if attempt == 0:
                _OidcMetadata.forget(jwks_uri)
        raise ValueError("no signing key matches the token")

    def metadata(self) -> dict[str, Any]:
        """The authority's OIDC discovery document (reference §1.2)."""
        return _OidcMetadata.get(
            self.http, f"{self.settings.authority}/v2.0/.well-known/openid-configuration"
        )

    # -- the signed-in user and their tokens -------------------------------------------
    @property
    def user(self) -> SignedInUser | None:
        data = self.session.get(USER_KEY)
        return SignedInUser.from_dict(data) if data else None

    def access_token(
        self,
        scopes: list[str],
        *,
        force_refresh: bool = False,
        claims_challenge: str | None = None,
    ) -> str:
        """A token for one resource's `scopes`, from the cache or silently refreshed; with
        `claims_challenge` always refreshed with those claims (a resource's challenge).

        :raise InteractionRequiredError: no signed-in user, expired session, missing consent
            (then `consent` is True), or claims only a sign-in can satisfy (`claims`).
        :raise EntraUnavailableError: Entra could not be reached or failed (5xx).
        """
        user = self.user
        if user is None:
            raise InteractionRequiredError("not signed in")
        with self._lock:
            if self._tokens is None:
                self._tokens = self._msal()
            app, cache = self._tokens
        accounts = [
            a for a in app.get_accounts() if a.get("home_account_id") == user.home_account_id
        ]
        if not accounts:
            raise InteractionRequiredError("no account in the token cache")
        try:
            result = app.acquire_token_silent_with_error(
                scopes,
                accounts[0],
                force_refresh=force_refresh,
                claims_challenge=claims_challenge,
            )
        except (MsalServiceError, requests.RequestException) as exc:
            raise self._unavailable(exc) from None
        with self._lock:
            self._save(cache)
        if result is None:
            raise InteractionRequiredError("no refresh token")
        if "access_token" not in result:
            logger.info("silent token failed: %s", _describe(result))
            if result.get("error") == "temporarily_unavailable":
                raise EntraUnavailableError(_describe(result), ENTRA_RETRY_AFTER)
            consent = result.get("suberror") == "consent_required" or 65001 in result.get(
                "error_codes", []
            )
            raise InteractionRequiredError(
                result.get("error", ""),
                consent=consent,
                # Entra may hand back claims of its own (e.g. the policy ids of an MFA
                # requirement, reference §1.6): the sign-in must satisfy both.
                claims=merge_claims(claims_challenge, result.get("claims")),
            )
        token: str = result["access_token"]
        return token

    def sign_out(self, post_logout_redirect_uri: str) -> str:
        """Forget the user and their tokens; return the authority's sign-out URL."""
        self.session.pop(CACHE_KEY, None)
        self.session.pop(USER_KEY, None)
        try:
            end_session = self.metadata().get("end_session_endpoint")
        except requests.RequestException:
            end_session = None
        if not end_session:
            return post_logout_redirect_uri
        query = urlencode({"post_logout_redirect_uri": post_logout_redirect_uri})
        return f"{end_session}{'&' if '?' in end_session else '?'}{query}"

    def authority_origin(self) -> str:
        parts = urlsplit(self.settings.authority)
        return f"{parts.scheme}://{parts.netloc}"


def _home_account_id(result: dict[str, Any], claims: dict[str, Any]) -> str:
    """MSAL's home account id: `uid.utid` from client_info, else oid.tid (reference §1.7)."""
    info = result.get("client_info")
    if info:
        padded = info + "=" * (-len(info) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded))
        return f"{decoded['uid']}.{decoded['utid']}"
    return f"{claims['oid']}.{claims['tid']}"


def _refusal_reason(auth_response: dict[str, str]) -> str:
    """Why Entra sent the user back without a code: cancelled, consent missing (AADSTS65001,
    e.g. admin approval required; reference §1.6), or refused."""
    if auth_response["error"] == "access_denied":
        return "cancelled"
    consent = auth_response["error"] == "consent_required" or auth_response.get(
        "error_description", ""
    ).startswith("AADSTS65001")
    return "consent" if consent else "refused"


def _describe(result: dict[str, Any]) -> str:
    """A log-safe one-liner of an MSAL error dict (no tokens are ever in these)."""
    codes = ",".join(str(c) for c in result.get("error_codes", []))
    return f"{result.get('error')} {codes}".strip()


def _looks_like_guid(value: str) -> bool:
    parts = value.split("-")
    return len(parts) == 5 and [len(p) for p in parts] == [8, 4, 4, 4, 12]
