"""The attribute table: each Entra attribute beside the SharePoint property it feeds."""

from __future__ import annotations

import pytest

from tests.support.adele import ADELE, ADELE_UPA
from webapp.microsoft.models import GraphUser, Manager, SharePointProfile
from webapp.microsoft.properties import MAP, Attribute, RowState, diff_rows

MEGAN = Manager("Megan Bowen", "MeganB@contoso.com", "MeganB@contoso.com")


def graph_user(manager: Manager | None = MEGAN, **changes: object) -> GraphUser:
    """Adele as `/me` and `/me/manager` return her (Megan Bowen is her manager)."""
    return GraphUser.from_graph({**ADELE, **changes}).with_manager(manager)


def profile(**changes: str) -> SharePointProfile:
    properties = {**ADELE_UPA, **changes}
    return SharePointProfile.from_sharepoint(
        {
            "AccountName": "i:0#.f|membership|adelev@contoso.com",
            "UserProfileProperties": [{"Key": k, "Value": v} for k, v in properties.items()],
        }
    )


def row(rows, attribute):  # type: ignore[no-untyped-def]
    return next(r for r in rows if r.attribute is attribute)


def test_every_attribute_the_issue_names_has_a_row_in_map_order() -> None:
    rows = diff_rows(graph_user(), profile())
    assert [r.attribute for r in rows] == [m.attribute for m in MAP]
    assert {r.attribute for r in rows} == set(Attribute)


def test_a_freshly_imported_profile_matches_on_every_synced_attribute() -> None:
    rows = diff_rows(graph_user(mobilePhone=None), profile())
    assert not any(r.state is RowState.DIFFERS for r in rows)
    assert {r.state for r in rows} == {RowState.SAME}


def test_sharepoint_properties_follow_microsofts_sync_table() -> None:
    keys = {m.attribute: (m.graph_property, m.sharepoint_property) for m in MAP}
    assert keys == {
        Attribute.DISPLAY_NAME: ("displayName", "PreferredName"),
        Attribute.FIRST_NAME: ("givenName", "FirstName"),
        Attribute.LAST_NAME: ("surname", "LastName"),
        Attribute.JOB_TITLE: ("jobTitle", "Title"),
        Attribute.DEPARTMENT: ("department", "Department"),
        Attribute.OFFICE: ("officeLocation", "Office"),
        Attribute.BUSINESS_PHONE: ("businessPhones", "WorkPhone"),
        Attribute.MOBILE_PHONE: ("mobilePhone", "CellPhone"),
        Attribute.EMAIL: ("mail", "WorkEmail"),
        Attribute.USER_PRINCIPAL_NAME: ("userPrincipalName", "SPS-UserPrincipalName"),
        Attribute.MANAGER: ("manager", "Manager"),
    }


@pytest.mark.parametrize(
    ("graph_change", "sharepoint_change", "attribute"),
    [
        ({"displayName": "Adele Vance-Smith"}, {}, Attribute.DISPLAY_NAME),
        ({"givenName": "Adela"}, {}, Attribute.FIRST_NAME),
        ({"surname": "Vance-Smith"}, {}, Attribute.LAST_NAME),
        ({"jobTitle": "Store Director"}, {}, Attribute.JOB_TITLE),
        ({"department": "Marketing"}, {}, Attribute.DEPARTMENT),
        ({"officeLocation": "19/3123"}, {}, Attribute.OFFICE),
        ({"businessPhones": ["+45 33 12 34 56"]}, {}, Attribute.BUSINESS_PHONE),
        ({"mail": "Adele.Vance@contoso.com"}, {}, Attribute.EMAIL),
        ({"userPrincipalName": "Adele.Vance@contoso.com"}, {}, Attribute.USER_PRINCIPAL_NAME),
        ({}, {"Department": "Retail (old)"}, Attribute.DEPARTMENT),
    ],
)
def test_a_changed_synced_attribute_is_marked_as_differing(
    graph_change: dict[str, object], sharepoint_change: dict[str, str], attribute: Attribute
) -> None:
    rows = diff_rows(graph_user(**graph_change), profile(**sharepoint_change))
    assert [r.attribute for r in rows if r.state is RowState.DIFFERS] == [attribute]


def test_department_moved_in_entra_shows_both_values_exactly() -> None:
    changed = row(diff_rows(graph_user(department="Marketing"), profile()), Attribute.DEPARTMENT)
    assert (changed.graph_value, changed.sharepoint_value) == ("Marketing", "Retail")
    assert changed.state is RowState.DIFFERS


def test_values_are_not_normalised_beyond_what_microsoft_does() -> None:
    # Case and spacing count: the import copies values as they are.
    rows = diff_rows(graph_user(jobTitle="retail manager", officeLocation="18/2111 "), profile())
    assert {r.attribute for r in rows if r.state is RowState.DIFFERS} == {
        Attribute.JOB_TITLE,
        Attribute.OFFICE,
    }


def test_graph_null_and_sharepoint_empty_both_mean_unset() -> None:
    rows = diff_rows(graph_user(officeLocation=None), profile(Office=""))
    office = row(rows, Attribute.OFFICE)
    assert (office.graph_value, office.sharepoint_value, office.state) == (
        None,
        None,
        RowState.SAME,
    )


def test_work_phone_is_compared_with_the_first_business_phone_only() -> None:
    rows = diff_rows(graph_user(businessPhones=["+1 425 555 0109", "+1 425 555 0199"]), profile())
    phone = row(rows, Attribute.BUSINESS_PHONE)
    assert phone.graph_value == "+1 425 555 0109, +1 425 555 0199"
    assert phone.state is RowState.SAME


def test_no_business_phone_against_a_leftover_work_phone_differs() -> None:
    phone = row(diff_rows(graph_user(businessPhones=[]), profile()), Attribute.BUSINESS_PHONE)
    assert (phone.graph_value, phone.sharepoint_value) == (None, "+1 425 555 0109")
    assert phone.state is RowState.DIFFERS


def test_a_different_mobile_phone_is_not_synced_rather_than_differing() -> None:
    mobile = row(diff_rows(graph_user(), profile()), Attribute.MOBILE_PHONE)
    assert mobile.state is RowState.NOT_SYNCED
    assert mobile.state is not RowState.DIFFERS
    assert (mobile.graph_value, mobile.sharepoint_value) == ("+1 425 555 0110", None)


def test_an_equal_mobile_phone_is_the_same() -> None:
    mobile = row(
        diff_rows(graph_user(), profile(CellPhone="+1 425 555 0110")), Attribute.MOBILE_PHONE
    )
    assert mobile.state is RowState.SAME


def test_manager_is_compared_by_sign_in_name_whatever_its_case() -> None:
    manager = row(diff_rows(graph_user(), profile()), Attribute.MANAGER)
    assert manager.graph_value == "Megan Bowen (MeganB@contoso.com)"
    assert manager.sharepoint_value == "meganb@contoso.com"  # the claims prefix dropped
    assert manager.state is RowState.SAME


def test_a_new_manager_not_yet_in_sharepoint_differs() -> None:
    nestor = Manager("Nestor Wilke", "NestorW@contoso.com", None)
    manager = row(diff_rows(graph_user(nestor), profile()), Attribute.MANAGER)
    assert (manager.graph_value, manager.sharepoint_value) == (
        "Nestor Wilke (NestorW@contoso.com)",
        "meganb@contoso.com",
    )
    assert manager.state is RowState.DIFFERS


def test_no_manager_on_either_side_is_the_same() -> None:
    manager = row(diff_rows(graph_user(None), profile(Manager="")), Attribute.MANAGER)
    assert (manager.graph_value, manager.sharepoint_value, manager.state) == (
        None,
        None,
        RowState.SAME,
    )


def test_an_organisational_contact_as_manager_is_compared_by_mail() -> None:
    contact = Manager("Megan Bowen", None, "meganb@contoso.com")
    manager = row(diff_rows(graph_user(contact), profile()), Attribute.MANAGER)
    assert manager.state is RowState.SAME


def test_a_manager_graph_would_not_give_is_not_compared() -> None:
    unread = GraphUser.from_graph(ADELE)  # /me answered, /me/manager did not
    rows = diff_rows(unread, profile())
    manager = row(rows, Attribute.MANAGER)
    assert (manager.state, manager.graph_read) == (RowState.UNAVAILABLE, False)
    assert manager.sharepoint_value == "meganb@contoso.com"
    assert row(rows, Attribute.DEPARTMENT).state is RowState.SAME


def test_sharepoint_unavailable_keeps_graph_values_and_marks_nothing_as_differing() -> None:
    rows = diff_rows(graph_user(), None)
    assert {r.state for r in rows} == {RowState.UNAVAILABLE}
    assert row(rows, Attribute.DISPLAY_NAME).graph_value == "Adele Vance"
    assert not any(r.state is RowState.DIFFERS for r in rows)


def test_graph_unavailable_keeps_sharepoint_values() -> None:
    rows = diff_rows(None, profile())
    assert row(rows, Attribute.DEPARTMENT).sharepoint_value == "Retail"
    assert row(rows, Attribute.DEPARTMENT).state is RowState.UNAVAILABLE
    assert row(rows, Attribute.MANAGER).state is RowState.UNAVAILABLE
