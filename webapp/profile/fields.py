"""The one field catalogue of the profile page: which fields you own, which the organisation
maintains, who keeps them and where colleagues see them.

Built on the property map (`microsoft/properties.py`): a field names its Graph property or its
attribute there, and the SharePoint property and whether SharePoint follows come from the map.
The page's rows, the forms (`forms.py`) and the validation all go by this catalogue. Facts from
../shared/reference/microsoft365-api.md §8.1 (who owns which field) and §5.5 (the sync).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from webapp.microsoft import properties
from webapp.microsoft.models import DEFAULT_SELECT, SHAREPOINT_BACKED
from webapp.microsoft.properties import Attribute


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


@dataclass(frozen=True)
class EditableField:
    """A field members may change on themselves (reference §8.1, §8.2).

    `name` is also the `GraphUser` attribute holding its value.
    """

    name: str
    graph_property: str
    kind: Kind
    seen_in: tuple[Place, ...]

    @property
    def upa_key(self) -> str:
        return properties.sharepoint_property(self.graph_property)

    @property
    def stored_in_sharepoint(self) -> bool:
        """SharePoint-backed (§8.1): written in a PATCH of their own (§8.2); the others are
        directory fields, read-only when the account is mastered on premises."""
        return self.graph_property in properties.STORED_IN_SHAREPOINT

    @property
    def synced(self) -> bool:
        """False where SharePoint keeps its own, unsynced copy (mobilePhone → CellPhone, §5.5)."""
        return properties.sharepoint_follows(self.graph_property)


@dataclass(frozen=True)
class ManagedField:
    """A field the organisation maintains: `attribute` is its row in the property map; a field
    SharePoint has no copy of names its Graph property in `graph_only` instead."""

    name: str
    owner: Owner
    seen_in: tuple[Place, ...]
    attribute: Attribute | None = None
    graph_only: str | None = None

    @property
    def graph_property(self) -> str | None:
        """None where Graph's /me does not return the field (the manager, §5.5)."""
        if self.attribute is not None:
            return properties.mapped(self.attribute).graph_property
        return self.graph_only


_EVERYWHERE = (Place.PROFILE_CARD, Place.PEOPLE_SEARCH, Place.SHAREPOINT)

EDITABLE: tuple[EditableField, ...] = (
    EditableField("about_me", "aboutMe", Kind.TEXT, _EVERYWHERE),
    EditableField("skills", "skills", Kind.LIST, _EVERYWHERE),
    EditableField("interests", "interests", Kind.LIST, _EVERYWHERE),
    EditableField("past_projects", "pastProjects", Kind.LIST, _EVERYWHERE),
    EditableField("responsibilities", "responsibilities", Kind.LIST, _EVERYWHERE),
    EditableField("schools", "schools", Kind.LIST, _EVERYWHERE),
    EditableField("birthday", "birthday", Kind.BIRTHDAY, (Place.PROFILE_CARD, Place.SHAREPOINT)),
    # Members may change their own mobile phone by default (§8.1 [S61][S60]); CellPhone is not
    # fed from it (§5.5), so SharePoint's value is its own.
    EditableField(
        "mobile_phone", "mobilePhone", Kind.PHONE, (Place.PROFILE_CARD, Place.PEOPLE_SEARCH)
    ),
)
EDITABLE_BY_NAME = {f.name: f for f in EDITABLE}

# Reference §8.1 (organisation-owned → 403) and §5.5 (what the profile import copies).
# Name, title, department and manager usually come from HR; office and phone from IT.
MANAGED: tuple[ManagedField, ...] = (
    ManagedField("display_name", Owner.HR_SYSTEM, _EVERYWHERE, Attribute.DISPLAY_NAME),
    ManagedField("job_title", Owner.HR_SYSTEM, _EVERYWHERE, Attribute.JOB_TITLE),
    ManagedField("department", Owner.HR_SYSTEM, _EVERYWHERE, Attribute.DEPARTMENT),
    ManagedField("office", Owner.ENTRA_ID, _EVERYWHERE, Attribute.OFFICE),
    ManagedField("business_phone", Owner.ENTRA_ID, _EVERYWHERE, Attribute.BUSINESS_PHONE),
    # Graph has the manager only at /me/manager, not read here; SharePoint's copy is (§5.5).
    ManagedField("manager", Owner.HR_SYSTEM, _EVERYWHERE, Attribute.MANAGER),
    # companyName is not synced to SharePoint by default (§5.5).
    ManagedField(
        "company",
        Owner.HR_SYSTEM,
        (Place.PROFILE_CARD, Place.PEOPLE_SEARCH),
        graph_only="companyName",
    ),
)

# Two GETs: the directory fields, and the SharePoint-backed ones, which come back only when
# selected (§8.2 [S59]) and which Graph refuses for a user without SharePoint (400 "Tenant does
# not have a SPO license.", reference §9.2): apart, the first still works without the second.
DIRECTORY_SELECT: tuple[str, ...] = (*DEFAULT_SELECT, "onPremisesSyncEnabled")
BACKED_SELECT: tuple[str, ...] = ("id", *SHAREPOINT_BACKED)
