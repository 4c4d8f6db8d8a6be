"""The Entra ID ↔ SharePoint property map: which SharePoint profile property holds each Graph
user property (Microsoft's sync table, and the fields SharePoint stores for Graph), and how
both sides compare. The overview's attribute rows and the profile's field catalogue use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from webapp.microsoft.models import GraphUser, Manager, SharePointProfile


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
    # One side could not be read.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class MappedAttribute:
    """One Entra attribute (by its Graph property) and the SharePoint property it feeds.

    `graph` reads the value to show; `compared` the value the profile import copies; `synced`
    is False where Microsoft's default sync table leaves the property out (reference §5.5).
    `sharepoint` turns SharePoint's value into the one shown and compared, and `ignore_case`
    compares without case (sign-in names). `read_apart`: Graph returns it from a call of its
    own, which may fail while `/me` works.
    """

    attribute: Attribute
    graph_property: str
    sharepoint_property: str
    graph: Callable[[GraphUser], str | None]
    compared: Callable[[GraphUser], str | None]
    synced: bool = True
    sharepoint: Callable[[str], str] = str
    ignore_case: bool = False
    read_apart: bool = False


def _person(manager: Manager | None) -> str | None:
    """The manager as "Name (sign-in name)", or whichever of the two Graph returned."""
    if manager is None:
        return None
    name, sign_in = manager.display_name, _sign_in_name(manager)
    if name and sign_in:
        return f"{name} ({sign_in})"
    return name or sign_in


def _sign_in_name(manager: Manager | None) -> str | None:
    # An organisational contact has no userPrincipalName, only mail (user-list-manager).
    return None if manager is None else manager.user_principal_name or manager.mail


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
    # Manager syncs (§5.5) into the manager's claims account name (§4.2), compared by UPN.
    MappedAttribute(
        Attribute.MANAGER,
        "manager",
        "Manager",
        lambda user: _person(user.manager),
        lambda user: _sign_in_name(user.manager),
        sharepoint=lambda account: account.rsplit("|", 1)[-1],
        ignore_case=True,
        read_apart=True,
    ),
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
_BY_GRAPH_PROPERTY = {mapping.graph_property: mapping for mapping in MAP}


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
    """One attribute with each side's value as shown (None: unset or unread); `graph_read`
    is False when Graph's value could not be read."""

    attribute: Attribute
    graph_property: str
    sharepoint_property: str
    graph_value: str | None
    sharepoint_value: str | None
    state: RowState
    graph_read: bool = True


def _sharepoint_value(mapping: MappedAttribute, profile: SharePointProfile) -> str | None:
    # Every UserProfileProperties value is a string and unset ones are "" (reference §4.2).
    value = profile.properties.get(mapping.sharepoint_property)
    return mapping.sharepoint(value) if value else None


def _read(mapping: MappedAttribute, user: GraphUser | None) -> bool:
    return user is not None and (not mapping.read_apart or mapping.graph_property in user.fields)


def _state(
    mapping: MappedAttribute, user: GraphUser | None, profile: SharePointProfile | None
) -> RowState:
    if user is None or profile is None or not _read(mapping, user):
        return RowState.UNAVAILABLE
    # Graph's null and SharePoint's "" both mean unset (§3.2, §4.2); nothing else is normalised
    # but the case of sign-in names.
    graph_value = mapping.compared(user) or None
    sharepoint_value = _sharepoint_value(mapping, profile)
    if mapping.ignore_case:
        graph_value = graph_value.casefold() if graph_value else None
        sharepoint_value = sharepoint_value.casefold() if sharepoint_value else None
    if graph_value == sharepoint_value:
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
                _sharepoint_value(mapping, sharepoint_profile)
                if sharepoint_profile is not None
                else None
            ),
            state=_state(mapping, graph_user, sharepoint_profile),
            graph_read=_read(mapping, graph_user),
        )
        for mapping in MAP
    ]
