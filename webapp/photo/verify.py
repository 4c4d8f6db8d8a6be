"""The one definition of "a service shows the photo": fingerprints of what each one serves.

Graph and SharePoint re-encode and resize what they are given, so bytes never match; the
perceptual fingerprint (`imaging/fingerprint.py`) decides (security.md E6, E7). SharePoint is
judged by what its pages show, the image `userphoto.aspx` serves (reference §9.1), never by
its legacy picture library.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from webapp.imaging.fingerprint import UnreadablePictureError, same_picture
from webapp.microsoft.errors import AuthRequiredError, UpstreamError
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.sharepoint import SharePointClient

logger = logging.getLogger(__name__)

# SharePoint's large picture (240 px, reference §4.7) carries enough detail for the fingerprint.
SHAREPOINT_SIZE = "L"


class Match(enum.StrEnum):
    """What one service showed compared with the expected photo."""

    SAME = "same"  # the expected photo (or, expecting none, no photo)
    DIFFERENT = "different"  # another picture (SharePoint: what its cache still holds)
    UNREADABLE = "unreadable"  # bytes the fingerprint cannot read
    UNAVAILABLE = "unavailable"  # the service did not answer the read


@dataclass(frozen=True)
class Verification:
    """Both read-backs; `error` codes name why a side was unavailable.

    `sharepoint_fresh_for`: the seconds SharePoint said its copy may still be reused, when it
    served another picture and said so (`Cache-Control: max-age`).
    """

    graph: Match
    sharepoint: Match
    graph_error: str | None = None
    sharepoint_error: str | None = None
    sharepoint_fresh_for: int | None = None

    @property
    def both_same(self) -> bool:
        return self.graph is Match.SAME and self.sharepoint is Match.SAME


def error_code(exc: UpstreamError) -> str:
    """A short code for an upstream failure: safe to store, log and map to a sentence."""
    return f"{exc.service}:{exc.status or 0}:{exc.code or type(exc).__name__}"


def compare(expected: bytes | None, actual: bytes | None) -> Match:
    """Whether `actual` shows the picture `expected` does; None on either side means no photo."""
    if actual is None:
        return Match.SAME if expected is None else Match.DIFFERENT
    if expected is None:
        return Match.DIFFERENT
    try:
        return Match.SAME if same_picture(expected, actual) else Match.DIFFERENT
    except UnreadablePictureError:
        return Match.UNREADABLE


def graph_shows(graph: GraphClient, expected: bytes | None) -> tuple[Match, str | None]:
    """Read Graph's photo and compare. AuthRequiredError propagates (sign in again)."""
    try:
        photo = graph.photo()
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        return Match.UNAVAILABLE, error_code(exc)
    return compare(expected, None if photo is None else photo.data), None


def sharepoint_shows(
    sharepoint: SharePointClient, account: str, expected: bytes | None
) -> tuple[Match, str | None, int | None]:
    """Read what SharePoint serves of `account` and compare: match, error code, `fresh_for`.

    Expecting no photo, the served picture must be SharePoint's placeholder. AuthRequiredError
    propagates.
    """
    try:
        served = sharepoint.served_picture(SHAREPOINT_SIZE, account)
        placeholder = sharepoint.placeholder_picture(SHAREPOINT_SIZE) if expected is None else None
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        return Match.UNAVAILABLE, error_code(exc), None
    wanted = placeholder.data if placeholder is not None else expected
    match = compare(wanted, served.data)
    return match, None, served.fresh_for if match is Match.DIFFERENT else None


def verify(
    graph: GraphClient | None, sharepoint: SharePointClient, account: str, expected: bytes | None
) -> Verification:
    """Read back both services (Graph skipped when None) and compare with `expected`."""
    graph_match, graph_error = (Match.SAME, None) if graph is None else graph_shows(graph, expected)
    sp_match, sp_error, fresh_for = sharepoint_shows(sharepoint, account, expected)
    logger.info("verified: graph=%s sharepoint=%s", graph_match.value, sp_match.value)
    return Verification(graph_match, sp_match, graph_error, sp_error, fresh_for)
