"""The emulator's rules for editing one's own profile, as the profile page relies on them
(reference §8.1, §8.2, §8.5, §5.5): which fields a member may change, the own-request rule and
its error, 403 for organisation-owned fields, `$select`-only fields, the on-premises-synced
user's read-only phone, and both sides reading the same SharePoint-backed store."""

from __future__ import annotations

import pytest

from tests.support.m365 import assert_graph_error

SPO_BACKED = "aboutMe,birthday,interests,pastProjects,responsibilities,schools,skills"


def selected(m365, user: str, fields: str) -> dict:  # type: ignore[no-untyped-def]
    response = m365.graph("GET", f"/me?$select={fields}", user)
    assert response.status_code == 200, response.data
    return response.json


# -- which fields a member may change ------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"aboutMe": "Payroll systems, Python."},
        {"skills": ["Python", "SQL"]},
        {"interests": ["Cycling"]},
        {"pastProjects": ["Spring launch"]},
        {"responsibilities": ["Onboarding"]},
        {"schools": ["Aarhus University"]},
        {"birthday": "1990-05-17T00:00:00Z"},
        {"mobilePhone": "+45 20 12 34 56"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_member_may_change_each_field_the_page_offers(m365, change) -> None:  # type: ignore[no-untyped-def]
    assert m365.graph("PATCH", "/me", "half-profile", json=change).status_code == 204
    name, value = next(iter(change.items()))
    assert selected(m365, "half-profile", name)[name] == value


@pytest.mark.parametrize(
    "change",
    [
        {"displayName": "Hannah B."},
        {"jobTitle": "Head of HR"},
        {"department": "People"},
        {"officeLocation": "1/001"},
        {"businessPhones": ["+45 70 00 00 00"]},
        {"companyName": "Fabrikam"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_organisation_owned_fields_are_403_and_stay_as_they_were(m365, change) -> None:  # type: ignore[no-untyped-def]
    name = next(iter(change))
    before = selected(m365, "half-profile", name)[name]
    response = m365.graph("PATCH", "/me", "half-profile", json=change)
    error = assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert error["message"] == "Insufficient privileges to complete the operation."
    assert selected(m365, "half-profile", name)[name] == before


# -- the own-request rule ------------------------------------------------------------------------


def test_sharepoint_backed_fields_with_the_phone_in_one_request_are_refused_whole(m365) -> None:  # type: ignore[no-untyped-def]
    before = selected(m365, "half-profile", "aboutMe,mobilePhone")
    response = m365.graph(
        "PATCH", "/me", "half-profile", json={"aboutMe": "New", "mobilePhone": "+45 20 12 34 56"}
    )
    error = assert_graph_error(response, 400, "BadRequest")
    assert error["message"] == "The request is currently not supported on the targeted entity set"
    assert selected(m365, "half-profile", "aboutMe,mobilePhone") == before


def test_several_sharepoint_backed_fields_share_one_request(m365) -> None:  # type: ignore[no-untyped-def]
    # Grouping is UNCONFIRMED at Microsoft (§8.2); the emulator allows it, the app also copes
    # with a 400 by sending one field per request (§8.7, tests/integration/test_profile.py).
    change = {"aboutMe": "Both", "skills": ["A"], "schools": ["B"]}
    assert m365.graph("PATCH", "/me", "half-profile", json=change).status_code == 204
    body = selected(m365, "half-profile", "aboutMe,skills,schools")
    assert {name: body[name] for name in change} == change


def test_lists_are_replaced_whole_and_null_clears(m365) -> None:  # type: ignore[no-untyped-def]
    assert (
        m365.graph("PATCH", "/me", "half-profile", json={"skills": ["Payroll"]}).status_code == 204
    )
    assert selected(m365, "half-profile", "skills")["skills"] == ["Payroll"]
    clear = {"aboutMe": None, "skills": [], "birthday": None}
    assert m365.graph("PATCH", "/me", "half-profile", json=clear).status_code == 204
    body = selected(m365, "half-profile", "aboutMe,skills,birthday")
    assert body["aboutMe"] is None
    assert body["skills"] == []
    assert body["birthday"] == "0001-01-01T00:00:00Z"  # unset, as the app reads it


# -- $select-only fields -------------------------------------------------------------------------


def test_sharepoint_backed_fields_are_returned_only_on_select(m365) -> None:  # type: ignore[no-untyped-def]
    plain = m365.graph("GET", "/me", "half-profile").json
    assert not set(SPO_BACKED.split(",")) & plain.keys()
    assert "mobilePhone" in plain
    body = selected(m365, "half-profile", SPO_BACKED + ",mobilePhone,companyName")
    assert body["aboutMe"].startswith("HR partner")
    assert body["skills"] == ["Onboarding", "Employment law"]
    assert body["companyName"] == "Contoso"


# -- the on-premises-synced user ------------------------------------------------------------------


def test_synced_users_phone_is_read_only_and_their_own_fields_stay_editable(m365) -> None:  # type: ignore[no-untyped-def]
    before = selected(m365, "synced-onprem", "mobilePhone,onPremisesSyncEnabled")
    assert before["onPremisesSyncEnabled"] is True
    response = m365.graph("PATCH", "/me", "synced-onprem", json={"mobilePhone": "+45 1234"})
    # Reference §8.1/§8.2 say "read-only" without a status; the emulator answers 400 as
    # observed for on-premises mastered objects. The app treats 400 and 403 alike here.
    error = assert_graph_error(response, 400, "Request_BadRequest")
    assert "on-premises mastered" in error["message"]
    assert selected(m365, "synced-onprem", "mobilePhone")["mobilePhone"] == before["mobilePhone"]
    assert_graph_error(
        m365.graph("PATCH", "/me", "synced-onprem", json={"jobTitle": "CFO"}),
        403,
        "Authorization_RequestDenied",
    )
    assert (
        m365.graph("PATCH", "/me", "synced-onprem", json={"skills": ["Audit"]}).status_code == 204
    )


def test_cloud_users_are_not_marked_as_synced(m365) -> None:  # type: ignore[no-untyped-def]
    assert selected(m365, "half-profile", "onPremisesSyncEnabled")["onPremisesSyncEnabled"] is None


# -- one store, two doors (§8.5) ------------------------------------------------------------------


def test_a_graph_edit_reads_back_from_sharepoint_at_once(m365) -> None:  # type: ignore[no-untyped-def]
    change = {
        "aboutMe": "Plain <b>text</b> & <script>alert(1)</script>",
        "skills": ["Onboarding", "Payroll"],
    }
    assert m365.graph("PATCH", "/me", "half-profile", json=change).status_code == 204
    upa = m365.upa("half-profile")
    # Markup is stored as typed; the page must show it as text.
    assert upa["AboutMe"] == change["aboutMe"]
    # SharePoint lists a multi-valued property "|"-joined (UNCONFIRMED, §4.2).
    assert upa["SPS-Skills"] == "Onboarding|Payroll"


def test_a_birthday_round_trips_in_sharepoints_year(m365) -> None:  # type: ignore[no-untyped-def]
    # The app writes day and month in year 2000 (webapp/profile/values.py BIRTHDAY_YEAR).
    change = {"birthday": "2000-02-29T00:00:00Z"}
    assert m365.graph("PATCH", "/me", "half-profile", json=change).status_code == 204
    assert selected(m365, "half-profile", "birthday")["birthday"] == "2000-02-29T00:00:00Z"
    assert m365.upa("half-profile")["SPS-Birthday"] == "2000-02-29T00:00:00Z"


def test_the_mobile_phone_does_not_reach_sharepoint(m365) -> None:  # type: ignore[no-untyped-def]
    change = {"mobilePhone": "+45 20 12 34 56"}
    assert m365.graph("PATCH", "/me", "half-profile", json=change).status_code == 204
    m365.tenant.clock.advance(24 * 3600)
    assert m365.upa("half-profile")["CellPhone"] == ""  # not in the default sync (§5.5)
