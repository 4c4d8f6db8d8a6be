"""Small JPEG thumbnails of profile photos, for the person's change history.

A thumbnail is cut from the same decode the fingerprint uses (centre square, upright, JPEG
draft, bombs refused) and written as a fresh image with no metadata, as every photo the app
keeps (security.md §2.5 step 7).
"""

from __future__ import annotations

import io
import logging

from PIL import Image

from webapp.imaging.fingerprint import UnreadablePictureError, small_square

logger = logging.getLogger(__name__)

# 96 px: sharp at the 48–64 CSS px the history page shows, on 1.5–2× screens; about 2–3 kB.
THUMBNAIL_SIDE = 96
_QUALITY = 80


def thumbnail(data: bytes | None, side: int = THUMBNAIL_SIDE) -> bytes | None:
    """A `side`-px square JPEG of the photo in `data`; None for no photo or unreadable bytes."""
    if not data:
        return None
    try:
        square = small_square(data, side * 2)
    except UnreadablePictureError as exc:
        logger.info("no thumbnail: %s", exc)
        return None
    # `small_square` pastes the pixels onto a new canvas: no EXIF, ICC profile or comment
    # crosses over into what is saved.
    small = square.resize((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=_QUALITY, optimize=True)
    return out.getvalue()
