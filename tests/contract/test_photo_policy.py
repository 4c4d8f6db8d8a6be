"""The tenant's photo policy (reference §9.1): photoUpdateSettings on Graph beta and the 403 a
blocked photo change gets from `/me/photo/$value`."""

from __future__ import annotations

import pytest

from m365_emulator.tenant import GLOBAL_ADMINISTRATOR, PEOPLE_ADMINISTRATOR
from m365_emulator.tokens import GRAPH_RESOURCE
from tests.support.images import make_image

PHOTO = "/me/photo/$value"
SETTINGS = "/admin/people/photoUpdateSettings"
READ = ("PeopleSettings.Read.All",)
WRITE = ("PeopleSettings.ReadWrite.All",)


def beta(m365, method: str, path: str, user: str, scopes, **kwargs):  # type: ignore[no-untyped-def]
    token = m365.token(user, GRAPH_RESOURCE, scopes)
    return m365.client.open(
        "/beta" + path,
        method=method,
        base_url=m365.tenant.origins.graph,
        headers={"Authorization": f"Bearer {token}"},
        **kwargs,
    )


def upload(m365, user: str, method: str = "PUT"):  # type: ignore[no-untyped-def]
    return m365.graph(
        method, PHOTO, user, data=make_image("JPEG", (300, 300)), content_type="image/jpeg"
    )


def assert_refused(response, code: str = "ErrorAccessDenied") -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403, response.data
    error = response.json["error"]
    assert error["code"] == code
    assert "ProfileAccessDeniedException" in error["message"]
    assert error["innerError"]["request-id"] == response.headers["request-id"]


# -- refused photo changes -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_user_the_policy_blocks_cannot_change_the_photo_and_nothing_changes(m365, method):
    before = m365.user("photo-blocked").photo
    if method == "DELETE":
        response = m365.graph("DELETE", PHOTO, "photo-blocked")
    else:
        response = upload(m365, "photo-blocked", method)
    assert_refused(response)
    assert m365.user("photo-blocked").photo is before
    assert m365.graph("GET", PHOTO, "photo-blocked").status_code == 200  # reading still works


def test_on_premises_photos_block_cloud_changes_for_everyone_admins_included(m365):
    m365.tenant.photo_update_settings.source = "onPremises"
    m365.user("in-sync").roles.append(GLOBAL_ADMINISTRATOR)
    assert_refused(upload(m365, "in-sync"))


def test_allowed_roles_let_only_holders_of_those_roles_change_photos(m365):
    m365.tenant.photo_update_settings.allowed_roles = [PEOPLE_ADMINISTRATOR]
    assert_refused(upload(m365, "in-sync"))
    m365.user("in-sync").roles.append(PEOPLE_ADMINISTRATOR)
    assert upload(m365, "in-sync").status_code == 200


def test_the_refusal_code_can_be_scripted(m365):
    m365.user("photo-blocked").photo_policy.refusal_code = "ForbiddenByPolicy"
    assert_refused(upload(m365, "photo-blocked"), "ForbiddenByPolicy")


def test_users_of_an_open_tenant_change_photos_as_before(m365):
    assert m365.tenant.photo_update_settings.allows(m365.user("in-sync"))
    assert upload(m365, "in-sync").status_code == 200


# -- GET/PATCH /beta/admin/people/photoUpdateSettings --------------------------------------


def test_an_ordinary_user_cannot_read_the_settings_even_with_the_permission(m365):
    for scopes in (READ, ("User.Read",)):
        refused = beta(m365, "GET", SETTINGS, "in-sync", scopes)
        assert refused.status_code == 403
        assert refused.json["error"]["code"] == "Authorization_RequestDenied"


def test_a_people_administrator_reads_and_changes_the_settings(m365):
    m365.user("in-sync").roles.append(PEOPLE_ADMINISTRATOR)
    current = beta(m365, "GET", SETTINGS, "in-sync", READ)
    assert current.status_code == 200
    assert (current.json["source"], current.json["allowedRoles"]) == ("cloud", [])
    assert current.json["@odata.context"].endswith(
        "/beta/$metadata#admin/people/photoUpdateSettings/$entity"
    )

    assert (
        beta(m365, "PATCH", SETTINGS, "in-sync", READ, json={"source": "cloud"}).status_code == 403
    )
    # The concept article's spelling: lower-case path, "onpremises", allowedRoles null.
    changed = beta(
        m365,
        "PATCH",
        SETTINGS.lower(),
        "in-sync",
        WRITE,
        json={"source": "onpremises", "allowedRoles": None},
    )
    assert changed.status_code == 200
    assert (changed.json["source"], changed.json["allowedRoles"]) == ("onPremises", [])
    assert_refused(upload(m365, "stale-photo"))  # applies at once in the emulator

    roles = [f" {PEOPLE_ADMINISTRATOR}"]  # the article's example has a stray space
    reopened = beta(
        m365, "PATCH", SETTINGS, "in-sync", WRITE, json={"source": "cloud", "allowedRoles": roles}
    )
    assert reopened.json["allowedRoles"] == [PEOPLE_ADMINISTRATOR]
    assert upload(m365, "in-sync").status_code == 200
    assert_refused(upload(m365, "stale-photo"))


@pytest.mark.parametrize(
    "body", [{"source": "sideways"}, {"allowedRoles": "all"}, {"colour": "red"}, {}]
)
def test_invalid_settings_are_refused_and_nothing_changes(m365, body):
    m365.user("in-sync").roles.append(GLOBAL_ADMINISTRATOR)
    response = beta(m365, "PATCH", SETTINGS, "in-sync", WRITE, json=body)
    assert (response.status_code, response.json["error"]["code"]) == (400, "BadRequest")
    assert m365.tenant.photo_update_settings.source == "cloud"
    assert m365.tenant.photo_update_settings.allowed_roles == []
