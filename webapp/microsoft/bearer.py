"""The one place a token joins a request: `Authorization: Bearer`, and only for the origin the
token was issued for.

Parsers disagree about URLs such as `https://other.example\\@contoso-my.sharepoint.com/...`:
`urllib.parse` reads the host after the last `@`, urllib3 (which `requests` connects with) stops
the authority at the backslash and connects to `other.example`. So the check runs on the
prepared request, with urllib3's reading, and both readings must name the token's origin.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase
from urllib3.util import parse_url

from webapp.microsoft.errors import BadResponseError
from webapp.microsoft.models import normalise_origin

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _connected_origin(url: str) -> str | None:
    """`scheme://host[:port]` as urllib3 reads `url`, i.e. where `requests` would connect;
    None when the URL carries userinfo or is not plain http(s)."""
    try:
        parts = parse_url(url)
    except ValueError:
        return None
    scheme = (parts.scheme or "").lower()
    if scheme not in _DEFAULT_PORTS or not parts.host or parts.auth is not None:
        return None
    port = parts.port if parts.port not in (None, _DEFAULT_PORTS[scheme]) else None
    return f"{scheme}://{parts.host.lower()}" + (f":{port}" if port else "")


def sends_to(url: str, origin: str) -> bool:
    """Whether a request for `url` reaches exactly `origin` however it is read.

    False for anything a parser could read two ways: backslashes, whitespace, control or
    non-ASCII characters, userinfo (`user@`), a host or port urllib and urllib3 read apart.
    """
    if not url.isascii() or any(c == "\\" or c <= " " or c == "\x7f" for c in url):
        return False
    if "@" in urlsplit(url).netloc:
        return False
    return _connected_origin(url) == normalise_origin(url) == origin


class Bearer(AuthBase):
    """`Authorization: Bearer` as a requests auth, so that a ~/.netrc entry can never replace
    it, and refused (BadResponseError) unless the prepared URL goes to `origin`, the origin the
    token was issued for (issue 16: a token must never reach a host a response named)."""

    def __init__(self, token: str, origin: str, service: str) -> None:
        self._token = token
        self._origin = origin
        self._service = service

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if not sends_to(request.url or "", self._origin):
            logger.warning(
                "%s: refused to send a token for %s to %s",
                self._service,
                self._origin,
                _connected_origin(request.url or "") or "an unreadable URL",
            )
            raise BadResponseError(
                self._service,
                code="ForeignHost",
                message="a URL would take the token to a host it was not issued for",
            )
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request
