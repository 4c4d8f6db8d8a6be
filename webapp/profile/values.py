"""A profile field's value: how each kind reads from Graph and SharePoint, goes back to Graph,
and compares, plus the short token a form carries to notice changes made elsewhere."""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from webapp.microsoft.models import GraphUser, SharePointProfile
from webapp.profile.fields import EditableField, Kind

# Graph's birthday is a DateTimeOffset that needs a year (`Nullable="false"`, reference §9.3);
# SharePoint's SPS-Birthday is "date no year", stored with the fixed year 2000 (a leap year,
# so 29 February fits; ShortPoint support, "Ensuring year of birthdates is 2000"). Only day
# and month mean anything, so the app edits those and writes them in that year.
BIRTHDAY_YEAR = 2000

# SharePoint lists a multi-valued property as one "|"-joined string in GetMyProperties (as the
# emulator does; reference §4.2 is silent, UNCONFIRMED), so an item may not contain "|".
LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class Birthday:
    """Day and month: SharePoint keeps birthdays as "date no year" (reference §9.3)."""

    day: int
    month: int


Value = str | tuple[str, ...] | Birthday | None


def _birthday_from_graph(moment: datetime | None) -> Birthday | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return Birthday(moment.day, moment.month)


def birthday_to_graph(value: Birthday) -> str:
    """Graph's DateTimeOffset for a birthday (reference §8.1 `2014-01-01T00:00:00Z`), in the
    year SharePoint keeps birthdays in; never null (reference §9.3)."""
    return f"{BIRTHDAY_YEAR:04d}-{value.month:02d}-{value.day:02d}T00:00:00Z"


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_NO_YEAR_DATE = re.compile(r"--(\d{2})-?(\d{2})")  # vCard/ISO 8601 "--MM-DD"
_NAMED_DATE = re.compile(r"(?:([a-z]+)\.? (\d{1,2})|(\d{1,2})\.? ([a-z]+)\.?)(?:,? \d{4})?")


def _birthday_from_sharepoint(raw: str) -> Birthday | None:
    """SPS-Birthday as SharePoint may write it: an ISO date-time (year 2000 or any), a no-year
    "--MM-DD", or "April 12" / "12 April" as its profile pages show it. None if none of these."""
    text = raw.strip()
    try:
        return _birthday_from_graph(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    found = _NO_YEAR_DATE.fullmatch(text)
    if found:
        month, day = int(found[1]), int(found[2])
    else:
        named = _NAMED_DATE.fullmatch(" ".join(text.lower().split()))
        if named is None:
            return None
        month_name, day_text = (named[1], named[2]) if named[1] else (named[4], named[3])
        if month_name not in _MONTHS:
            return None
        month, day = _MONTHS[month_name], int(day_text)
    try:
        date(BIRTHDAY_YEAR, month, day)
    except ValueError:
        return None
    return Birthday(day, month)


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
        return _birthday_from_sharepoint(raw) or raw  # else shown as SharePoint wrote it
    return raw


def wire(spec: EditableField, value: Value) -> object:
    """The JSON value PATCH /me takes; lists are sent whole (§8.2 [S65]). A birthday is never
    sent as null (validation refuses removing one)."""
    if spec.kind is Kind.LIST:
        return list(value) if isinstance(value, tuple) else []
    if spec.kind is Kind.BIRTHDAY:
        if not isinstance(value, Birthday):
            raise ValueError("a birthday cannot be removed through Microsoft Graph")
        return birthday_to_graph(value)
    return value or None


def _canonical(value: Value) -> object:
    if isinstance(value, Birthday):
        return [value.day, value.month]
    if isinstance(value, tuple):
        return list(value)
    return value or None


def token(value: Value) -> str:
    """A short digest of a value as loaded, carried by the form to notice changes elsewhere."""
    data = json.dumps(_canonical(value), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:20]


def same(a: Value, b: Value) -> bool:
    """Exactly the same value (a reordered list is a change the user made)."""
    return _canonical(a) == _canonical(b)


_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"<\s*(?:br|/p|/div|/li)\b[^>]*>", re.IGNORECASE)


def _as_text(value: str) -> str:
    """About me as text: SharePoint keeps it as HTML (reference §9.3), Graph as typed."""
    text = _TAG.sub("", _BLOCK_END.sub("\n", value))
    return " ".join(html.unescape(text).split())


def _stored_form(value: Value) -> object:
    if isinstance(value, tuple):
        return frozenset(" ".join(item.split()).casefold() for item in value)
    if isinstance(value, str):
        return _as_text(value) or None
    return _canonical(value)


def equivalent(a: Value, b: Value) -> bool:
    """The same value stored two ways: text regardless of HTML markup and spacing, lists as
    sets of items, birthdays by day and month (reference §9.3). Graph and SharePoint store
    one value differently, so this, not `same`, says whether they agree."""
    return _stored_form(a) == _stored_form(b)
