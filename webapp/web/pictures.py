"""How every personal picture is served (the overview's photos, the history's thumbnails).

Caching (issue 5 wants reloads not to refetch; security.md D3 wants no-store for photos):
`Cache-Control: private, max-age=300` with a strong ETag and `Vary: Cookie`. Private keeps
shared caches and proxies out; each picture URL names one version of one picture, so a changed
photo is never served stale; the browser's copy is dropped at sign-out by
`Clear-Site-Data: "cache"` (auth/views.py), which covers D3's shared-computer risk. After five
minutes the browser revalidates and gets a 304.
"""

from __future__ import annotations

from flask import Response, abort, request

MAX_AGE = 300


def same_origin_only() -> None:
    """Photos are not for other sites' pages (security.md D4: hotlinking, cross-site leaks)."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        abort(403)


def picture_response(data: bytes | None, version: str) -> Response:
    """The JPEG `data` as a picture that can never be a document; 404 text when None."""
    if data is None:
        # Pages show "no photo" as text; this answers only a hand-typed URL.
        return Response("No picture.", status=404, mimetype="text/plain")
    if request.if_none_match.contains(version):
        response = Response(status=304)
    else:
        # Fixed type and name (security.md §3.8, D4): never a document, whatever the bytes.
        response = Response(data, mimetype="image/jpeg")
        response.headers["Content-Disposition"] = 'inline; filename="photo.jpg"'
    response.set_etag(version)
    response.headers["Cache-Control"] = f"private, max-age={MAX_AGE}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
