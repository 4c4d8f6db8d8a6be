"""The perceptual fingerprint: one photo as each service re-encodes it matches, others do not."""

from __future__ import annotations

import contextlib
import io
import itertools
import statistics
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests import imagegen
from webapp.imaging import fingerprint as fp
from webapp.imaging.fingerprint import (
    Fingerprint,
    Match,
    UnreadablePictureError,
    compare,
    distance,
    fingerprint,
    same_picture,
)
from webapp.imaging.pipeline import PipelineLimits, normalise

# The sizes Exchange serves (microsoft365-api.md §3.3) and the JPEG qualities issue 5 names.
SIZES = (48, 64, 96, 120, 240, 360, 432, 504, 648)
QUALITIES = (60, 75, 85, 95)
BLUE, CRIMSON, GREEN = (0, 120, 212), (196, 49, 75), (16, 124, 16)


@lru_cache(maxsize=1)
def pictures() -> dict[str, Image.Image]:
    """Ten photo-like pictures, initials pictures as the emulator draws them, the placeholder."""
    found = {f"scene {seed}": imagegen.scene(seed) for seed in range(5)}
    found |= {f"portrait {seed}": imagegen.portrait(seed) for seed in range(5)}
    found |= {
        "AB v1": imagegen.initials("AB", BLUE, 1),
        "AB v2": imagegen.initials("AB", CRIMSON, 2),
        "AB v3": imagegen.initials("AB", GREEN, 3),
        "AC v1": imagegen.initials("AC", BLUE, 1),
        "CD v1": imagegen.initials("CD", BLUE, 1),
        "placeholder": imagegen.placeholder(),
    }
    return found


@lru_cache(maxsize=1)
def renditions() -> dict[str, list[tuple[str, Fingerprint]]]:
    """Every picture at every size and quality, fingerprinted."""
    return {
        name: [
            (f"{side}px q{quality}", fingerprint(imagegen.rendition(image, side, quality)))
            for side in SIZES
            for quality in QUALITIES
        ]
        for name, image in pictures().items()
    }


def jpeg_of(name: str, side: int = 648, quality: int = 85) -> bytes:
    return imagegen.rendition(pictures()[name], side, quality)


def test_distribution_separates_same_from_different_with_margin() -> None:
    """Prints the distance distribution the thresholds were chosen on (run with -s)."""
    same = [
        (name, a, b, distance(fa, fb))
        for name, variants in renditions().items()
        for (a, fa), (b, fb) in itertools.combinations(variants, 2)
    ]
    # Different pictures: 8 renditions each (the extremes of size and quality), every pair.
    corners = {
        name: [v for v in variants if v[0].split()[0] in ("48px", "96px", "240px", "648px")][::2]
        for name, variants in renditions().items()
    }
    different = [
        (f"{n1} / {n2}", a, b, distance(fa, fb))
        for (n1, v1), (n2, v2) in itertools.combinations(corners.items(), 2)
        for (a, fa), (b, fb) in itertools.product(v1, v2)
    ]
    worst_same_shape = max(same, key=lambda r: r[3].shape)
    worst_same_colour = max(same, key=lambda r: r[3].colour)
    closest_shape = min(different, key=lambda r: r[3].shape)
    # Among different pictures whose layouts are within the shape threshold, the closest colour.
    layout_twins = [r for r in different if r[3].shape <= fp.SHAPE_THRESHOLD]
    closest_colour_twin = min(layout_twins, key=lambda r: r[3].colour)
    # Among different pictures whose colours are within the colour threshold, the closest layout.
    colour_twins = [r for r in different if r[3].colour <= fp.COLOUR_THRESHOLD]
    closest_shape_twin = min(colour_twins, key=lambda r: r[3].shape)
    quantiles = statistics.quantiles
    print(f"\nsame picture, {len(same)} pairs:")
    print(
        f"  shape  median {statistics.median(r[3].shape for r in same):.3f}, 99th pct "
        f"{quantiles([r[3].shape for r in same], n=100)[-1]:.3f}, max {worst_same_shape[3].shape}"
        f"  ({worst_same_shape[0]}: {worst_same_shape[1]} vs {worst_same_shape[2]})"
    )
    print(
        f"  colour median {statistics.median(r[3].colour for r in same):.2f}, max "
        f"{worst_same_colour[3].colour}  ({worst_same_colour[0]}: {worst_same_colour[1]} vs "
        f"{worst_same_colour[2]})"
    )
    print(f"different pictures, {len(different)} pairs:")
    print(
        f"  shape  min {closest_shape[3].shape}  ({closest_shape[0]}), median "
        f"{statistics.median(r[3].shape for r in different):.3f}"
    )
    print(
        f"  {len(layout_twins)} pairs within the shape threshold; their smallest colour distance "
        f"{closest_colour_twin[3].colour}  ({closest_colour_twin[0]})"
    )
    print(
        f"  {len(colour_twins)} pairs within the colour threshold; their smallest shape distance"
        f" {closest_shape_twin[3].shape}  ({closest_shape_twin[0]})"
    )
    print(f"thresholds: shape {fp.SHAPE_THRESHOLD}, colour {fp.COLOUR_THRESHOLD}")

    assert all(r[3].same_picture for r in same)
    assert not any(r[3].same_picture for r in different)
    # Margins: a rendition somewhat worse than any in the set must still match, and vice versa.
    assert worst_same_shape[3].shape <= 0.7 * fp.SHAPE_THRESHOLD
    assert worst_same_colour[3].colour <= 0.5 * fp.COLOUR_THRESHOLD
    assert closest_shape_twin[3].shape >= 1.3 * fp.SHAPE_THRESHOLD
    assert closest_colour_twin[3].colour >= 3 * fp.COLOUR_THRESHOLD


@pytest.mark.parametrize("name", ["portrait 0", "scene 1", "AB v1", "placeholder"])
def test_the_same_photo_at_the_smallest_and_largest_size_counts_as_the_same(name) -> None:
    assert same_picture(jpeg_of(name, 48, 60), jpeg_of(name, 648, 95))


def test_a_new_version_of_an_initials_picture_counts_as_different() -> None:
    # Same initials, same layout, only the colour and the "v2" badge differ (the emulator's demo).
    assert not same_picture(jpeg_of("AB v1"), jpeg_of("AB v2"))


def test_the_placeholder_never_counts_as_a_photo() -> None:
    for name in pictures():
        if name != "placeholder":
            assert not same_picture(jpeg_of("placeholder", 240), jpeg_of(name, 240))


def test_a_sideways_stored_photo_counts_as_its_upright_copy() -> None:
    upright = imagegen.jpeg((400, 400), image=imagegen.portrait(2, 400))
    sideways = imagegen.jpeg((400, 400), orientation=6, image=imagegen.portrait(2, 400))
    assert same_picture(upright, sideways)


def test_a_non_square_original_matches_its_square_rendition() -> None:
    # Graph may hold a 4:3 photo set elsewhere; the services' square sizes are centre crops.
    original = imagegen.scene(6, 800).resize((800, 600))
    rendition = imagegen.rendition(original.crop((100, 0, 700, 600)), 240, 75)
    assert same_picture(imagegen.encode(original, "JPEG", quality=90), rendition)


def test_a_transparent_png_matches_its_flattening_on_white() -> None:
    png = imagegen.rgba_transparent_border((300, 300), 60)
    flat = Image.new("RGB", (300, 300), (255, 255, 255))
    flat.paste((200, 0, 0), (60, 60, 240, 240))
    assert same_picture(png, imagegen.encode(flat, "JPEG", quality=80))


def test_what_the_pipeline_sends_matches_the_uploaded_photo() -> None:
    upload = imagegen.jpeg(image=imagegen.portrait(4, 1200), orientation=6)
    sent = normalise(upload, None, PipelineLimits()).data
    served = imagegen.rendition(Image.open(io.BytesIO(sent)), 96, 70)
    assert same_picture(upload, sent) and same_picture(sent, served)


def test_a_plain_picture_matches_itself_but_not_a_photo() -> None:
    grey = imagegen.encode(Image.new("RGB", (200, 200), (120, 120, 120)), "PNG")
    assert same_picture(grey, imagegen.encode(Image.new("RGB", (64, 64), (121, 119, 120)), "JPEG"))
    assert not same_picture(grey, jpeg_of("portrait 1"))


def test_graphs_one_pixel_no_photo_gif_is_readable_and_differs() -> None:
    one_pixel = imagegen.encode(Image.new("P", (1, 1), 0), "GIF")
    assert not same_picture(one_pixel, jpeg_of("scene 2"))


@pytest.mark.parametrize(
    ("expected", "shown", "match"),
    [
        (None, None, Match.SAME),  # no photo wanted, none shown
        ("portrait 3", None, Match.NONE),
        (None, "portrait 3", Match.DIFFERENT),
        ("portrait 3", "portrait 3", Match.SAME),
        ("portrait 3", "scene 3", Match.DIFFERENT),
    ],
)
def test_comparing_what_a_service_shows_treats_no_photo_as_a_value(expected, shown, match) -> None:  # type: ignore[no-untyped-def]
    def photo(name: str | None) -> bytes | None:
        return None if name is None else jpeg_of(name, 240)

    assert compare(photo(expected), photo(shown)) is match


def test_comparing_with_bytes_that_are_no_picture_says_unreadable() -> None:
    assert compare(jpeg_of("scene 4"), b"<html>not a picture</html>") is Match.UNREADABLE


def test_the_fingerprint_is_a_small_comparable_value() -> None:
    first, second = fingerprint(jpeg_of("scene 3")), fingerprint(jpeg_of("scene 3"))
    assert first == second and hash(first) == hash(second)
    assert len(first.grey) + len(first.colours) == 24 * 24 + 27


@pytest.mark.parametrize(
    "data",
    [
        b"",
        imagegen.svg(),
        imagegen.random_bytes(),
        imagegen.truncated_jpeg(),
        imagegen.tiff(),
        imagegen.png_bomb(12_000, 12_000),
        imagegen.jpeg_with_sof_size(65_000, 65_000),
    ],
    ids=["empty", "svg", "random", "truncated", "tiff", "png-bomb", "jpeg-sof-bomb"],
)
def test_something_that_is_not_a_readable_picture_is_reported_as_unreadable(data) -> None:
    with pytest.raises(UnreadablePictureError):
        fingerprint(data)


_SEEDS = [imagegen.jpeg((120, 120)), imagegen.png((120, 90)), imagegen.gif()]


@settings(max_examples=100, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(_SEEDS))),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    cut=st.floats(0.1, 1),
)
def test_a_damaged_file_is_either_fingerprinted_or_reported_unreadable(seed, edits, cut) -> None:
    data = bytearray(_SEEDS[seed])
    for where, value in edits:
        data[int(where * len(data))] = value
    data = data[: max(1, int(cut * len(data)))]
    with contextlib.suppress(UnreadablePictureError):
        fingerprint(bytes(data))
