"""The demo tenant's content: the demo app registration and users with the typical problems.

Each user has a stable `key` (the sign-in picker and tests use it) and one `demonstrates` line.
Photos are generated initials pictures (`pictures.py`), one colour per version, never faces.
The lines describe the tenant's default, the current photo model (reference §9.1); `stale-photo`
and `placeholder` keep the classic model (§5.2) as a per-user override, so they show a tenant
that still syncs the old way, where a push to SharePoint works.
`seed_demo_tenant` runs on every `Tenant.reset()`, so scripted faults are re-armed each time.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from m365_emulator import pictures, sync
from m365_emulator.graph import photo_etag
from m365_emulator.tenant import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    PEOPLE_ADMINISTRATOR,
    ClientRegistration,
    FrontDoorCopy,
    PhotoUpdateSettings,
    SharePointProfile,
    StoredPhoto,
    Tenant,
    User,
)

DAY = 24 * 3600.0
GRAPH_THROTTLED_CALLS = 3  # how many Graph calls of `graph-throttled` answer 429 after a reset
GRAPH_THROTTLED_RETRY_AFTER = 1
SHAREPOINT_DOWN_RETRY_AFTER = 5


@dataclass(frozen=True)
class DemoUser:
    """How one demo user is set up; `seed_demo_tenant` turns it into tenant state."""

    key: str
    alias: str
    given: str
    surname: str
    job_title: str
    department: str
    office: str
    demonstrates: str
    photo_version: int | None = 1  # Graph photo version (None: no photo)
    sharepoint_version: int | None = 1  # version SharePoint's thumbnails show (None: placeholder)
    has_mailbox: bool = True
    on_premises_synced: bool = False
    photo_not_found_code: str = "ImageNotFound"
    photo_size: int = 648
    profile: Mapping[str, object] = field(default_factory=dict)
    photo_model: str | None = None  # None: the tenant's photo model
    # Version SharePoint's front-door cache still holds (None: nothing cached, it fetches the
    # Graph photo at the first request); its lifetime starts at the first request.
    cached_version: int | None = None
    photo_age: float = 2 * DAY  # how long ago the Graph photo was stored
    has_sharepoint: bool = True
    blocks_photo_changes: bool = False  # their organisation lets only admins change photos
    step_up_context: str | None = None  # authentication context Graph demands of them


_FULL_PROFILE = {
    "aboutMe": "I run Contoso's brand campaigns and love a good A/B test.",
    "skills": ["Campaign planning", "Copywriting", "Power BI"],
    "interests": ["Sailing", "Photography"],
    "pastProjects": ["Spring launch 2025", "Brand refresh"],
    "responsibilities": ["Brand guidelines", "Agency contracts"],
    "schools": ["University of Washington"],
    "birthday": "1988-04-12T00:00:00Z",
}

DEMO_USERS = (
    DemoUser(
        "in-sync",
        "IsabelS",
        "Isabel",
        "Santos",
        "Marketing Manager",
        "Marketing",
        "18/2111",
        "Photo and profile agree everywhere.",
        profile=_FULL_PROFILE,
    ),
    DemoUser(
        "stale-photo",
        "SamO",
        "Sam",
        "Okafor",
        "Product Designer",
        "Design",
        "20/1104",
        "Classic sync still on: SharePoint shows an older photo (v1) than Outlook/Teams (v2); "
        "a push to SharePoint works.",
        photo_version=2,
        sharepoint_version=1,
        photo_model="classic",
    ),
    DemoUser(
        "placeholder",
        "PriyaR",
        "Priya",
        "Raman",
        "Financial Analyst",
        "Finance",
        "31/3320",
        "Classic sync still on: SharePoint shows a grey placeholder although Exchange has a "
        "photo; a push to SharePoint works.",
        sharepoint_version=None,
        photo_model="classic",
    ),
    DemoUser(
        "no-photo",
        "NoahL",
        "Noah",
        "Lindqvist",
        "Support Engineer",
        "Customer Support",
        "12/0210",
        "No photo anywhere (Graph answers 404 ImageNotFound).",
        photo_version=None,
        sharepoint_version=None,
    ),
    DemoUser(
        "drifted-attributes",
        "DanaW",
        "Dana",
        "Whitfield",
        "Program Manager",
        "Product Management",
        "25/1750",
        "Job title and department changed in Entra ID; SharePoint still has the old values.",
    ),
    DemoUser(
        "no-mailbox",
        "MateoR",
        "Mateo",
        "Ruiz",
        "Field Technician",
        "Facilities",
        "Warehouse B",
        "No Exchange mailbox: the photo lives in Entra ID only, SharePoint serves it from there "
        "(its old library has none); to change it, upload through Graph, no push.",
        sharepoint_version=None,
        has_mailbox=False,
        photo_size=800,
    ),
    DemoUser(
        "graph-throttled",
        "GraceK",
        "Grace",
        "Kim",
        "Data Engineer",
        "IT",
        "40/2201",
        "Microsoft Graph answers 429 Too Many Requests (Retry-After: 1) a few times.",
    ),
    DemoUser(
        "sharepoint-down",
        "OmarH",
        "Omar",
        "Haddad",
        "Legal Counsel",
        "Legal",
        "16/0415",
        "SharePoint answers 503 Service Unavailable (Retry-After: 5).",
    ),
    DemoUser(
        "half-profile",
        "HannahB",
        "Hannah",
        "Becker",
        "HR Business Partner",
        "Human Resources",
        "19/1012",
        "A profile half filled in, and no photo (Graph answers 404 ErrorEntityNotFound).",
        photo_version=None,
        sharepoint_version=None,
        photo_not_found_code="ErrorEntityNotFound",
        profile={
            "aboutMe": "HR partner for Sales and Marketing. Ask me about onboarding.",
            "skills": ["Onboarding", "Employment law"],
        },
    ),
    DemoUser(
        "synced-onprem",
        "LarsE",
        "Lars",
        "Eriksen",
        "Accountant",
        "Finance",
        "31/3302",
        "Synced from on-premises AD: mobile phone read-only; no photo (404 ErrorItemNotFound).",
        photo_version=None,
        sharepoint_version=None,
        on_premises_synced=True,
        photo_not_found_code="ErrorItemNotFound",
    ),
    DemoUser(
        "cached-photo",
        "YukiT",
        "Yuki",
        "Tanaka",
        "Communications Lead",
        "Communications",
        "22/1310",
        "Photo changed minutes ago: SharePoint still serves v1 from its cache, Outlook/Teams "
        "show v2; SharePoint catches up by itself once its cache expires.",
        photo_version=2,
        sharepoint_version=1,
        cached_version=1,
        photo_age=5 * 60,
    ),
    DemoUser(
        "legacy-copy",
        "AishaB",
        "Aisha",
        "Bello",
        "Sales Manager",
        "Sales",
        "27/0402",
        "SharePoint serves the current photo (v2); its old picture library still holds v1, "
        "which SharePoint no longer updates.",
        photo_version=2,
        sharepoint_version=1,
    ),
    DemoUser(
        "no-sharepoint",
        "FreyaN",
        "Freya",
        "Nilsen",
        "Store Associate",
        "Retail",
        "Store 12",
        "No SharePoint licence: SharePoint refuses every token (401); Graph refuses About me, "
        "skills and the other SharePoint-backed fields (400).",
        sharepoint_version=None,
        has_sharepoint=False,
    ),
    DemoUser(
        "photo-blocked",
        "RaviM",
        "Ravi",
        "Menon",
        "Compliance Officer",
        "Legal",
        "16/0420",
        "Their organisation lets only People administrators change photos: Graph answers 403.",
        blocks_photo_changes=True,
    ),
    DemoUser(
        "step-up",
        "ElinaV",
        "Elina",
        "Virtanen",
        "Treasury Analyst",
        "Finance",
        "31/3340",
        "Microsoft Graph demands a stronger sign-in (authentication context c1): a claims "
        "challenge for apps that declare CP1, a refusal (403) for others.",
        step_up_context="c1",
    ),
)

# Entra's newer values for `drifted-attributes`; SharePoint keeps the old ones until the import.
DRIFTED_ATTRIBUTES = {"jobTitle": "Senior Program Manager", "department": "Operations"}


def seed_demo_tenant(tenant: Tenant) -> None:
    """Register the demo app and the demo users (with their faults) in `tenant`."""
    with tenant.lock:
        tenant.add_client(
            ClientRegistration(
                client_id=DEMO_CLIENT_ID,
                secret=DEMO_CLIENT_SECRET,
                redirect_uris=[
                    "http://localhost:5000/auth/redirect",
                    "http://127.0.0.1:5000/auth/redirect",
                ],
                any_origin_paths=("/auth/redirect",),
                post_logout_redirect_uris=[
                    "http://localhost:5000/signed-out",
                    "http://127.0.0.1:5000/signed-out",
                ],
            )
        )
        manager = None
        for spec in DEMO_USERS:
            user = _add_user(tenant, spec, manager)
            manager = manager or user
        drifted = tenant.user("drifted-attributes")
        sync.update_directory(tenant, drifted, DRIFTED_ATTRIBUTES)
        tenant.faults.fail_next(
            "graph",
            GRAPH_THROTTLED_CALLS,
            429,
            GRAPH_THROTTLED_RETRY_AFTER,
            user_oid=tenant.user("graph-throttled").oid,
        )
        tenant.faults.fail_always(
            "sharepoint",
            503,
            SHAREPOINT_DOWN_RETRY_AFTER,
            user_oid=tenant.user("sharepoint-down").oid,
        )


def _admins_only() -> PhotoUpdateSettings:
    """photoUpdateSettings of an organisation where only People administrators change photos
    (reference §9.1)."""
    return PhotoUpdateSettings(allowed_roles=[PEOPLE_ADMINISTRATOR])


def _add_user(tenant: Tenant, spec: DemoUser, manager: User | None) -> User:
    now = tenant.clock.time()
    upn = f"{spec.alias}@{tenant.domain}"
    oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"m365-emulator-demo:{spec.key}"))
    index = DEMO_USERS.index(spec)
    personal = upn.lower().replace("@", "_").replace(".", "_")
    directory: dict[str, object] = {
        "displayName": f"{spec.given} {spec.surname}",
        "givenName": spec.given,
        "surname": spec.surname,
        "jobTitle": spec.job_title,
        "department": spec.department,
        "officeLocation": spec.office,
        "businessPhones": [f"+1 425 555 01{index:02d}"],
        "mobilePhone": f"+1 206 555 02{index:02d}",
        "mail": upn,
        "companyName": "Contoso",
        "employeeId": f"1000{index + 40}",
        "city": "Redmond",
        "country": "United States",
        "preferredLanguage": "en-US",
        "usageLocation": "US",
        "accountEnabled": True,
        "mySite": f"{tenant.origins.mysite}/personal/{personal}/",
    }
    user = User(
        key=spec.key,
        oid=oid,
        upn=upn,
        directory=directory,
        demonstrates=spec.demonstrates,
        has_mailbox=spec.has_mailbox,
        on_premises_synced=spec.on_premises_synced,
        photo_not_found_code=spec.photo_not_found_code,
        photo_model=spec.photo_model,
        has_sharepoint=spec.has_sharepoint,
        photo_policy=_admins_only() if spec.blocks_photo_changes else None,
    )
    initials = spec.given[0] + spec.surname[0]
    if spec.photo_version is not None:
        data = pictures.initials_photo(initials, spec.photo_version, spec.photo_size)
        user.photo = StoredPhoto(
            data=data,
            content_type="image/jpeg",
            width=spec.photo_size,
            height=spec.photo_size,
            etag=photo_etag(data, spec.photo_version),
            version=spec.photo_version,
            stored_at=now - spec.photo_age,
        )
    properties = sync.imported_properties(user)
    properties["Manager"] = sync.account_name(manager) if manager else ""
    # No Exchange mailbox: SharePoint does not source the picture from Exchange (reference §4.3).
    sp = SharePointProfile(properties, exchange_sync_state="1" if spec.has_mailbox else "0")
    if spec.sharepoint_version is not None:
        old = pictures.initials_photo(initials, spec.sharepoint_version, 648)
        sp.pictures = sync.make_pictures(old, spec.sharepoint_version, now - 30 * DAY)
        sp.placeholder_state = "0"
    if spec.cached_version is not None:
        cached = pictures.initials_photo(initials, spec.cached_version, 648)
        sp.front_door = FrontDoorCopy(cached, spec.cached_version, filled_at=None)
    # SharePoint pulled just now: the next pull is one `photo_pull_interval` away, so the
    # stale/placeholder states stay visible for that long (reference §5.2 step 5).
    sp.last_photo_pull = now
    user.sharepoint = sp
    tenant.add_user(user)
    sync.write_profile_fields(tenant, user, spec.profile)
    if spec.step_up_context:
        # Which Graph calls a tenant can put behind an authentication context is not
        # documented (UNCONFIRMED); this stands in for "a policy demands a stronger sign-in".
        tenant.conditional_access.require_context("graph", spec.step_up_context, user_oid=oid)
    return user
