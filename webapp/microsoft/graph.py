"""Client for the signed-in user's profile and photo in Microsoft Graph (reference §3, §8.2)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import requests

from webapp.microsoft.errors import BadResponseError, NotFoundError
from webapp.microsoft.models import DEFAULT_SELECT, GraphUser, Photo, PhotoMeta, normalise_origin
from webapp.microsoft.requester import CallOptions, Requester
from webapp.microsoft.responses import json_body

_PROPERTY = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_SIZE = re.compile(r"[0-9]{1,4}[xX][0-9]{1,4}")

# PUT /me/photo/$value takes at most 4 MB, Microsoft's decimal megabytes: 4,000,000 bytes
# (reference §9.1, §3.4).
MAX_PHOTO_BYTES = 4_000_000


class GraphClient:
    """Microsoft Graph for the signed-in user: `/me`, its photo in every size, and writes.

    :param base_url: e.g. ``https://graph.microsoft.com/v1.0`` (from settings, never a response).
    :param token_provider: returns a Graph access token; called per request so that it can
        refresh silently. If it accepts ``force_refresh=True`` it is asked for a new token once
        after a 401.
    :param session: a ``requests.Session``, normally from ``session.build_session``.
    :param options: timeouts, retry budget, shared throttle gate and call hook.
    :param account: who is signed in (e.g. "oid.tid"), so that a Retry-After Graph sends for
        this user holds back this user's calls only (``throttle.py``).

    Methods raise the ``errors.py`` types; "no photo" is ``None``, not an exception.
    """

    service = "graph"

    def __init__(
        self,
        base_url: str,
        token_provider: Callable[[], str],
        session: requests.Session,
        options: CallOptions | None = None,
        *,
        account: str | None = None,
    ) -> None:
        audience = normalise_origin(base_url)
        if audience is None:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._audience = audience  # the Graph token is for this origin only
        self._token_provider = token_provider
        self._requester = Requester(session, self.service, options, account)

    def _send(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        json: object = None,
    ) -> requests.Response:
        return self._requester.request(
            method,
            self.base_url + path,
            token_provider=self._token_provider,
            audience=self._audience,
            operation=operation,
            headers={"Accept": "application/json", **(headers or {})},
            data=data,
            json=json,
        )

    def me(self, select: Iterable[str] | None = None) -> GraphUser:
        """`GET /me?$select=...` (default: `models.DEFAULT_SELECT`).

        SharePoint-backed fields (`models.SHAREPOINT_BACKED`) come back only when selected
        (reference §8.2). Raises ValueError for a property name that is not an identifier.
        """
        names = list(DEFAULT_SELECT if select is None else select)
        for name in names:
            if not _PROPERTY.fullmatch(name):
                raise ValueError(f"not a Graph property name: {name!r}")
        path = "/me" + (f"?$select={','.join(names)}" if names else "")
        return GraphUser.from_graph(json_body(self.service, self._send("GET", path, "me")))

    def photo_meta(self) -> PhotoMeta | None:
        """Metadata of the largest photo; None when the user has none (404 or 1x1 gif, §3.3)."""
        try:
            resp = self._send("GET", "/me/photo", "photo_meta")
        except NotFoundError:
            return None
        meta = PhotoMeta.from_graph(json_body(self.service, resp))
        return None if meta.is_placeholder else meta

    def photo_sizes(self) -> list[PhotoMeta]:
        """The sizes Graph offers (`GET /me/photos`), smallest first, one per width×height
        (entries of an Entra-stored photo all have the id "Default", reference §9.3); []
        when there is no photo."""
        try:
            resp = self._send("GET", "/me/photos", "photo_sizes")
        except NotFoundError:
            return []
        values = json_body(self.service, resp).get("value")
        if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
            raise BadResponseError(self.service, resp.status_code, message="photos without value")
        metas = {m.size: m for m in map(PhotoMeta.from_graph, values) if not m.is_placeholder}
        return sorted(metas.values(), key=lambda m: (m.width * m.height, m.size))

    def photo(self, size: str | None = None) -> Photo | None:
        """Photo bytes, the largest or one size such as "240x240"; None on any 404 (§3.3).

        Every 404 means "no photo", whatever its code (ImageNotFound, ErrorItemNotFound,
        ErrorNonExistentMailbox, ...). Raises ValueError for a malformed size.
        """
        if size is None:
            path = "/me/photo/$value"
        elif _SIZE.fullmatch(size):
            path = f"/me/photos/{size.lower()}/$value"
        else:
            raise ValueError(f"not a photo size: {size!r}")
        try:
            resp = self._send("GET", path, "photo", headers={"Accept": "image/*"})
        except NotFoundError:
            return None
        if not resp.content:
            raise BadResponseError(self.service, resp.status_code, message="empty photo body")
        return Photo(
            data=resp.content,
            content_type=resp.headers.get("Content-Type"),
            etag=resp.headers.get("ETag"),
        )

    def put_photo(self, jpeg: bytes) -> None:
        """Replace the user's photo (`PUT /me/photo/$value`, image/jpeg; any 2xx is success).

        Raises ValueError above Graph's 4,000,000-byte limit without calling Graph.
        """
        if len(jpeg) > MAX_PHOTO_BYTES:
            raise ValueError(f"photo of {len(jpeg)} bytes exceeds Graph's 4 MB limit")
        headers = {"Content-Type": "image/jpeg"}
        self._send("PUT", "/me/photo/$value", "put_photo", headers=headers, data=jpeg).close()

    def delete_photo(self) -> None:
        """Remove the user's photo (`DELETE /me/photo/$value`); a 404 (already none) is success."""
        try:
            self._send("DELETE", "/me/photo/$value", "delete_photo").close()
        except NotFoundError:
            return

    def update_me(self, fields: Mapping[str, object]) -> None:
        """`PATCH /me` with exactly `fields` (204 expected; any 2xx is success).

        SharePoint-backed fields must go in a PATCH of their own, apart from e.g. mobilePhone
        (reference §8.2); this method sends what it is given. Raises ForbiddenError for a
        field the user may not change (403 Authorization_RequestDenied), BadRequestError
        when Graph refuses the mix (400 BadRequest), ValueError for an empty dict.
        """
        if not fields:
            raise ValueError("update_me needs at least one field")
        self._send("PATCH", "/me", "update_me", json=dict(fields)).close()
