"""Reads both services back after a photo change and compares each with the photo written.

Whether a service shows that photo is `imaging.fingerprint.compare`, the one "same picture"
rule the overview's diagnosis uses too.
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

# SharePoint's L thumbnail (240 px, reference §4.7) carries enough detail for the fingerprint.
SHAREPOINT_SIZE = "L"


@dataclass(frozen=True)
class Verification:
    """What each service showed; None where it did not answer the read."""

    graph: Match | None
    sharepoint: Match | None


def error_code(exc: UpstreamError) -> str:
    """A short code for an upstream failure: safe to store, log and map to a sentence."""
    return f"{exc.service}:{exc.status or 0}:{exc.code or type(exc).__name__}"


def _shows(read: Callable[[], Photo | None], expected: bytes | None) -> Match | None:
    """Read what a service shows and compare; None when it did not answer.

    AuthRequiredError propagates (sign in again).
    """
    try:
        photo = read()
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        logger.info("%s read-back failed: %s", exc.service, error_code(exc))
        return None
    return compare(expected, None if photo is None else photo.data)


def graph_shows(graph: GraphClient, expected: bytes | None) -> Match | None:
    """Graph's photo compared with `expected`; None when Graph did not answer."""
    return _shows(graph.photo, expected)


def sharepoint_shows(sharepoint: SharePointClient, expected: bytes | None) -> Match | None:
    """SharePoint's picture (placeholder state first) compared with `expected`."""

    def picture() -> Photo | None:
        profile = sharepoint.my_properties()
        return None if profile.placeholder else sharepoint.picture(SHAREPOINT_SIZE, profile)

    return _shows(picture, expected)


def verify(
    graph: GraphClient | None, sharepoint: SharePointClient, expected: bytes | None
) -> Verification:
    """Read back both services (Graph skipped, and taken as showing it, when None)."""
    graph_match = Match.SAME if graph is None else graph_shows(graph, expected)
    sharepoint_match = sharepoint_shows(sharepoint, expected)
    logger.info("verified: graph=%s sharepoint=%s", graph_match, sharepoint_match)
    return Verification(graph_match, sharepoint_match)
