"""The pictures an overview showed, kept for the browser's requests that follow it.

The overview has just read these pictures to compare them; it leaves them here for a minute
(`RecentPictures`, process memory only), so the browser's requests for them cost no second
upstream round trip. A request another worker serves, or a late one, asks Microsoft again.
Each picture URL carries a version (a hash of its bytes), so a changed photo is never served
stale.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

from webapp.microsoft.models import Photo
from webapp.overview.snapshot import PictureHint, Snapshot

# Where SharePoint's legacy library kept the picture last time (server-side session; a URL, no
# personal bytes).
HINT_KEY = "pictures.hint"


def picture_hint(session: Mapping[str, object]) -> PictureHint | None:
    """Where SharePoint kept this user's pictures when the overview last read them."""
    stored = session.get(HINT_KEY)
    if not isinstance(stored, dict) or not isinstance(stored.get("picture_url"), str):
        return None
    host = stored.get("personal_site_host_url")
    return PictureHint(stored["picture_url"], host if isinstance(host, str) else None)


def version(photo: Photo) -> str:
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

    def get(self, user: str, name: str, wanted: str) -> Photo | None:
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
        return photo if photo is not None and version(photo) == wanted else None


def shown(snapshot: Snapshot) -> dict[str, Photo]:
    """The pictures the overview shows, by name: `graph`, what SharePoint serves
    (`sharepoint/S|M|L`) and the legacy library's copy (`sharepoint/stored`)."""
    pictures: dict[str, Photo] = {}
    if snapshot.graph.has_photo and snapshot.graph.photo is not None:
        pictures["graph"] = snapshot.graph.photo
    sharepoint = snapshot.sharepoint
    for size, photo in sharepoint.served.items():
        pictures[f"sharepoint/{size}"] = photo
    if sharepoint.stored is not None:
        pictures["sharepoint/stored"] = sharepoint.stored
    return pictures


def hint_record(hint: PictureHint) -> dict[str, str | None]:
    """What the session keeps of a hint (read back by `picture_hint`)."""
    return {"picture_url": hint.picture_url, "personal_site_host_url": hint.personal_site_host_url}
