"""Reads what Graph and SharePoint show of the signed-in user, concurrently, into a Snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from webapp.microsoft.errors import UpstreamError
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.models import GraphUser, Photo, PhotoMeta, SharePointProfile
from webapp.microsoft.parallel import ParallelReads, outcome
from webapp.microsoft.sharepoint import PICTURE_SIZES, SharePointClient

# The SharePoint picture compared with Graph's photo: PictureURL names the medium one (§4.7).
COMPARED_PICTURE_SIZE = "M"


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
    """What SharePoint's user profile shows.

    `picture` is the M thumbnail PictureURL names, the one compared (None with no
    `picture_error`: there is none); `thumbnails` holds the S and L ones that could be read,
    for the page to show without asking SharePoint again.
    """

    profile: SharePointProfile | None = None
    picture: Photo | None = None
    profile_error: UpstreamError | None = None
    picture_error: UpstreamError | None = None
    thumbnails: Mapping[str, Photo] = field(default_factory=dict)


@dataclass(frozen=True)
class PictureHint:
    """Where SharePoint kept the picture last time, so it can be fetched alongside the profile.

    PictureURL is stable per user (reference §4.7: `{prefix}_MThumb.jpg`, the prefix never
    changes), so a page load need not wait for GetMyProperties before asking for the picture.
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
        """The hint for the next read, when SharePoint named a picture."""
        profile = self.sharepoint.profile
        if profile is None or not profile.picture_url:
            return None
        return PictureHint(profile.picture_url, profile.personal_site_host_url)


def read_snapshot(
    graph: GraphClient,
    sharepoint: SharePointClient,
    *,
    now: datetime,
    hint: PictureHint | None = None,
) -> Snapshot:
    """Read Graph's profile and photo and SharePoint's profile and picture at the same time.

    All independent calls start together; only SharePoint's S, M and L pictures depend on the
    profile (their URLs derive from PictureURL), and with a `hint` that names the same URL they
    start together with the rest too (`microsoft.parallel`, the reader the profile page uses).

    :raise AuthRequiredError: a service refused the token even after a refresh.
    """
    with ParallelReads("snapshot", workers=8) as reads:

        def thumbnails(profile: SharePointProfile) -> dict[str, Future[Photo | None]]:
            return {size: reads.start(sharepoint.picture, size, profile) for size in PICTURE_SIZES}

        me = reads.start(graph.me)
        meta = reads.start(graph.photo_meta)
        photo = reads.start(graph.photo)
        sizes = reads.start(graph.photo_sizes)
        properties = reads.start(sharepoint.my_properties)
        guessed = thumbnails(hint.as_profile()) if hint is not None else None

        profile, profile_error = outcome(properties)
        picture: Photo | None = None
        picture_error: UpstreamError | None = None
        others: dict[str, Photo] = {}
        if profile is not None:
            if guessed is not None and hint is not None and hint.picture_url == profile.picture_url:
                pictures = guessed
            else:
                pictures = thumbnails(profile)
            picture, picture_error = outcome(pictures[COMPARED_PICTURE_SIZE])
            for size in PICTURE_SIZES:
                if size == COMPARED_PICTURE_SIZE:
                    continue
                # S and L are only shown: one that failed is asked for again by the browser.
                value, _error = outcome(pictures[size])
                if value is not None:
                    others[size] = value

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
            profile=profile,
            picture=picture,
            profile_error=profile_error,
            picture_error=picture_error,
            thumbnails=others,
        ),
        taken_at=now,
    )
