"""Reads both services back after a photo change and compares each with the photo written.

Whether a service shows that photo is `imaging.fingerprint.compare`, the one "same picture"
rule the overview's diagnosis uses too. SharePoint is judged by what its pages show, the image
`userphoto.aspx` serves (reference §9.1), never by its legacy picture library.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from webapp.imaging.fingerprint import Match, compare
from webapp.microsoft.errors import AuthRequiredError, UpstreamError
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.models import Photo
from webapp.microsoft.sharepoint import SharePointClient

logger = logging.getLogger(__name__)

# SharePoint's large picture (240 px, reference §4.7) carries enough detail for the fingerprint.
SHAREPOINT_SIZE = "L"
# What an operation record keeps when a service did not answer its read-back.
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Verification:
    """What each service showed; None where it did not answer the read.

    `sharepoint_fresh_for`: the seconds SharePoint said it may keep serving another picture
    from its cache (`Cache-Control: max-age`), when it served one and said so.
    """

    graph: Match | None
    sharepoint: Match | None
    sharepoint_fresh_for: int | None = None


def error_code(exc: UpstreamError) -> str:
    """A short code for an upstream failure: safe to store, log and map to a sentence."""
    return f"{exc.service}:{exc.status or 0}:{exc.code or type(exc).__name__}"


def _read(read: Callable[[], Photo | None]) -> tuple[Photo | None, bool]:
    """What a service shows, and whether it answered. AuthRequiredError propagates."""
    try:
        return read(), True
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        logger.info("%s read-back failed: %s", exc.service, error_code(exc))
        return None, False


def graph_shows(graph: GraphClient, expected: bytes | None) -> Match | None:
    """Graph's photo compared with `expected`; None when Graph did not answer."""
    photo, answered = _read(graph.photo)
    return compare(expected, None if photo is None else photo.data) if answered else None


def sharepoint_shows(
    sharepoint: SharePointClient, account: str, expected: bytes | None
) -> tuple[Match | None, int | None]:
    """What SharePoint serves of `account` compared with `expected`, and how long SharePoint
    said it may keep serving another picture; (None, None) when SharePoint did not answer.

    Expecting no photo, the served picture must be SharePoint's placeholder.
    """
    served, answered = _read(lambda: sharepoint.served_picture(SHAREPOINT_SIZE, account))
    if not answered or served is None:
        return None, None
    wanted = expected
    if expected is None:
        placeholder, answered = _read(lambda: sharepoint.placeholder_picture(SHAREPOINT_SIZE))
        if not answered or placeholder is None:
            return None, None
        wanted = placeholder.data
    match = compare(wanted, served.data)
    return match, served.fresh_for if match is Match.DIFFERENT else None


def verify(
    graph: GraphClient | None, sharepoint: SharePointClient, account: str, expected: bytes | None
) -> Verification:
    """Read back both services (Graph skipped, and taken as showing it, when None)."""
    graph_match = Match.SAME if graph is None else graph_shows(graph, expected)
    sharepoint_match, fresh_for = sharepoint_shows(sharepoint, account, expected)
    logger.info("verified: graph=%s sharepoint=%s", graph_match, sharepoint_match)
    return Verification(graph_match, sharepoint_match, fresh_for)
