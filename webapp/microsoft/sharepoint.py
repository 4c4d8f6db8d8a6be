"""Client for the caller's SharePoint Online user profile and pictures (reference §4, §9.1)."""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from collections.abc import Callable, Container, Mapping
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

import requests

from webapp.microsoft.errors import BadResponseError, NotFoundError
from webapp.microsoft.models import Photo, SharePointProfile, normalise_origin
from webapp.microsoft.requester import RETRYABLE_STATUSES, SUCCESS, CallOptions, Requester
from webapp.microsoft.responses import json_body

logger = logging.getLogger(__name__)

# Without an explicit JSON Accept SharePoint answers Atom XML (reference §4.1), errors too.
JSON_ACCEPT = "application/json;odata=nometadata"
# Pictures: the image, or an OData error we can read.
IMAGE_ACCEPT = f"image/*, {JSON_ACCEPT};q=0.5"

# What SharePoint throttles with (reference §4.8): the only answers worth a second push.
THROTTLING_STATUSES = frozenset({429, 503})

# SetMyProfilePicture accepts at most 5,000,000 bytes (reference §4.5).
MAX_PICTURE_BYTES = 5_000_000

PICTURE_SIZES = ("S", "M", "L")

# What a SharePoint page shows of a person (reference §4.7, §9.1).
USERPHOTO_PATH = "/_layouts/15/userphoto.aspx"
# userphoto.aspx redirects once, to the front-door cache (§9.1); a little slack, never a loop.
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_IMAGE_OR_REDIRECT = frozenset(range(200, 300)) | _REDIRECTS
# An account no directory can hold (RFC 2606 reserves `.invalid`). userphoto.aspx answers an
# account it cannot resolve with its placeholder image (sp-dev-docs #9289, SharePoint Server;
# that SharePoint Online's front-door cache does the same is UNCONFIRMED).
PLACEHOLDER_ACCOUNT = "nobody@placeholder.invalid"
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?([0-9]{1,10})\"?", re.IGNORECASE)
# A thumbnail's file name: an opaque prefix (account name with "_" for "@" and ".", or the
# Entra object id) and, for the generated ones, `_SThumb`/`_MThumb`/`_LThumb` (reference §4.7).
_PICTURE_FILE = re.compile(r"[A-Za-z0-9_.'~+-]+\.(?:jpe?g|png)", re.IGNORECASE)
_THUMB = re.compile(r"_MThumb(?=\.[A-Za-z]+$)")
# `?t=<picture timestamp>` on the top-level PictureUrl (reference §4.3): the only query kept.
_STAMP = re.compile(r"t=[0-9]{1,20}")


def my_site_origin(site_origin: str) -> str:
    """The tenant's My Site host, derived from its SharePoint origin (reference §4.1, §4.7):
    `https://contoso.sharepoint.com` → `https://contoso-my.sharepoint.com`.

    An IP address or single-label host (one origin for every service, as on a local emulator)
    is its own My Site host.
    """
    parts = urlsplit(site_origin)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        return site_origin
    except ValueError:
        pass
    first, dot, rest = host.partition(".")
    if not dot or first.endswith("-my"):
        return site_origin
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{first}-my.{rest}{port}"


class SharePointClient:
    """SharePoint Online PeopleManager for the signed-in user, and their profile pictures.

    :param site_url: the tenant's SharePoint URL from settings (e.g.
        ``https://contoso.sharepoint.com``); every API call goes there.
    :param token_provider_for_origin: returns an access token for the origin being called
        (``scheme://host[:port]``): pictures live on the My Site host, which needs a token of
        its own (reference §4.1). If it accepts ``force_refresh=True`` it is asked for a new
        token once after a 401.
    :param session: a ``requests.Session``, normally from ``session.build_session``.
    :param options: timeouts, retry budget, shared throttle gate and call hook.
    :param my_site_url: the My Site host; by default derived from `site_url`
        (``my_site_origin``).
    :param account: who is signed in (e.g. "oid.tid"), so that a Retry-After SharePoint sends
        for this user holds back this user's calls only (``throttle.py``).

    No URL a response names is ever called as it stands: a picture URL is rebuilt from the
    configured origin or My Site host and a checked path (``picture_url``), and the transport
    sends a token only to the origin it was issued for (``bearer.py``).
    """

    service = "sharepoint"

    def __init__(
        self,
        site_url: str,
        token_provider_for_origin: Callable[[str], str],
        session: requests.Session,
        options: CallOptions | None = None,
        *,
        my_site_url: str | None = None,
        account: str | None = None,
    ) -> None:
        origin = normalise_origin(site_url)
        my_site = normalise_origin(my_site_url or my_site_origin(origin or ""))
        if origin is None or my_site is None:
            raise ValueError(f"not an http(s) URL: {my_site_url or site_url!r}")
        self.site_url = site_url.rstrip("/")
        self.origin = origin
        self.my_site = my_site
        self._token_for_origin = token_provider_for_origin
        self._requester = Requester(session, self.service, options, account)

    def _send(
        self,
        method: str,
        url: str,
        operation: str,
        *,
        headers: Mapping[str, str],
        data: bytes | None = None,
        success: Container[int] = SUCCESS,
        retry_on: Container[int] = RETRYABLE_STATUSES,
    ) -> requests.Response:
        origin = normalise_origin(url)
        if origin not in (self.origin, self.my_site):
            raise ValueError(f"not a URL on this tenant's SharePoint: {url!r}")
        return self._requester.request(
            method,
            url,
            token_provider=functools.partial(self._token_for_origin, origin),
            audience=origin,
            operation=operation,
            headers=headers,
            data=data,
            success=success,
            retry_on=retry_on,
        )

    def my_properties(self) -> SharePointProfile:
        """`GET /_api/SP.UserProfiles.PeopleManager/GetMyProperties`, parsed (reference §4.2)."""
        resp = self._send(
            "GET",
            f"{self.site_url}/_api/SP.UserProfiles.PeopleManager/GetMyProperties",
            "my_properties",
            headers={"Accept": JSON_ACCEPT},
        )
        return SharePointProfile.from_sharepoint(json_body(self.service, resp))

    def picture_url(self, size: str, profile: SharePointProfile) -> str | None:
        """The URL of the S, M or L thumbnail, derived from `PictureURL` (reference §4.7).

        None when the profile has no PictureURL. Raises ValueError for another size, and
        BadResponseError when the URL is not a picture on this tenant's My Site host (or
        SharePoint origin) or has no `_MThumb`.
        """
        if size not in PICTURE_SIZES:
            raise ValueError(f"picture size must be one of {PICTURE_SIZES}, not {size!r}")
        if not profile.picture_url:
            return None
        origin, folders, name, stamp = self._picture_location(profile.picture_url)
        if _THUMB.search(name) is None:
            if size != "M":
                raise BadResponseError(self.service, message="PictureURL is not an _MThumb file")
        else:
            # File names are {prefix}_SThumb/_MThumb/_LThumb.jpg (reference §4.7).
            name = _THUMB.sub(f"_{size}Thumb", name)
        path = "/".join(quote(part, safe="") for part in (*folders, name))
        return f"{origin}/{path}" + (f"?{stamp}" if stamp else "")

    def _picture_location(self, url: str) -> tuple[str, list[str], str, str | None]:
        """(origin, folders, file name, `t=` stamp) of a PictureURL, every part checked.

        The origin is one we configured, never the URL's own text (issue 16: a URL parsers
        read differently must not pick the host). Refused: a backslash, `@` or userinfo, a
        port or host that is not the SharePoint origin's or the My Site host's, dot segments,
        and file names that are not pictures (SSRF guard, security.md 1.3.6).
        """
        named = normalise_origin(url)
        origins = [origin for origin in (self.my_site, self.origin) if origin == named]
        parts = urlsplit(url)
        segments = [unquote(part) for part in parts.path.split("/")[1:]]
        folders, name = segments[:-1], (segments[-1] if segments else "")
        sound = (
            url.isascii()
            and not any(c in "\\@" or c <= " " or c == "\x7f" for c in url)
            and all(_plain_segment(folder) for folder in folders)
            and _PICTURE_FILE.fullmatch(name) is not None
        )
        if not sound or not origins:
            # The host only (a response's text): a multi-geo My Site host shows up here.
            logger.warning(
                "PictureURL on %s refused: not a picture we may fetch", named or "no origin"
            )
            raise BadResponseError(
                self.service, message="PictureURL is not a picture on this tenant's SharePoint"
            )
        stamp = parts.query if _STAMP.fullmatch(parts.query) else None
        return origins[0], folders, name, stamp

    def picture(self, size: str, profile: SharePointProfile) -> Photo | None:
        """The S, M or L thumbnail in the legacy My Site host library; None when there is none.

        Since 2024 SharePoint no longer shows these files (reference §9.1): they are a fact
        about an old copy, not what pages show (`served_picture`). None when the profile has
        no PictureURL or the file answers 404. Raises as `picture_url` does, and
        BadResponseError when the answer is not an image.
        """
        url = self.picture_url(size, profile)
        if url is None:
            return None
        try:
            resp = self._send("GET", url, "picture", headers={"Accept": IMAGE_ACCEPT})
        except NotFoundError:
            return None
        return self._image(resp)

    def served_picture(self, size: str, account: str) -> Photo:
        """What SharePoint pages show of `account` at S, M or L: the image `userphoto.aspx`
        serves, at the end of its redirects (reference §9.1).

        Since 2024 userphoto.aspx answers 302 to SharePoint's front-door cache on the same
        origin (sp-dev-docs #7909); a tenant that still syncs the classic way answers with the
        image itself (§4.7). A person without a photo is served a placeholder image. A
        redirect is followed only to the tenant's SharePoint origin or My Site host, at most
        MAX_REDIRECTS times, rebuilt from that origin (the bearer token goes nowhere else).
        Asking for one's own picture is also what makes a classic tenant pull it from Exchange
        (§5.2 step 1).

        Raises ValueError for another size; BadResponseError for a redirect elsewhere, too
        many redirects or an answer that is not an image; the mapped UpstreamError otherwise.
        """
        if size not in PICTURE_SIZES:
            raise ValueError(f"picture size must be one of {PICTURE_SIZES}, not {size!r}")
        query = urlencode({"size": size, "accountname": account})
        url = f"{self.site_url}{USERPHOTO_PATH}?{query}"
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._send(
                "GET",
                url,
                "served_picture",
                headers={"Accept": IMAGE_ACCEPT},
                success=_IMAGE_OR_REDIRECT,
            )
            if resp.status_code not in _REDIRECTS:
                return self._image(resp)
            location = resp.headers.get("Location", "")
            resp.close()
            url = self._redirect_target(url, location)
        raise BadResponseError(self.service, message="too many redirects for a picture")

    def placeholder_picture(self, size: str) -> Photo:
        """The image SharePoint serves at S, M or L for someone without a photo.

        Compared with `served_picture`, it tells "SharePoint shows a placeholder" from
        "SharePoint shows an older photo". Raises as `served_picture` does.
        """
        return self.served_picture(size, PLACEHOLDER_ACCOUNT)

    def _redirect_target(self, current: str, location: str) -> str:
        """The URL to follow a redirect to, rebuilt on the tenant's SharePoint origin or My Site
        host; BadResponseError for anything else.

        Redirects are followed only where intended (security.md ASVS 15.3.2) and hosts come from
        settings, never from a response (1.3.6): a Location that is not plain ASCII, has a
        backslash, user info or another origin (scheme, host or port) is refused.
        """
        refused = BadResponseError(self.service, message="picture redirected off the tenant")
        if not location or not location.isascii() or any(c in "\\" or c <= " " for c in location):
            raise refused
        target = urlsplit(urljoin(current, location))
        named = normalise_origin(target.geturl())
        origins = [origin for origin in (self.origin, self.my_site) if origin == named]
        if "@" in target.netloc or not origins:
            logger.warning("a picture redirect to %s refused: not this tenant's", named)
            raise refused
        query = f"?{target.query}" if target.query else ""
        return f"{origins[0]}{target.path or '/'}{query}"

    def _image(self, resp: requests.Response) -> Photo:
        """The picture a response carries; BadResponseError when it is not an image."""
        content_type = resp.headers.get("Content-Type")
        if content_type and not content_type.startswith(("image/", "application/octet-stream")):
            raise BadResponseError(
                self.service, resp.status_code, message=f"picture served as {content_type}"
            )
        if not resp.content:
            raise BadResponseError(self.service, resp.status_code, message="empty picture body")
        return Photo(
            data=resp.content,
            content_type=content_type,
            etag=resp.headers.get("ETag"),
            fresh_for=_max_age(resp.headers.get("Cache-Control")),
        )

    def set_my_profile_picture(self, jpeg: bytes) -> None:
        """`POST .../PeopleManager/SetMyProfilePicture` with the raw bytes (reference §4.5).

        Any 2xx is success. Since 2024 SharePoint refuses or ignores local uploads (MC653734,
        reference §9.1); that arrives as the mapped UpstreamError for the caller to judge. One
        attempt: only throttling (429, 503) is retried, since a push SharePoint refuses with a
        403 or a 5xx is refused for good where local uploads are disabled (§9.1). Raises
        ValueError above SharePoint's 5,000,000-byte limit without calling SharePoint.
        """
        if len(jpeg) > MAX_PICTURE_BYTES:
            raise ValueError(f"picture of {len(jpeg)} bytes exceeds SharePoint's limit")
        self._send(
            "POST",
            f"{self.site_url}/_api/SP.UserProfiles.PeopleManager/SetMyProfilePicture",
            "set_my_profile_picture",
            headers={"Accept": JSON_ACCEPT, "Content-Type": "application/octet-stream"},
            data=jpeg,
            retry_on=THROTTLING_STATUSES,
        ).close()


def _max_age(cache_control: str | None) -> int | None:
    """`max-age` of a Cache-Control header in seconds; None when absent or unreadable."""
    match = _MAX_AGE.search(cache_control or "")
    return int(match.group(1)) if match else None


def _plain_segment(segment: str) -> bool:
    """A folder name that stays one folder: no dot segment, separator or control character."""
    return (
        segment not in ("", ".", "..")
        and segment.isprintable()
        and not any(c in "/\\%" for c in segment)
    )
