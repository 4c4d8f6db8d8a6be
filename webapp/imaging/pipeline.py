"""Turns uploaded photo bytes into a clean square JPEG for Graph and SharePoint, or refuses them."""

from __future__ import annotations

import contextlib
import enum
import hashlib
import io
import logging
import math
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageCms
from pillow_heif import register_heif_opener

# Decode HEIC/HEIF from phones with pillow-heif, but never its thumbnails, depth maps or auxiliary
# images; libheif's own security limits stay on (security.md §2.1, row "HEIC from phones").
register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# The only parsers that ever see user bytes: every other Pillow plugin (PSD, FITS, EPS, PDF,
# JPEG 2000, McIdas ...) is out of reach, and with it most Pillow CVEs since 2023
# (security.md §2.1, §2.3, B3).
# JPEG files with a Multi-Picture extension (phone cameras) come back from the JPEG parser as "MPO".
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")

# Formats whose animation we refuse, as issue 6 item 1 asks ("an animation is refused").
# MPO and multi-image HEIF are stills with extra pictures (depth, bursts): the primary one is used.
_ANIMATED_FORMATS = frozenset({"PNG", "WEBP"})

# Leading bytes of common types, compared only after Pillow failed to identify a file: an accepted
# type's signature means a damaged file (CORRUPT), any other names the refused type in the detail
# for logs and the helpdesk summary. No parser runs on them.
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"%PDF", "PDF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"8BPS", "PSD"),
    (b"%!PS", "EPS"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
)

_ISO_BRANDS = {
    **dict.fromkeys(
        (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"), "HEIF"
    ),
    b"avif": "AVIF",
    b"avis": "AVIF",
}

# EXIF orientation → the transpose that makes the picture upright (as ImageOps.exif_transpose).
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION = 0x0112

# What Pillow and its plugins raise on malformed data during open/load (truncation, bad CRC, broken
# streams, libheif errors). Each becomes Rejection.CORRUPT; MemoryError is deliberately not caught.
DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    RuntimeError,
    struct.error,
    zlib.error,
)

# Step 9 of security.md §2.5: at most this many photos are decoded at once per process, so parallel
# uploads cannot multiply the peak memory (≈ 35 MB each for a 24 MP JPEG with draft).
_DECODE_SLOTS = threading.BoundedSemaphore(2)

_WHITE = (255, 255, 255)
logger = logging.getLogger(__name__)
_SRGB = ImageCms.createProfile("sRGB")


class Rejection(enum.Enum):
    """Why a photo was refused; `photo/wording.py` turns each into a sentence."""

    EMPTY = "empty"
    UNSUPPORTED_FORMAT = "unsupported_format"
    ANIMATED = "animated"
    TOO_LARGE_BYTES = "too_large_bytes"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_SMALL = "too_small"
    CORRUPT = "corrupt"
    BAD_CROP = "bad_crop"
    OUTPUT_TOO_LARGE = "output_too_large"
    BUSY = "busy"


class PhotoRejectedError(Exception):
    """The photo cannot be used; `reason` is for the user, `detail` for logs only."""

    def __init__(self, reason: Rejection, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PipelineLimits:
    """Every limit of the pipeline; the defaults are the ones security.md and issue 6 ask for."""

    # Issue 6 item 1: 20 MB is enough for a 48-megapixel phone JPEG.
    max_bytes: int = 20 * 1024 * 1024
    # security.md §2.1: above the 48 MP of current phones, below Pillow's own 89 MP warning.
    max_pixels: int = 50_000_000
    # Issue 6 item 2: below this side (of the image and of the chosen square) the photo is refused.
    min_side: int = 96
    # The largest size Exchange serves (48 … 648 px, microsoft365-api.md §3.3).
    output_side: int = 648
    # Graph PUT /me/photo/$value takes at most "4 MB" (microsoft365-api.md §3, [S14]); read as the
    # smaller decimal value. SharePoint SetMyProfilePicture: at most 5,000,000 bytes (§4.5, [S40]).
    graph_max_bytes: int = 4_000_000
    sharepoint_max_bytes: int = 5_000_000
    jpeg_quality: int = 88
    min_jpeg_quality: int = 50
    # How long an upload may wait for a decode slot before it is refused as BUSY.
    busy_timeout: float = 10.0

    def __post_init__(self) -> None:
        # Pillow warns from MAX_IMAGE_PIXELS on; a larger limit here would turn that warning into
        # refusals of images the limit allows (security.md §0 decision 6).
        if not 0 < self.max_pixels <= Image.MAX_IMAGE_PIXELS:
            raise ValueError(f"max_pixels must be in 1..{Image.MAX_IMAGE_PIXELS}")
        if not 1 <= self.min_side <= self.output_side:
            raise ValueError("min_side must be between 1 and output_side")
        if not 1 <= self.min_jpeg_quality <= self.jpeg_quality <= 95:
            raise ValueError("need 1 <= min_jpeg_quality <= jpeg_quality <= 95")

    @property
    def max_output_bytes(self) -> int:
        """The output must fit both services."""
        return min(self.graph_max_bytes, self.sharepoint_max_bytes)


@dataclass(frozen=True)
class CropBox:
    """A square chosen by the user, in pixels of the upright picture (left/top inclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def side(self) -> int:
        return self.right - self.left


@dataclass(frozen=True)
class ImageInfo:
    """What the crop UI needs before any pixel is decoded."""

    format: str
    width: int  # as stored in the file
    height: int
    upright_width: int  # after the EXIF orientation is applied: what the user sees
    upright_height: int


@dataclass(frozen=True)
class ProcessedPhoto:
    """The JPEG to send to Graph and SharePoint."""

    data: bytes
    width: int
    height: int
    sha256: str


def inspect(data: bytes, limits: PipelineLimits) -> ImageInfo:
    """Check the upload from its header only and return its upright size, or raise a rejection."""
    with decoding(), _open(data, limits) as im:
        return _info(im)


def normalise(data: bytes, crop: CropBox | None, limits: PipelineLimits) -> ProcessedPhoto:
    """Run the pipeline of security.md §2.5; raises PhotoRejectedError, never a Pillow error."""
    with decoding(), _open(data, limits) as im:
        info = _info(im)
        box = _checked_crop(crop, info, limits)
        if not _DECODE_SLOTS.acquire(timeout=limits.busy_timeout):
            raise PhotoRejectedError(Rejection.BUSY, "no decode slot free")
        try:
            picture = _decode_square(im, info, box, limits)
        finally:
            _DECODE_SLOTS.release()
    data_out = _encode(picture, limits)
    return ProcessedPhoto(
        data=data_out,
        width=picture.width,
        height=picture.height,
        sha256=hashlib.sha256(data_out).hexdigest(),
    )


@contextlib.contextmanager
def decoding() -> Iterator[None]:
    """The warning policy for Pillow calls on untrusted bytes.

    Pillow's bomb warning becomes an error: between 1× and 2× MAX_IMAGE_PIXELS it only warns and
    then decodes (security.md §0 decision 6, §2.2; Pillow's own fuzzers do the same). Its
    UserWarnings (corrupt EXIF, a malformed MPO or APNG read as a plain image) mean it went on with
    the pixels, which is what a user with an odd phone file wants: they are logged, not raised.
    `catch_warnings` is process-wide state, so threads can overlap here; the pixel limit does not
    rely on it, as `_check_header` refuses by size before any decode.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield
    for warning in caught:
        logger.info("image decoded despite: %s", warning.message)


def exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation (1–8) of an opened image; 1 when absent or unreadable.

    pillow-heif applies HEIF irot/imir itself and resets the tag (security.md §2.1): HEIF reads 1.
    """
    try:
        value = im.getexif().get(_EXIF_ORIENTATION, 1)
        return value if value in _ORIENTATION_TRANSPOSE else 1
    except DECODE_ERRORS:
        return 1


def upright(picture: Image.Image, orientation: int) -> Image.Image:
    """Apply an EXIF orientation to decoded pixels, once."""
    if orientation in _ORIENTATION_TRANSPOSE:
        return picture.transpose(_ORIENTATION_TRANSPOSE[orientation])
    return picture


def _open(data: bytes, limits: PipelineLimits) -> Image.Image:
    """Steps 1–2 of security.md §2.5: bytes, allowed parsers, header-only pixel limit, animation."""
    if not data:
        raise PhotoRejectedError(Rejection.EMPTY)
    if len(data) > limits.max_bytes:
        raise PhotoRejectedError(Rejection.TOO_LARGE_BYTES, f"{len(data)} bytes")
    try:
        im = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejectedError(Rejection.TOO_MANY_PIXELS, str(exc)) from None
    except Image.UnidentifiedImageError:
        kind = _sniff(data)
        if kind in ("JPEG", "PNG", "WEBP", "HEIF"):
            raise PhotoRejectedError(Rejection.CORRUPT, f"unreadable {kind}") from None
        raise PhotoRejectedError(Rejection.UNSUPPORTED_FORMAT, kind) from None
    except DECODE_ERRORS as exc:
        raise PhotoRejectedError(Rejection.CORRUPT, f"open: {exc}") from None
    try:
        _check_header(im, limits)
    except BaseException:
        im.close()
        raise
    return im


def _check_header(im: Image.Image, limits: PipelineLimits) -> None:
    width, height = im.size
    # Our own limit, checked before load(): Pillow's check fires only at 89 MP (security.md §2.1).
    if width * height > limits.max_pixels:
        raise PhotoRejectedError(Rejection.TOO_MANY_PIXELS, f"{width}x{height}")
    # No aspect-ratio limit (security.md §2.5 step 2, "or force crop"): the output is always a
    # square cut from the picture, so a panorama costs no more than its pixel count.
    if min(width, height) < limits.min_side:
        raise PhotoRejectedError(Rejection.TOO_SMALL, f"{width}x{height}")
    # is_animated of PNG (acTL chunk) and WebP (ANIM chunk) is read from the header; no frame walk.
    if im.format in _ANIMATED_FORMATS and getattr(im, "is_animated", False):
        raise PhotoRejectedError(Rejection.ANIMATED, f"{im.format} with {im.n_frames} frames")


def _sniff(data: bytes) -> str:
    """Name a refused type for the log detail, from its first bytes only."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
        return "SVG"
    if head.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":  # ISO base media: HEIF and AVIF stills, but also MP4/MOV video
        return _ISO_BRANDS.get(data[8:12], "video or other ISO media")
    return "unknown"


def _info(im: Image.Image) -> ImageInfo:
    width, height = im.size
    swapped = exif_orientation(im) >= 5
    return ImageInfo(
        format=im.format or "",
        width=width,
        height=height,
        upright_width=height if swapped else width,
        upright_height=width if swapped else height,
    )


def _checked_crop(crop: CropBox | None, info: ImageInfo, limits: PipelineLimits) -> CropBox:
    """Validate the user's square before Pillow sees it (CVE-2026-59199, security.md B10)."""
    width, height = info.upright_width, info.upright_height
    if crop is None:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return CropBox(left, top, left + side, top + side)
    values = (crop.left, crop.top, crop.right, crop.bottom)
    if not all(type(v) is int for v in values):
        raise PhotoRejectedError(Rejection.BAD_CROP, "coordinates must be integers")
    if not (0 <= crop.left < crop.right <= width and 0 <= crop.top < crop.bottom <= height):
        raise PhotoRejectedError(Rejection.BAD_CROP, f"{values} outside {width}x{height}")
    if crop.right - crop.left != crop.bottom - crop.top:
        raise PhotoRejectedError(Rejection.BAD_CROP, f"{values} is not square")
    if crop.side < limits.min_side:
        raise PhotoRejectedError(Rejection.BAD_CROP, f"side {crop.side} < {limits.min_side}")
    return crop


def _decode_square(
    im: Image.Image, info: ImageInfo, box: CropBox, limits: PipelineLimits
) -> Image.Image:
    """Steps 3–6 of security.md §2.5: draft, load, orient, 8-bit RGB, crop and scale in one go."""
    target = min(box.side, limits.output_side)
    scale = 1
    if im.format in ("JPEG", "MPO"):
        # libjpeg decodes at 1/2, 1/4 or 1/8 directly (security.md §2.4); ask for a size at which
        # the chosen square still has `target` pixels. Other formats have no draft mode.
        factor = target / box.side
        wanted = (max(1, math.ceil(info.width * factor)), max(1, math.ceil(info.height * factor)))
        drafted = im.draft("RGB", wanted)
        if drafted is not None:
            scale = info.width / drafted[1][2]
    try:
        im.load()
        picture = _to_rgb(im)
    except DECODE_ERRORS as exc:
        raise PhotoRejectedError(Rejection.CORRUPT, f"decode: {exc}") from None
    # Crop and scale in the stored orientation, then turn only the small result upright: turning
    # the decoded picture first would copy all of it (security.md §2.4 on ordering).
    orientation = exif_orientation(im)
    region = _stored_region(box, orientation, info.width, info.height, scale)
    clamped = (region[0], region[1], min(region[2], picture.width), min(region[3], picture.height))
    square = picture.resize((target, target), Image.Resampling.LANCZOS, box=clamped)
    return _to_srgb(upright(square, orientation), im.info.get("icc_profile"))


def _stored_region(
    box: CropBox, orientation: int, width: int, height: int, scale: float
) -> tuple[float, float, float, float]:
    """Map a box in upright pixels onto the stored (and drafted) picture.

    `width`/`height` are the stored full-size dimensions; each orientation's formula inverts the
    transpose `upright()` applies, and `scale` is the JPEG draft reduction.
    """

    def stored(x: int, y: int) -> tuple[int, int]:
        return {
            2: (width - x, y),
            3: (width - x, height - y),
            4: (x, height - y),
            5: (y, x),
            6: (y, height - x),
            7: (width - y, height - x),
            8: (width - y, x),
        }.get(orientation, (x, y))

    (x0, y0), (x1, y1) = stored(box.left, box.top), stored(box.right, box.bottom)
    return (min(x0, x1) / scale, min(y0, y1) / scale, max(x0, x1) / scale, max(y0, y1) / scale)


def _to_rgb(im: Image.Image) -> Image.Image:
    """Step 5 of security.md §2.5: any mode to 8-bit RGB, transparency composited on white."""
    mode = im.mode
    if mode.startswith("I"):
        # 16-bit greyscale (I;16, I;16B, I as PNG gives it): convert("L") would clip at 255
        # (security.md §2.1, measured 99.5 % white), so scale 0–65535 to 0–255 first.
        grey = im.convert("I").point(lambda v: v / 257).convert("L")
        return grey.convert("RGB")
    if "transparency" in im.info and mode in ("1", "L", "RGB", "P"):
        # A tRNS chunk: a transparent palette entry or colour key, no alpha channel of its own.
        im = im.convert("RGBA")
    elif mode == "P":
        im = im.convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, _WHITE)
        canvas.paste(rgba.convert("RGB"), (0, 0), rgba.getchannel("A"))
        return canvas
    if im.mode == "RGB":
        return im
    # CMYK (Adobe-inverted handled by the JPEG plugin), YCbCr, L and 1: Pillow's own conversion.
    # CMYK stays within 0.5 of the RGB original on average (security.md B8) without ImageCms.
    return im.convert("RGB")


def _to_srgb(picture: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert from the camera's RGB profile (e.g. Display P3) to sRGB, on the small picture only.

    The output carries no profile, and viewers assume sRGB. A profile LittleCMS cannot use is
    ignored rather than refusing the photo: the pixels are still a fair picture.
    """
    if not icc:
        return picture
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if source.profile.xcolor_space.strip() != "RGB":
            return picture
        converted = ImageCms.profileToProfile(picture, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return picture
    return converted if converted is not None else picture


def _encode(picture: Image.Image, limits: PipelineLimits) -> bytes:
    """Step 7–8 of security.md §2.5: a fresh image, baseline JPEG, no metadata, within both caps.

    Pillow copies a source's JPEG comment and ICC profile from `im.info` into the output
    (security.md §0 decision 5); a new image has an empty `info`, so only pixels cross over.
    """
    clean = Image.new("RGB", picture.size, _WHITE)
    clean.paste(picture, (0, 0))
    quality = limits.jpeg_quality
    while True:
        out = io.BytesIO()
        clean.save(out, "JPEG", quality=quality, optimize=True, progressive=False)
        data = out.getvalue()
        if len(data) <= limits.max_output_bytes:
            return data
        if quality <= limits.min_jpeg_quality:
            raise PhotoRejectedError(Rejection.OUTPUT_TOO_LARGE, f"{len(data)} bytes at q{quality}")
        quality = max(limits.min_jpeg_quality, quality - 10)
