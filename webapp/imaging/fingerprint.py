"""The one "same picture" rule: whether two photo files show the same picture, although each
service re-encodes and resizes them, so bytes never match (security.md E6, E7)."""

from __future__ import annotations

import enum
import io
import math
import statistics
from dataclasses import dataclass

from PIL import Image

from webapp.imaging import pipeline

# Photos come from Graph and SharePoint (JPEG; PNG, GIF or WebP for placeholders and "no photo"),
# never from the user directly; still only these parsers run (security.md §2.1).
_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
# The pixel limit, decode budget and slot wait of uploads (security.md §2.1): bombs are not decoded.
_LIMITS = pipeline.PipelineLimits()


# Layout is compared on a 24×24 greyscale version, normalised to zero mean and unit RMS so that
# brightness and contrast changes do not count; colour on the mean RGB of a 3×3 grid. A 64-bit
# DCT hash (pHash) was tried first and dropped: symmetric pictures such as the placeholder
# silhouette have many near-zero coefficients whose bits flip with JPEG noise (30 of 63 bits
# between two renditions of the same placeholder).
_SIDE = 24
_GRID = 3
_FLAT = 1.0  # grey RMS below this: a plain picture with no layout to compare
_Z_SCALE = 32  # normalised values are stored as bytes, 1/32 of a standard deviation per step

# Thresholds chosen on the pictures of tests/imagegen.py; `pytest -s -k distribution
# tests/unit/test_fingerprint.py` prints the distribution. Ten photo-like pictures, five initials
# pictures as the emulator draws them ("AB" v1/v2/v3 in blue/crimson/green, "AC" and "CD" in
# blue) and the placeholder, each at 48/64/96/120/240/360/432/504/648 px × JPEG q60/75/85/95:
#   same picture (10,080 pairs):  shape median 0.025, 99th pct 0.124, max 0.139;
#                                 colour median 1.10, max 5.51
#   different (7,680 pairs):      shape median 1.318; where colours agree ("AB" vs "AC", both
#                                 blue) shape ≥ 0.449; where layouts agree ("AB v1" vs "AB v3")
#                                 colour ≥ 176.3
# (measured again when decoding moved to the pipeline's reducer; before it the same-picture shape
# maximum was 0.161). 0.28 sits between 0.139 and 0.449; 20 is 3.6× the worst same-picture
# colour and far below any version change. A picture must pass both to count as the same.
SHAPE_THRESHOLD = 0.28
COLOUR_THRESHOLD = 20.0


class UnreadablePictureError(ValueError):
    """The bytes are not a picture this module can read (the diagnosis says "cannot tell")."""


class Match(enum.StrEnum):
    """What a service shows compared with the picture expected there."""

    SAME = "same"  # the expected picture (or, expecting none, no picture)
    DIFFERENT = "different"  # another picture
    NONE = "none"  # no picture while one was expected
    UNREADABLE = "unreadable"  # bytes the fingerprint cannot read


@dataclass(frozen=True)
class Fingerprint:
    """The normalised 24×24 greyscale version and the 3×3 grid of mean colours, as bytes."""

    grey: bytes  # per pixel 128 + 32·z, z = (value − mean) / RMS, clamped to 0–255
    colours: bytes  # 9 × RGB


@dataclass(frozen=True)
class Distance:
    """Layout distance (RMS of the normalised grey difference: 0 same, ≈ 1.4 unrelated) and colour
    distance (mean Euclidean RGB distance per grid cell, 0–441)."""

    shape: float
    colour: float

    @property
    def same_picture(self) -> bool:
        return self.shape <= SHAPE_THRESHOLD and self.colour <= COLOUR_THRESHOLD


def fingerprint(data: bytes) -> Fingerprint:
    """Fingerprint an image file; raises UnreadablePictureError."""
    rgb = small_square(data, _SIDE * 4)
    grey = rgb.convert("L").resize((_SIDE, _SIDE), Image.Resampling.BOX).tobytes()
    grid = rgb.resize((_GRID, _GRID), Image.Resampling.BOX)
    return Fingerprint(grey=_normalised(grey), colours=grid.tobytes())


def distance(a: Fingerprint, b: Fingerprint) -> Distance:
    squares = sum((x - y) ** 2 for x, y in zip(a.grey, b.grey, strict=True))
    shape = math.sqrt(squares / len(a.grey)) / _Z_SCALE
    colour = statistics.fmean(
        math.dist(a.colours[i : i + 3], b.colours[i : i + 3]) for i in range(0, len(a.colours), 3)
    )
    return Distance(shape=round(shape, 3), colour=round(colour, 2))


def same_picture(a: bytes, b: bytes) -> bool:
    """Whether two image files show the same picture; raises UnreadablePictureError."""
    return distance(fingerprint(a), fingerprint(b)).same_picture


def compare(expected: bytes | None, shown: bytes | None) -> Match:
    """Whether `shown` is the picture `expected` is; None on either side means no picture."""
    if shown is None:
        return Match.SAME if expected is None else Match.NONE
    if expected is None:
        return Match.DIFFERENT
    try:
        return Match.SAME if same_picture(expected, shown) else Match.DIFFERENT
    except UnreadablePictureError:
        return Match.UNREADABLE


def _normalised(grey: bytes) -> bytes:
    """Zero mean and unit RMS, so that brightness and contrast changes do not count as layout."""
    mean = statistics.fmean(grey)
    rms = math.sqrt(statistics.fmean((v - mean) ** 2 for v in grey))
    if rms < _FLAT:
        return bytes([128]) * len(grey)
    return bytes(min(255, max(0, round(128 + _Z_SCALE * (v - mean) / rms))) for v in grey)


def small_square(data: bytes, target: int) -> Image.Image:
    """The centred square, upright, transparency on white, decoded at most `target` px wide as
    the pipeline does; raises UnreadablePictureError.

    Entra keeps photos of any shape (microsoft365-api.md §3.3) while the square renditions are
    centre crops, so only the centred square of each picture is compared. Decoding goes through
    the pipeline's decode slots and memory budget: a photo someone set through Graph directly can
    be a pixel bomb too (issue 16 item 2). Also what the history's thumbnails are cut from
    (`thumbnail.py`).
    """
    try:
        with pipeline.decoding(), Image.open(io.BytesIO(data), formats=_FORMATS) as im:
            if im.width * im.height > _LIMITS.max_pixels:
                raise UnreadablePictureError(f"{im.width}x{im.height} is too large")
            width, height = im.size
            if pipeline.exif_orientation(im, data) >= 5:
                width, height = height, width
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            box = pipeline.CropBox(left, top, left + side, top + side)
            return pipeline.decoded_square(im, data, box, min(side, target), _LIMITS)
    except UnreadablePictureError:
        raise
    except pipeline.PhotoRejectedError as exc:
        raise UnreadablePictureError(str(exc)) from None
    except (
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        *pipeline.DECODE_ERRORS,
    ) as exc:
        raise UnreadablePictureError(str(exc)) from None
