"""Streams the user's photo from Graph and pictures from SharePoint: the browser holds no token.

Caching (issue 5 wants reloads not to refetch; security.md D3 wants no-store for photos): we
answer `Cache-Control: private, max-age=300` with a strong ETag and `Vary: Cookie`. Private
keeps shared caches and proxies out; the page links each picture with a version parameter
(Graph's ETag, SharePoint's picture timestamp), so a changed photo is never served stale; the
browser copy is dropped at sign-out by `Clear-Site-Data: "cache"` (auth/views.py), which
covers D3's shared-computer risk. After five minutes the browser revalidates and gets a 304.
"""

from __future__ import annotations

import hashlib
import logging
import re

from flask import Blueprint, Response, abort, request

from webapp import upstream
from webapp.auth.guard import login_required
from webapp.microsoft.errors import AuthRequiredError, ThrottledError, UpstreamError
from webapp.microsoft.models import Photo
from webapp.views.overview import picture_hint

bp = Blueprint("pictures", __name__, url_prefix="/pictures")
logger = logging.getLogger(__name__)

_GRAPH_SIZE = re.compile(r"[0-9]{1,4}x[0-9]{1,4}")
MAX_AGE = 300


@bp.before_request
def _same_origin_only() -> None:
    # Photos are not for other sites' pages (security.md D4: hotlinking, cross-site leaks).
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        abort(403)


def _serve(photo: Photo | None) -> Response:
    if photo is None:
        # The page shows "no photo" as text; this answers only a hand-typed URL.
        return Response("No picture.", status=404, mimetype="text/plain")
    etag = hashlib.sha256(photo.data).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        # Fixed type and name (security.md §3.8, D4): never a document, whatever the bytes.
        response = Response(photo.data, mimetype="image/jpeg")
        response.headers["Content-Disposition"] = 'inline; filename="photo.jpg"'
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"private, max-age={MAX_AGE}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def _failed(exc: UpstreamError) -> Response:
    logger.info("picture from %s failed: %s %s", exc.service, exc.status, exc.code)
    response = Response("Microsoft did not send the picture.", status=502, mimetype="text/plain")
    if isinstance(exc, ThrottledError):
        response.status_code = 503
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(round(exc.retry_after))
    return response


@bp.get("/graph", defaults={"size": None})
@bp.get("/graph/<size>")
@login_required
def graph(size: str | None) -> Response:
    """The photo Outlook and Teams show: the largest, or one of the sizes Graph offers."""
    if size is not None and not _GRAPH_SIZE.fullmatch(size):
        abort(404)
    try:
        return _serve(upstream.graph().photo(size))
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        return _failed(exc)


@bp.get("/sharepoint/<any(S, M, L):size>")
@login_required
def sharepoint(size: str) -> Response:
    """SharePoint's small, medium or large picture from the My Site host library (§4.7)."""
    client = upstream.sharepoint()
    try:
        hint = picture_hint()
        # The overview stored where the picture is; without it the profile says (one call more).
        profile = hint.as_profile() if hint is not None else client.my_properties()
        return _serve(client.picture(size, profile))
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        return _failed(exc)
