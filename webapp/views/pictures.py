"""Streams the user's photo from Graph and pictures from SharePoint: the browser holds no token.

Caching (issue 5 wants reloads not to refetch; security.md D3 wants no-store for photos): we
answer `Cache-Control: private, max-age=300` with a strong ETag and `Vary: Cookie`. Private
keeps shared caches and proxies out; each picture URL carries a version (a hash of its bytes),
so a changed photo is never served stale; the browser's copy is dropped at sign-out by
`Clear-Site-Data: "cache"` (auth/views.py), which covers D3's shared-computer risk. After five
minutes the browser revalidates and gets a 304.

The overview has just read these pictures to compare them; it leaves them here for a minute
(`RecentPictures`, process memory only), so the browser's requests for them cost no second
upstream round trip. A request another worker serves, or a late one, asks Microsoft again.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

from flask import Blueprint, Response, abort, current_app, g, request, session, url_for

from webapp import upstream
from webapp.auth.guard import login_required
from webapp.microsoft.errors import AuthRequiredError, ThrottledError, UpstreamError
from webapp.microsoft.models import Photo
from webapp.sync.snapshot import PictureHint, Snapshot

bp = Blueprint("pictures", __name__, url_prefix="/pictures")
logger = logging.getLogger(__name__)

_GRAPH_SIZE = re.compile(r"[0-9]{1,4}x[0-9]{1,4}")
MAX_AGE = 300
# Where SharePoint kept the picture last time (server-side session; a URL, no personal bytes).
HINT_KEY = "pictures.hint"


def picture_hint() -> PictureHint | None:
    """Where SharePoint kept this user's pictures when the overview last read them."""
    stored = session.get(HINT_KEY)
    if not isinstance(stored, dict) or not isinstance(stored.get("picture_url"), str):
        return None
    host = stored.get("personal_site_host_url")
    return PictureHint(stored["picture_url"], host if isinstance(host, str) else None)


def _version(photo: Photo) -> str:
    return hashlib.sha256(photo.data).hexdigest()[:32]


class RecentPictures:
    """Pictures an overview just read, per user, for `ttl` seconds, within `max_bytes` in all.

    Entra keeps photos of any size up to 4 MB (reference §3.3, §3.4), so the bound is on bytes;
    the users seen longest ago make room first.
    """

    def __init__(self, ttl: float = 60.0, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._users: OrderedDict[str, tuple[float, dict[str, Photo]]] = OrderedDict()
        self._bytes = 0

    @staticmethod
    def _size(pictures: Mapping[str, Photo]) -> int:
        return sum(len(p.data) for p in pictures.values())

    def _forget(self, user: str) -> None:
        _expires, pictures = self._users.pop(user)
        self._bytes -= self._size(pictures)

    def remember(self, user: str, pictures: Mapping[str, Photo]) -> None:
        kept = dict(pictures)
        size = self._size(kept)
        with self._lock:
            if user in self._users:
                self._forget(user)
            if size > self.max_bytes:
                return
            while self._users and self._bytes + size > self.max_bytes:
                self._forget(next(iter(self._users)))
            self._users[user] = (time.monotonic() + self.ttl, kept)
            self._bytes += size

    def get(self, user: str, name: str, version: str) -> Photo | None:
        """The picture if it is still here and is the version the page linked to."""
        with self._lock:
            entry = self._users.get(user)
            if entry is None:
                return None
            expires, pictures = entry
            if time.monotonic() > expires:
                self._forget(user)
                return None
        photo = pictures.get(name)
        return photo if photo is not None and _version(photo) == version else None


def _recent() -> RecentPictures:
    return current_app.extensions.setdefault("recent_pictures", RecentPictures())


def _user_key() -> str:
    return f"{g.user.oid}.{g.user.tid}"


def _shown(snapshot: Snapshot) -> dict[str, Photo]:
    pictures: dict[str, Photo] = {}
    if snapshot.graph.has_photo and snapshot.graph.photo is not None:
        pictures["graph"] = snapshot.graph.photo
    sharepoint = snapshot.sharepoint
    if sharepoint.picture is not None:
        pictures["sharepoint/M"] = sharepoint.picture
    for size, photo in sharepoint.thumbnails.items():
        pictures[f"sharepoint/{size}"] = photo
    return pictures


def remember(snapshot: Snapshot) -> dict[str, str]:
    """Keep what the overview read for the browser's picture requests; returns their URLs.

    Also stores where SharePoint keeps the pictures, so the next overview can fetch them
    together with the profile.
    """
    hint = snapshot.picture_hint
    if hint is not None and hint != picture_hint():
        session[HINT_KEY] = {
            "picture_url": hint.picture_url,
            "personal_site_host_url": hint.personal_site_host_url,
        }
    shown = _shown(snapshot)
    _recent().remember(_user_key(), shown)
    urls: dict[str, str] = {}
    if "graph" in shown:
        urls["graph"] = url_for("pictures.graph", v=_version(shown["graph"]))
    medium = shown.get("sharepoint/M")
    for size in ("S", "M", "L"):
        name = f"sharepoint/{size}"
        # A size that could not be read now is asked for when the browser wants it.
        photo = shown.get(name) or medium
        if photo is not None:
            urls[name] = url_for("pictures.sharepoint", size=size, v=_version(photo))
    return urls


@bp.before_request
def _same_origin_only() -> None:
    # Photos are not for other sites' pages (security.md D4: hotlinking, cross-site leaks).
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        abort(403)


def _serve(photo: Photo | None) -> Response:
    if photo is None:
        # The page shows "no photo" as text; this answers only a hand-typed URL.
        return Response("No picture.", status=404, mimetype="text/plain")
    etag = _version(photo)
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


def _just_read(name: str) -> Photo | None:
    version = request.args.get("v")
    return _recent().get(_user_key(), name, version) if version else None


@bp.get("/graph", defaults={"size": None})
@bp.get("/graph/<size>")
@login_required
def graph(size: str | None) -> Response:
    """The photo Outlook and Teams show: the largest, or one of the sizes Graph offers."""
    if size is not None and not _GRAPH_SIZE.fullmatch(size):
        abort(404)
    recent = _just_read("graph") if size is None else None
    if recent is not None:
        return _serve(recent)
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
    recent = _just_read(f"sharepoint/{size}")
    if recent is not None:
        return _serve(recent)
    client = upstream.sharepoint()
    try:
        hint = picture_hint()
        # Without the overview's hint the profile says where the picture is (one call more).
        profile = hint.as_profile() if hint is not None else client.my_properties()
        return _serve(client.picture(size, profile))
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        return _failed(exc)
