"""Generated pictures for the emulator: initials photos, resized renditions and the placeholder.

Demo photos are drawn, never real faces: initials on a background whose colour depends on
the photo version, with a large "v1"/"v2" so that an old and a new picture differ at a glance.
Every function is pure and cached, so reseeding the tenant between tests costs nothing.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

# One colour per photo version (1-based, cycling), far apart in hue so versions never look alike.
VERSION_COLOURS = (
    (0, 120, 212),  # blue
    (196, 49, 75),  # crimson
    (16, 124, 16),  # green
    (202, 80, 16),  # orange
    (135, 100, 184),  # purple
    (0, 153, 153),  # teal
)

# Magic numbers of the formats the services accept (Graph: JPEG/PNG, reference §3.4 [S20];
# SharePoint SetMyProfilePicture: BMP/JPEG/PNG, reference §4.5 [S40]).
_SIGNATURES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"BM": "image/bmp",
}


def sniff(data: bytes) -> str | None:
    """The image type `data` really is (by content, not by header), or None."""
    for magic, content_type in _SIGNATURES.items():
        if data.startswith(magic):
            return content_type
    return None


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a decodable image, or None when Pillow cannot read it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


@lru_cache(maxsize=64)
def initials_photo(initials: str, version: int, size: int = 648) -> bytes:
    """A square JPEG: `initials` large, "v{version}" below, on the version's colour."""
    colour = VERSION_COLOURS[(version - 1) % len(VERSION_COLOURS)]
    image = Image.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(image)
    big = ImageFont.load_default(size=size * 0.38)
    small = ImageFont.load_default(size=size * 0.14)
    draw.text((size / 2, size * 0.44), initials, fill="white", font=big, anchor="mm")
    badge = f"v{version}"
    draw.rounded_rectangle(
        (size * 0.34, size * 0.70, size * 0.66, size * 0.88), radius=size * 0.04, fill="white"
    )
    draw.text((size / 2, size * 0.79), badge, fill=colour, font=small, anchor="mm")
    return _jpeg(image)


@lru_cache(maxsize=256)
def square_rendition(data: bytes, size: int) -> bytes:
    """`data` centre-cropped to a square and resized to `size` px, as JPEG."""
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
        fitted = ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)
    return _jpeg(fitted)


@lru_cache(maxsize=8)
def placeholder_silhouette(size: int) -> bytes:
    """A grey head-and-shoulders outline, the picture SharePoint shows when there is none."""
    image = Image.new("RGB", (size, size), (234, 234, 234))
    draw = ImageDraw.Draw(image)
    grey = (166, 166, 166)
    draw.ellipse((size * 0.32, size * 0.16, size * 0.68, size * 0.52), fill=grey)
    draw.ellipse((size * 0.14, size * 0.58, size * 0.86, size * 1.22), fill=grey)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
