"""Stylesheets and scripts kept by the browser until they change.

Every page named five to eight of them, and the browser asked again for each on every page (a
304, one round trip each on a phone's link). Now each address carries a hash of its file
(`?v=`), so the browser keeps the file a year without asking (`immutable`), and a release that
changes a file changes its address. An address with another hash or none (a page of the
previous release during a rolling deploy) is answered as before, `no-cache`, so no browser
keeps a file under the wrong name. `private`: the answer may carry the session cookie, which
no shared cache may keep.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, Response, request

A_YEAR = 365 * 24 * 3600


class FileVersions:
    """A short hash of each static file, hashed again when the file changes on disk."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._known: dict[str, tuple[tuple[int, int], str]] = {}

    def of(self, filename: str) -> str | None:
        path = self._folder / filename
        try:
            stat = path.stat()
        except OSError:
            return None
        changed = (stat.st_mtime_ns, stat.st_size)
        known = self._known.get(filename)
        if known is None or known[0] != changed:
            known = (changed, hashlib.sha256(path.read_bytes()).hexdigest()[:16])
            self._known[filename] = known
        return known[1]


def init_app(app: Flask) -> None:
    versions = FileVersions(Path(str(app.static_folder)))

    @app.url_defaults
    def _versioned(endpoint: str, values: dict[str, object]) -> None:
        if endpoint == "static" and "v" not in values:
            version = versions.of(str(values["filename"]))
            if version is not None:
                values["v"] = version

    @app.after_request
    def _kept_until_changed(response: Response) -> Response:
        # Only a file Flask found (inside the static folder) is hashed here; a 304 tells the
        # browser the same as the file would.
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        filename = str((request.view_args or {}).get("filename", ""))
        if request.args.get("v") == versions.of(filename):
            response.cache_control.no_cache = None
            response.cache_control.private = True
            response.cache_control.max_age = A_YEAR
            response.cache_control.immutable = True
        return response
