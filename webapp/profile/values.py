"""A profile field's value: how each kind reads from Graph and SharePoint, goes back to Graph,
and compares, plus the short token a form carries to notice changes made elsewhere."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from webapp.microsoft.models import GraphUser, SharePointProfile
from webapp.profile.fields import EditableField, Kind

# Graph's birthday is a DateTimeOffset and needs a year (§8.1). A birthday without one is stored
# in 1604: a leap year (29 February fits), and no colleague's real birth year, so it reads back
# unambiguously as "no year" (the vCard convention for year-less birthdays).
NO_YEAR = 1604

# SharePoint lists a multi-valued property as one "|"-joined string in GetMyProperties (as the
# emulator does; reference §4.2 is silent, UNCONFIRMED), so an item may not contain "|".
LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class Birthday:
    """Day and month, and the year only when the user gave it."""

    day: int
    month: int
    year: int | None = None


Value = str | tuple[str, ...] | Birthday | None


def _birthday_from_graph(moment: datetime | None) -> Birthday | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    year = None if moment.year == NO_YEAR else moment.year
    return Birthday(moment.day, moment.month, year)


def birthday_to_graph(value: Birthday | None) -> str | None:
    """Graph's DateTimeOffset for a birthday (reference §8.1 `2014-01-01T00:00:00Z`)."""
    if value is None:
        return None
    year = NO_YEAR if value.year is None else value.year
    return f"{year:04d}-{value.month:02d}-{value.day:02d}T00:00:00Z"


def graph_value(spec: EditableField, user: GraphUser) -> Value:
    if spec.kind is Kind.BIRTHDAY:
        return _birthday_from_graph(user.birthday)
    raw = getattr(user, spec.name)
    if spec.kind is Kind.LIST:
        return tuple(raw or ())
    return raw or ""


def sharepoint_value(spec: EditableField, profile: SharePointProfile) -> Value:
    raw = profile.properties.get(spec.upa_key, "")
    if spec.kind is Kind.LIST:
        return tuple(item for item in raw.split(LIST_SEPARATOR) if item) if raw else ()
    if spec.kind is Kind.BIRTHDAY:
        if not raw:
            return None
        try:
            return _birthday_from_graph(datetime.fromisoformat(raw.replace("Z", "+00:00")))
        except ValueError:
            return raw  # shown as SharePoint wrote it
    return raw


def wire(spec: EditableField, value: Value) -> object:
    """The JSON value PATCH /me takes; lists are sent whole (§8.2 [S65])."""
    if spec.kind is Kind.LIST:
        return list(value) if isinstance(value, tuple) else []
    if spec.kind is Kind.BIRTHDAY:
        return birthday_to_graph(value if isinstance(value, Birthday) else None)
    return value or None


def _canonical(value: Value) -> object:
    if isinstance(value, Birthday):
        return [value.day, value.month, value.year]
    if isinstance(value, tuple):
        return list(value)
    return value or None


def token(value: Value) -> str:
    """A short digest of a value as loaded, carried by the form to notice changes elsewhere."""
    data = json.dumps(_canonical(value), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:20]


def same(a: Value, b: Value) -> bool:
    return _canonical(a) == _canonical(b)
