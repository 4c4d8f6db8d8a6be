"""Every sentence a user reads on the profile page: labels, owners, problems, outcomes, requests.

The profile's modules speak in codes and plain values; this module turns them into
translated text (Flask-Babel, English source strings with named parameters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from babel.dates import get_month_names
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webapp import wording
from webapp.microsoft.errors import UpstreamError
from webapp.microsoft.properties import RowState
from webapp.profile.fields import Kind, Owner, Place
from webapp.profile.reading import EditableRow, ManagedRow, ProfileView
from webapp.profile.refusals import Refusal
from webapp.profile.saving import SaveResult
from webapp.profile.validation import (
    ABOUT_ME_MAX,
    LIST_ITEM_MAX,
    LIST_MAX_ITEMS,
    PHONE_MAX,
    FieldProblem,
    Problem,
)
from webapp.profile.values import Birthday, Value

LABELS = wording.FIELD_LABELS

# What to write where the request text names the new value (a placeholder the user replaces).
WANTED = {
    "display_name": _l("[your correct name]"),
    "job_title": _l("[your correct job title]"),
    "department": _l("[your correct department]"),
    "office": _l("[your correct office]"),
    "business_phone": _l("[your correct business phone]"),
    "manager": _l("[your correct manager]"),
    "company": _l("[your correct company]"),
}

HINTS = {
    "about_me": _l(
        "Plain text, up to %(limit)s characters. Line breaks are kept; formatting is not.",
        limit=ABOUT_ME_MAX,
    ),
    "list": _l(
        "One per line, up to %(items)s lines of %(length)s characters each.",
        items=LIST_MAX_ITEMS,
        length=LIST_ITEM_MAX,
    ),
    "birthday": _l(
        "Day and month: Microsoft 365 keeps birthdays without a year. Once stored, a "
        "birthday can be changed here but not removed."
    ),
    "mobile_phone": _l(
        "For example +45 20 12 34 56. Up to %(limit)s characters; leave empty to remove it.",
        limit=PHONE_MAX,
    ),
}

OWNERS = {
    Owner.YOU: _l("You"),
    Owner.ENTRA_ID: _l("Your IT department, in Entra ID"),
    Owner.HR_SYSTEM: _l("Your HR system, through Entra ID"),
    Owner.ON_PREMISES_AD: _l("Your IT department, in your on-premises Active Directory"),
}

PLACES = {
    Place.PROFILE_CARD: _l("profile card (Outlook, Teams)"),
    Place.PEOPLE_SEARCH: _l("people search"),
    Place.SHAREPOINT: _l("SharePoint profile"),
}

STATES = {
    RowState.SAME: _l("Both sides agree."),
    RowState.DIFFERS: _l("The two sides differ."),
    RowState.NOT_SYNCED: _l("SharePoint keeps its own copy; Microsoft does not copy this field."),
    RowState.SHAREPOINT_ONLY: _l("Only SharePoint shows this field to us."),
    RowState.UNAVAILABLE: _l("One side could not be read just now."),
}

# What each refusal means (reference §8.2 error table, §8.7 mapping).
REFUSALS = {
    Refusal.ORGANISATION: _l(
        "Your organisation does not let you change this yourself (Microsoft 365 answered "
        "“insufficient privileges”). Ask your helpdesk to change it."
    ),
    Refusal.ON_PREMISES: _l(
        "Your account is maintained in your organisation's on-premises Active Directory, so "
        "Microsoft 365 does not accept changes to this number here. Ask your helpdesk to "
        "change it."
    ),
    Refusal.SHAREPOINT_NOT_WRITABLE: _l(
        "Your SharePoint profile cannot be written right now, so this field cannot be "
        "changed here. Ask your helpdesk."
    ),
    Refusal.REJECTED: _l(
        "Microsoft 365 did not accept this value. Check it and try again, or ask your helpdesk."
    ),
    Refusal.NO_SHAREPOINT: _l(
        "Microsoft 365 keeps this field in SharePoint, and your account has no SharePoint "
        "licence, so it cannot be read or changed here. The rest of your profile still saves; "
        "ask your helpdesk if you need this field."
    ),
}

# Profile cards and search show edits after up to 24–48 h (reference §8.3 [S69], §8.5 [S75]).
SPREAD_NOTICE = _l(
    "Saved changes are stored in Microsoft 365 at once, but colleagues' profile cards and "
    "people search may take up to 48 hours to show them."
)
KEPT_STORED = _l("Kept what is stored in Microsoft 365; nothing was changed.")
NOT_READ = _l("(could not be read)")
NOT_IN_SHAREPOINT = _l("(not copied to SharePoint)")
NOT_SHOWN = _l("(not read from Entra ID)")


def label(name: str) -> str:
    return str(LABELS[name])


def hint(row: EditableRow) -> str:
    if row.field.kind is Kind.LIST:
        return str(HINTS["list"])
    return str(HINTS[row.field.name])


def owner(value: Owner) -> str:
    return str(OWNERS[value])


def places(values: Iterable[Place]) -> str:
    return ", ".join(str(PLACES[p]) for p in values)


def state(value: RowState) -> str:
    return str(STATES[value])


def refusal(value: Refusal) -> str:
    return str(REFUSALS[value])


def month_names() -> list[tuple[int, str]]:
    """(number, name) for the birthday month list, in the user's language."""
    names = get_month_names("wide", locale=str(get_locale() or "en"))
    return [(number, names[number]) for number in range(1, 13)]


def birthday(value: Birthday) -> str:
    """The day and month in the user's language."""
    return wording.birthday(value.day, value.month, None)


def value(item: Value) -> str:
    """A value as the page and the helpdesk text show it."""
    if isinstance(item, Birthday):
        return birthday(item)
    return wording.value(", ".join(item) if isinstance(item, tuple) else item)


def side(row: EditableRow | ManagedRow, which: str) -> str:
    """One side's value of a row, or why there is none."""
    if isinstance(row, EditableRow):
        read = row.graph_read if which == "graph" else row.sharepoint_read
        if not read:
            return str(NOT_READ)
        return value(row.graph_value if which == "graph" else row.sharepoint_value)
    if which == "graph":
        if row.field.graph_property is None:
            return str(NOT_SHOWN)
        return value(row.graph_value) if row.graph_read else str(NOT_READ)
    if row.field.attribute is None:
        return str(NOT_IN_SHAREPOINT)
    if not row.sharepoint_read:
        return str(NOT_READ)
    shown = row.sharepoint_value
    if shown and row.field.name == "manager":
        # SharePoint names the manager by claims account, `i:0#.f|membership|{upn}` (§4.2).
        shown = shown.rsplit("|", 1)[-1]
    return value(shown)


def problem(item: FieldProblem) -> str:
    """One validation message; what the user typed is quoted so they can find it."""
    params: Mapping[str, object] = item.values
    messages = {
        Problem.TOO_LONG: lambda: _(
            "This is %(length)s characters long; the limit is %(limit)s.",
            length=params["length"],
            limit=params["limit"],
        ),
        Problem.TOO_MANY: lambda: _(
            "This has %(count)s entries; the limit is %(limit)s.",
            count=params["count"],
            limit=params["limit"],
        ),
        Problem.ITEM_TOO_LONG: lambda: _(
            "“%(item)s” is longer than %(limit)s characters.",
            item=params["item"],
            limit=params["limit"],
        ),
        Problem.DUPLICATE: lambda: _(
            "“%(item)s” is in the list more than once.", item=params["item"]
        ),
        Problem.SEPARATOR: lambda: _(
            "“%(item)s” contains “|”, which SharePoint uses between entries.",
            item=params["item"],
        ),
        Problem.CONTROL_CHARACTER: lambda: _("This contains invisible control characters."),
        Problem.NOT_A_DATE: lambda: _("This is not a date in the calendar."),
        Problem.INCOMPLETE_DATE: lambda: _(
            "Give both the day and the month (or leave both empty)."
        ),
        Problem.CANNOT_REMOVE: lambda: _(
            "Microsoft 365 does not let a stored birthday be removed, only changed. Your "
            "birthday was kept; ask your helpdesk if it must go."
        ),
        Problem.NOT_A_PHONE: lambda: _(
            "Use digits, spaces and + ( ) - . / only, with at least three digits."
        ),
    }
    return messages[item.problem]()


def failure(error: UpstreamError) -> str:
    return wording.upstream_failure(error)


def outcome_lines(result: SaveResult) -> list[tuple[str, str]]:
    """(category, sentence) pairs that sum up a save for the notice area."""
    lines: list[tuple[str, str]] = []
    if result.read_error is not None:
        lines.append(
            (
                "error",
                _(
                    "Nothing was saved: we could not read your profile first. %(reason)s",
                    reason=failure(result.read_error),
                ),
            )
        )
    if result.problems:
        lines.append(("error", _("Nothing was saved yet: please correct the marked fields.")))
    if result.saved:
        lines.append(
            (
                "success",
                _("Saved: %(fields)s.", fields=", ".join(label(n) for n in result.saved)),
            )
        )
    if result.conflicts:
        lines.append(
            (
                "error",
                _(
                    "Changed elsewhere since you opened this page, so not saved yet: "
                    "%(fields)s. Choose which version to keep below.",
                    fields=", ".join(label(c.name) for c in result.conflicts),
                ),
            )
        )
    for name, reason in result.refused.items():
        lines.append(("error", f"{label(name)}: {refusal(reason)}"))
    for name, error in result.failed.items():
        lines.append(
            (
                "error",
                _(
                    "%(field)s was not saved. %(reason)s",
                    field=label(name),
                    reason=failure(error),
                ),
            )
        )
    if result.not_confirmed:
        lines.append(
            (
                "error",
                _(
                    "Microsoft 365 accepted %(fields)s but shows something else when we read it "
                    "back. Reload the page in a minute to check.",
                    fields=", ".join(label(n) for n in result.not_confirmed),
                ),
            )
        )
    if result.complete and not result.saved:
        lines.append(("info", _("Nothing to save: your profile already says this.")))
    return lines


def change_request(row: ManagedRow, *, name: str, username: str) -> str:
    """A ready-to-send request asking the helpdesk to change one organisation-owned field."""
    # Graph's manager is not read here; SharePoint's copy is what we know (properties.MAP).
    shown_by = "sharepoint" if row.field.graph_property is None else "graph"
    current = side(row, shown_by)
    lines = [
        _("Hello,"),
        "",
        _(
            "Please change my %(field)s in Microsoft 365 from “%(current)s” to %(wanted)s.",
            field=label(row.field.name).lower(),
            current=current,
            wanted=WANTED[row.field.name],
        ),
        _(
            "Entra ID shows “%(graph)s”; SharePoint shows “%(sharepoint)s”.",
            graph=current,
            sharepoint=side(row, "sharepoint"),
        ),
        _("As I understand it, this is maintained by: %(owner)s.", owner=owner(row.owner)),
        "",
        _("Thank you,"),
        f"{name} <{username}>",
    ]
    return "\n".join(lines)


def helpdesk_summary(
    view: ProfileView,
    *,
    name: str,
    username: str,
    ticket: str | None,
    taken_at: datetime,
    version: str,
    recent_changes: Iterable[str] = (),
) -> str:
    """The shared helpdesk summary (`webapp.wording`) with each field whose two sides differ
    and the person's latest changes (lines from changes/wording.py)."""
    lines: list[str] = []
    if view.differing:
        lines.append(_("Fields that differ between Entra ID and SharePoint:"))
        lines.extend(
            "  "
            + _(
                "%(field)s: Entra ID “%(graph)s”, SharePoint “%(sharepoint)s”",
                field=label(row.field.name),
                graph=side(row, "graph"),
                sharepoint=side(row, "sharepoint"),
            )
            for row in view.differing
        )
    else:
        lines.append(_("Every field that SharePoint copies shows the same on both sides."))
    return wording.helpdesk_summary(
        lines,
        name=name,
        username=username,
        ticket=ticket,
        taken_at=taken_at,
        failures=(view.graph_error, view.sharepoint_error),
        version=version,
        recent_changes=recent_changes,
    )
