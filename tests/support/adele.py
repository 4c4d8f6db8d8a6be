"""One person, Adele Vance, as Graph and SharePoint describe her, and snapshots of both sides
built from her: the unit tests of the attribute table, the diagnosis and its wording share them."""

from __future__ import annotations

from datetime import UTC, datetime

from tests import imagegen
from webapp.microsoft.models import GraphUser, Photo, PhotoMeta, SharePointProfile
from webapp.overview.snapshot import GraphSide, SharePointSide, Snapshot

ADELE = {
    "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
    "displayName": "Adele Vance",
    "givenName": "Adele",
    "surname": "Vance",
    "jobTitle": "Retail Manager",
    "department": "Retail",
    "officeLocation": "18/2111",
    "businessPhones": ["+1 425 555 0109"],
    "mobilePhone": "+1 425 555 0110",
    "mail": "AdeleV@contoso.com",
    "userPrincipalName": "AdeleV@contoso.com",
}

# The same person as SharePoint's profile import left her (reference §4.2, §5.5).
ADELE_UPA = {
    "PreferredName": "Adele Vance",
    "FirstName": "Adele",
    "LastName": "Vance",
    "Title": "Retail Manager",
    "SPS-JobTitle": "Retail Manager",
    "Department": "Retail",
    "SPS-Department": "Retail",
    "Office": "18/2111",
    "WorkPhone": "+1 425 555 0109",
    "CellPhone": "",
    "WorkEmail": "AdeleV@contoso.com",
    "SPS-UserPrincipalName": "AdeleV@contoso.com",
    "Manager": "i:0#.f|membership|meganb@contoso.com",
}


NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
PICTURE_URL = (
    "https://contoso-my.sharepoint.com:443/User%20Photos/Profile%20Pictures/adele_MThumb.jpg"
)
# 2026-11-20 08:00 UTC in SPS-PictureTimestamp's seconds since 0001-01-01 (reference §4.3).
TAKEN_AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TIMESTAMP = str(int((TAKEN_AT - datetime(1, 1, 1, tzinfo=UTC)).total_seconds()))

OLD = imagegen.portrait(1)
NEW = imagegen.portrait(2)
PLACEHOLDER = imagegen.placeholder()


def graph_photo(image=NEW, side: int = 648, quality: int = 90) -> tuple[PhotoMeta, Photo]:  # type: ignore[no-untyped-def]
    meta = PhotoMeta(f"{side}x{side}", side, side, "image/jpeg", '"BA09D118"')
    return meta, Photo(imagegen.rendition(image, side, quality), "image/jpeg", '"BA09D118"')


def served(image=NEW, fresh_for: int | None = None) -> dict[str, Photo]:  # type: ignore[no-untyped-def]
    """What userphoto.aspx serves at S, M and L (48, 72, 240 px; reference §4.7)."""
    return {
        size: Photo(imagegen.rendition(image, side, 80), "image/jpeg", None, fresh_for)
        for size, side in (("S", 48), ("M", 72), ("L", 240))
    }


def placeholder_picture() -> Photo:
    return Photo(imagegen.encode(PLACEHOLDER.resize((240, 240)), "PNG"), "image/png", None)


def stored_picture(image=NEW, quality: int = 80) -> Photo:  # type: ignore[no-untyped-def]
    # The legacy library's M thumbnail is 72 px (reference §4.7).
    return Photo(imagegen.rendition(image, 72, quality), "image/jpeg", '"{1},2"')


def sp_profile(
    placeholder: str = "0",
    sync_state: str = "1",
    picture_url: str | None = PICTURE_URL,
    **props: str,
) -> SharePointProfile:
    properties = {
        **ADELE_UPA,
        "PictureURL": picture_url or "",
        "SPS-PictureTimestamp": TIMESTAMP,
        "SPS-PicturePlaceholderState": placeholder,
        "SPS-PictureExchangeSyncState": sync_state,
        **props,
    }
    return SharePointProfile.from_sharepoint(
        {
            "AccountName": "i:0#.f|membership|adelev@contoso.com",
            "PersonalSiteHostUrl": "https://contoso-my.sharepoint.com:443/",
            "UserProfileProperties": [{"Key": k, "Value": v} for k, v in properties.items()],
        }
    )


def sharepoint_side(
    image=NEW, *, profile: SharePointProfile | None = None, **changes
) -> SharePointSide:  # type: ignore[no-untyped-def]
    """SharePoint serving `image` (None: its placeholder), with a profile and a stored copy."""
    fields: dict[str, object] = {
        "served": served(PLACEHOLDER if image is None else image),
        "placeholder": placeholder_picture(),
        "profile": profile or sp_profile(CellPhone="+1 425 555 0110"),
        "stored": stored_picture(),
    }
    fields.update(changes)
    return SharePointSide(**fields)  # type: ignore[arg-type]


def snapshot(graph: GraphSide | None = None, sharepoint: SharePointSide | None = None) -> Snapshot:
    if graph is None:
        meta, photo = graph_photo()
        graph = GraphSide(user=GraphUser.from_graph(ADELE), photo_meta=meta, photo=photo)
    if sharepoint is None:
        sharepoint = sharepoint_side()
    return Snapshot(graph=graph, sharepoint=sharepoint, taken_at=NOW)
