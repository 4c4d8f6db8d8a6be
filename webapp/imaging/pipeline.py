"""Turns uploaded photo bytes into a clean square JPEG for Graph and SharePoint, or refuses them."""

from __future__ import annotations

import contextlib
import ctypes
import enum
import hashlib
import io
import logging
import math
import struct
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageCms
from pillow_heif import register_heif_opener

# Decode HEIC/HEIF from phones with pillow-heif, but never its thumbnails, depth maps or auxiliary
# images; libheif's own security limits stay on (security.md §2.1, row "HEIC from phones").
# libheif decodes in the calling thread (decode_threads=0): its worker threads each left freed
# memory in a malloc arena of their own, and a process grew by ≈ 17 MB per 12 MP HEIC, to 206 MB
# after 14 of them; in the calling thread it stays within 4 MB of idle (measured, issue 16).
register_heif_opener(thumbnails=False, depth_images=False, aux_images=False, decode_threads=0)

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
# uploads cannot multiply the peak memory (each decode within `PipelineLimits.max_decode_bytes`).
_DECODE_SLOT_COUNT = 2
_DECODE_SLOTS = threading.BoundedSemaphore(_DECODE_SLOT_COUNT)
# Taken before a decode that needs every slot (`PipelineLimits.max_solo_decode_bytes`), so two
# such decodes never hold one slot each while waiting for the other's.
_SOLO_DECODE = threading.Lock()
# HEIF cannot be decoded reduced, and phones write it at 24 MP (iPhone 15 and later by default:
# about 196 MB to decode, `_heif_bytes_per_pixel`): it may use the solo budget, running alone.
_SOLO_FORMATS = frozenset({"HEIF"})

# Bytes per pixel of the image Pillow builds for each mode the accepted formats open as; Pillow
# keeps pixels of two, three or four channels in 4 bytes (Storage.c), so any mode not listed is 4.
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}

# JPEG's DCT scaling (draft): libjpeg decodes at 1/1, 1/2, 1/4 or 1/8 (security.md §2.4).
_DRAFT_SCALES = (1, 2, 4, 8)
_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})
# SOF markers of progressive JPEG (Huffman and arithmetic) and of every frame (ITU T.81 B.1.1.3).
_PROGRESSIVE_SOF = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

# What libwebp holds per pixel beside Pillow's image: its animation decoder, which Pillow uses for
# every WebP, keeps two RGBA canvases, and Pillow copies the frame into a bytes object before its
# own image (WebPImagePlugin.load): 4 + 4 + 4, plus row buffers. Measured 16.1–16.7 bytes per
# pixel in all (benchmarks/upload_memory.py), so 13 on top of Pillow's 4.
_WEBP_DECODER_BYTES = 13
# Samples per pixel of the planes libheif decodes, by the chroma pillow-heif reports (none: grey).
_HEIF_SAMPLES = {420: 1.5, 422: 2.0, 444: 3.0}

# Before reducing, the picture is box-averaged to at most this many times the output side: the
# final Lanczos step then starts from 1.5–3× the output, as Pillow's `reducing_gap` advises, and
# the reduced copy stays under 15 MB (1,944² RGB for 648 px).
_REDUCE_TO = 3
# Pixels converted at a time while reducing: a strip of ≈ 1 MB in RGB, however wide the picture.
_STRIP_PIXELS = 256 * 1024

# glibc's mallopt parameter for the size from which allocations get their own mapping (malloc.h).
_M_MMAP_THRESHOLD = -3

_WHITE = (255, 255, 255)
logger = logging.getLogger(__name__)
_SRGB = ImageCms.createProfile("sRGB")


def _give_pictures_back_to_the_system() -> None:
    """Make glibc map every allocation of 1 MB or more on its own, and unmap it when freed.

    By default glibc raises that threshold to the size of the first big block it frees (up to
    32 MB), after which decoded pictures come from per-thread arenas that keep their pages: a
    worker with four threads decoding pictures at the budget grew from 358 to 445 MB over five
    rounds and stayed at 311 MB between them; with a fixed threshold it peaked at 303 MB and went
    back to 85 MB (benchmarks/upload_memory.py). Other C libraries have no mallopt to call.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)


_give_pictures_back_to_the_system()


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
    TOO_LARGE_TO_DECODE = "too_large_to_decode"


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
    # Issue 16 item 2: the most memory one decode may take (`decode_bytes`), refused from the
    # header otherwise. An app process is ≈ 70 MB idle and runs two decodes at once
    # (`_DECODE_SLOTS`), each with ≤ 25 MB more for its reduction: 70 + 2 × (100 + 25) = 320 MB,
    # under the 350 MB per process issue 16 asks for. It still takes a baseline JPEG up to
    # `max_pixels` (draft; progressive ≈ 32 MP), PNG up to 25 MP in colour and 50 MP in grey
    # or palette, a 12 MP iPhone HEIC and WebP up to 5.8 MP; HEIF may go up to the solo budget.
    max_decode_bytes: int = 100_000_000
    # A HEIF photo up to this size decodes alone, holding every decode slot: 70 + 200 + 25 =
    # 295 MB, still under 350. A 24 MP phone HEIC fits; a 48 MP one is refused.
    max_solo_decode_bytes: int = 200_000_000

    def __post_init__(self) -> None:
        # Pillow warns from MAX_IMAGE_PIXELS on; a larger limit here would turn that warning into
        # refusals of images the limit allows (security.md §0 decision 6).
        # None: the application turned Pillow's check off, and only ours applies.
        ceiling = Image.MAX_IMAGE_PIXELS
        if self.max_pixels < 1 or (ceiling is not None and self.max_pixels > ceiling):
            raise ValueError(f"max_pixels must be in 1..{ceiling or 'any'}")
        if not 1 <= self.min_side <= self.output_side:
            raise ValueError("min_side must be between 1 and output_side")
        if not 1 <= self.min_jpeg_quality <= self.jpeg_quality <= 95:
            raise ValueError("need 1 <= min_jpeg_quality <= jpeg_quality <= 95")
        if not 0 < self.max_decode_bytes <= self.max_solo_decode_bytes:
            raise ValueError("need 0 < max_decode_bytes <= max_solo_decode_bytes")

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
        return _info(im, data)


def normalise(data: bytes, crop: CropBox | None, limits: PipelineLimits) -> ProcessedPhoto:
    """Run the pipeline of security.md §2.5; raises PhotoRejectedError, never a Pillow error."""
    picture = _square(data, crop, limits)
    data_out = _encode(picture, limits)
    return ProcessedPhoto(
        data=data_out,
        width=picture.width,
        height=picture.height,
        sha256=hashlib.sha256(data_out).hexdigest(),
    )


def decoded_square(
    im: Image.Image, data: bytes, box: CropBox, target: int, limits: PipelineLimits
) -> Image.Image:
    """Steps 3–6 of security.md §2.5: the upright `box` of an opened image as `target`-px sRGB.

    `box` is in upright pixels and already checked. Decoding waits for a slot and stays within
    `limits.max_decode_bytes`; `im` is closed before the slot is given back, so its pixels are
    freed by then.
    """
    needed = _check_decode_bytes(im, data, limits)
    orientation = exif_orientation(im, data)
    icc = im.info.get("icc_profile")
    slots = _DECODE_SLOT_COUNT if needed > limits.max_decode_bytes else 1
    with _decode_slots(slots, limits.busy_timeout):
        try:
            square = _decode_reduced(im, data, box, target, orientation, limits)
        finally:
            im.close()
    return _to_srgb(upright(square, orientation), icc)


@contextlib.contextmanager
def _decode_slots(count: int, timeout: float) -> Iterator[None]:
    """Hold `count` decode slots (all of them: the solo lock first), or refuse as BUSY."""
    deadline = time.monotonic() + timeout
    solo = count > 1
    if solo and not _SOLO_DECODE.acquire(timeout=timeout):
        raise PhotoRejectedError(Rejection.BUSY, "no decode slot free")
    held = 0
    try:
        while held < count:
            if not _DECODE_SLOTS.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise PhotoRejectedError(Rejection.BUSY, "no decode slot free")
            held += 1
        yield
    finally:
        for _ in range(held):
            _DECODE_SLOTS.release()
        if solo:
            _SOLO_DECODE.release()


def decode_bytes(im: Image.Image, data: bytes, scale: int = 1) -> int:
    """The most memory decoding an opened image takes: Pillow's image and its decoder's buffers.

    `scale` is the JPEG draft reduction; the other formats always decode at full size, which is
    why 50 MP is safe only for JPEG (issue 16 item 2). Figures per format are measured by
    benchmarks/upload_memory.py.
    """
    width, height = im.size
    if im.format not in _DRAFT_FORMATS:
        scale = 1
    pixels = math.ceil(width / scale) * math.ceil(height / scale)
    total = pixels * _MODE_BYTES.get(im.mode, 4)
    if im.format in _DRAFT_FORMATS and _jpeg_buffers_coefficients(data):
        total += _jpeg_coefficient_bytes(im)
    elif im.format == "WEBP":
        total += pixels * _WEBP_DECODER_BYTES
    elif im.format == "HEIF":
        total = math.ceil(pixels * _heif_bytes_per_pixel(im))
    return total


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


def exif_orientation(im: Image.Image, data: bytes) -> int:
    """The EXIF orientation (1–8) of an opened image, read without decoding; 1 when absent.

    pillow-heif applies HEIF irot/imir itself and resets the tag (security.md §2.1): HEIF reads 1.
    Pillow's PNG plugin decodes the whole picture to look for an eXIf chunk after the pixels
    (PngImageFile.getexif), outside any decode slot; the chunk headers are walked instead.
    """
    try:
        if im.format == "PNG" and "exif" not in im.info:
            exif = Image.Exif()
            exif.load(_png_exif(data))
        else:
            exif = im.getexif()
        value = exif.get(_EXIF_ORIENTATION, 1)
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
        _check_header(im, data, limits)
    except BaseException:
        im.close()
        raise
    return im


def _square(data: bytes, crop: CropBox | None, limits: PipelineLimits) -> Image.Image:
    """Open, check and decode; the opened file and its pixels are gone when this returns."""
    with decoding(), _open(data, limits) as im:
        box = _checked_crop(crop, _info(im, data), limits)
        return decoded_square(im, data, box, min(box.side, limits.output_side), limits)


def _check_header(im: Image.Image, data: bytes, limits: PipelineLimits) -> None:
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
        raise PhotoRejectedError(
            Rejection.ANIMATED, f"{im.format} with {getattr(im, 'n_frames', '?')} frames"
        )
    _check_decode_bytes(im, data, limits)


def _check_decode_bytes(im: Image.Image, data: bytes, limits: PipelineLimits) -> int:
    """Refuse what cannot be decoded within its format's budget even at JPEG's smallest draft;
    returns what the decode needs."""
    needed = decode_bytes(im, data, _DRAFT_SCALES[-1])
    budget = limits.max_solo_decode_bytes if im.format in _SOLO_FORMATS else limits.max_decode_bytes
    if needed > budget:
        detail = f"{im.format} {im.mode} {im.width}x{im.height} needs {needed} bytes"
        raise PhotoRejectedError(Rejection.TOO_LARGE_TO_DECODE, detail)
    return needed


def _jpeg_buffers_coefficients(data: bytes) -> bool:
    """Whether libjpeg keeps every DCT coefficient of the whole picture while decoding it.

    It does for a progressive file and for one whose first scan holds fewer components than the
    frame (libjpeg-turbo jdinput.c, `initial_setup`: `has_multiple_scans`), at full size whatever
    draft() asks: a 50 MP progressive JPEG of 0.4 MB took 150 MB at 1/8 (measured). Markers are
    walked as libjpeg does, skipping stray bytes between them; no marker found counts as yes.
    """
    pos, components = 2, 0
    while pos + 4 < len(data):
        if data[pos] != 0xFF or data[pos + 1] in (0x00, 0xFF):
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI before any scan
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # TEM, RSTn, SOI: no length field
            pos += 2
            continue
        if marker in _SOF and pos + 9 < len(data):
            if marker in _PROGRESSIVE_SOF:
                return True
            components = data[pos + 9]
        elif marker == 0xDA:
            return data[pos + 4] < components
        pos += 2 + struct.unpack_from(">H", data, pos + 2)[0]
    return True


def _jpeg_coefficient_bytes(im: Image.Image) -> int:
    """libjpeg's whole-picture coefficient buffer: 64 × 2 bytes per 8×8 block of each component."""
    # JpegImageFile.layer: (component id, horizontal sampling, vertical sampling, table).
    one_each = [(0, 1, 1, 0)] * len(im.getbands())
    layers: list[tuple[int, int, int, int]] = getattr(im, "layer", None) or one_each
    h_max = max(layer[1] for layer in layers)
    v_max = max(layer[2] for layer in layers)
    blocks = sum(
        math.ceil(im.width * layer[1] / h_max / 8) * math.ceil(im.height * layer[2] / v_max / 8)
        for layer in layers
    )
    return blocks * 64 * 2


def _heif_bytes_per_pixel(im: Image.Image) -> float:
    """The peak of a HEIF decode per pixel, Pillow's image included.

    libheif converts the decoded planes (chroma samples of 1 or 2 bytes) to interleaved pixels,
    which pillow-heif hands to Pillow to copy into its own image (as_plugin.load). Fitted on
    measurements: the interleaved pixels, plus the larger of Pillow's image and twice the planes
    (the decoder's and libheif's, as 4:4:4 shows), plus 1 byte of buffers: 8 for 8-bit 4:2:0 RGB
    as phones write it, 10 for 4:4:4 or RGBA. Measured with benchmarks/upload_memory.py --costs
    and at 3–24 MP: 7.3–7.9, 9.3–9.9 and 8.0–8.6.
    """
    depth = 2 if (im.info.get("bit_depth") or 8) > 8 else 1
    samples = _HEIF_SAMPLES.get(im.info.get("chroma", 0), 1.0) + (im.mode == "RGBA")
    interleaved = len(im.getbands()) * (2 if im.mode.startswith("I;16") else 1)
    return interleaved + max(_MODE_BYTES.get(im.mode, 4), 2 * samples * depth) + 1


def _png_exif(data: bytes) -> bytes:
    """The payload of a PNG's eXIf chunk wherever it is (libpng may write it after IDAT), or b""."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"eXIf":
            return data[pos + 8 : pos + 8 + length]
        if kind == b"IEND":
            break
        pos += 12 + length
    return b""


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


def _info(im: Image.Image, data: bytes) -> ImageInfo:
    width, height = im.size
    swapped = exif_orientation(im, data) >= 5
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


def _decode_reduced(
    im: Image.Image,
    data: bytes,
    box: CropBox,
    target: int,
    orientation: int,
    limits: PipelineLimits,
) -> Image.Image:
    """Decode (JPEG reduced by draft), then crop, convert and scale without a full-size copy.

    Crop and scale happen in the stored orientation; only the small result is turned upright,
    as turning the decoded picture first would copy all of it (security.md §2.4 on ordering).
    """
    width, height = im.size
    scale: float = 1
    if im.format in _DRAFT_FORMATS:
        drafted = im.draft("RGB", _draft_size(im, data, box, target, limits))
        if drafted is not None:
            scale = width / drafted[1][2]
    try:
        im.load()
        region = _stored_region(box, orientation, width, height, scale)
        reduced, inner = _reduced_rgb(im, region, target)
    except DECODE_ERRORS as exc:
        raise PhotoRejectedError(Rejection.CORRUPT, f"decode: {exc}") from None
    return reduced.resize((target, target), Image.Resampling.LANCZOS, box=inner)


def _draft_size(
    im: Image.Image, data: bytes, box: CropBox, target: int, limits: PipelineLimits
) -> tuple[int, int]:
    """The size to ask libjpeg for (security.md §2.4): the most reduced decode at which the chosen
    square still has `target` pixels, or more reduced if that would exceed the decode budget (a
    small square from a 48 MP photo then comes out softer rather than being refused)."""
    sharp = max(s for s in _DRAFT_SCALES if box.side >= s * target)
    fitting = next(
        (s for s in _DRAFT_SCALES if decode_bytes(im, data, s) <= limits.max_decode_bytes),
        _DRAFT_SCALES[-1],
    )
    scale = max(sharp, fitting)
    # Pillow picks the largest scale s with width // s and height // s at least the size asked.
    return im.width // scale, im.height // scale


def _reduced_rgb(
    picture: Image.Image, region: tuple[float, float, float, float], target: int
) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """The region as RGB on white, box-averaged to at most `_REDUCE_TO` × target, strip by strip.

    Converting the whole picture (`_to_rgb`, or the RGBA → RGBa premultiplication inside Pillow's
    own resize and reduce) would copy it whole, 4 bytes per pixel each time: a 50 MP RGBA PNG
    took 800 MB so (issue 16 item 2). Strips keep that to ≈ 1 MB at a time. Returns the reduced
    picture and the region's box inside it.
    """
    # The draft may round the picture's size down by a fraction of a pixel.
    region = (region[0], region[1], min(region[2], picture.width), min(region[3], picture.height))
    left, top = math.floor(region[0]), math.floor(region[1])
    right, bottom = math.ceil(region[2]), math.ceil(region[3])
    factor = max(1, math.ceil(min(right - left, bottom - top) / (_REDUCE_TO * target)))
    if factor == 1 and picture.mode == "RGB" and "transparency" not in picture.info:
        return picture, region  # nothing to convert or reduce (a drafted camera JPEG)
    rows = max(1, _STRIP_PIXELS // ((right - left) * factor)) * factor
    reduced = Image.new(
        "RGB", (math.ceil((right - left) / factor), math.ceil((bottom - top) / factor))
    )
    for y in range(top, bottom, rows):
        strip = _to_rgb(picture.crop((left, y, right, min(y + rows, bottom))))
        reduced.paste(strip if factor == 1 else strip.reduce(factor), (0, (y - top) // factor))
    inner = (
        (region[0] - left) / factor,
        (region[1] - top) / factor,
        (region[2] - left) / factor,
        (region[3] - top) / factor,
    )
    return reduced, inner


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
