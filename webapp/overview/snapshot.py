"""Reads what Graph and SharePoint show of the signed-in user, concurrently, into a Snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from webapp.microsoft.errors import UpstreamError
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.models import GraphUser, Photo, PhotoMeta, SharePointProfile
from webapp.microsoft.parallel import ParallelReads, outcome
from webapp.microsoft.sharepoint import PICTURE_SIZES, SharePointClient

# The legacy library's thumbnail shown as a fact: the medium one PictureURL names (§4.7).
STORED_SIZE = "M"
# The size of SharePoint's served picture compared with Graph's photo: the largest (240 px,
# reference §4.7) carries the most detail for the fingerprint.
COMPARED_SIZE = "L"


@dataclass(frozen=True)
class GraphSide:
    """What Exchange/Entra shows through Graph; an `*_error` is the failure that hid that part.

    `photo` None with no `photo_error` means the user has no photo (every 404, reference §3.3).
    """

    user: GraphUser | None = None
    photo_meta: PhotoMeta | None = None
    photo: Photo | None = None
    sizes: tuple[PhotoMeta, ...] = ()
    profile_error: UpstreamError | None = None
    photo_error: UpstreamError | None = None
    sizes_error: UpstreamError | None = None

    @property
    def has_photo(self) -> bool:
        """Graph serves a real photo: metadata that is not the 1x1 "no photo" and the bytes."""
        return self.photo_meta is not None and self.photo is not None


@dataclass(frozen=True)
class SharePointSide:
    """What SharePoint shows of the user, and what its user profile still stores.

    `served` holds, by size, the images SharePoint pages show (`userphoto.aspx`, reference
    §9.1); `served_error` is the failure that hid the compared one (`COMPARED_SIZE`).
    `placeholder` is what SharePoint serves someone without a photo at that size, which tells
    a placeholder from an older photo. `profile` and `stored` (the medium thumbnail PictureURL
    names in the legacy picture library; None with no `stored_error`: there is none) are
    facts about SharePoint's old copy, never the verdict.
    """

    served: Mapping[str, Photo] = field(default_factory=dict)
    served_error: UpstreamError | None = None
    placeholder: Photo | None = None
    placeholder_error: UpstreamError | None = None
    profile: SharePointProfile | None = None
    profile_error: UpstreamError | None = None
    stored: Photo | None = None
    stored_error: UpstreamError | None = None

    @property
    def shown(self) -> Photo | None:
        """The served picture the verdict compares; None when it could not be read."""
        return self.served.get(COMPARED_SIZE)


@dataclass(frozen=True)
class PictureHint:
    """Where SharePoint's legacy library kept the picture last time, so it can be fetched
    alongside the profile.

    PictureURL is stable per user (reference §4.7: `{prefix}_MThumb.jpg`, the prefix never
    changes), so a page load need not wait for GetMyProperties before asking for the file.
    The hint is only used when the fresh profile names the same URL.
    """

    picture_url: str
    personal_site_host_url: str | None = None

    def as_profile(self) -> SharePointProfile:
        # The client derives and host-checks the URL from a profile (SSRF guard, §4.7).
        return SharePointProfile(
            account_name=None,
            display_name=None,
            email=None,
            picture_url=self.picture_url,
            title=None,
            personal_site_host_url=self.personal_site_host_url,
        )


@dataclass(frozen=True)
class Snapshot:
    """Both services' view of one user at `taken_at`."""

    graph: GraphSide
    sharepoint: SharePointSide
    taken_at: datetime

    @property
    def picture_hint(self) -> PictureHint | None:
        """The hint for the next read, when SharePoint's profile named a library picture."""
        profile = self.sharepoint.profile
        if profile is None or not profile.picture_url:
            return None
        return PictureHint(profile.picture_url, profile.personal_site_host_url)


def read_snapshot(
    graph: GraphClient,
    sharepoint: SharePointClient,
    *,
    account: str,
    now: datetime,
    hint: PictureHint | None = None,
) -> Snapshot:
    """Read Graph's profile and photo, what SharePoint serves of `account` (the signed-in
    user's sign-in name) and SharePoint's profile, all at the same time.

    All independent calls start together; only the legacy library's picture depends on the
    profile (its URL derives from PictureURL), and with a `hint` that names the same URL it
    starts together with the rest too (`microsoft.parallel`, the reader the profile page uses).

    :raise AuthRequiredError: a service refused the token even after a refresh.
    """
    with ParallelReads("snapshot", workers=10) as reads:
        me = reads.start(graph.me)
        meta = reads.start(graph.photo_meta)
        photo = reads.start(graph.photo)
        sizes = reads.start(graph.photo_sizes)
        served_calls = {
            size: reads.start(sharepoint.served_picture, size, account) for size in PICTURE_SIZES
        }
        placeholder_call = reads.start(sharepoint.placeholder_picture, COMPARED_SIZE)
        properties = reads.start(sharepoint.my_properties)
        guessed = (
            reads.start(sharepoint.picture, STORED_SIZE, hint.as_profile())
            if hint is not None
            else None
        )

        profile, profile_error = outcome(properties)
        stored: Photo | None = None
        stored_error: UpstreamError | None = None
        if profile is not None:
            if guessed is not None and hint is not None and hint.picture_url == profile.picture_url:
                stored, stored_error = outcome(guessed)
            else:
                stored, stored_error = outcome(
                    reads.start(sharepoint.picture, STORED_SIZE, profile)
                )
        served: dict[str, Photo] = {}
        served_error: UpstreamError | None = None
        for size, call in served_calls.items():
            # S and M are only shown: one that failed is asked for again by the browser.
            value, error = outcome(call)
            if value is not None:
                served[size] = value
            elif size == COMPARED_SIZE:
                served_error = error
        placeholder, placeholder_error = outcome(placeholder_call)

        user, user_error = outcome(me)
        photo_meta, meta_error = outcome(meta)
        photo_value, photo_error = outcome(photo)
        size_list, sizes_error = outcome(sizes)

    return Snapshot(
        graph=GraphSide(
            user=user,
            photo_meta=photo_meta,
            photo=photo_value,
            sizes=tuple(size_list or ()),
            profile_error=user_error,
            photo_error=photo_error or meta_error,
            sizes_error=sizes_error,
        ),
        sharepoint=SharePointSide(
            served=served,
            served_error=served_error,
            placeholder=placeholder,
            placeholder_error=placeholder_error,
            profile=profile,
            profile_error=profile_error,
            stored=stored,
            stored_error=stored_error,
        ),
        taken_at=now,
    )
