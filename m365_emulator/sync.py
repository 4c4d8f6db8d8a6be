"""The modelled sync between Entra/Exchange (Graph) and SharePoint's user profile (UPA).

Three things flow, as reference §5 describes them and §5.7 suggests modelling them:

* Photo: the Graph photo is the source of truth; how SharePoint shows it depends on the photo
  model (`Tenant.photo_model`, a user may override it).
  `current` (reference §9.1, every tenant since mid-2024): SharePoint serves the Graph photo
  through a front-door cache that fetches it again once `tenant.photo_cache_lifetime` has passed;
  nothing the user does triggers it, and the `User Photos` library is never written again.
  `classic` (§5.2-5.3): SharePoint pulls it lazily into its library, only when the user requests
  their *own* photo through `userphoto.aspx`, and at most once per `tenant.photo_pull_interval`
  (24 h at Microsoft, reference §5.2 steps 1-5). A colleague viewing the photo never triggers it
  (§5.2 step 1).
* Directory attributes: an Entra change reaches the UPA as a `PendingAttributeImport`, applied
  once its `due_at` passes (`tenant.attribute_import_delay` later; batch-driven, §5.5).
* SharePoint-backed profile fields (aboutMe, skills, ...): ONE store, the UPA record, read and
  written by both Graph and PeopleManager, so a write via one reads back via the other at once
  (reference §8.5; immediacy UNCONFIRMED, the emulator picks "immediately").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from m365_emulator import pictures
from m365_emulator.tenant import (
    FrontDoorCopy,
    PendingAttributeImport,
    SharePointPictures,
    Tenant,
    User,
)

# Thumbnail edge per size letter (reference §4.7: S 48, M 72, L 240; the L size is UNCONFIRMED,
# 200/240/300 px are all reported; we pick 240).
THUMBNAIL_SIZES = {"S": 48, "M": 72, "L": 240}

# Graph v1.0 user properties stored in SharePoint's UPA, with their UPA keys (reference §8.1; the
# key mapping is inferred from names there, UNCONFIRMED).
SPO_BACKED_FIELDS = {
    "aboutMe": "AboutMe",
    "birthday": "SPS-Birthday",
    "interests": "SPS-Interests",
    "pastProjects": "SPS-PastProjects",
    "responsibilities": "SPS-Responsibility",
    "schools": "SPS-School",
    "skills": "SPS-Skills",
}
MULTI_VALUED_FIELDS = frozenset(
    {"interests", "pastProjects", "responsibilities", "schools", "skills"}
)

# Graph `birthday` when none is set. Reference §8.2 leaves the value UNCONFIRMED; we answer the
# .NET minimum date, which clients must read as "not set".
UNSET_BIRTHDAY = "0001-01-01T00:00:00Z"

# Entra attribute (by Graph name) → UPA keys fed by the profile import (reference §5.5 [S33]).
# `mobilePhone`, `companyName`, `employeeId`, `city`, `country` are not synced by default (§5.5).
DIRECTORY_TO_UPA = {
    "userPrincipalName": ("UserName", "SPS-UserPrincipalName"),
    "displayName": ("PreferredName",),
    "givenName": ("FirstName",),
    "surname": ("LastName",),
    "businessPhones": ("WorkPhone",),
    "mail": ("WorkEmail", "SPS-SipAddress"),
    "officeLocation": ("Office",),
    "jobTitle": ("Title", "SPS-JobTitle"),
    "department": ("Department", "SPS-Department"),
    "preferredLanguage": ("SPS-MUILanguages",),
}

# Seconds between 0001-01-01 and 1970-01-01: SPS-PictureTimestamp counts from 0001-01-01
# (reference §4.3, interpretation UNCONFIRMED: 63783110969 decodes to 2022-03-17).
_EPOCH_OFFSET = 62_135_596_800


def account_name(user: User) -> str:
    """The claims account name SharePoint uses (reference §4.1, §5.5)."""
    return f"i:0#.f|membership|{user.upn.lower()}"


def picture_timestamp(unix_seconds: float) -> str:
    """`SPS-PictureTimestamp` for a moment: whole seconds since 0001-01-01, as a string."""
    return str(int(unix_seconds) + _EPOCH_OFFSET)


def upa_value(graph_property: str, value: object) -> str:
    """How the profile import writes an Entra value into the UPA (every UPA value is a string,
    reference §4.2; `businessPhones` feeds `WorkPhone` from its first entry, §3.2)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value)


def imported_properties(user: User) -> dict[str, str]:
    """The UPA values a completed import of `user`'s current directory attributes yields."""
    props = {"AccountName": account_name(user), "msOnline-ObjectId": user.oid}
    # The UPN lives on the User itself (it names the account), not among the attributes.
    directory = {"userPrincipalName": user.upn, **user.directory}
    for graph_property, keys in DIRECTORY_TO_UPA.items():
        for key in keys:
            props[key] = upa_value(graph_property, directory.get(graph_property))
    return props


def update_directory(tenant: Tenant, user: User, changes: Mapping[str, object]) -> None:
    """Change Entra attributes (as an admin or HR feed would) and queue their UPA import."""
    with tenant.lock:
        user.directory.update(changes)
        directory_changed(tenant, user, changes)


def set_manager(tenant: Tenant, user: User, manager: User | None) -> None:
    """Assign `user`'s manager in Entra ID (None: remove it) and queue the import of SharePoint's
    `Manager` property, the manager's account name (reference §5.5: `manager` → `Manager`)."""
    with tenant.lock:
        user.manager_oid = manager.oid if manager else None
        value = account_name(manager) if manager else ""
        due_at = tenant.clock.time() + tenant.attribute_import_delay
        user.pending_imports = [p for p in user.pending_imports if p.property_key != "Manager"]
        user.pending_imports.append(PendingAttributeImport("Manager", value, due_at))


def directory_changed(tenant: Tenant, user: User, changes: Mapping[str, object]) -> None:
    """Queue the UPA import of Entra attributes that just changed; unsynced ones are ignored.

    The Graph `PATCH /me` path calls this after writing directory properties.
    """
    with tenant.lock:
        due_at = tenant.clock.time() + tenant.attribute_import_delay
        for graph_property, value in changes.items():
            for key in DIRECTORY_TO_UPA.get(graph_property, ()):
                user.pending_imports = [p for p in user.pending_imports if p.property_key != key]
                user.pending_imports.append(
                    PendingAttributeImport(key, upa_value(graph_property, value), due_at)
                )


def apply_due_imports(tenant: Tenant, user: User) -> int:
    """Apply the imports whose time has come; returns how many were applied."""
    with tenant.lock:
        now = tenant.clock.time()
        due = [p for p in user.pending_imports if p.due_at <= now]
        for pending in due:
            user.sharepoint.properties[pending.property_key] = pending.value
        user.pending_imports = [p for p in user.pending_imports if p.due_at > now]
        return len(due)


# -- the shared SharePoint-backed profile fields ----------------------------------------------


def profile_fields(user: User) -> dict[str, object]:
    """The SharePoint-backed fields as Graph returns them (lists stay lists, §8.2)."""
    sp = user.sharepoint
    fields: dict[str, object] = {}
    for graph_name, key in SPO_BACKED_FIELDS.items():
        if graph_name in MULTI_VALUED_FIELDS:
            fields[graph_name] = list(sp.multi_values.get(key, []))
        elif graph_name == "birthday":
            fields[graph_name] = sp.properties.get(key) or UNSET_BIRTHDAY
        else:
            fields[graph_name] = sp.properties.get(key) or None
    return fields


def write_profile_fields(tenant: Tenant, user: User, changes: Mapping[str, object]) -> None:
    """Store SharePoint-backed fields (already validated); lists replace the old list whole
    (reference §8.2 [S65]). `birthday` must be normalised by `normalise_birthday` first."""
    with tenant.lock:
        sp = user.sharepoint
        for graph_name, value in changes.items():
            key = SPO_BACKED_FIELDS[graph_name]
            if graph_name in MULTI_VALUED_FIELDS:
                sp.multi_values[key] = [str(v) for v in value] if isinstance(value, list) else []
            else:
                sp.properties[key] = "" if value is None else str(value)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$")


def normalise_birthday(value: str) -> str | None:
    """`value` as Graph stores a DateTimeOffset (`YYYY-MM-DDT00:00:00Z`), or None if invalid."""
    if not _ISO_DATE.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- pictures -------------------------------------------------------------------------------


def make_pictures(data: bytes, source_version: int | None, at: float) -> SharePointPictures:
    """S/M/L thumbnails of `data` as SharePoint stores them in the My Site host library."""
    return SharePointPictures(
        small=pictures.square_rendition(data, THUMBNAIL_SIZES["S"]),
        medium=pictures.square_rendition(data, THUMBNAIL_SIZES["M"]),
        large=pictures.square_rendition(data, THUMBNAIL_SIZES["L"]),
        source_version=source_version,
        taken_at=at,
    )


def pulls_from_graph(tenant: Tenant, user: User) -> bool:
    """Whether SharePoint sources this user's picture from Exchange/Entra at all.

    Classic model: only users with a mailbox (`SPS-PictureExchangeSyncState` 1, reference §4.3,
    §5.2); users without one upload in SharePoint (§5.3). After MC653734 SharePoint shows images
    sourced through Graph for everyone (§5.4), so with `local_uploads_disabled` all users pull.
    """
    return user.sharepoint.exchange_sync_state == "1" or tenant.local_uploads_disabled


def own_photo_requested(tenant: Tenant, user: User) -> bool:
    """The user asked SharePoint for their own photo: pull from Graph if due; True if pictures
    changed.

    At most one pull per `photo_pull_interval`; an attempt counts even when nothing changed. A
    pull finding no Graph photo leaves SharePoint's pictures as they are: SharePoint fetches only
    "if the mailbox contains a photo" (reference §5.2 step 2).
    """
    with tenant.lock:
        if not pulls_from_graph(tenant, user):
            return False
        sp = user.sharepoint
        now = tenant.clock.time()
        if sp.last_photo_pull is not None and now - sp.last_photo_pull < tenant.photo_pull_interval:
            return False
        sp.last_photo_pull = now
        photo = user.photo
        if photo is None:
            return False
        current = sp.pictures is not None and sp.pictures.source_version == photo.version
        if current and sp.placeholder_state == "0":
            return False
        sp.pictures = make_pictures(photo.data, photo.version, now)
        sp.placeholder_state = "0"
        return True


def uploads_refused(tenant: Tenant, user: User) -> bool:
    """Whether SharePoint refuses `SetMyProfilePicture` for `user`: always on the current model
    (reference §9.1), on the classic one only with the MC653734 switch (§4.5, §5.4)."""
    return tenant.photo_model_of(user) == "current" or tenant.local_uploads_disabled


def front_door_copy(tenant: Tenant, user: User) -> FrontDoorCopy:
    """The copy of `user`'s photo SharePoint's front-door cache serves now (reference §9.1).

    Filled from the Graph photo on a miss, and again once `photo_cache_lifetime` has passed since
    it was filled; until then it is served as it is, however Graph's photo changed meanwhile.
    """
    with tenant.lock:
        now = tenant.clock.time()
        copy = user.sharepoint.front_door
        if copy is not None and copy.filled_at is None:
            copy.filled_at = now  # a seeded copy: its lifetime starts at the first look
        if copy is None or now - (copy.filled_at or now) >= tenant.photo_cache_lifetime:
            photo = user.photo
            copy = FrontDoorCopy(
                data=photo.data if photo else None,
                source_version=photo.version if photo else None,
                filled_at=now,
            )
            user.sharepoint.front_door = copy
        return copy


def store_uploaded_picture(tenant: Tenant, user: User, data: bytes) -> None:
    """SetMyProfilePicture's effect: new thumbnails at once (reference §4.5). For mailbox users the
    next Exchange pull overwrites them again (reference §5.2 step 6)."""
    with tenant.lock:
        user.sharepoint.pictures = make_pictures(data, None, tenant.clock.time())
        user.sharepoint.placeholder_state = "0"
