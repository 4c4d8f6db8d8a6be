"""Reads both services back after a photo change and compares each with the photo written.

Whether a service shows that photo is `imaging.fingerprint.compare`, the one "same picture"
rule the overview's diagnosis uses too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from webapp.imaging.fingerprint import Match, compare
from webapp.microsoft.errors import AuthRequiredError, UpstreamError
from webapp.microsoft.graph import GraphClient
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


def graph_shows(graph: GraphClient, expected: bytes | None) -> Match | None:
    """Read Graph's photo and compare; None when Graph did not answer.

    AuthRequiredError propagates (sign in again).
    """
    try:
        photo = graph.photo()
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        logger.info("graph read-back failed: %s", error_code(exc))
        return None
    return compare(expected, None if photo is None else photo.data)


def sharepoint_shows(sharepoint: SharePointClient, expected: bytes | None) -> Match | None:
    """Read SharePoint's picture (placeholder state first) and compare; None when it did not
    answer."""
    try:
        profile = sharepoint.my_properties()
        picture = None if profile.placeholder else sharepoint.picture(SHAREPOINT_SIZE, profile)
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        logger.info("sharepoint read-back failed: %s", error_code(exc))
        return None
    return compare(expected, None if picture is None else picture.data)


def verify(
    graph: GraphClient | None, sharepoint: SharePointClient, expected: bytes | None
) -> Verification:
    """Read back both services (Graph skipped, and taken as showing it, when None)."""
    graph_match = Match.SAME if graph is None else graph_shows(graph, expected)
    sharepoint_match = sharepoint_shows(sharepoint, expected)
    logger.info("verified: graph=%s sharepoint=%s", graph_match, sharepoint_match)
    return Verification(graph_match, sharepoint_match)
