"""Small images to send, and what an image received looks like (its size, its mean colour)."""

from __future__ import annotations

import io

from PIL import Image


def make_image(fmt: str, size: tuple[int, int] = (64, 64), colour: str = "orange") -> bytes:
    """A small solid-colour image in `fmt` (JPEG, PNG, BMP, GIF)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def jpeg(size: tuple[int, int] = (300, 300), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A solid-colour JPEG at quality 90."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def mean_colour(data: bytes) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").resize((1, 1)).getpixel((0, 0))  # type: ignore[return-value]
