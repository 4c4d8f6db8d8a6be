"""Builds every test image in code and returns its bytes, so no binary fixture is ever committed."""

from __future__ import annotations

import io
import random
import struct
import zlib
from functools import lru_cache

import pillow_heif
from PIL import Image, ImageCms, ImageDraw, ImageFont, PngImagePlugin

# Colours of the asymmetric test card's corner markers, upright: one per quadrant.
MARKERS = {
    "top_left": (230, 30, 30),
    "top_right": (30, 170, 40),
    "bottom_left": (30, 60, 220),
    "bottom_right": (240, 200, 20),
}

# For each EXIF orientation, the transpose that turns upright pixels into what the camera stores
# (the inverse of what a viewer applies): 6 is stored rotated 90° anticlockwise, 8 clockwise.
_STORE_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

JPEG_COMMENT_SCRIPT = b"<script>alert(1)</script>"
HTML_TRAILER = b"<html><body><script>alert(document.cookie)</script></body></html>"


def card(size: tuple[int, int] = (400, 300)) -> Image.Image:
    """An upright card: a mid-grey field, one coloured square per corner, an arrow pointing up."""
    width, height = size
    card = Image.new("RGB", size, (128, 128, 128))
    draw = ImageDraw.Draw(card)
    side = max(2, min(width, height) // 4)
    draw.rectangle((0, 0, side - 1, side - 1), fill=MARKERS["top_left"])
    draw.rectangle((width - side, 0, width - 1, side - 1), fill=MARKERS["top_right"])
    draw.rectangle((0, height - side, side - 1, height - 1), fill=MARKERS["bottom_left"])
    draw.rectangle(
        (width - side, height - side, width - 1, height - 1), fill=MARKERS["bottom_right"]
    )
    cx, cy = width // 2, height // 2
    draw.polygon([(cx, cy - side), (cx - side // 2, cy), (cx + side // 2, cy)], fill="white")
    return card


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """Save `image` with Pillow and return the bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def exif(orientation: int = 1, gps: bool = False) -> Image.Exif:
    """EXIF with an orientation tag and optionally a GPS IFD (Amsterdam, method "GPS")."""
    data = Image.Exif()
    data[0x0112] = orientation
    data[0x010F] = "ProfileFix Test Camera"
    if gps:
        ifd = data.get_ifd(0x8825)
        ifd[1] = "N"
        ifd[2] = (52.0, 22.0, 12.5)
        ifd[3] = "E"
        ifd[4] = (4.0, 53.0, 41.0)
        ifd[27] = b"ASCII\x00\x00\x00GPS"
    return data


def jpeg(
    size: tuple[int, int] = (400, 300),
    orientation: int = 1,
    gps: bool = False,
    comment: bytes | None = None,
    quality: int = 90,
    xmp: bool = False,
    icc: bytes | None = None,
    image: Image.Image | None = None,
) -> bytes:
    """A JPEG of `image` (default: `card(size)`) stored as a camera with `orientation` does."""
    upright = image if image is not None else card(size)
    stored = upright.transpose(_STORE_TRANSPOSE[orientation]) if orientation != 1 else upright
    params: dict[str, object] = {"quality": quality}
    if orientation != 1 or gps:
        params["exif"] = exif(orientation, gps)
    if comment is not None:
        params["comment"] = comment
    if xmp:
        params["xmp"] = (
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
            b'22-rdf-syntax-ns#"><rdf:Description exif:GPSLatitude="52,22N"/></rdf:RDF></x:xmpmeta>'
        )
    if icc is not None:
        params["icc_profile"] = icc
    return encode(stored.convert("RGB"), "JPEG", **params)


def jpeg_with_corrupt_exif(size: tuple[int, int] = (400, 300), orientation: int = 6) -> bytes:
    """A camera JPEG whose EXIF IFD0 claims more entries than it holds (Pillow warns, reads on)."""
    data = bytearray(jpeg(size, orientation=orientation, gps=True))
    tiff_header = data.find(b"Exif\x00\x00") + 6
    count = b"\x00\x40" if data[tiff_header : tiff_header + 2] == b"MM" else b"\x40\x00"
    data[tiff_header + 8 : tiff_header + 10] = count
    return bytes(data)


def with_iptc(data: bytes) -> bytes:
    """Insert an APP13 Photoshop/IPTC segment (caption and GPS-like text) right after SOI."""
    payload = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x10\x1c\x02x\x00\x0bGPS caption"
    return data[:2] + b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def srgb_icc() -> bytes:
    """An sRGB ICC profile, as cameras and editors embed."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def cmyk_jpeg(size: tuple[int, int] = (400, 300)) -> bytes:
    """The test card as a CMYK JPEG (Pillow writes Adobe-style CMYK)."""
    return encode(card(size).convert("CMYK"), "JPEG", quality=95)


def png(size: tuple[int, int] = (400, 300), image: Image.Image | None = None) -> bytes:
    return encode(image if image is not None else card(size), "PNG")


def png_turned(
    size: tuple[int, int] = (400, 300), orientation: int = 6, exif_after_pixels: bool = False
) -> bytes:
    """The card stored as a camera with `orientation` does, as a PNG with an eXIf chunk.

    Pillow writes eXIf before IDAT; libpng may write it after (its second png_write_eXIf call),
    which `exif_after_pixels` imitates by moving the chunk behind the pixels.
    """
    stored = card(size).transpose(_STORE_TRANSPOSE[orientation])
    data = encode(stored, "PNG", exif=exif(orientation))
    if not exif_after_pixels:
        return data
    start = data.index(b"eXIf") - 4
    end = start + 12 + struct.unpack(">I", data[start : start + 4])[0]
    chunk, rest = data[start:end], data[:start] + data[end:]
    iend = rest.index(b"IEND") - 4
    return rest[:iend] + chunk + rest[iend:]


def webp(size: tuple[int, int] = (400, 300), image: Image.Image | None = None) -> bytes:
    return encode(image if image is not None else card(size), "WEBP", quality=90)


def gif(size: tuple[int, int] = (400, 300)) -> bytes:
    return encode(card(size).convert("P"), "GIF")


def tiff(size: tuple[int, int] = (400, 300)) -> bytes:
    return encode(card(size), "TIFF")


def bmp(size: tuple[int, int] = (400, 300)) -> bytes:
    return encode(card(size), "BMP")


def avif(size: tuple[int, int] = (400, 300)) -> bytes:
    return encode(card(size), "AVIF")


def ico(size: tuple[int, int] = (128, 128)) -> bytes:
    return encode(card(size), "ICO", sizes=[size])


def png16_gradient(size: tuple[int, int] = (512, 256)) -> bytes:
    """A 16-bit greyscale PNG, black on the left to white (65535) on the right: mean ≈ 32767."""
    ramp = Image.linear_gradient("L").rotate(90).resize(size, Image.Resampling.BILINEAR)
    return encode(ramp.convert("I").point(lambda v: v * 257).convert("I;16"), "PNG")


def rgba_transparent_border(size: tuple[int, int] = (300, 300), border: int = 60) -> bytes:
    """An RGBA PNG: fully transparent (black underneath) border around an opaque red centre."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle(
        (border, border, size[0] - border - 1, size[1] - border - 1), fill=(200, 0, 0, 255)
    )
    return encode(image, "PNG")


def palette_with_transparency(size: tuple[int, int] = (300, 300), border: int = 60) -> bytes:
    """A P-mode PNG with tRNS: index 0 (black) transparent around an opaque blue centre."""
    image = Image.new("P", size, 0)
    image.putpalette([0, 0, 0, 0, 0, 200] + [0] * 762)
    ImageDraw.Draw(image).rectangle(
        (border, border, size[0] - border - 1, size[1] - border - 1), fill=1
    )
    return encode(image, "PNG", transparency=0)


def grey_colour_key_png(size: tuple[int, int] = (300, 300), border: int = 60) -> bytes:
    """Greyscale PNG whose tRNS makes black transparent; a grey square in the middle."""
    image = Image.new("L", size, 0)
    ImageDraw.Draw(image).rectangle(
        (border, border, size[0] - border - 1, size[1] - border - 1), fill=90
    )
    return encode(image, "PNG", transparency=0)


def rgb_colour_key_png(size: tuple[int, int] = (300, 300), border: int = 60) -> bytes:
    """RGB PNG whose tRNS makes black transparent; a dark red square in the middle."""
    image = Image.new("RGB", size, (0, 0, 0))
    ImageDraw.Draw(image).rectangle(
        (border, border, size[0] - border - 1, size[1] - border - 1), fill=(120, 0, 0)
    )
    return encode(image, "PNG", transparency=(0, 0, 0))


def la_png(size: tuple[int, int] = (300, 300), border: int = 60) -> bytes:
    """Greyscale with alpha: transparent black border, opaque dark-grey centre."""
    image = Image.new("LA", size, (0, 0))
    ImageDraw.Draw(image).rectangle(
        (border, border, size[0] - border - 1, size[1] - border - 1), fill=(60, 255)
    )
    return encode(image, "PNG")


def png_with_text_and_icc(size: tuple[int, int] = (300, 300)) -> bytes:
    """A PNG carrying an iCCP profile and a tEXt chunk with script content."""
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "<script>alert(1)</script>")
    return encode(card(size), "PNG", pnginfo=text, icc_profile=srgb_icc())


def heic(size: tuple[int, int] = (320, 240), orientation: int = 1, quality: int = 80) -> bytes:
    """A HEIC of the test card; a non-1 orientation is stored the way phones do (irot from EXIF).

    Encoding is slow for big images (security.md B6: 8.4 s for 12 MP), so keep `size` small.
    pillow-heif's encoder is used directly so that its Pillow plugin options stay as the
    pipeline registered them.
    """
    upright = card(size)
    stored = upright.transpose(_STORE_TRANSPOSE[orientation]) if orientation != 1 else upright
    heif_file = pillow_heif.from_pillow(stored)
    if orientation != 1:
        heif_file.info["exif"] = exif(orientation).tobytes()
    buffer = io.BytesIO()
    heif_file.save(buffer, quality=quality)
    return buffer.getvalue()


# PNG colour type and bit depth of each kind of hand-written bomb, named by the Pillow mode it
# opens as; "P" carries a two-entry palette whose first (used) entry is transparent.
_PNG_KINDS = {
    "1": (0, 1),
    "I;16": (0, 16),
    "RGB": (2, 8),
    "P": (3, 8),
    "RGBA": (6, 8),
    "RGBA;16": (6, 16),
}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 6: 4}


def png_bomb(width: int, height: int, kind: str = "1") -> bytes:
    """A valid PNG of all-zero rows (black or transparent), written by hand: tiny file, big canvas.

    `kind` is the mode Pillow opens it as (`_PNG_KINDS`; "RGBA;16" opens as RGBA). 50,000 × 50,000
    of "1" gives ≈ 304 KB (security.md §2.2), 8,000 × 6,250 of "RGBA" ≈ 0.2 MB for 800 MB of
    pixels; results are cached since zlib needs up to a second.
    """
    return _png_bomb(width, height, kind)


@lru_cache(maxsize=8)
def _png_bomb(width: int, height: int, kind: str) -> bytes:
    def chunk(name: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + name
            + body
            + struct.pack(">I", zlib.crc32(name + body) & 0xFFFFFFFF)
        )

    colour_type, depth = _PNG_KINDS[kind]
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    palette = chunk(b"PLTE", b"\x00" * 6) + chunk(b"tRNS", b"\x00") if colour_type == 3 else b""
    row = b"\x00" * (1 + (width * _PNG_CHANNELS[colour_type] * depth + 7) // 8)
    rows_per_step = max(1, 4_000_000 // len(row))
    compressor = zlib.compressobj(9)
    parts = []
    remaining = height
    while remaining:
        step = min(rows_per_step, remaining)
        parts.append(compressor.compress(row * step))
        remaining -= step
    parts.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + palette
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


def jpeg_with_sof_size(width: int = 65000, height: int = 65000) -> bytes:
    """A small real JPEG whose SOF0 frame header is patched to claim `width` × `height`."""
    data = bytearray(jpeg((64, 64)))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def progressive_jpeg_with_sof_size(width: int = 8000, height: int = 6250) -> bytes:
    """A small progressive JPEG whose SOF2 header is patched to claim `width` × `height`."""
    data = bytearray(encode(card((64, 64)), "JPEG", progressive=True))
    sof = data.find(b"\xff\xc2")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def truncated_jpeg(size: tuple[int, int] = (400, 300)) -> bytes:
    """The first half of a noisy JPEG: the header parses, the scan ends early."""
    data = jpeg(image=noise_photo(size, seed=3))
    return data[: len(data) // 2]


def jpeg_html_polyglot(size: tuple[int, int] = (400, 300)) -> bytes:
    """A valid JPEG followed by an HTML document after EOI."""
    return jpeg(size) + HTML_TRAILER


def png_bad_crc(size: tuple[int, int] = (200, 200)) -> bytes:
    """A PNG whose IHDR checksum is wrong (Pillow checks header chunk CRCs, not IDAT's)."""
    data = bytearray(png(size))
    data[8 + 8 + 13] ^= 0xFF
    return bytes(data)


def svg() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"'
        b' onload="alert(1)"><rect width="400" height="400" fill="red"/></svg>\n'
    )


def pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def random_bytes(length: int = 4096, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(length)


def _frames(size: tuple[int, int], count: int) -> list[Image.Image]:
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    return [Image.new("RGB", size, colours[i % len(colours)]) for i in range(count)]


def animated_gif(size: tuple[int, int] = (200, 200), frames: int = 3) -> bytes:
    first, *rest = _frames(size, frames)
    return encode(first, "GIF", save_all=True, append_images=rest, duration=100, loop=0)


def animated_webp(size: tuple[int, int] = (200, 200), frames: int = 3) -> bytes:
    first, *rest = _frames(size, frames)
    return encode(first, "WEBP", save_all=True, append_images=rest, duration=100, loop=0)


def apng(size: tuple[int, int] = (200, 200), frames: int = 3) -> bytes:
    first, *rest = _frames(size, frames)
    return encode(first, "PNG", save_all=True, append_images=rest, duration=100, loop=0)


def mpo(size: tuple[int, int] = (400, 300)) -> bytes:
    """A two-picture MPO (JPEG with Multi-Picture extension, as phone cameras write)."""
    second = Image.new("RGB", size, (0, 0, 0))
    return encode(card(size), "MPO", save_all=True, append_images=[second], quality=90)


def noise_photo(
    size: tuple[int, int] = (640, 480), seed: int = 0, noise: float = 0.25
) -> Image.Image:
    """A busy "photo": a colour gradient, random shapes and per-channel sensor-like noise."""
    rng = random.Random(seed)
    width, height = size
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
            Image.new("L", size, rng.randrange(40, 200)),
        ),
    )
    draw = ImageDraw.Draw(base)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(max(2, min(size) // 20), max(3, min(size) // 4))
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    grain = Image.merge("RGB", [Image.effect_noise(size, 40) for _ in range(3)])
    return Image.blend(base, grain, noise)


def phone_photo(
    size: tuple[int, int] = (6000, 4000), orientation: int = 6, quality: int = 90
) -> bytes:
    """A noisy camera JPEG (24 MP by default) with EXIF orientation, GPS and a script comment."""
    # This noise level gives 3.8 MB at 24 MP and q90, the size of security.md's benchmark photo
    # (Appendix A); per-pixel noise is the costly case for JPEG entropy decoding.
    image = noise_photo(size, seed=24, noise=0.115)
    params: dict[str, object] = {
        "quality": quality,
        "exif": exif(orientation, gps=True),
        "comment": JPEG_COMMENT_SCRIPT,
    }
    return encode(image, "JPEG", **params)


def camera_card(
    size: tuple[int, int] = (4000, 3000), orientation: int = 6, grain: float = 0.2
) -> bytes:
    """The test card (upright `size`) as a phone camera stores it: sensor grain, so the file is
    as large as a photo's, EXIF `orientation` and GPS. The corner markers still tell which
    way is up."""
    upright = card(size)
    noise = Image.merge("RGB", [Image.effect_noise(size, 60) for _ in range(3)])
    return jpeg(image=Image.blend(upright, noise, grain), orientation=orientation, gps=True)


def scene(seed: int, size: int = 648) -> Image.Image:
    """A distinct, photo-like square picture per seed (sky, ground, a few objects, mild noise)."""
    rng = random.Random(seed)
    sky = tuple(rng.randrange(60, 230) for _ in range(3))
    ground = tuple(rng.randrange(20, 180) for _ in range(3))
    image = Image.new("RGB", (size, size), sky)
    draw = ImageDraw.Draw(image)
    horizon = rng.randrange(size // 3, 2 * size // 3)
    draw.rectangle((0, horizon, size, size), fill=ground)
    for _ in range(rng.randrange(3, 7)):
        x, y = rng.randrange(size), rng.randrange(size)
        w, h = rng.randrange(size // 10, size // 3), rng.randrange(size // 10, size // 3)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        else:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
    noise = Image.merge("RGB", [Image.effect_noise((size, size), 30) for _ in range(3)])
    return Image.blend(image, noise, 0.08)


def portrait(seed: int, size: int = 648) -> Image.Image:
    """A head-and-shoulders "photo" on a plain backdrop; seeds differ in colours and pose."""
    rng = random.Random(seed)
    backdrop = tuple(rng.randrange(90, 230) for _ in range(3))
    skin = (rng.randrange(140, 240), rng.randrange(100, 200), rng.randrange(80, 170))
    shirt = tuple(rng.randrange(20, 200) for _ in range(3))
    hair = tuple(rng.randrange(10, 120) for _ in range(3))
    image = Image.new("RGB", (size, size), backdrop)
    draw = ImageDraw.Draw(image)
    dx = rng.randrange(-size // 8, size // 8)
    draw.ellipse((size * 0.12 + dx, size * 0.62, size * 0.88 + dx, size * 1.3), fill=shirt)
    draw.ellipse((size * 0.32 + dx, size * 0.14, size * 0.68 + dx, size * 0.58), fill=skin)
    draw.chord((size * 0.30 + dx, size * 0.10, size * 0.70 + dx, size * 0.44), 180, 360, fill=hair)
    noise = Image.merge("RGB", [Image.effect_noise((size, size), 30) for _ in range(3)])
    return Image.blend(image, noise, 0.06)


def initials(text: str, colour: tuple[int, int, int], version: int, size: int = 648) -> Image.Image:
    """Like the emulator's demo photos: white initials and a "v{version}" badge on `colour`."""
    image = Image.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(image)
    big = ImageFont.load_default(size=size * 0.38)
    small = ImageFont.load_default(size=size * 0.14)
    draw.text((size / 2, size * 0.44), text, fill="white", font=big, anchor="mm")
    draw.rounded_rectangle(
        (size * 0.34, size * 0.70, size * 0.66, size * 0.88), radius=size * 0.04, fill="white"
    )
    draw.text((size / 2, size * 0.79), f"v{version}", fill=colour, font=small, anchor="mm")
    return image


def placeholder(size: int = 648) -> Image.Image:
    """A grey head-and-shoulders silhouette like SharePoint's "no picture" image."""
    image = Image.new("RGB", (size, size), (234, 234, 234))
    draw = ImageDraw.Draw(image)
    grey = (166, 166, 166)
    draw.ellipse((size * 0.32, size * 0.16, size * 0.68, size * 0.52), fill=grey)
    draw.ellipse((size * 0.14, size * 0.58, size * 0.86, size * 1.22), fill=grey)
    return image


def rendition(image: Image.Image, side: int, quality: int = 85) -> bytes:
    """`image` scaled to `side` px and saved as JPEG at `quality`, as a service re-encodes it."""
    small = image.resize((side, side), Image.Resampling.LANCZOS)
    return encode(small, "JPEG", quality=quality)


_MARKER_NAMES = {
    0xD8: "SOI",
    0xD9: "EOI",
    0xDA: "SOS",
    0xDB: "DQT",
    0xC4: "DHT",
    0xC0: "SOF0",
    0xC2: "SOF2",
    0xDD: "DRI",
    0xFE: "COM",
    **{0xE0 + n: f"APP{n}" for n in range(16)},
}


def jpeg_markers(data: bytes) -> list[str]:
    """The JPEG's marker segments in file order, repeats collapsed (for checking outputs)."""
    names: list[str] = []
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    names.append("SOI")
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at {pos}")
        marker = data[pos + 1]
        name = _MARKER_NAMES.get(marker, f"0x{marker:02X}")
        if not names or names[-1] != name:
            names.append(name)
        if marker == 0xD9:
            return names
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        pos += 2 + length
        if marker == 0xDA:
            # Entropy-coded data runs to the next marker that is not a stuffed 0xFF00 or a restart.
            while not (data[pos] == 0xFF and data[pos + 1] not in (0x00, *range(0xD0, 0xD8))):
                pos += 1
    raise ValueError("no EOI")
