"""The photo pipeline against generated images: what a user uploads and what Microsoft receives."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageFile, ImageStat
from pillow_heif import options

from tests import imagegen
from webapp.imaging import pipeline
from webapp.imaging.pipeline import (
    CropBox,
    PhotoRejectedError,
    PipelineLimits,
    ProcessedPhoto,
    Rejection,
    inspect,
    normalise,
)

ROOT = Path(__file__).resolve().parents[2]
LIMITS = PipelineLimits()
CLEAN_MARKERS = ["SOI", "APP0", "DQT", "SOF0", "DHT", "SOS", "EOI"]


def run(data: bytes, crop: CropBox | None = None, limits: PipelineLimits = LIMITS) -> Image.Image:
    """Normalise and reopen the output, checking what every output must be."""
    photo = normalise(data, crop, limits)
    assert photo.sha256 == hashlib.sha256(photo.data).hexdigest()
    assert len(photo.data) <= min(limits.graph_max_bytes, limits.sharepoint_max_bytes)
    image = Image.open(io.BytesIO(photo.data), formats=["JPEG"])
    assert (image.format, image.mode) == ("JPEG", "RGB")
    assert image.size == (photo.width, photo.height)
    image.load()
    return image


def reason(data: bytes, crop: CropBox | None = None, limits: PipelineLimits = LIMITS) -> Rejection:
    with pytest.raises(PhotoRejectedError) as caught:
        normalise(data, crop, limits)
    return caught.value.reason


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any image's pixels are decoded."""

    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError(f"pixels of a {self.size} {self.format} were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --- What is accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [imagegen.jpeg, imagegen.png, imagegen.webp, imagegen.heic, imagegen.mpo],
    ids=["jpeg", "png", "webp", "heic", "mpo"],
)
def test_photos_from_phones_and_computers_are_accepted(make) -> None:
    assert_upright(run(make((400, 300))))  # the picture itself, for MPO its first frame


def test_a_large_photo_becomes_the_648_pixel_square_microsoft_shows() -> None:
    image = run(imagegen.jpeg(image=imagegen.noise_photo((1600, 1200))))
    assert image.size == (648, 648)


def test_a_photo_smaller_than_648_pixels_is_not_blown_up() -> None:
    assert run(imagegen.png((200, 150))).size == (150, 150)


def test_the_smallest_allowed_photo_is_accepted() -> None:
    assert run(imagegen.png((96, 96))).size == (96, 96)


def test_a_panorama_is_accepted_and_cropped_to_its_centre_square() -> None:
    # No aspect-ratio limit (security.md §2.5 step 2 allows "or force crop"): the crop is square.
    assert run(imagegen.png((2000, 200))).size == (200, 200)


def test_the_file_type_comes_from_the_content() -> None:
    # No name or declared type reaches the pipeline: a PNG "named .jpg" is simply a PNG.
    assert inspect(imagegen.png(), LIMITS).format == "PNG"
    assert inspect(imagegen.mpo(), LIMITS).format == "MPO"
    assert inspect(imagegen.heic(), LIMITS).format == "HEIF"


def test_iphone_photos_are_decoded_without_thumbnails_depth_maps_or_lifted_limits() -> None:
    assert (options.THUMBNAILS, options.DEPTH_IMAGES, options.AUX_IMAGES) == (False,) * 3
    assert options.DISABLE_SECURITY_LIMITS is False


def test_only_the_allowed_parsers_are_ever_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    original = Image.open

    def spy(fp, mode="r", formats=None):
        calls.append(formats)
        return original(fp, mode, formats)

    monkeypatch.setattr(Image, "open", spy)
    for data in (imagegen.jpeg(), imagegen.svg(), imagegen.tiff(), imagegen.random_bytes()):
        with contextlib.suppress(PhotoRejectedError):
            normalise(data, None, LIMITS)
    assert calls and all(formats == ("JPEG", "PNG", "WEBP", "HEIF") for formats in calls)


# --- What is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        imagegen.svg(),
        imagegen.pdf(),
        imagegen.tiff(),
        imagegen.bmp(),
        imagegen.gif(),
        imagegen.animated_gif(),
        imagegen.avif(),
        imagegen.ico(),
        imagegen.random_bytes(),
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64,
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b"just some text, renamed to photo.jpg",
    ],
    ids=[
        "svg",
        "pdf",
        "tiff",
        "bmp",
        "gif",
        "animated-gif",
        "avif",
        "ico",
        "random",
        "mp4-video",
        "html",
        "text",
    ],
)
def test_files_that_are_not_accepted_photos_are_refused_with_the_list_of_formats(data) -> None:
    assert reason(data) is Rejection.UNSUPPORTED_FORMAT


def test_the_refused_type_is_named_for_the_helpdesk() -> None:
    with pytest.raises(PhotoRejectedError) as caught:
        normalise(imagegen.svg(), None, LIMITS)
    assert caught.value.detail == "SVG"


def test_an_empty_file_is_refused_as_empty() -> None:
    assert reason(b"") is Rejection.EMPTY


@pytest.mark.parametrize("make", [imagegen.animated_webp, imagegen.apng], ids=["webp", "apng"])
def test_an_animation_is_refused_without_walking_its_frames(make, no_decoding) -> None:
    assert reason(make(frames=50)) is Rejection.ANIMATED


@pytest.mark.parametrize(
    "data",
    [
        imagegen.truncated_jpeg(),
        imagegen.png_bad_crc(),
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
    ],
    ids=["truncated-jpeg", "png-bad-crc", "jpeg-header-only", "png-signature-only"],
)
def test_a_damaged_photo_is_refused_as_damaged(data) -> None:
    assert reason(data) is Rejection.CORRUPT


def test_a_file_over_the_byte_limit_is_refused_before_any_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Image, "open", mock.Mock(side_effect=AssertionError("parsed")))
    assert (
        reason(b"\xff" * 1001, limits=PipelineLimits(max_bytes=1000)) is Rejection.TOO_LARGE_BYTES
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: imagegen.png_bomb(50_000, 50_000),
        lambda: imagegen.png_bomb(12_000, 12_000),
        lambda: imagegen.png_bomb(8_000, 8_000),
        lambda: imagegen.jpeg_with_sof_size(65_000, 65_000),
    ],
    ids=["png-50k", "png-12k", "png-8k-under-pillows-own-limit", "jpeg-sof-65k"],
)
def test_a_small_file_with_huge_dimensions_is_refused_without_decoding(make, no_decoding) -> None:
    # security.md B2: refused from the header alone; how fast is measured by
    # benchmarks/refusal.py (50 ms at most).
    data = make()
    assert len(data) < 400_000
    assert reason(data) is Rejection.TOO_MANY_PIXELS


@pytest.mark.parametrize("size", [(40, 40), (95, 400), (400, 95)])
def test_a_photo_below_the_minimum_size_is_refused_as_too_small(size) -> None:
    assert reason(imagegen.png(size)) is Rejection.TOO_SMALL


def test_inspect_refuses_what_normalise_refuses(no_decoding) -> None:
    with pytest.raises(PhotoRejectedError) as caught:
        inspect(imagegen.png_bomb(12_000, 12_000), LIMITS)
    assert caught.value.reason is Rejection.TOO_MANY_PIXELS


def test_limits_above_pillows_own_bomb_threshold_are_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        PipelineLimits(max_pixels=Image.MAX_IMAGE_PIXELS + 1)


# --- Memory: what a picture costs to decode, not what the file weighs (issue 16 item 2) ----------


@pytest.mark.parametrize(
    "make",
    [
        lambda: imagegen.png_bomb(8_000, 6_250, "RGBA"),
        lambda: imagegen.png_bomb(8_000, 6_250, "RGBA;16"),
        lambda: imagegen.png_bomb(8_000, 6_250, "RGB"),
        imagegen.progressive_jpeg_with_sof_size,
    ],
    ids=["png-rgba", "png-rgba-16-bit", "png-rgb", "progressive-jpeg"],
)
def test_a_small_50_megapixel_file_that_decodes_at_full_size_is_refused_without_decoding(
    make, no_decoding
) -> None:
    data = make()
    assert len(data) < 400_000
    assert reason(data) is Rejection.TOO_LARGE_TO_DECODE


@pytest.mark.parametrize(
    "make",
    [
        lambda: imagegen.png_bomb(8_000, 6_250, "P"),
        lambda: imagegen.png_bomb(8_000, 6_250, "1"),
        lambda: imagegen.jpeg_with_sof_size(8_000, 6_250),
    ],
    ids=["png-palette", "png-1-bit", "baseline-jpeg"],
)
def test_a_50_megapixel_picture_that_decodes_within_the_budget_is_not_refused(
    make, no_decoding
) -> None:
    info = inspect(make(), LIMITS)
    assert (info.width, info.height) == (8_000, 6_250)


def test_each_format_is_charged_for_what_its_decoder_holds() -> None:
    # 120,000 pixels: Pillow's image takes 480 KB, libheif holds 960 KB in all, libwebp 2 MB.
    limits = PipelineLimits(max_decode_bytes=1_000_000)
    assert run(imagegen.png((400, 300)), limits=limits).size == (300, 300)
    assert run(imagegen.heic((400, 300)), limits=limits).size == (300, 300)
    assert reason(imagegen.webp((400, 300)), limits=limits) is Rejection.TOO_LARGE_TO_DECODE


def test_a_small_square_of_a_big_jpeg_is_decoded_reduced_to_fit_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile):
        result = load(self)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    # At full size 2400×1600 takes 15.4 MB, at 1/2 3.8 MB: the 800-px square comes out of 400 px.
    data = imagegen.jpeg((2400, 1600), quality=95)
    photo = normalise(data, CropBox(0, 0, 800, 800), PipelineLimits(max_decode_bytes=5_000_000))
    assert set(decoded) == {(1200, 800)}
    image = Image.open(io.BytesIO(photo.data))
    assert image.size == (648, 648)
    assert close(image.getpixel((310, 310)), imagegen.MARKERS["top_left"])
    assert close(image.getpixel((338, 338)), (128, 128, 128))


def test_a_big_transparent_picture_is_reduced_with_its_colours_intact() -> None:
    # 2600 px is reduced by 2 in strips of 100 rows; the transparent border becomes white.
    image = run(imagegen.rgba_transparent_border((2600, 2600), border=520))
    assert image.size == (648, 648)
    assert close(image.getpixel((20, 20)), (255, 255, 255), 8)
    assert close(image.getpixel((324, 324)), (200, 0, 0), 8)
    palette = run(imagegen.palette_with_transparency((2600, 2600), border=520))
    assert close(palette.getpixel((20, 20)), (255, 255, 255), 8)
    assert close(palette.getpixel((324, 324)), (0, 0, 200), 8)


def test_a_big_16_bit_picture_keeps_its_mid_tones() -> None:
    image = run(imagegen.png16_gradient((2600, 1300)))
    assert abs(ImageStat.Stat(image.convert("L")).mean[0] - 127) <= 3


# A fresh interpreter runs the pipeline, so its own peak (ru_maxrss) counts and no other test's.
_FOUR_HOSTILE_UPLOADS = r"""
import json, resource
from tests import imagegen
from webapp.imaging import pipeline

files = {kind: imagegen.png_bomb(8_000, 6_250, kind) for kind in ("RGBA", "P", "I;16")}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcomes = []
for kind in ("RGBA", "RGBA", "RGBA", "RGBA", "P", "I;16"):
    try:
        pipeline.normalise(files[kind], None, pipeline.PipelineLimits())
        outcomes.append("saved")
    except pipeline.PhotoRejectedError as refused:
        outcomes.append(refused.reason.value)
increase = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"increase_mb": increase / 1024, "outcomes": outcomes}))
"""


def test_four_50_megapixel_pngs_of_0_2_mb_in_a_row_stay_far_below_a_gigabyte() -> None:
    """Issue 16 item 2: each took 800 MB to decode (0.9–2.1 GB for four in one app process).

    The RGBA ones are refused from their header; a 50 MP palette and a 50 MP 16-bit grey PNG,
    which fit the budget, are decoded after them within the same bound.
    """
    out = subprocess.run(
        [sys.executable, "-c", _FOUR_HOSTILE_UPLOADS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["increase_mb"] < 300
    assert result["outcomes"] == ["too_large_to_decode"] * 4 + ["saved", "saved"]


# --- Nothing of the original but its pixels reaches Microsoft -------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        imagegen.with_iptc(
            imagegen.jpeg(
                orientation=6,
                gps=True,
                comment=imagegen.JPEG_COMMENT_SCRIPT,
                xmp=True,
                icc=imagegen.srgb_icc(),
            )
        ),
        imagegen.jpeg_html_polyglot(),
        imagegen.png_with_text_and_icc(),
        imagegen.heic(orientation=6),
    ],
    ids=["jpeg-gps-xmp-iptc-com-icc", "jpeg-html-trailer", "png-text-icc", "heic-exif"],
)
def test_the_saved_photo_carries_no_location_comment_or_profile(data) -> None:
    photo = normalise(data, None, LIMITS)
    assert imagegen.jpeg_markers(photo.data) == CLEAN_MARKERS
    assert photo.data[6:11] == b"JFIF\x00"
    for needle in (b"GPS", b"Exif", b"<script", b"<html", b"xmpmeta", b"Photoshop", b"ICC_PROFILE"):
        assert needle not in photo.data


def test_the_metadata_test_input_really_carries_metadata() -> None:
    data = imagegen.with_iptc(
        imagegen.jpeg(orientation=6, gps=True, comment=imagegen.JPEG_COMMENT_SCRIPT, xmp=True)
    )
    assert {"APP1", "APP13", "COM"} <= set(imagegen.jpeg_markers(data))
    assert b"GPS" in data and b"<script" in data


# --- Orientation ---------------------------------------------------------------------------------

CORNERS = {
    "top_left": (15, 15),
    "top_right": (284, 15),
    "bottom_left": (15, 284),
    "bottom_right": (284, 284),
}


def assert_upright(image: Image.Image) -> None:
    assert image.size == (300, 300)
    for corner, xy in CORNERS.items():
        assert close(image.getpixel(xy), imagegen.MARKERS[corner]), (corner, image.getpixel(xy))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_photo_taken_sideways_comes_out_upright(orientation) -> None:
    assert_upright(run(imagegen.jpeg((400, 300), orientation=orientation)))


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_an_iphone_photo_is_rotated_once_not_twice(orientation) -> None:
    image = run(imagegen.heic((400, 300), orientation=orientation))
    assert_upright(image)


def test_a_phone_photo_with_damaged_metadata_is_still_accepted_upright(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="webapp.imaging.pipeline")
    assert_upright(run(imagegen.jpeg_with_corrupt_exif((400, 300), orientation=6)))
    assert "Corrupt EXIF" in caplog.text


@pytest.mark.parametrize("after_pixels", [False, True], ids=["exif-first", "exif-after-pixels"])
def test_a_png_turned_by_its_exif_comes_out_upright(after_pixels) -> None:
    assert_upright(run(imagegen.png_turned((400, 300), 6, exif_after_pixels=after_pixels)))


def test_a_big_turned_png_comes_out_upright() -> None:
    image = run(imagegen.png_turned((2400, 1800), 8, exif_after_pixels=True))
    assert image.size == (648, 648)
    for corner, xy in {"top_left": (10, 10), "bottom_right": (637, 637)}.items():
        assert close(image.getpixel(xy), imagegen.MARKERS[corner]), corner


def test_the_crop_screen_learns_a_pngs_upright_size_without_decoding(no_decoding) -> None:
    # Pillow's PNG plugin decodes the whole picture to find an eXIf chunk behind the pixels.
    info = inspect(imagegen.png_turned((400, 300), 6, exif_after_pixels=True), LIMITS)
    assert (info.upright_width, info.upright_height) == (400, 300)


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_the_crop_screen_learns_the_upright_size_without_decoding(orientation, no_decoding) -> None:
    info = inspect(imagegen.jpeg((400, 300), orientation=orientation), LIMITS)
    assert (info.upright_width, info.upright_height) == (400, 300)
    assert (info.width, info.height) == ((400, 300) if orientation == 1 else (300, 400))


# --- Colours and modes ---------------------------------------------------------------------------


def test_a_16_bit_greyscale_photo_keeps_its_mid_tones() -> None:
    image = run(imagegen.png16_gradient((512, 256)))
    brightness = ImageStat.Stat(image.convert("L")).mean[0]
    assert abs(brightness - 127) <= 3  # naive Pillow conversion gives ≈ 254 (security.md B8)


@pytest.mark.parametrize(
    "data,centre",
    [
        (imagegen.rgba_transparent_border(), (200, 0, 0)),
        (imagegen.palette_with_transparency(), (0, 0, 200)),
        (imagegen.la_png(), (60, 60, 60)),
        (imagegen.grey_colour_key_png(), (90, 90, 90)),
        (imagegen.rgb_colour_key_png(), (120, 0, 0)),
    ],
    ids=["rgba", "palette-trns", "la", "grey-trns", "rgb-trns"],
)
def test_transparent_areas_become_white_not_black(data, centre) -> None:
    image = run(data)
    assert close(image.getpixel((5, 5)), (255, 255, 255), 8)
    assert close(image.getpixel((150, 150)), centre, 8)


def test_a_cmyk_photo_keeps_its_colours() -> None:
    from_cmyk = run(imagegen.cmyk_jpeg((400, 300)))
    from_rgb = run(imagegen.jpeg((400, 300), quality=95))
    difference = ImageStat.Stat(ImageChops.difference(from_cmyk, from_rgb)).mean
    assert max(difference) < 5  # security.md B8 measured 0.4–0.5
    assert_upright(from_cmyk)


def test_a_photo_with_an_unusable_colour_profile_is_still_accepted() -> None:
    assert_upright(run(imagegen.jpeg((400, 300), icc=b"not an icc profile at all")))


# --- Crop ----------------------------------------------------------------------------------------


def test_without_a_choice_the_centre_square_is_used() -> None:
    image = run(imagegen.png((400, 300)))
    assert_upright(image)  # 50 px cut on either side, all four corner markers still there


def test_the_chosen_square_is_what_microsoft_gets() -> None:
    image = run(imagegen.png((400, 300)), CropBox(0, 0, 150, 150))
    assert image.size == (150, 150)
    assert close(image.getpixel((10, 10)), imagegen.MARKERS["top_left"])
    assert close(image.getpixel((140, 140)), (128, 128, 128))


SQUARES = {  # a 150-px square in each corner of the upright 400×300 card, and a pixel inside it
    "top_left": ((0, 0, 150, 150), (10, 10)),
    "top_right": ((250, 0, 400, 150), (140, 10)),
    "bottom_left": ((0, 150, 150, 300), (10, 140)),
    "bottom_right": ((250, 150, 400, 300), (140, 140)),
}


@pytest.mark.parametrize("corner", SQUARES)
@pytest.mark.parametrize("orientation", range(1, 9))
def test_the_chosen_square_is_in_upright_pixels(orientation, corner) -> None:
    box, inside = SQUARES[corner]
    image = run(imagegen.jpeg((400, 300), orientation=orientation, quality=95), CropBox(*box))
    assert close(image.getpixel(inside), imagegen.MARKERS[corner])
    opposite = (149 - inside[0], 149 - inside[1])  # the square's far corner: plain grey
    assert close(image.getpixel(opposite), (128, 128, 128))


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(
    "box,corner,inside,outside",
    [
        ((0, 0, 800, 800), "top_left", (310, 310), (338, 338)),
        ((1600, 800, 2400, 1600), "bottom_right", (338, 338), (310, 310)),
    ],
)
def test_a_crop_of_a_big_photo_lands_on_the_same_spot(
    box, corner, inside, outside, orientation
) -> None:
    # 2400×1600 decodes at 1/2 (JPEG draft), so the box is mapped onto the smaller picture. The
    # 400-px corner marker fills exactly half the 800-px square: its edge must land at 324 ± 14.
    data = imagegen.jpeg((2400, 1600), orientation=orientation, quality=95)
    image = run(data, CropBox(*box))
    assert image.size == (648, 648)
    assert close(image.getpixel(inside), imagegen.MARKERS[corner])
    assert close(image.getpixel(outside), (128, 128, 128))


@pytest.mark.parametrize(
    "box",
    [
        (0, 0, 150, 149),
        (-1, 0, 149, 150),
        (300, 0, 450, 150),
        (0, 200, 100, 300 + 1),
        (150, 150, 0, 0),
        (0, 0, 0, 0),
        (0, 0, 50, 50),
        (0.0, 0, 150, 150),
        (True, 0, 150, 150),
        (0, 0, 10**30, 10**30),
    ],
    ids=[
        "not-square",
        "negative",
        "right-of-image",
        "below-image",
        "inverted",
        "empty",
        "below-minimum",
        "float",
        "bool",
        "huge",
    ],
)
def test_an_impossible_crop_is_refused(box) -> None:
    assert reason(imagegen.png((400, 300)), CropBox(*box)) is Rejection.BAD_CROP


_COORDINATE = st.one_of(
    st.integers(min_value=-5, max_value=420),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
_ANY_BOX = st.builds(CropBox, _COORDINATE, _COORDINATE, _COORDINATE, _COORDINATE)
# Squares near and across the picture's edges, so that many boxes are valid.
_SQUARE = st.builds(
    lambda left, top, side: CropBox(left, top, left + side, top + side),
    st.integers(-3, 220),
    st.integers(-3, 110),
    st.integers(90, 205),
)
_SEED_CARD = imagegen.png((400, 300))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crop=st.one_of(_ANY_BOX, _SQUARE))
def test_any_crop_box_is_either_refused_or_gives_its_square(crop: CropBox) -> None:
    boxes: list[tuple[float, ...]] = []
    original = Image.Image.resize

    def spy(self, size, resample=None, box=None, reducing_gap=None):
        boxes.append(box)
        return original(self, size, resample, box, reducing_gap)

    with mock.patch.object(Image.Image, "resize", spy):
        try:
            photo = normalise(_SEED_CARD, crop, LIMITS)
        except PhotoRejectedError as refused:
            assert refused.reason is Rejection.BAD_CROP
            assert boxes == []  # refused before Pillow saw the box (CVE-2026-59199)
            event("refused")
            return
    event("accepted")
    assert all(type(v) is int for v in (crop.left, crop.top, crop.right, crop.bottom))
    assert 0 <= crop.left < crop.right <= 400 and 0 <= crop.top < crop.bottom <= 300
    assert photo.width == photo.height == crop.side >= LIMITS.min_side
    assert len(boxes) == 1 and 0 <= boxes[0][0] < boxes[0][2] <= 400


# --- Output size and load ------------------------------------------------------------------------


def test_a_photo_too_detailed_for_the_limit_is_saved_at_lower_quality() -> None:
    data = imagegen.jpeg(image=imagegen.noise_photo((800, 800), seed=5))
    full = normalise(data, None, LIMITS)
    cap = len(full.data) - 1
    smaller = normalise(data, None, PipelineLimits(graph_max_bytes=cap))
    assert len(smaller.data) <= cap
    assert imagegen.jpeg_markers(smaller.data) == CLEAN_MARKERS


def test_a_photo_that_cannot_fit_the_services_limit_is_refused() -> None:
    data = imagegen.jpeg(image=imagegen.noise_photo((800, 800), seed=5))
    limits = PipelineLimits(sharepoint_max_bytes=2_000)
    assert reason(data, limits=limits) is Rejection.OUTPUT_TOO_LARGE


def test_when_every_decode_slot_stays_busy_the_upload_is_refused_as_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slots = threading.BoundedSemaphore(1)
    slots.acquire()
    monkeypatch.setattr(pipeline, "_DECODE_SLOTS", slots)
    assert reason(imagegen.jpeg(), limits=PipelineLimits(busy_timeout=0.01)) is Rejection.BUSY


def test_parallel_uploads_all_finish() -> None:
    data = imagegen.jpeg(image=imagegen.noise_photo((1200, 900), seed=7))
    results: list[ProcessedPhoto] = []

    def upload() -> None:
        results.append(normalise(data, None, LIMITS))

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({photo.sha256 for photo in results}) == 1 and len(results) == 6


# --- Robustness: mutated files never escape as anything but a rejection --------------------------

_SEEDS = [
    imagegen.jpeg((160, 120), orientation=6, gps=True, comment=b"c"),
    imagegen.jpeg(image=imagegen.noise_photo((128, 128), seed=1), quality=75),
    imagegen.png((140, 100)),
    imagegen.png16_gradient((128, 100)),
    imagegen.palette_with_transparency((120, 120), 20),
    imagegen.webp((130, 100)),
    imagegen.heic((128, 100)),
    imagegen.cmyk_jpeg((120, 100)),
    imagegen.mpo((120, 100)),
    imagegen.apng((100, 100)),
]


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(_SEEDS))),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    cut=st.one_of(st.none(), st.floats(0, 1)),
    junk=st.binary(max_size=16),
)
def test_a_mutated_photo_is_either_processed_or_refused(seed, edits, cut, junk) -> None:
    data = bytearray(_SEEDS[seed])
    for where, value in edits:
        data[math.floor(where * len(data))] = value
    if cut is not None:
        data = data[: math.floor(cut * len(data))]
    data += junk
    try:
        result = normalise(bytes(data), None, LIMITS)
    except PhotoRejectedError:
        return
    assert imagegen.jpeg_markers(result.data) == CLEAN_MARKERS


def test_a_phone_heic_over_the_shared_budget_decodes_alone_within_the_solo_budget() -> None:
    # 400×300 HEIF needs 960 KB (as above): over the shared budget, within the solo one.
    heic = imagegen.heic((400, 300))
    solo = PipelineLimits(max_decode_bytes=500_000, max_solo_decode_bytes=1_000_000)
    assert run(heic, limits=solo).size == (300, 300)
    too_big = PipelineLimits(max_decode_bytes=500_000, max_solo_decode_bytes=900_000)
    assert reason(heic, limits=too_big) is Rejection.TOO_LARGE_TO_DECODE
    # Only HEIF may use the solo budget: other formats can be saved smaller by the person.
    assert reason(imagegen.webp((400, 300)), limits=solo) is Rejection.TOO_LARGE_TO_DECODE


def test_a_solo_decode_waits_for_every_slot_and_an_ordinary_one_for_one() -> None:
    heic = imagegen.heic((400, 300))
    solo = PipelineLimits(max_decode_bytes=500_000, max_solo_decode_bytes=1_000_000)
    assert pipeline._DECODE_SLOTS.acquire(timeout=1)  # another upload is decoding
    try:
        assert reason(heic, limits=replace(solo, busy_timeout=0.05)) is Rejection.BUSY
        assert run(heic, limits=replace(LIMITS, busy_timeout=0.05)).size == (300, 300)
    finally:
        pipeline._DECODE_SLOTS.release()
    assert run(heic, limits=solo).size == (300, 300)  # every slot was given back
