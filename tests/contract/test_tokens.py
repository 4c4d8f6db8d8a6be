"""Contract of tokens.py: what the Graph and SharePoint emulators rely on when checking bearers."""

import jwt
import pytest

from m365_emulator.tenant import Origins, Tenant, User
from m365_emulator.tokens import (
    GRAPH_RESOURCE,
    BearerError,
    BearerProblem,
    ScopeError,
    issue_access_token,
    jwks,
    parse_scopes,
    require_bearer,
)

ORIGIN = "https://127.0.0.1:8443"


@pytest.fixture
def tenant_and_user() -> tuple[Tenant, User]:
    tenant = Tenant(Origins.single(ORIGIN))
    user = tenant.add_user(User("t", "oid-1", "adele@contoso.test", {"displayName": "Adele"}, "x"))
    return tenant, user


def test_graph_token_is_accepted_with_its_claims(tenant_and_user):
    tenant, user = tenant_and_user
    token = issue_access_token(tenant, user, "app", GRAPH_RESOURCE, ["User.Read", "User.ReadWrite"])
    claims = require_bearer(tenant, f"Bearer {token}", {GRAPH_RESOURCE}, {"user.readwrite"})
    assert (claims.oid, claims.tid, claims.upn, claims.app_id) == (
        "oid-1",
        tenant.tenant_id,
        "adele@contoso.test",
        "app",
    )
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["iss"] == f"https://sts.windows.net/{tenant.tenant_id}/"
    assert raw["scp"] == "User.Read User.ReadWrite"
    assert jwt.get_unverified_header(token)["kid"] == jwks(tenant)["keys"][0]["kid"]


@pytest.mark.parametrize(
    ("header", "audiences", "scopes", "advance", "status", "reason"),
    [
        (None, {GRAPH_RESOURCE}, {"User.Read"}, 0, 401, BearerProblem.MISSING),
        ("Bearer abc.def.ghi", {GRAPH_RESOURCE}, {"User.Read"}, 0, 401, BearerProblem.INVALID),
        ("ok", {GRAPH_RESOURCE}, {"User.Read"}, 3601, 401, BearerProblem.EXPIRED),
        ("ok", {ORIGIN}, {"User.Read"}, 0, 401, BearerProblem.AUDIENCE),
        ("ok", {GRAPH_RESOURCE}, {"User.ReadWrite"}, 0, 403, BearerProblem.SCOPE),
    ],
)
def test_bad_bearers_are_refused_with_a_reason(
    tenant_and_user, header, audiences, scopes, advance, status, reason
):
    tenant, user = tenant_and_user
    if header == "ok":
        header = "Bearer " + issue_access_token(tenant, user, "app", GRAPH_RESOURCE, ["User.Read"])
    tenant.clock.advance(advance)
    with pytest.raises(BearerError) as refused:
        require_bearer(tenant, header, audiences, scopes)
    assert (refused.value.status, refused.value.reason) == (status, reason)


def test_token_signed_by_another_tenant_is_invalid(tenant_and_user):
    tenant, user = tenant_and_user
    token = issue_access_token(Tenant(Origins.single(ORIGIN)), user, "a", GRAPH_RESOURCE, ["x"])
    with pytest.raises(BearerError) as refused:
        require_bearer(tenant, f"Bearer {token}", {GRAPH_RESOURCE}, {"x"})
    assert refused.value.reason == BearerProblem.INVALID


def test_scopes_resolve_to_graph_or_the_sharepoint_origin(tenant_and_user):
    tenant, _ = tenant_and_user
    parsed = parse_scopes(tenant, f"User.Read {ORIGIN}/AllSites.Read openid profile offline_access")
    assert parsed.resources == [GRAPH_RESOURCE, ORIGIN]
    assert parse_scopes(tenant, "https://graph.microsoft.com/.default").scopes[0].is_default
    with pytest.raises(ScopeError) as unknown:
        parse_scopes(tenant, "https://fabrikam.sharepoint.com/AllSites.Read")
    assert (unknown.value.error, unknown.value.code) == ("invalid_resource", 500011)
