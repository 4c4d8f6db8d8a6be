"""Where to send the user after sign-in: only ever a local path of ours (security.md §3.9).

A helpdesk link must survive the sign-in round trip, and no link may send anyone off-site.
The target is kept server-side with the sign-in flow (never in `state`) and checked both
when it comes in and before the redirect.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

HOME = "/"
MAX_LENGTH = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_next(raw: str | None, is_known_page: Callable[[str], bool]) -> str:
    """`raw` if it is a local path to a known page (with its query), otherwise "/".

    `is_known_page(path)` says whether a path (without query) is one of the pages a deep
    link may open; the URL map decides, not a pattern here.
    """
    if not raw or len(raw) > MAX_LENGTH:
        return HOME
    for candidate in (raw, unquote(raw)):
        if _CONTROL.search(candidate) or "\\" in candidate:
            return HOME
        if not candidate.startswith("/") or candidate.startswith("//"):
            return HOME
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or parts.fragment:
        return HOME
    if not is_known_page(parts.path):
        return HOME
    return parts.path + (f"?{parts.query}" if parts.query else "")
