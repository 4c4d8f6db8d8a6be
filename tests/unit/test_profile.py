"""The field catalogue, validation, birthday storage, side-by-side rows and the
no-silent-overwrite plan of the profile page (webapp/profile/), without any service."""

from __future__ import annotations

import pytest

from webapp.microsoft.errors import ServiceUnavailableError
from webapp.microsoft.models import SHAREPOINT_BACKED, GraphUser, SharePointProfile
from webapp.microsoft.properties import STORED_IN_SHAREPOINT, RowState
from webapp.profile.fields import EDITABLE, MANAGED, Owner
from webapp.profile.reading import build_view
from webapp.profile.refusals import MEMORY_KEY, Refusal, remember_refusals, remembered_refusals
from webapp.profile.saving import SaveResult, plan
from webapp.profile.validation import (
    ABOUT_ME_MAX,
    LIST_ITEM_MAX,
    LIST_MAX_ITEMS,
    Problem,
    validate,
)
from webapp.profile.values import Birthday, birthday_to_graph, equivalent, token


def problems(name: str, raw: str | tuple[str, str]) -> list[Problem]:
    return [p.problem for p in validate(name, raw)[1]]


def user(**values: object) -> GraphUser:
    base: dict[str, object] = {
        "id": "u1",
        "displayName": "Hannah Becker",
        "jobTitle": "HR Business Partner",
        "department": "Human Resources",
        "officeLocation": "19/1012",
        "businessPhones": ["+1 425 555 0108"],
        "mobilePhone": "+1 206 555 0208",
        "companyName": "Contoso",
        "aboutMe": "HR partner.",
        "skills": ["Onboarding", "Employment law"],
        "interests": [],
        "pastProjects": [],
        "responsibilities": [],
        "schools": [],
        "birthday": "0001-01-01T00:00:00Z",
    }
    base.update(values)
    return GraphUser.from_graph(base)


def sharepoint(**properties: str) -> SharePointProfile:
    base = {
        "PreferredName": "Hannah Becker",
        "Title": "HR Business Partner",
        "Department": "Human Resources",
        "Office": "19/1012",
        "WorkPhone": "+1 425 555 0108",
        "AboutMe": "HR partner.",
        "SPS-Skills": "Onboarding|Employment law",
        "CellPhone": "",
    }
    base.update(properties)
    items = [{"Key": k, "Value": v} for k, v in base.items()]
    return SharePointProfile.from_sharepoint(
        {"AccountName": "i:0#.f|membership|h@x", "UserProfileProperties": items}
    )


# -- the catalogue ------------------------------------------------------------------------------


def test_the_catalogue_takes_sharepoint_properties_from_the_property_map() -> None:
    keys = {f.name: (f.upa_key, f.synced) for f in EDITABLE}
    assert keys["about_me"] == ("AboutMe", True)
    assert keys["responsibilities"] == ("SPS-Responsibility", True)
    # Not in Microsoft's default sync table (§5.5): SharePoint keeps its own CellPhone.
    assert keys["mobile_phone"] == ("CellPhone", False)
    assert {m.name: m.graph_property for m in MANAGED}["job_title"] == "jobTitle"
    assert {m.name: m.graph_property for m in MANAGED}["manager"] is None


def test_the_fields_sharepoint_stores_are_the_ones_graph_returns_only_on_select() -> None:
    assert set(STORED_IN_SHAREPOINT) == set(SHAREPOINT_BACKED)
    stored = {f.graph_property for f in EDITABLE if f.stored_in_sharepoint}
    assert stored == set(SHAREPOINT_BACKED)


# -- validation ---------------------------------------------------------------------------------


def test_about_me_is_trimmed_plain_text_with_markup_kept_as_typed() -> None:
    value, found = validate("about_me", "  <b>Hi</b>\r\n<script>x</script>  ")
    assert value == "<b>Hi</b>\n<script>x</script>"
    assert found == []


def test_about_me_over_the_limit_says_how_long_it_is() -> None:
    value, found = validate("about_me", "x" * (ABOUT_ME_MAX + 1))
    assert [p.problem for p in found] == [Problem.TOO_LONG]
    assert found[0].values == {"limit": ABOUT_ME_MAX, "length": ABOUT_ME_MAX + 1}
    assert problems("about_me", "x" * ABOUT_ME_MAX) == []


def test_invisible_control_characters_are_refused() -> None:
    assert problems("about_me", "bell\x07") == [Problem.CONTROL_CHARACTER]
    assert problems("about_me", "tab\tand\nnewline") == []


def test_list_is_one_trimmed_item_per_line_without_blank_lines() -> None:
    value, found = validate("skills", "  Python \n\n SQL\r\n")
    assert value == ("Python", "SQL")
    assert found == []


def test_duplicates_are_found_whatever_their_case() -> None:
    value, found = validate("skills", "Straße\nSTRASSE\nPython\npython")
    assert [p.problem for p in found] == [Problem.DUPLICATE, Problem.DUPLICATE]
    assert [p.values["item"] for p in found] == ["STRASSE", "python"]


def test_list_size_and_item_length_are_limited() -> None:
    many = "\n".join(f"Skill {i}" for i in range(LIST_MAX_ITEMS + 1))
    assert problems("interests", many) == [Problem.TOO_MANY]
    assert problems("interests", "y" * (LIST_ITEM_MAX + 1)) == [Problem.ITEM_TOO_LONG]
    assert problems("interests", "y" * LIST_ITEM_MAX) == []


def test_the_sharepoint_list_separator_is_refused_in_an_item() -> None:
    assert problems("schools", "Aarhus | Copenhagen") == [Problem.SEPARATOR]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (("", ""), None),
        (("12", "4"), Birthday(12, 4)),
        ((" 12 ", "4"), Birthday(12, 4)),
        (("29", "2"), Birthday(29, 2)),
    ],
)
def test_a_birthday_is_a_real_day_and_month(raw, expected) -> None:  # type: ignore[no-untyped-def]
    assert validate("birthday", raw) == (expected, [])


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (("31", "4"), Problem.NOT_A_DATE),
        (("30", "2"), Problem.NOT_A_DATE),
        (("0", "1"), Problem.NOT_A_DATE),
        (("1", "13"), Problem.NOT_A_DATE),
        (("first", "1"), Problem.NOT_A_DATE),
        (("1²", "4"), Problem.NOT_A_DATE),  # a superscript two: isdigit() but not int()
        (("¹²", "4"), Problem.NOT_A_DATE),
        (("١٢", "4"), Problem.NOT_A_DATE),  # Arabic-Indic digits
        (("１２", "4"), Problem.NOT_A_DATE),  # full-width digits
        (
            (
                "12",
                "",
            ),
            Problem.INCOMPLETE_DATE,
        ),
        (("", "4"), Problem.INCOMPLETE_DATE),
    ],
)
def test_a_birthday_that_is_not_a_date_is_refused(raw, problem) -> None:  # type: ignore[no-untyped-def]
    value, found = validate("birthday", raw)
    assert [p.problem for p in found] == [problem]
    assert value == tuple(part.strip() for part in raw)


def test_phone_spacing_is_tidied_and_letters_are_refused() -> None:
    assert validate("mobile_phone", " +45  20 12\t34 56 ") == ("+45 20 12 34 56", [])
    assert validate("mobile_phone", "") == ("", [])
    assert problems("mobile_phone", "call me") == [Problem.NOT_A_PHONE]
    assert problems("mobile_phone", "+1") == [Problem.NOT_A_PHONE]
    assert problems("mobile_phone", "1" * 65) == [Problem.TOO_LONG]


# -- birthday storage ---------------------------------------------------------------------------


def test_a_birthday_is_stored_in_sharepoints_year_and_read_back_as_day_and_month() -> None:
    assert birthday_to_graph(Birthday(29, 2)) == "2000-02-29T00:00:00Z"
    view = build_view(user(birthday="2000-02-29T00:00:00Z"), None, read_only={})
    assert view.row("birthday").graph_value == Birthday(29, 2)
    view = build_view(user(birthday="1988-04-12T00:00:00Z"), None, read_only={})
    assert view.row("birthday").graph_value == Birthday(12, 4)


def test_an_unset_birthday_reads_as_none() -> None:
    assert build_view(user(), None, read_only={}).row("birthday").graph_value is None


# -- the two sides ------------------------------------------------------------------------------


def test_sharepoint_lists_are_split_and_compared_with_graph() -> None:
    view = build_view(user(), sharepoint(), read_only={})
    skills = view.row("skills")
    assert skills.sharepoint_value == ("Onboarding", "Employment law")
    assert skills.state is RowState.SAME
    lagging = build_view(user(), sharepoint(**{"SPS-Skills": "Onboarding"}), read_only={})
    assert lagging.row("skills").state is RowState.DIFFERS
    assert [r.field.name for r in lagging.differing] == ["skills"]


def test_the_mobile_phone_is_not_copied_to_sharepoint_so_a_difference_is_expected() -> None:
    row = build_view(user(), sharepoint(), read_only={}).row("mobile_phone")
    assert row.state is RowState.NOT_SYNCED
    assert row not in build_view(user(), sharepoint(), read_only={}).differing


def test_organisation_fields_come_from_the_attribute_map_with_their_owner() -> None:
    view = build_view(user(jobTitle="Head of HR"), sharepoint(), read_only={})
    rows = {r.field.name: r for r in view.managed}
    assert (rows["job_title"].graph_value, rows["job_title"].sharepoint_value) == (
        "Head of HR",
        "HR Business Partner",
    )
    assert rows["job_title"].state is RowState.DIFFERS
    assert rows["job_title"].owner is Owner.HR_SYSTEM
    assert rows["office"].owner is Owner.ENTRA_ID
    assert rows["company"].graph_value == "Contoso"
    assert rows["company"].sharepoint_value is None
    assert rows["manager"].state is RowState.SHAREPOINT_ONLY


def test_an_unreadable_side_is_unavailable_not_empty() -> None:
    view = build_view(
        user(), None, read_only={}, sharepoint_error=ServiceUnavailableError("sharepoint", 503)
    )
    assert all(r.state is RowState.UNAVAILABLE for r in view.editable)
    assert view.tokens  # Graph was read: the form can still save
    assert build_view(None, sharepoint(), read_only={}).tokens == {}


def test_refused_fields_are_read_only_and_an_on_premises_account_names_its_source() -> None:
    view = build_view(user(), sharepoint(), read_only={"mobile_phone": Refusal.ON_PREMISES})
    assert view.row("mobile_phone").read_only is Refusal.ON_PREMISES
    assert view.row("mobile_phone").owner is Owner.ON_PREMISES_AD
    assert view.row("skills").owner is Owner.YOU
    assert "mobile_phone" not in view.tokens
    assert {r.owner for r in view.managed} == {Owner.ON_PREMISES_AD}


# -- no silent overwrite ------------------------------------------------------------------------


def loaded_tokens(graph_user: GraphUser) -> dict[str, str]:
    return build_view(graph_user, None, read_only={}).tokens


def test_only_what_the_user_changed_is_sent_and_lists_go_whole() -> None:
    before = user()
    tokens = loaded_tokens(before)
    submitted = {
        "about_me": "HR partner.",
        "skills": ("Onboarding", "Employment law", "Payroll"),
        "birthday": Birthday(12, 4),
        "mobile_phone": "",
    }
    changes, conflicts = plan(submitted, tokens, build_view(before, None, read_only={}))
    assert changes == {
        "skills": ["Onboarding", "Employment law", "Payroll"],
        "birthday": "2000-04-12T00:00:00Z",
        "mobile_phone": None,
    }
    assert conflicts == []


def test_a_field_changed_on_both_sides_is_a_conflict_with_both_values() -> None:
    tokens = loaded_tokens(user())
    now = build_view(user(skills=["Changed elsewhere"]), None, read_only={})
    changes, conflicts = plan({"skills": ("Onboarding", "Payroll")}, tokens, now)
    assert changes == {}
    assert len(conflicts) == 1
    conflict = conflicts[0]
    assert (conflict.name, conflict.mine, conflict.theirs) == (
        "skills",
        ("Onboarding", "Payroll"),
        ("Changed elsewhere",),
    )
    assert conflict.token == token(("Changed elsewhere",))


def test_a_field_changed_elsewhere_only_is_left_alone() -> None:
    tokens = loaded_tokens(user())
    now = build_view(user(aboutMe="Written in SharePoint"), None, read_only={})
    changes, conflicts = plan({"about_me": "HR partner."}, tokens, now)
    assert (changes, conflicts) == ({}, [])


def test_the_same_change_made_on_both_sides_is_no_conflict() -> None:
    tokens = loaded_tokens(user())
    now = build_view(user(aboutMe="Same words"), None, read_only={})
    assert plan({"about_me": "Same words"}, tokens, now) == ({}, [])


def test_resolving_with_the_current_token_writes_my_version() -> None:
    now = build_view(user(skills=["Changed elsewhere"]), None, read_only={})
    changes, conflicts = plan({"skills": ("Mine",)}, {"skills": now.tokens["skills"]}, now)
    assert (changes, conflicts) == ({"skills": ["Mine"]}, [])


def test_the_form_shown_again_keeps_loaded_tokens_for_fields_not_stored() -> None:
    after = build_view(user(skills=["Payroll"], aboutMe="New"), None, read_only={})
    result = SaveResult(profile=after, saved=("skills",))
    tokens = result.next_tokens({"skills": "old-skills", "about_me": "old-about"})
    assert tokens["skills"] == token(("Payroll",))
    assert tokens["about_me"] == "old-about"
    assert tokens["interests"] == token(())


def test_memory_of_refusals_survives_in_a_plain_mapping() -> None:
    memory: dict[str, object] = {}
    remember_refusals(memory, {"mobile_phone": Refusal.ORGANISATION, "skills": Refusal.REJECTED})
    assert memory[MEMORY_KEY] == {"mobile_phone": "organisation"}
    assert remembered_refusals(memory) == {"mobile_phone": Refusal.ORGANISATION}
    memory[MEMORY_KEY] = {"mobile_phone": "nonsense", "unknown": "organisation"}
    assert remembered_refusals(memory) == {}


def test_token_depends_on_value_and_order_only() -> None:
    assert token(("a", "b")) == token(("a", "b"))
    assert token(("a", "b")) != token(("b", "a"))
    assert token("") == token(None)
    assert token(Birthday(1, 2)) != token(Birthday(2, 1))


# -- the same value stored two ways (reference §9.3) ----------------------------------------


@pytest.mark.parametrize(
    ("graph", "sharepoint"),
    [
        ("HR partner &amp; mentor.", "<div>HR partner &amp; mentor.</div>"),
        ("Line one\nLine two", "<p>Line one</p><p>Line two</p>"),
        ("Spaces  kept apart", "Spaces&nbsp;kept apart"),
        (("Onboarding", "Payroll"), ("Payroll", "Onboarding")),
        (("Onboarding",), (" onboarding ",)),
        (Birthday(12, 4), Birthday(12, 4)),
    ],
)
def test_one_value_stored_two_ways_is_the_same(graph, sharepoint) -> None:  # type: ignore[no-untyped-def]
    assert equivalent(graph, sharepoint)


def test_different_values_are_still_different() -> None:
    assert not equivalent("HR partner.", "<div>HR lead.</div>")
    assert not equivalent(("Onboarding",), ("Onboarding", "Payroll"))
    assert not equivalent(Birthday(12, 4), Birthday(4, 12))


@pytest.mark.parametrize(
    "stored",
    [
        "2000-04-12T00:00:00Z",
        "1988-04-12T00:00:00Z",
        "2000-04-12",
        "--04-12",
        "April 12",
        "12 April",
    ],
)
def test_sharepoints_birthday_matches_graphs_by_day_and_month(stored: str) -> None:
    view = build_view(
        user(birthday="1988-04-12T00:00:00Z"), sharepoint(**{"SPS-Birthday": stored}), read_only={}
    )
    assert view.row("birthday").state is RowState.SAME


def test_about_me_in_html_and_a_reordered_list_are_not_shown_as_differing() -> None:
    view = build_view(
        user(aboutMe="HR partner."),
        sharepoint(
            **{"AboutMe": "<div>HR partner.</div>", "SPS-Skills": "Employment law|Onboarding"}
        ),
        read_only={},
    )
    assert view.row("about_me").state is RowState.SAME
    assert view.row("skills").state is RowState.SAME
    assert view.differing == ()


def test_without_a_sharepoint_licence_the_sharepoint_backed_fields_are_read_only() -> None:
    backed = ("about_me", "skills", "interests", "past_projects", "responsibilities", "schools")
    no_licence = {name: Refusal.NO_SHAREPOINT for name in (*backed, "birthday")}
    view = build_view(user(), None, read_only=no_licence)
    assert set(view.tokens) == {"mobile_phone"}
    assert view.row("skills").owner is Owner.ENTRA_ID
    assert not view.row("skills").graph_read
