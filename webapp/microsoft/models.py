"""Frozen values parsed from Graph and SharePoint wire JSON; parsing lives in their classmethods."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from webapp.microsoft.errors import BadResponseError

# Graph properties returned without $select (reference §3.2) plus the ones the app compares
# with SharePoint (§5.5).
DEFAULT_SELECT: tuple[str, ...] = (
    "id",
    "displayName",
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "officeLocation",
    "businessPhones",
    "mobilePhone",
    "mail",
    "userPrincipalName",
    "companyName",
    "employeeId",
    "city",
    "country",
    "preferredLanguage",
)

# SharePoint-backed user properties: only returned on $select, and written by a PATCH of
# their own (reference §8.1, §8.2).
SHAREPOINT_BACKED: tuple[str, ...] = (
    "aboutMe",
    "birthday",
    "interests",
    "pastProjects",
    "responsibilities",
    "schools",
    "skills",
)


def _graph_bad(message: str) -> BadResponseError:
    return BadResponseError("graph", 200, message=message)


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _graph_bad(f"{key} is not a string")
    return value


def _bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _graph_bad(f"{key} is not a boolean")
    return value


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _graph_bad(f"{key} is not a list of strings")
    return tuple(value)


def _datetime(data: Mapping[str, Any], key: str) -> datetime | None:
    value = _str(data, key)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _graph_bad(f"{key} is not a date-time") from exc
    # An unset birthday may come back as .NET's minimum date (reference §8.2: UNCONFIRMED).
    if parsed.year == 1:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class GraphUser:
    """The signed-in user as Graph `/me` returned it; None for null or not selected.

    `fields` holds the Graph property names present in the response, so a caller can tell
    "not selected" from "empty".
    """

    id: str | None
    display_name: str | None = None
    given_name: str | None = None
    surname: str | None = None
    job_title: str | None = None
    department: str | None = None
    office_location: str | None = None
    business_phones: tuple[str, ...] | None = None
    mobile_phone: str | None = None
    mail: str | None = None
    user_principal_name: str | None = None
    company_name: str | None = None
    employee_id: str | None = None
    city: str | None = None
    country: str | None = None
    preferred_language: str | None = None
    # True for accounts synced from on-premises AD: their directory fields (the mobile phone
    # included) are read-only in the cloud (reference §8.2; user resource [S59], $select only).
    on_premises_sync_enabled: bool | None = None
    about_me: str | None = None
    birthday: datetime | None = None
    interests: tuple[str, ...] | None = None
    past_projects: tuple[str, ...] | None = None
    responsibilities: tuple[str, ...] | None = None
    schools: tuple[str, ...] | None = None
    skills: tuple[str, ...] | None = None
    fields: frozenset[str] = frozenset()

    @classmethod
    def from_graph(cls, data: Mapping[str, Any]) -> GraphUser:
        """Parse a `/me` body (reference §3.2, §8.2); raises BadResponseError on wrong types."""
        return cls(
            id=_str(data, "id"),
            display_name=_str(data, "displayName"),
            given_name=_str(data, "givenName"),
            surname=_str(data, "surname"),
            job_title=_str(data, "jobTitle"),
            department=_str(data, "department"),
            office_location=_str(data, "officeLocation"),
            business_phones=_strings(data, "businessPhones"),
            mobile_phone=_str(data, "mobilePhone"),
            mail=_str(data, "mail"),
            user_principal_name=_str(data, "userPrincipalName"),
            company_name=_str(data, "companyName"),
            employee_id=_str(data, "employeeId"),
            city=_str(data, "city"),
            country=_str(data, "country"),
            preferred_language=_str(data, "preferredLanguage"),
            on_premises_sync_enabled=_bool(data, "onPremisesSyncEnabled"),
            about_me=_str(data, "aboutMe"),
            birthday=_datetime(data, "birthday"),
            interests=_strings(data, "interests"),
            past_projects=_strings(data, "pastProjects"),
            responsibilities=_strings(data, "responsibilities"),
            schools=_strings(data, "schools"),
            skills=_strings(data, "skills"),
            fields=frozenset(k for k in data if not k.startswith("@")),
        )


@dataclass(frozen=True)
class PhotoMeta:
    """Metadata of one Graph photo size (`profilePhoto`, reference §3.3)."""

    id: str
    width: int
    height: int
    content_type: str | None
    etag: str | None

    @property
    def size(self) -> str:
        """The size as `/me/photos/{size}` names it: width×height, never the `id`, which is
        "Default" for a photo Entra stores, whatever its dimensions (reference §9.3)."""
        return f"{self.width}x{self.height}"

    @property
    def is_placeholder(self) -> bool:
        """True for the documented "no photo" metadata: 1x1 image/gif with an empty ETag."""
        return self.id.lower() == "1x1" or (
            self.width <= 1 and self.height <= 1 and self.content_type == "image/gif"
        )

    @classmethod
    def from_graph(cls, data: Mapping[str, Any]) -> PhotoMeta:
        """Parse a profilePhoto body; raises BadResponseError when id/width/height are missing."""
        width, height = data.get("width"), data.get("height")
        photo_id = data.get("id")
        if type(width) is not int or type(height) is not int:  # bool is an int too
            raise _graph_bad("photo metadata without width/height")
        if not isinstance(photo_id, str):
            photo_id = f"{width}x{height}"
        return cls(
            id=photo_id,
            width=width,
            height=height,
            content_type=_str(data, "@odata.mediaContentType"),
            etag=_str(data, "@odata.mediaEtag") or None,
        )


@dataclass(frozen=True)
class Photo:
    """Image bytes as a service served them (never logged).

    `fresh_for`: the seconds the service said its copy may still be reused
    (`Cache-Control: max-age`), None when it said nothing.
    """

    data: bytes
    content_type: str | None
    etag: str | None
    fresh_for: int | None = None

    def __repr__(self) -> str:
        return f"Photo({len(self.data)} bytes, {self.content_type!r}, etag={self.etag!r})"


# -- SharePoint ---------------------------------------------------------------------------------

# SPS-PictureTimestamp counts seconds since 0001-01-01 (observed, reference §4.3).
_DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def _sp_bad(message: str) -> BadResponseError:
    return BadResponseError("sharepoint", 200, message=message)


def _sp_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _sp_bad(f"{key} is not a string")
    return value


def _key_values(raw: object) -> dict[str, str]:
    # Verbose wraps collections in {"results": [...]}; nometadata/minimal use plain arrays
    # (reference §4.2). Every Value is a string; tolerate other scalars.
    if isinstance(raw, Mapping):
        raw = raw.get("results")
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise _sp_bad("UserProfileProperties is not a list")
    properties: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("Key"), str):
            raise _sp_bad("UserProfileProperties entry without a Key")
        value = item.get("Value")
        properties[item["Key"]] = "" if value is None else str(value)
    return properties


def normalise_origin(url: str) -> str | None:
    """`scheme://host[:port]` in lower case without a default port; None unless http(s)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


@dataclass(frozen=True)
class SharePointProfile:
    """The caller's SharePoint user profile (PeopleManager `GetMyProperties`, reference §4.2).

    `properties` are the UserProfileProperties, every value a string, unset ones "".
    """

    account_name: str | None
    display_name: str | None
    email: str | None
    picture_url: str | None
    title: str | None
    personal_site_host_url: str | None
    properties: dict[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def from_sharepoint(cls, data: Mapping[str, Any]) -> SharePointProfile:
        """Parse verbose (`{"d": ...}`), minimalmetadata or nometadata JSON.

        Raises BadResponseError when the body is not a PersonProperties object.
        """
        if isinstance(data.get("d"), Mapping):
            data = data["d"]
        if "AccountName" not in data and "UserProfileProperties" not in data:
            raise _sp_bad("not a PersonProperties object")
        properties = _key_values(data.get("UserProfileProperties"))
        return cls(
            account_name=_sp_str(data, "AccountName") or properties.get("AccountName") or None,
            display_name=_sp_str(data, "DisplayName") or properties.get("PreferredName") or None,
            email=_sp_str(data, "Email") or properties.get("WorkEmail") or None,
            # The property has no cache-busting ?t=; the top-level PictureUrl has (reference §4.3).
            picture_url=properties.get("PictureURL") or _sp_str(data, "PictureUrl"),
            title=_sp_str(data, "Title") or properties.get("Title") or None,
            personal_site_host_url=_sp_str(data, "PersonalSiteHostUrl"),
            properties=properties,
        )

    @property
    def picture_timestamp(self) -> datetime | None:
        """When SharePoint last stored a picture (`SPS-PictureTimestamp`); None if unset."""
        raw = self.properties.get("SPS-PictureTimestamp", "").strip()
        if not (raw.isascii() and raw.isdigit()) or int(raw) == 0:
            return None
        try:
            return _DOTNET_EPOCH + timedelta(seconds=int(raw))
        except OverflowError:
            return None

    @property
    def placeholder(self) -> bool:
        """True when the profile names no picture of its own: no `PictureURL`, or a non-zero
        `SPS-PicturePlaceholderState` (reference §4.3: "0" shows the picture, non-zero the
        placeholder; an empty state beside a real PictureURL is not a placeholder).

        Since 2024 these properties describe the legacy picture library only; what SharePoint
        shows is the image `userphoto.aspx` serves (reference §9.1).
        """
        state = self.properties.get("SPS-PicturePlaceholderState", "").strip()
        return not self.picture_url or state not in ("", "0")

    @property
    def exchange_sync_state(self) -> str | None:
        """`SPS-PictureExchangeSyncState`: "1" sourced from Exchange, "0" uploaded (§4.3)."""
        return self.properties.get("SPS-PictureExchangeSyncState") or None
