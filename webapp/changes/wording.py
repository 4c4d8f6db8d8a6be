"""Every sentence about a recorded change: its title, what each step achieved, the fields and
values saved, why something was refused; for the history page, its downloads and the helpdesk
summary."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webapp import wording
from webapp.changes.log import Entry, EntryKind, HistoryLog, Refusal, Step
from webapp.imaging.pipeline import Rejection

# Titles of the changes that have one whatever happened (refusals say what was refused).
TITLES: dict[EntryKind, LazyString] = {
    EntryKind.PHOTO_UPLOADED: _l("New photo"),
    EntryKind.PHOTO_REMOVED: _l("Photo removed"),
    EntryKind.PHOTO_UNDONE: _l("Photo change undone"),
    EntryKind.PHOTO_RESTORED: _l("Earlier photo put back"),
    EntryKind.PHOTO_RESYNCED: _l("Photo copied to SharePoint"),
    EntryKind.PHOTO_RETRIED: _l("Photo change tried again"),
    EntryKind.PROFILE_SAVED: _l("Profile details saved"),
}

STEPS: dict[Step, LazyString] = {
    Step.WRITTEN: _l("saved"),
    Step.VERIFIED: _l("saved and checked"),
    Step.FAILED: _l("not saved: Microsoft answered with an error"),
    Step.WAITING: _l("not saved yet: Microsoft asked ProfileFix to wait"),
    Step.REFUSED: _l("not saved: your organisation does not allow this change"),
    Step.TAKES_FROM_MICROSOFT_365: _l("takes the photo from Outlook and Teams by itself"),
    Step.NOT_REACHED: _l("not tried, because the step before did not succeed"),
    Step.INTERRUPTED: _l("interrupted while saving"),
    Step.NOTHING_TO_COPY: _l("nothing to copy: Outlook and Teams have no photo"),
    Step.NOT_NEEDED: _l("nothing to change"),
}

_GOOD_STEPS = frozenset(
    {Step.WRITTEN, Step.VERIFIED, Step.TAKES_FROM_MICROSOFT_365, Step.NOT_NEEDED}
)

# How a change went, by its CSS class (app.css).
OUTCOMES: dict[str, LazyString] = {
    "status-ok": _l("Done"),
    "status-pending": _l("Partly done"),
    "status-failed": _l("Not changed"),
}

# Profile refusals by the code profile/refusals.py's `Refusal` gives them.
FIELD_REFUSALS: dict[str, LazyString] = {
    "organisation": _l("your organisation does not let you change it"),
    "on_premises": _l("it is maintained in your organisation's on-premises Active Directory"),
    "sharepoint_not_writable": _l("your SharePoint profile could not be written"),
    "rejected": _l("Microsoft 365 did not accept the value"),
    "no_sharepoint": _l("your account has no SharePoint licence, where Microsoft 365 keeps it"),
}

# The per-person limits (photo/views.py): title and sentence by what was limited.
LIMITED: dict[str, tuple[LazyString, LazyString]] = {
    "photo": (
        _l("Photo change refused: too many changes"),
        _l(
            "You had changed your photo many times in a short while, so ProfileFix accepted "
            "the next change only later. Nothing was changed."
        ),
    ),
    "resync": (
        _l("Copy to SharePoint refused: too many copies"),
        _l(
            "You had copied your photo to SharePoint many times in a short while, so "
            "ProfileFix accepted the next copy only later. Nothing was changed."
        ),
    ),
}

_REJECTION_VALUES = frozenset(rejection.value for rejection in Rejection)
_ISO_DAY = re.compile(r"(?:([0-9]{4})|-)-([0-9]{2})-([0-9]{2})")
# How many of the person's latest changes a helpdesk summary lists.
SUMMARY_ENTRIES = 5
# A long About me is cut on the page and in the summary; the downloads keep it whole.
SHORT_VALUE = 160


@dataclass(frozen=True)
class Described:
    """An entry in words: a title, one line per fact, and how it went (a CSS class)."""

    title: str
    lines: list[str]
    status: str  # "status-ok", "status-pending" or "status-failed" (app.css)

    @property
    def outcome(self) -> str:
        return str(OUTCOMES[self.status])


def describe(entry: Entry, *, short: bool = True, values: bool = True) -> Described:
    """The entry in the user's language; `short` cuts long values (the page), without `values`
    saved profile fields are named but their values left out (the helpdesk summary)."""
    if entry.kind is EntryKind.PROFILE_SAVED:
        return _profile(entry.details, short, values)
    if entry.kind is EntryKind.REFUSED:
        return _refused(entry.details)
    return _photo(entry)


def utc_text(entry: Entry) -> str:
    """The entry's time as UTC text: the page's fallback without JavaScript, the summary's."""
    return entry.at.strftime("%Y-%m-%d %H:%M UTC")


def recent_summary(history: HistoryLog, user: str) -> list[str]:
    """The helpdesk summary's lines for the person's latest changes; none when the history
    cannot be read (the summary goes on without them)."""
    return summary_lines(history.recent(user, SUMMARY_ENTRIES))


def summary_lines(entries: Iterable[Entry]) -> list[str]:
    """The helpdesk summary's part: the newest changes, one line each, request ids included.

    Profile values stay out (field names only): the summary goes into a ticket.
    """
    listed = list(entries)
    if not listed:
        return []
    lines = [_("Recent changes made in ProfileFix (newest first):")]
    for entry in listed:
        described = describe(entry, values=False)
        change = described.title
        if described.lines:
            change = f"{change}: {'; '.join(described.lines)}"
        lines.append(
            "  "
            + _(
                "%(time)s · %(change)s [request id %(request_id)s]",
                time=utc_text(entry),
                change=change,
                request_id=entry.request_id or "-",
            )
        )
    return lines


def field_label(name: str) -> str:
    return str(wording.FIELD_LABELS.get(name, name))


def value(item: object, short: bool = True, birthday: bool = False) -> str:
    """A kept profile value: text, a list of items, or a `birthday` in ISO 8601 (`--MM-DD`
    without the year, profile/recording.py)."""
    if isinstance(item, list):
        text = ", ".join(str(part) for part in item)
    elif birthday and isinstance(item, str) and (day := _ISO_DAY.fullmatch(item)):
        year, month, day_of_month = day.groups()
        text = wording.birthday(int(day_of_month), int(month), int(year) if year else None)
    else:
        text = "" if item is None else str(item)
    if not text:
        return str(wording.EMPTY)
    if short and len(text) > SHORT_VALUE:
        return text[: SHORT_VALUE - 1].rstrip() + "…"
    return text


def _photo(entry: Entry) -> Described:
    details = entry.details
    title = str(TITLES[entry.kind])
    if entry.kind is EntryKind.PHOTO_RETRIED and details.get("of") in TITLES:
        title = _("%(change)s: tried again", change=TITLES[details["of"]])
    lines = []
    steps: list[str] = []
    for service, record in details.get("steps", {}).items():
        # A step a later version wrote (during a rolling update) reads as its code.
        step = record.get("step", "")
        steps.append(step)
        line = _(
            "%(service)s: %(step)s",
            service=wording.service_name(service),
            step=STEPS.get(step, step),
        )
        if record.get("code") or record.get("request_id"):
            line += " " + _(
                "(%(code)s, request id %(request_id)s)",
                code=record.get("code") or "-",
                request_id=record.get("request_id") or "-",
            )
        lines.append(line)
    done = [step in _GOOD_STEPS for step in steps]
    status = "status-ok" if all(done) else "status-pending" if any(done) else "status-failed"
    return Described(title, lines, status)


def _change_line(change: Mapping[str, Any], short: bool) -> str:
    birthday = change["field"] == "birthday"
    return _(
        "%(field)s: “%(old)s” → “%(new)s”",
        field=field_label(change["field"]),
        old=value(change.get("old"), short, birthday),
        new=value(change.get("new"), short, birthday),
    )


def _profile_problems(details: Mapping[str, Any]) -> list[str]:
    lines = [
        _("%(field)s not saved: %(reason)s", field=field_label(name), reason=_field_refusal(code))
        for name, code in details.get("refused", {}).items()
    ]
    for name, failure in details.get("failed", {}).items():
        lines.append(
            _(
                "%(field)s not saved: Microsoft answered with an error "
                "(%(code)s, request id %(request_id)s)",
                field=field_label(name),
                code=failure.get("code") or "-",
                request_id=failure.get("request_id") or "-",
            )
        )
    names = details.get("not_confirmed", [])
    if names:
        lines.append(
            _(
                "%(fields)s: accepted, but Microsoft 365 showed something else when read back",
                fields=", ".join(field_label(name) for name in names),
            )
        )
    return lines


def _profile(details: Mapping[str, Any], short: bool, values: bool) -> Described:
    changes = details.get("changes", [])
    if values:
        lines = [_change_line(change, short) for change in changes]
    elif changes:
        names = ", ".join(field_label(change["field"]) for change in changes)
        lines = [_("Saved: %(fields)s", fields=names)]
    else:
        lines = []
    problems = _profile_problems(details)
    lines.extend(problems)
    if not changes:
        return Described(_("Profile details not saved"), lines, "status-failed")
    return Described(
        str(TITLES[EntryKind.PROFILE_SAVED]), lines, "status-pending" if problems else "status-ok"
    )


def _field_refusal(code: str) -> str:
    return str(FIELD_REFUSALS.get(code, code))


def _refused(details: Mapping[str, Any]) -> Described:
    reason = details.get("reason")
    if reason == Refusal.RATE_LIMIT:
        title, note = LIMITED.get(str(details.get("subject")), LIMITED["photo"])
        return Described(str(title), [str(note)], "status-failed")
    if reason == Refusal.PHOTO_REJECTED:
        code = details.get("code")
        known = code in _REJECTION_VALUES
        line = str(wording.PHOTO_REJECTIONS[Rejection(code)]) if known else str(code)
        return Described(
            _("Photo file refused"),
            [line, _("Nothing was sent to Microsoft 365.")],
            "status-failed",
        )
    fields = details.get("fields", {})
    lines = [
        _("%(field)s: %(reason)s", field=field_label(name), reason=_field_refusal(code))
        for name, code in fields.items()
    ]
    return Described(_("Profile details not saved: not allowed"), lines, "status-failed")
