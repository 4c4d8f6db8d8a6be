"""The Entra ID ↔ SharePoint property map: which SharePoint profile property holds each Graph
user property (Microsoft's sync table, and the fields SharePoint stores for Graph), and how
both sides compare. The overview's attribute rows and the profile's field catalogue use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from webapp.microsoft.models import GraphUser, SharePointProfile


class Attribute(StrEnum):
    """An attribute the page compares; `overview/wording.py` names it for people."""

    DISPLAY_NAME = "display_name"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    JOB_TITLE = "job_title"
    DEPARTMENT = "department"
    OFFICE = "office"
    BUSINESS_PHONE = "business_phone"
    MOBILE_PHONE = "mobile_phone"
    EMAIL = "email"
    USER_PRINCIPAL_NAME = "user_principal_name"
    MANAGER = "manager"


class RowState(StrEnum):
    SAME = "same"
    DIFFERS = "differs"
    # Values differ, but Microsoft does not sync this attribute by default (§5.5).
    NOT_SYNCED = "not_synced"
    # Only SharePoint's value is read (Graph's /me does not return it).
    SHAREPOINT_ONLY = "sharepoint_only"
    # One side could not be read.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class MappedAttribute:
    """One Entra attribute (by its Graph property) and the SharePoint property it feeds.

    `graph` reads the value to show from `/me`; `compared` the value the profile import copies
    (None: Graph's /me does not return it); `synced` is False where Microsoft's default sync
    table leaves the property out (reference §5.5).
    """

    attribute: Attribute
    graph_property: str | None
    sharepoint_property: str
    graph: Callable[[GraphUser], str | None]
    compared: Callable[[GraphUser], str | None]
    synced: bool = True


def _first(values: tuple[str, ...] | None) -> str | None:
    return values[0] if values else None


def _joined(values: tuple[str, ...] | None) -> str | None:
    return ", ".join(values) if values else None


def _plain(
    attribute: Attribute, graph_property: str, sharepoint_property: str, field_name: str
) -> MappedAttribute:
    """An attribute whose Graph value is copied as is."""

    def read(user: GraphUser) -> str | None:
        value: str | None = getattr(user, field_name)
        return value

    return MappedAttribute(attribute, graph_property, sharepoint_property, read, read)


# Reference §5.5 (the sync table, [S33]) and §4.3 (keys): Graph property → SharePoint key.
# Title and Department also feed the term-set bound SPS-JobTitle/SPS-Department; the plain
# ones are compared because they hold the imported text as is.
MAP: tuple[MappedAttribute, ...] = (
    _plain(Attribute.DISPLAY_NAME, "displayName", "PreferredName", "display_name"),
    _plain(Attribute.FIRST_NAME, "givenName", "FirstName", "given_name"),
    _plain(Attribute.LAST_NAME, "surname", "LastName", "surname"),
    _plain(Attribute.JOB_TITLE, "jobTitle", "Title", "job_title"),
    _plain(Attribute.DEPARTMENT, "department", "Department", "department"),
    _plain(Attribute.OFFICE, "officeLocation", "Office", "office_location"),
    # telephoneNumber is businessPhones[0] in Graph (reference §3.2) and feeds WorkPhone (§5.5).
    MappedAttribute(
        Attribute.BUSINESS_PHONE,
        "businessPhones",
        "WorkPhone",
        lambda user: _joined(user.business_phones),
        lambda user: _first(user.business_phones),
    ),
    # mobilePhone → CellPhone is not in Microsoft's default sync table (§4.3, §5.5).
    replace(
        _plain(Attribute.MOBILE_PHONE, "mobilePhone", "CellPhone", "mobile_phone"), synced=False
    ),
    # WorkEmail holds the SMTP: entry of proxyAddresses, which Graph's `mail` shows (§5.5).
    _plain(Attribute.EMAIL, "mail", "WorkEmail", "mail"),
    _plain(
        Attribute.USER_PRINCIPAL_NAME,
        "userPrincipalName",
        "SPS-UserPrincipalName",
        "user_principal_name",
    ),
    # Manager syncs (§5.5), but Graph returns it only from /me/manager, which this app does not
    # call: SharePoint's account name is shown for reference.
    MappedAttribute(Attribute.MANAGER, None, "Manager", lambda user: None, lambda user: None),
)


# Reference §8.1: the user properties SharePoint's profile stores and Graph reads and writes
# through (`models.SHAREPOINT_BACKED`), by Graph property → UPA key (the keys are inferred
# there, UNCONFIRMED). One store, so both sides are expected to show the same value.
STORED_IN_SHAREPOINT: Mapping[str, str] = MappingProxyType(
    {
        "aboutMe": "AboutMe",
        "skills": "SPS-Skills",
        "interests": "SPS-Interests",
        "pastProjects": "SPS-PastProjects",
        "responsibilities": "SPS-Responsibility",
        "schools": "SPS-School",
        "birthday": "SPS-Birthday",
    }
)

_BY_ATTRIBUTE = {mapping.attribute: mapping for mapping in MAP}
_BY_GRAPH_PROPERTY = {mapping.graph_property: mapping for mapping in MAP if mapping.graph_property}


def mapped(attribute: Attribute) -> MappedAttribute:
    return _BY_ATTRIBUTE[attribute]


def sharepoint_property(graph_property: str) -> str:
    """The SharePoint profile property holding a Graph property's value (stored there, §8.1,
    or copied there, §5.5); KeyError for a property SharePoint has no counterpart of."""
    if graph_property in STORED_IN_SHAREPOINT:
        return STORED_IN_SHAREPOINT[graph_property]
    return _BY_GRAPH_PROPERTY[graph_property].sharepoint_property


def sharepoint_follows(graph_property: str) -> bool:
    """Whether SharePoint is expected to show Graph's value: it stores it, or Microsoft's default
    sync table copies it (False: SharePoint keeps a copy of its own, §5.5)."""
    if graph_property in STORED_IN_SHAREPOINT:
        return True
    return _BY_GRAPH_PROPERTY[graph_property].synced


@dataclass(frozen=True)
class AttributeRow:
    """One attribute with each side's value exactly as returned (None: unset or unread)."""

    attribute: Attribute
    graph_property: str | None
    sharepoint_property: str
    graph_value: str | None
    sharepoint_value: str | None
    state: RowState


def _sharepoint_value(profile: SharePointProfile, key: str) -> str | None:
    # Every UserProfileProperties value is a string and unset ones are "" (reference §4.2).
    value = profile.properties.get(key)
    return value if value else None


def _state(
    mapping: MappedAttribute, user: GraphUser | None, profile: SharePointProfile | None
) -> RowState:
    if mapping.graph_property is None:
        return RowState.SHAREPOINT_ONLY if profile is not None else RowState.UNAVAILABLE
    if user is None or profile is None:
        return RowState.UNAVAILABLE
    # Graph's null and SharePoint's "" both mean unset (§3.2, §4.2); nothing else is normalised.
    graph_value = mapping.compared(user) or None
    if graph_value == _sharepoint_value(profile, mapping.sharepoint_property):
        return RowState.SAME
    return RowState.DIFFERS if mapping.synced else RowState.NOT_SYNCED


def diff_rows(
    graph_user: GraphUser | None, sharepoint_profile: SharePointProfile | None
) -> list[AttributeRow]:
    """One row per mapped attribute, in `MAP` order; a side that could not be read is None."""
    return [
        AttributeRow(
            attribute=mapping.attribute,
            graph_property=mapping.graph_property,
            sharepoint_property=mapping.sharepoint_property,
            graph_value=mapping.graph(graph_user) if graph_user is not None else None,
            sharepoint_value=(
                _sharepoint_value(sharepoint_profile, mapping.sharepoint_property)
                if sharepoint_profile is not None
                else None
            ),
            state=_state(mapping, graph_user, sharepoint_profile),
        )
        for mapping in MAP
    ]
