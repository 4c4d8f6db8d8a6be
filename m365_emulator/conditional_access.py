"""Conditional Access as Graph, SharePoint and the token endpoint enforce it: authentication
context step-ups and continuous access evaluation (CAE), both answered with claims challenges.

Microsoft's rules (reference §9.2):
* Resources send claims challenges only to clients that declared the `cp1` capability; MSAL
  sends it as `claims={"access_token":{"xms_cc":{"values":["CP1"]}}}` on authorize and token
  requests, and such tokens carry `xms_cc` (learn.microsoft.com/entra/identity-platform/
  claims-challenge, "Client capabilities"; msal/application.py
  `_merge_claims_challenge_and_capabilities`).
* CAE: after a critical event (sessions revoked, MFA enabled, ...) or a location change, a
  CAE-capable token issued before it is refused with a challenge for `nbf`
  (…/app-resilience-continuous-access-evaluation). Clients without `cp1` get no CAE session:
  their tokens live the default hour and are not revoked early; the event reaches them at
  their next refresh (…/identity/conditional-access/concept-continuous-access-evaluation,
  "Token lifetime": up to 28 hours for CAE sessions, 1 hour otherwise).
* Authentication context: a resource that demands context `cN` challenges a token whose
  `acrs` lacks it; a client that is not capable gets a plain refusal instead
  (…/developer-guide-conditional-access-authentication-context, `CheckForRequiredAuthContext`
  and the client-capabilities note). Which Microsoft resources demand contexts for which calls
  is a tenant choice; the emulator lets a test say it (`require_context`).
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from m365_emulator.tenant import Clock

CAPABILITY = "cp1"
# The id of the emulated tenant's "require multifactor authentication" policy, handed to the
# client in `polids` claims when the token endpoint asks for interaction (the shape of the
# on-behalf-of article's AADSTS50079 example).
MFA_POLICY_ID = "9ab03e19-ed42-4168-b6b7-7001fb3e933a"


class CaeEvent(StrEnum):
    """Why a resource refuses a CAE token, as the code in Graph's challenge names it (Azure SDK
    tests and az CLI reports quote "Continuous access evaluation resulted in challenge with
    result: InteractionRequired and code: …" with these codes)."""

    SESSIONS_REVOKED = "TokenIssuedBeforeRevocationTimestamp"
    LOCATION_CHANGED = "LocationConditionEvaluationSatisfied"
    POLICY_CHANGED = "TokenCreatedWithOutdatedPolicies"


@dataclass(frozen=True)
class ClaimsRequest:
    """The `claims` parameter of an authorize or token request, as far as Entra acts on it."""

    capable: bool = False  # access_token.xms_cc lists cp1 (values are case-insensitive)
    acrs: frozenset[str] = frozenset()  # authentication contexts asked for
    not_before: int | None = None  # access_token.nbf: issue no token older than this
    policies: frozenset[str] = frozenset()  # access_token.polids handed back by the client

    @classmethod
    def parse(cls, raw: str | None) -> ClaimsRequest:
        """`ValueError` when `raw` is not a JSON claims request."""
        if not raw:
            return cls()
        document = json.loads(raw)
        if not isinstance(document, dict):
            raise ValueError("claims must be a JSON object")
        access = document.get("access_token") or {}
        if not isinstance(access, dict):
            raise ValueError("claims.access_token must be an object")
        capabilities = _values(access.get("xms_cc"))
        nbf = _values(access.get("nbf"))
        return cls(
            capable=CAPABILITY in {c.lower() for c in capabilities},
            acrs=frozenset(_values(access.get("acrs"))),
            not_before=int(nbf[0]) if nbf else None,
            policies=frozenset(_values(access.get("polids"))),
        )


def _values(request: Any) -> list[str]:
    """The `value`/`values` of one OIDC claim request (OpenID Connect Core §5.5.1)."""
    if request is None:
        return []
    if not isinstance(request, dict):
        raise ValueError("a claim request must be an object")
    if "values" in request:
        values = request["values"]
        values = values if isinstance(values, list) else [values]
    elif "value" in request:
        values = [request["value"]]
    else:
        values = []
    return [str(v) for v in values]


class ClaimsChallengeError(Exception):
    """A token a resource refuses with 401 and a claims challenge the client can satisfy."""

    def __init__(self, claims: str, description: str, authentication_context: bool) -> None:
        super().__init__(description)
        self.claims = claims
        self.description = description
        self.authentication_context = authentication_context

    def www_authenticate(self, login_origin: str, resource_app_id: str) -> str:
        """The header in the claims-challenge article's format (`realm=""` with the common
        authorize URI), plus `client_id` and `error_description` as Graph's CAE challenges
        carry them and `cc_type` as Microsoft's auth-context sample adds it."""
        encoded = base64.b64encode(self.claims.encode()).decode("ascii")
        header = (
            f'Bearer realm="", authorization_uri="{login_origin}/common/oauth2/authorize", '
            f'client_id="{resource_app_id}", error_description="{self.description}", '
            f'error="insufficient_claims", claims="{encoded}"'
        )
        return header + (', cc_type="authcontext"' if self.authentication_context else "")


class ContextRefusedError(Exception):
    """A token without a required authentication context, from a client that cannot take a
    challenge: refused outright (the developer guide's "caller does not meet the
    authentication bar")."""


@dataclass(frozen=True)
class ContextRule:
    """A resource ("graph" or "sharepoint") demanding an authentication context."""

    service: str
    context_id: str
    user_oid: str | None = None  # only for this user's calls (None: everyone's)


@dataclass(frozen=True)
class UserState:
    """What Entra and the resources know about one user's sign-ins."""

    # Bumped when the user's sessions are revoked: older sessions, codes and refresh tokens
    # stop working (Entra's "TokensValidFrom", AADSTS50173).
    generation: int = 0
    # Bumped when multifactor authentication becomes required: a grant that did MFA at an
    # older epoch (or never) must do it again (AADSTS50076).
    mfa_epoch: int = 0
    # The latest critical event; CAE tokens issued before `not_before` are challenged.
    event: CaeEvent | None = None
    not_before: int = 0


@dataclass
class ConditionalAccess:
    """The tenant's Conditional Access state; safe to change while requests are served."""

    clock: Clock
    _rules: list[ContextRule] = field(default_factory=list)
    _users: dict[str, UserState] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._users.clear()

    # -- what a test or the demo seed says ---------------------------------------------------
    def require_context(
        self, service: str, context_id: str, *, user_oid: str | None = None
    ) -> None:
        """`service` demands authentication context `context_id` (for one user, or all)."""
        with self._lock:
            self._rules.append(ContextRule(service, context_id, user_oid))

    def revoke_sessions(self, oid: str) -> None:
        """An admin revokes the user's sessions (critical event; refresh tokens die too)."""
        self._event(oid, CaeEvent.SESSIONS_REVOKED, new_generation=True)

    def change_location(self, oid: str) -> None:
        """The user's calls arrive from outside an allowed location (resources re-check)."""
        self._event(oid, CaeEvent.LOCATION_CHANGED)

    def require_mfa(self, oid: str) -> None:
        """Multifactor authentication becomes required for the user (critical event)."""
        self._event(oid, CaeEvent.POLICY_CHANGED, new_mfa_epoch=True)

    def state(self, oid: str) -> UserState:
        with self._lock:
            return self._users.get(oid, UserState())

    # -- what the resources do -----------------------------------------------------------------
    def check(self, service: str, claims: dict[str, Any]) -> None:
        """Raise `ClaimsChallengeError` or `ContextRefusedError` if `service` refuses the token."""
        capable = CAPABILITY in {str(c).lower() for c in claims.get("xms_cc") or []}
        state = self.state(str(claims["oid"]))
        if capable and state.event is not None and int(claims["iat"]) < state.not_before:
            raise ClaimsChallengeError(
                # Microsoft's own spelling, a space after the comma included.
                f'{{"access_token":{{"nbf":{{"essential":true, "value":"{state.not_before}"}}}}}}',
                "Continuous access evaluation resulted in challenge with result: "
                f"InteractionRequired and code: {state.event}",
                authentication_context=False,
            )
        held = set(claims.get("acrs") or [])
        with self._lock:
            rules = [
                r
                for r in self._rules
                if r.service == service and r.user_oid in (None, claims["oid"])
            ]
        for rule in rules:
            if rule.context_id in held:
                continue
            if not capable:
                raise ContextRefusedError(rule.context_id)
            raise ClaimsChallengeError(
                json.dumps(
                    {"access_token": {"acrs": {"essential": True, "value": rule.context_id}}},
                    separators=(",", ":"),
                ),
                "The presented access tokens had insufficient claims. Please request for claims "
                "requested in the WWW-Authentication header and try again.",
                authentication_context=True,
            )

    def _event(
        self,
        oid: str,
        event: CaeEvent,
        *,
        new_generation: bool = False,
        new_mfa_epoch: bool = False,
    ) -> None:
        # Whole seconds, one past now: a token issued in this very second is already "before".
        not_before = int(self.clock.time()) + 1
        with self._lock:
            state = self._users.get(oid, UserState())
            self._users[oid] = replace(
                state,
                generation=state.generation + int(new_generation),
                mfa_epoch=state.mfa_epoch + int(new_mfa_epoch),
                event=event,
                not_before=max(state.not_before, not_before),
            )
