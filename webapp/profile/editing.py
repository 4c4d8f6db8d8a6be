"""Your own profile: the field catalogue, reading both sides, validating edits and saving them.

Facts from ../shared/reference/microsoft365-api.md §8 (editing one's own profile) and §5.5 (the
Entra → SharePoint attribute sync). Values travel as codes and plain values; `wording.py`
turns them into sentences.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import html
import json
import logging
import re
from collections.abc import Callable, Mapping, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TypeVar

from webapp.microsoft.errors import (
    AuthRequiredError,
    BadRequestError,
    ForbiddenError,
    UpstreamError,
)
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.models import (
    DEFAULT_SELECT,
    SHAREPOINT_BACKED,
    GraphUser,
    SharePointProfile,
)
from webapp.microsoft.properties import Attribute, RowState, diff_rows
from webapp.microsoft.sharepoint import SharePointClient

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Kind(StrEnum):
    TEXT = "text"
    LIST = "list"
    BIRTHDAY = "birthday"
    PHONE = "phone"


class Owner(StrEnum):
    """Who maintains a field (reference §8.1 "Store / owner")."""

    YOU = "you"
    ENTRA_ID = "entra_id"
    HR_SYSTEM = "hr_system"
    ON_PREMISES_AD = "on_premises_ad"


class Place(StrEnum):
    """Where colleagues see a field (reference §8.3, §8.6: profile card, search, SharePoint)."""

    PROFILE_CARD = "profile_card"
    PEOPLE_SEARCH = "people_search"
    SHAREPOINT = "sharepoint"


class Refusal(StrEnum):
    """Why Microsoft would not store a field; all but REJECTED make it read-only."""

    # 403 Authorization_RequestDenied: the tenant does not let members change it (§8.2 [S63]).
    ORGANISATION = "organisation"
    # A phone-only PATCH refused with 400 although our checks passed: the account is mastered
    # on-premises ("source of authority", §8.1 [S59], §8.2).
    ON_PREMISES = "on_premises"
    # 500 DirectoryObjectUnauthorizedAccessException: SharePoint profile not writable (§8.7).
    SHAREPOINT_NOT_WRITABLE = "sharepoint_not_writable"
    # 400 for this one field on its own: Microsoft refused the value itself.
    REJECTED = "rejected"
    # Graph's 400 "Tenant does not have a SPO license." to the SharePoint-backed fields
    # (reference §9.2, graph-docs #4233): known from reading, never remembered.
    NO_SHAREPOINT = "no_sharepoint"


_REFUSAL_VALUES = frozenset(r.value for r in Refusal)
READ_ONLY_REFUSALS = frozenset(
    {
        Refusal.ORGANISATION,
        Refusal.ON_PREMISES,
        Refusal.SHAREPOINT_NOT_WRITABLE,
        Refusal.NO_SHAREPOINT,
    }
)


@dataclass(frozen=True)
class Birthday:
    """Day and month: SharePoint keeps birthdays as "date no year" (reference §9.3)."""

    day: int
    month: int


Value = str | tuple[str, ...] | Birthday | None


@dataclass(frozen=True)
class EditableField:
    """A field members may change on themselves (reference §8.1, §8.2)."""

    name: str
    graph_property: str
    upa_key: str
    kind: Kind
    seen_in: tuple[Place, ...]
    # False where SharePoint keeps its own, unsynced copy (mobilePhone → CellPhone, §5.5).
    synced: bool = True


@dataclass(frozen=True)
class ManagedField:
    """A field the organisation maintains; `attribute` keys it in `attributes.MAP`."""

    name: str
    graph_property: str | None
    attribute: Attribute | None
    owner: Owner
    seen_in: tuple[Place, ...]


_EVERYWHERE = (Place.PROFILE_CARD, Place.PEOPLE_SEARCH, Place.SHAREPOINT)

# Reference §8.1: Graph property ↔ UPA key (the UPA keys are inferred there, UNCONFIRMED).
EDITABLE: tuple[EditableField, ...] = (
    EditableField("about_me", "aboutMe", "AboutMe", Kind.TEXT, _EVERYWHERE),
    EditableField("skills", "skills", "SPS-Skills", Kind.LIST, _EVERYWHERE),
    EditableField("interests", "interests", "SPS-Interests", Kind.LIST, _EVERYWHERE),
    EditableField("past_projects", "pastProjects", "SPS-PastProjects", Kind.LIST, _EVERYWHERE),
    EditableField(
        "responsibilities", "responsibilities", "SPS-Responsibility", Kind.LIST, _EVERYWHERE
    ),
    EditableField("schools", "schools", "SPS-School", Kind.LIST, _EVERYWHERE),
    EditableField(
        "birthday",
        "birthday",
        "SPS-Birthday",
        Kind.BIRTHDAY,
        (Place.PROFILE_CARD, Place.SHAREPOINT),
    ),
    # Members may change their own mobile phone by default (§8.1 [S61][S60]); CellPhone is not
    # fed from it (§5.5), so SharePoint's value is its own.
    EditableField(
        "mobile_phone",
        "mobilePhone",
        "CellPhone",
        Kind.PHONE,
        (Place.PROFILE_CARD, Place.PEOPLE_SEARCH),
        synced=False,
    ),
)
EDITABLE_BY_NAME = {f.name: f for f in EDITABLE}

# Reference §8.1 (organisation-owned → 403) and §5.5 (what the profile import copies).
# Name, title, department and manager usually come from HR; office and phone from IT.
MANAGED: tuple[ManagedField, ...] = (
    ManagedField(
        "display_name", "displayName", Attribute.DISPLAY_NAME, Owner.HR_SYSTEM, _EVERYWHERE
    ),
    ManagedField("job_title", "jobTitle", Attribute.JOB_TITLE, Owner.HR_SYSTEM, _EVERYWHERE),
    ManagedField("department", "department", Attribute.DEPARTMENT, Owner.HR_SYSTEM, _EVERYWHERE),
    ManagedField("office", "officeLocation", Attribute.OFFICE, Owner.ENTRA_ID, _EVERYWHERE),
    ManagedField(
        "business_phone", "businessPhones", Attribute.BUSINESS_PHONE, Owner.ENTRA_ID, _EVERYWHERE
    ),
    # Graph has the manager only at /me/manager, not read here; SharePoint's copy is (§5.5).
    ManagedField("manager", None, Attribute.MANAGER, Owner.HR_SYSTEM, _EVERYWHERE),
    # companyName is not synced to SharePoint by default (§5.5).
    ManagedField(
        "company", "companyName", None, Owner.HR_SYSTEM, (Place.PROFILE_CARD, Place.PEOPLE_SEARCH)
    ),
)

# Two GETs: the directory fields, and the SharePoint-backed ones, which come back only when
# selected (§8.2 [S59]) and which Graph refuses for a user without SharePoint (400 "Tenant does
# not have a SPO license.", reference §9.2): apart, the first still works without the second.
DIRECTORY_SELECT: tuple[str, ...] = (*DEFAULT_SELECT, "onPremisesSyncEnabled")
BACKED_SELECT: tuple[str, ...] = ("id", *SHAREPOINT_BACKED)
NO_SPO_LICENSE = "does not have a spo license"

# -- limits (reference §8.4: admins set a Length per property; AboutMe's is UNCONFIRMED,
# "3,600 chars?"). We stay well below what SharePoint is reported to take. ------------------
ABOUT_ME_MAX = 2000
LIST_MAX_ITEMS = 50
LIST_ITEM_MAX = 100
# "The maximum length is 64 characters." (user resource, mobilePhone; reference §8.9 [S59]).
PHONE_MAX = 64
# Graph's birthday is a DateTimeOffset that needs a year (`Nullable="false"`, reference §9.3);
# SharePoint's SPS-Birthday is "date no year", stored with the fixed year 2000 (a leap year,
# so 29 February fits; ShortPoint support, "Ensuring year of birthdates is 2000"). Only day
# and month mean anything, so the app edits those and writes them in that year.
BIRTHDAY_YEAR = 2000

# SharePoint lists a multi-valued property as one "|"-joined string in GetMyProperties (as the
# emulator does; reference §4.2 is silent, UNCONFIRMED), so an item may not contain "|".
_LIST_SEPARATOR = "|"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"\+?[0-9 ()./-]+")

# Where the page remembers refusals for this session (a server-side session mapping).
MEMORY_KEY = "profile.read_only"


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


RawBirthday = tuple[str, str]  # day and month as typed
RawValue = str | RawBirthday


# -- values --------------------------------------------------------------------------------


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


def _graph_value(spec: EditableField, user: GraphUser) -> Value:
    if spec.kind is Kind.BIRTHDAY:
        return _birthday_from_graph(user.birthday)
    raw = getattr(user, spec.name)
    if spec.kind is Kind.LIST:
        return tuple(raw or ())
    return raw or ""


def _sharepoint_value(spec: EditableField, profile: SharePointProfile) -> Value:
    raw = profile.properties.get(spec.upa_key, "")
    if spec.kind is Kind.LIST:
        return tuple(item for item in raw.split(_LIST_SEPARATOR) if item) if raw else ()
    if spec.kind is Kind.BIRTHDAY:
        if not raw:
            return None
        return _birthday_from_sharepoint(raw) or raw  # else shown as SharePoint wrote it
    return raw


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


def _wire(spec: EditableField, value: Value) -> object:
    """The JSON value PATCH /me takes; lists are sent whole (§8.2 [S65]). A birthday is never
    sent as null (validation refuses removing one)."""
    if spec.kind is Kind.LIST:
        return list(value) if isinstance(value, tuple) else []
    if spec.kind is Kind.BIRTHDAY:
        if not isinstance(value, Birthday):
            raise ValueError("a birthday cannot be removed through Microsoft Graph")
        return birthday_to_graph(value)
    return value or None


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditableRow:
    """One field you own: its value on each side, the form token, and a refusal if any."""

    field: EditableField
    graph_value: Value
    sharepoint_value: Value
    graph_read: bool
    sharepoint_read: bool
    read_only: Refusal | None = None

    @property
    def token(self) -> str | None:
        return token(self.graph_value) if self.graph_read else None

    @property
    def owner(self) -> Owner:
        """You, unless Microsoft refused your change (then who holds it instead)."""
        if self.read_only is Refusal.ON_PREMISES:
            return Owner.ON_PREMISES_AD
        if self.read_only in READ_ONLY_REFUSALS:
            return Owner.ENTRA_ID
        return Owner.YOU

    @property
    def state(self) -> RowState:
        if not (self.graph_read and self.sharepoint_read):
            return RowState.UNAVAILABLE
        if equivalent(self.graph_value, self.sharepoint_value):
            return RowState.SAME
        return RowState.DIFFERS if self.field.synced else RowState.NOT_SYNCED


@dataclass(frozen=True)
class ManagedRow:
    """One organisation-owned field with both sides' values (None: unset or not read)."""

    field: ManagedField
    graph_value: str | None
    sharepoint_value: str | None
    state: RowState
    owner: Owner
    graph_read: bool = True
    sharepoint_read: bool = True


@dataclass(frozen=True)
class ProfileView:
    """Both sides of the profile at one moment; an `*_error` is what hid that side."""

    editable: tuple[EditableRow, ...]
    managed: tuple[ManagedRow, ...]
    graph_error: UpstreamError | None = None
    sharepoint_error: UpstreamError | None = None
    # What hid the SharePoint-backed fields on Graph's side while the directory fields were
    # read (a missing SharePoint licence is not an error: those fields are NO_SHAREPOINT).
    backed_error: UpstreamError | None = None

    def row(self, name: str) -> EditableRow:
        return next(r for r in self.editable if r.field.name == name)

    @property
    def tokens(self) -> dict[str, str]:
        return {r.field.name: r.token for r in self.editable if r.token and not r.read_only}

    @property
    def differing(self) -> tuple[EditableRow | ManagedRow, ...]:
        """Rows whose sides disagree although SharePoint is expected to follow (helpdesk)."""
        rows: list[EditableRow | ManagedRow] = [
            r for r in self.editable if r.state is RowState.DIFFERS
        ]
        rows.extend(r for r in self.managed if r.state is RowState.DIFFERS)
        return tuple(rows)


def remembered_refusals(memory: Mapping[str, object]) -> dict[str, Refusal]:
    """The fields refused earlier in this session (they stay read-only); junk is ignored."""
    stored = memory.get(MEMORY_KEY)
    if not isinstance(stored, dict):
        return {}
    return {
        name: Refusal(reason)
        for name, reason in stored.items()
        if name in EDITABLE_BY_NAME and reason in _REFUSAL_VALUES
    }


def remember_refusals(memory: MutableMapping[str, object], refused: Mapping[str, Refusal]) -> None:
    """Keep the refusals that make a field read-only (not a value Microsoft rejected)."""
    lasting = {n: r for n, r in refused.items() if r in READ_ONLY_REFUSALS}
    if lasting:
        memory[MEMORY_KEY] = {
            **remembered_refusals(memory),
            **{n: r.value for n, r in lasting.items()},
        }


def _on_premises(read_only: Mapping[str, Refusal]) -> bool:
    return Refusal.ON_PREMISES in read_only.values()


def _backed(spec: EditableField) -> bool:
    return spec.graph_property in SHAREPOINT_BACKED


def build_view(
    user: GraphUser | None,
    profile: SharePointProfile | None,
    *,
    read_only: Mapping[str, Refusal],
    graph_error: UpstreamError | None = None,
    sharepoint_error: UpstreamError | None = None,
    backed_error: UpstreamError | None = None,
) -> ProfileView:
    """Pure: the rows of the page from what each side returned.

    `user` lacks the SharePoint-backed fields when `backed_error` hid them, or when Graph said
    the user has no SharePoint licence (`read_only` then marks them NO_SHAREPOINT).
    """
    if user is not None and user.on_premises_sync_enabled:
        # Known before any save: a synced account's phone is mastered on premises (§8.2).
        read_only = {"mobile_phone": Refusal.ON_PREMISES, **read_only}

    def graph_read(spec: EditableField) -> bool:
        if user is None:
            return False
        return not _backed(spec) or (
            backed_error is None and read_only.get(spec.name) is not Refusal.NO_SHAREPOINT
        )

    editable = tuple(
        EditableRow(
            field=spec,
            graph_value=_graph_value(spec, user) if user is not None and graph_read(spec) else None,
            sharepoint_value=_sharepoint_value(spec, profile) if profile is not None else None,
            graph_read=graph_read(spec),
            sharepoint_read=profile is not None,
            read_only=read_only.get(spec.name),
        )
        for spec in EDITABLE
    )
    # Reuse the overview's Entra ↔ SharePoint map for the organisation's fields (§5.5).
    rows = {row.attribute: row for row in diff_rows(user, profile)}
    synced_account = _on_premises(read_only)
    managed: list[ManagedRow] = []
    read = {"graph_read": user is not None, "sharepoint_read": profile is not None}
    for spec in MANAGED:
        owner = Owner.ON_PREMISES_AD if synced_account else spec.owner
        if spec.attribute is not None:
            row = rows[spec.attribute]
            managed.append(
                ManagedRow(spec, row.graph_value, row.sharepoint_value, row.state, owner, **read)
            )
        else:
            value = user.company_name if user is not None else None
            state = RowState.NOT_SYNCED if user is not None else RowState.UNAVAILABLE
            managed.append(ManagedRow(spec, value, None, state, owner, **read))
    return ProfileView(editable, tuple(managed), graph_error, sharepoint_error, backed_error)


def _outcome(future: Future[T]) -> tuple[T | None, UpstreamError | None]:
    """The call's value or the UpstreamError that stopped it; re-auth needs propagate."""
    try:
        return future.result(), None
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        logger.info("%s profile read failed: %s %s", exc.service, exc.status, exc.code)
        return None, exc


def _no_sharepoint_licence(error: UpstreamError | None) -> bool:
    """Graph's answer for SharePoint-backed fields of a user without SharePoint (§9.2)."""
    return isinstance(error, BadRequestError) and NO_SPO_LICENSE in error.message.lower()


def _with_backed(user: GraphUser | None, backed: GraphUser | None) -> GraphUser | None:
    """The directory read with the SharePoint-backed fields of the second read added."""
    if user is None or backed is None:
        return user
    values = {
        f.name: getattr(backed, f.name)
        for f in dataclasses.fields(GraphUser)
        if f.name not in ("id", "fields")
    }
    extra = {k: v for k, v in values.items() if getattr(user, k) is None and v is not None}
    return dataclasses.replace(user, **extra, fields=user.fields | backed.fields)


def read_profile(
    graph: GraphClient, sharepoint: SharePointClient, memory: Mapping[str, object]
) -> ProfileView:
    """Graph's directory fields, Graph's SharePoint-backed fields and SharePoint's
    `GetMyProperties`, all at the same time (§8.2, §4.2, §9.2).

    `memory` holds the refusals seen earlier in this session, which keep fields read-only.

    :raise AuthRequiredError: a service refused the token even after a refresh.
    """
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="profile") as pool:

        def start(call: Callable[[], T]) -> Future[T]:
            # Token providers may rely on context variables; run each call in a copy.
            return pool.submit(contextvars.copy_context().run, call)

        me = start(lambda: graph.me(select=DIRECTORY_SELECT))
        backed_me = start(lambda: graph.me(select=BACKED_SELECT))
        properties = start(sharepoint.my_properties)
        user, graph_error = _outcome(me)
        backed, backed_error = _outcome(backed_me)
        profile, sharepoint_error = _outcome(properties)
    read_only = remembered_refusals(memory)
    if _no_sharepoint_licence(backed_error):
        read_only = {
            **{s.name: Refusal.NO_SHAREPOINT for s in EDITABLE if _backed(s)},
            **read_only,
        }
        backed_error = None
    return build_view(
        _with_backed(user, backed),
        profile,
        read_only=read_only,
        graph_error=graph_error,
        sharepoint_error=sharepoint_error,
        backed_error=backed_error if user is not None else None,
    )


# -- validation ----------------------------------------------------------------------------


def _problem(problem: Problem, **params: object) -> FieldProblem:
    return FieldProblem(problem, tuple(params.items()))


def _validate_text(raw: str) -> tuple[Value, list[FieldProblem]]:
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    problems = []
    if _CONTROL.search(text):
        problems.append(_problem(Problem.CONTROL_CHARACTER))
    if len(text) > ABOUT_ME_MAX:
        problems.append(_problem(Problem.TOO_LONG, limit=ABOUT_ME_MAX, length=len(text)))
    return text, problems


def _validate_list(raw: str) -> tuple[Value, list[FieldProblem]]:
    items = [line.strip() for line in raw.splitlines()]
    items = [item for item in items if item]
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for item in items:
        if len(item) > LIST_ITEM_MAX:
            problems.append(_problem(Problem.ITEM_TOO_LONG, item=item, limit=LIST_ITEM_MAX))
        if _LIST_SEPARATOR in item:
            problems.append(_problem(Problem.SEPARATOR, item=item))
        if _CONTROL.search(item):
            problems.append(_problem(Problem.CONTROL_CHARACTER))
        key = item.casefold()
        if key in seen:
            problems.append(_problem(Problem.DUPLICATE, item=item))
        seen.add(key)
    if len(items) > LIST_MAX_ITEMS:
        problems.append(_problem(Problem.TOO_MANY, limit=LIST_MAX_ITEMS, count=len(items)))
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
        return typed, [_problem(Problem.INCOMPLETE_DATE)]
    day, month = _number(day_raw), _number(month_raw)
    if day is None or month is None:
        return typed, [_problem(Problem.NOT_A_DATE)]
    try:
        date(BIRTHDAY_YEAR, month, day)  # a leap year: 29 February is a birthday
    except ValueError:
        return typed, [_problem(Problem.NOT_A_DATE)]
    return Birthday(day, month), []


def _validate_phone(raw: str) -> tuple[Value, list[FieldProblem]]:
    text = " ".join(raw.split())
    if not text:
        return "", []
    digits = sum(c.isdigit() for c in text)
    if not _PHONE.fullmatch(text) or digits < 3:
        return text, [_problem(Problem.NOT_A_PHONE)]
    if len(text) > PHONE_MAX:
        return text, [_problem(Problem.TOO_LONG, limit=PHONE_MAX, length=len(text))]
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


# -- saving --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """What the form sent: raw values and, per field, the token of the value it loaded."""

    values: Mapping[str, RawValue]
    tokens: Mapping[str, str]


@dataclass(frozen=True)
class Conflict:
    """A field changed elsewhere since the page was loaded; nothing was written for it."""

    name: str
    mine: Value
    theirs: Value
    token: str


@dataclass(frozen=True)
class SaveResult:
    """What happened to each field; `profile` is what both sides hold afterwards.

    Nothing is written when `problems` is non-empty or Graph could not be read first
    (`read_error`).
    """

    profile: ProfileView
    submitted: Mapping[str, Value] = field(default_factory=dict)
    problems: Mapping[str, tuple[FieldProblem, ...]] = field(default_factory=dict)
    saved: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    refused: Mapping[str, Refusal] = field(default_factory=dict)
    failed: Mapping[str, UpstreamError] = field(default_factory=dict)
    not_confirmed: tuple[str, ...] = ()
    read_error: UpstreamError | None = None

    @property
    def complete(self) -> bool:
        """Everything asked for is stored (or nothing needed storing)."""
        return not (
            self.problems
            or self.conflicts
            or self.refused
            or self.failed
            or self.not_confirmed
            or self.read_error
        )

    def next_tokens(self, loaded: Mapping[str, str]) -> dict[str, str]:
        """Tokens for the form shown again: as loaded for fields sent but not stored (so a
        change elsewhere is still noticed), fresh for the rest."""
        tokens = dict(self.profile.tokens)
        for name, loaded_token in loaded.items():
            sent_not_stored = name in EDITABLE_BY_NAME and name not in self.saved
            if sent_not_stored and not self.profile.row(name).read_only:
                tokens[name] = loaded_token
        return tokens


def _refusal(name: str, exc: UpstreamError) -> Refusal | None:
    """How a refused PATCH of `name` alone reads (§8.2 error table, §8.7)."""
    if isinstance(exc, ForbiddenError):
        return Refusal.ORGANISATION
    if isinstance(exc, BadRequestError):
        return Refusal.ON_PREMISES if name == "mobile_phone" else Refusal.REJECTED
    if exc.status == 500 and "DirectoryObjectUnauthorizedAccessException" in (exc.code or ""):
        return Refusal.SHAREPOINT_NOT_WRITABLE
    return None


class _Writer:
    """Collects each field's fate while the PATCHes run."""

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph
        self.saved: list[str] = []
        self.refused: dict[str, Refusal] = {}
        self.failed: dict[str, UpstreamError] = {}

    def one(self, name: str, wire: object) -> None:
        spec = EDITABLE_BY_NAME[name]
        try:
            self.graph.update_me({spec.graph_property: wire})
        except AuthRequiredError:
            raise
        except UpstreamError as exc:
            logger.info("PATCH /me %s refused: %s %s", spec.graph_property, exc.status, exc.code)
            refusal = _refusal(name, exc)
            if refusal is None:
                self.failed[name] = exc
            else:
                self.refused[name] = refusal
        else:
            self.saved.append(name)

    def sharepoint_backed(self, changes: Mapping[str, object]) -> None:
        """One PATCH of their own (§8.2 own-request rule); on 400 one field per request (§8.7)."""
        if len(changes) == 1:
            (name, wire), *_ = changes.items()
            self.one(name, wire)
            return
        wires = {EDITABLE_BY_NAME[n].graph_property: w for n, w in changes.items()}
        try:
            self.graph.update_me(wires)
        except AuthRequiredError:
            raise
        except UpstreamError as exc:
            if not isinstance(exc, BadRequestError) and _refusal("", exc) is None:
                logger.info("grouped PATCH /me failed: %s %s", exc.status, exc.code)
                self.failed.update(dict.fromkeys(changes, exc))
                return
            # Grouping several SharePoint-backed fields is UNCONFIRMED (§8.2, [S62]); on a 400
            # send one field per request (§8.7). A refusal may concern one property only (the
            # per-property editability of §8.2/§8.4), so find out which the same way.
            logger.info("grouped PATCH /me refused (%s); one field per request", exc.code)
            for name, wire in changes.items():
                self.one(name, wire)
        else:
            self.saved.extend(changes)


def plan(
    submitted: Mapping[str, Value], loaded: Mapping[str, str], current: ProfileView
) -> tuple[dict[str, object], list[Conflict]]:
    """Pure: the PATCH values to send (by field name) and the fields changed on both sides.

    A field is written only when the user changed it (its value differs from the one loaded)
    and nobody else did meanwhile (what Graph holds now still matches the loaded token).
    """
    changes: dict[str, object] = {}
    conflicts: list[Conflict] = []
    for name, value in submitted.items():
        loaded_token = loaded.get(name)
        now = current.row(name)
        if loaded_token is None or token(value) == loaded_token or same(value, now.graph_value):
            continue  # unchanged here, or already what the user wants
        if now.token != loaded_token:
            conflicts.append(Conflict(name, value, now.graph_value, now.token or ""))
            continue
        changes[name] = _wire(now.field, value)
    return changes, conflicts


def save(
    graph: GraphClient,
    sharepoint: SharePointClient,
    submission: Submission,
    memory: MutableMapping[str, object],
) -> SaveResult:
    """Validate, check for changes made elsewhere, PATCH what changed, read both sides back.

    Only fields whose value differs from the one loaded are written, so a field changed
    elsewhere and not touched here is never overwritten; one changed on both sides becomes a
    `Conflict`. The SharePoint-backed fields go in one PATCH and `mobilePhone` in another
    (reference §8.2, §8.7). Refusals are remembered in `memory` and make the field read-only.
    A field that turned read-only or unreadable since the page was loaded (no SharePoint
    licence, a failed read) is reported, not sent.

    :raise AuthRequiredError: a service refused the token even after a refresh.
    """
    remembered = remembered_refusals(memory)
    submitted: dict[str, Value] = {}
    problems: dict[str, tuple[FieldProblem, ...]] = {}
    for name, raw in submission.values.items():
        if name not in EDITABLE_BY_NAME or name in remembered:
            continue
        value, found = validate(name, raw)
        submitted[name] = value
        changed = token(value) != submission.tokens.get(name)
        if value is None and changed and EDITABLE_BY_NAME[name].kind is Kind.BIRTHDAY:
            found = [*found, _problem(Problem.CANNOT_REMOVE)]
        # Only what the user changed counts; an old value already there is not re-checked.
        if found and changed:
            problems[name] = tuple(found)

    current = read_profile(graph, sharepoint, memory)
    if problems or current.graph_error is not None:
        return SaveResult(
            profile=current,
            submitted=submitted,
            problems=problems,
            read_error=current.graph_error,
        )

    blocked = {n: current.row(n).read_only for n in submitted if current.row(n).read_only}
    unread = {
        n: current.backed_error
        for n in submitted
        if not current.row(n).graph_read and current.backed_error is not None
    }
    writable = {n: v for n, v in submitted.items() if n not in blocked and n not in unread}
    changes, conflicts = plan(writable, submission.tokens, current)
    writer = _Writer(graph)
    backed = {n: w for n, w in changes.items() if n != "mobile_phone"}
    if backed:
        writer.sharepoint_backed(backed)
    if "mobile_phone" in changes:
        # mobilePhone in a request of its own (§8.2 own-request rule).
        writer.one("mobile_phone", changes["mobile_phone"])
    remember_refusals(memory, writer.refused)

    after = read_profile(graph, sharepoint, memory) if changes else current
    not_confirmed = tuple(
        name
        for name in writer.saved
        if after.row(name).graph_read
        and not equivalent(after.row(name).graph_value, submitted[name])
    )
    return SaveResult(
        profile=after,
        submitted=submitted,
        saved=tuple(n for n in writer.saved if n not in not_confirmed),
        conflicts=tuple(conflicts),
        refused={**{n: r for n, r in blocked.items() if r is not None}, **writer.refused},
        failed={**{n: e for n, e in unread.items() if e is not None}, **writer.failed},
        not_confirmed=not_confirmed,
    )
