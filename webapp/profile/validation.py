"""The rules a typed profile value must pass before anything is sent to Microsoft.

Reference §8.4: admins set a Length per property; AboutMe's is UNCONFIRMED ("3,600 chars?").
We stay well below what SharePoint is reported to take.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from webapp.profile.fields import EDITABLE_BY_NAME, Kind
from webapp.profile.values import BIRTHDAY_YEAR, LIST_SEPARATOR, Birthday, Value

ABOUT_ME_MAX = 2000
LIST_MAX_ITEMS = 50
LIST_ITEM_MAX = 100
# "The maximum length is 64 characters." (user resource, mobilePhone; reference §8.9 [S59]).
PHONE_MAX = 64

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"\+?[0-9 ()./-]+")

RawBirthday = tuple[str, str]  # day and month as typed
RawValue = str | RawBirthday


class Problem(StrEnum):
    TOO_LONG = "too_long"
    TOO_MANY = "too_many"
    ITEM_TOO_LONG = "item_too_long"
    DUPLICATE = "duplicate"
    SEPARATOR = "separator"
    CONTROL_CHARACTER = "control_character"
    NOT_A_DATE = "not_a_date"
    INCOMPLETE_DATE = "incomplete_date"
    # Graph's birthday is not nullable (reference §9.3): once stored it can be changed, not
    # removed, through Microsoft 365.
    CANNOT_REMOVE = "cannot_remove"
    NOT_A_PHONE = "not_a_phone"


@dataclass(frozen=True)
class FieldProblem:
    """One validation failure with what the message needs (`item`, `limit`, ...)."""

    problem: Problem
    params: tuple[tuple[str, object], ...] = ()

    @property
    def values(self) -> dict[str, object]:
        return dict(self.params)


def field_problem(code: Problem, **params: object) -> FieldProblem:
    return FieldProblem(code, tuple(params.items()))


def _validate_text(raw: str) -> tuple[Value, list[FieldProblem]]:
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    problems = []
    if _CONTROL.search(text):
        problems.append(field_problem(Problem.CONTROL_CHARACTER))
    if len(text) > ABOUT_ME_MAX:
        problems.append(field_problem(Problem.TOO_LONG, limit=ABOUT_ME_MAX, length=len(text)))
    return text, problems


def _validate_list(raw: str) -> tuple[Value, list[FieldProblem]]:
    items = [line.strip() for line in raw.splitlines()]
    items = [item for item in items if item]
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for item in items:
        if len(item) > LIST_ITEM_MAX:
            problems.append(field_problem(Problem.ITEM_TOO_LONG, item=item, limit=LIST_ITEM_MAX))
        if LIST_SEPARATOR in item:
            problems.append(field_problem(Problem.SEPARATOR, item=item))
        if _CONTROL.search(item):
            problems.append(field_problem(Problem.CONTROL_CHARACTER))
        key = item.casefold()
        if key in seen:
            problems.append(field_problem(Problem.DUPLICATE, item=item))
        seen.add(key)
    if len(items) > LIST_MAX_ITEMS:
        problems.append(field_problem(Problem.TOO_MANY, limit=LIST_MAX_ITEMS, count=len(items)))
    return tuple(items), problems


def _number(raw: str) -> int | None:
    """A day or month typed in ASCII digits: `isdigit()` also accepts superscripts and other
    scripts' digits, which `int()` then refuses or reads unexpectedly."""
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 2 else None


def _validate_birthday(raw: RawBirthday) -> tuple[Value, list[FieldProblem]]:
    typed = tuple(part.strip() for part in raw)  # returned as is when it is not a date
    day_raw, month_raw = typed
    if not (day_raw or month_raw):
        return None, []
    if not (day_raw and month_raw):
        return typed, [field_problem(Problem.INCOMPLETE_DATE)]
    day, month = _number(day_raw), _number(month_raw)
    if day is None or month is None:
        return typed, [field_problem(Problem.NOT_A_DATE)]
    try:
        date(BIRTHDAY_YEAR, month, day)  # a leap year: 29 February is a birthday
    except ValueError:
        return typed, [field_problem(Problem.NOT_A_DATE)]
    return Birthday(day, month), []


def _validate_phone(raw: str) -> tuple[Value, list[FieldProblem]]:
    text = " ".join(raw.split())
    if not text:
        return "", []
    digits = sum(c.isdigit() for c in text)
    if not _PHONE.fullmatch(text) or digits < 3:
        return text, [field_problem(Problem.NOT_A_PHONE)]
    if len(text) > PHONE_MAX:
        return text, [field_problem(Problem.TOO_LONG, limit=PHONE_MAX, length=len(text))]
    return text, []


def validate(name: str, raw: RawValue) -> tuple[Value, list[FieldProblem]]:
    """The trimmed value of one field as typed, and what is wrong with it (empty: valid).

    Lists come one item per line; a birthday as (day, month), and comes back as those two
    texts when it is not a date.
    """
    spec = EDITABLE_BY_NAME[name]
    if spec.kind is Kind.BIRTHDAY:
        if not isinstance(raw, tuple):
            raise TypeError("a birthday is typed as (day, month)")
        return _validate_birthday(raw)
    if not isinstance(raw, str):
        raise TypeError(f"{name} is typed as text")
    if spec.kind is Kind.LIST:
        return _validate_list(raw)
    if spec.kind is Kind.PHONE:
        return _validate_phone(raw)
    return _validate_text(raw)
