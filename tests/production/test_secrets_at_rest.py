"""Refresh tokens, undo photos and the history's pictures and values are encrypted in Redis: a
dump of every key after a sign-in and a photo change shows none of them (issue 16 item 11)."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator

import pytest
import redis
from PIL import Image

from m365_emulator.tenant import Tenant
from tests.support.balancer import Browser
from tests.support.gunicorn import Instance

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
# A JWT's header and payload, both base64url JSON ("eyJ" = '{"'), not just its first three
# bytes, which the sealed records' ciphertext holds by chance in a few runs out of a hundred.
_JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")


@pytest.fixture
def uncompressed_dumps(redis_client: redis.Redis) -> Iterator[None]:
    """DUMP compresses values with LZF by default, which would hide plaintext from a search."""
    before = redis_client.config_get("rdbcompression")["rdbcompression"]
    redis_client.config_set("rdbcompression", "no")
    yield
    redis_client.config_set("rdbcompression", before)


def _everything(client: redis.Redis) -> list[bytes]:
    """Every key's value as a reader of the server would get it: GET for strings, DUMP else."""
    values = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        value = client.get(key) if kind == b"string" else client.dump(key)
        if value is not None:
            values.append(key + b"=" + value)
    return values


def _windows(data: bytes, size: int = 48) -> list[bytes]:
    """Slices of `data`, raw and base64 at each alignment, any of which would give it away."""
    found = [data[i : i + size] for i in range(0, len(data) - size, len(data) // 8)]
    for shift in range(3):
        encoded = base64.b64encode(data[shift:])
        found += [encoded[i : i + size] for i in range(0, len(encoded) - size, len(encoded) // 8)]
    return found


def _pictures_in(dump: bytes) -> list[int]:
    """Where in `dump` a JPEG starts, raw or base64: its start bytes followed by headers that
    parse (a truncated picture counts). The start bytes alone turn up by chance in the
    ciphertext: three random bytes match once in 16 MiB, and the dump holds about 0.4 MiB."""
    found = [m.start() for m in re.finditer(rb"\xff\xd8\xff", dump) if _parses(dump[m.start() :])]
    for m in re.finditer(rb"/9j/[A-Za-z0-9+/]*", dump):
        encoded = m.group()
        if _parses(base64.b64decode(encoded[: len(encoded) - len(encoded) % 4])):
            found.append(m.start())
    return found


def _parses(data: bytes) -> bool:
    try:
        Image.open(io.BytesIO(data)).close()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return True


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((720, 720), 60).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def test_a_redis_dump_shows_no_refresh_token_and_no_photo(
    instances: tuple[Instance, Instance],
    browser: Browser,
    tenant: Tenant,
    redis_client: redis.Redis,
    uncompressed_dumps: None,
) -> None:
    a, b = instances
    user = tenant.user("stale-photo")
    previous = user.photo.data if user.photo is not None else b""
    browser.sign_in(a, user="stale-photo")
    form = dict(_HIDDEN.findall(browser.get(b, "/photo").text))  # tokens refreshed on b too
    saved = browser.post(
        b,
        "/photo",
        data={"csrf_token": form["csrf_token"], "form_token": form["form_token"]},
        files={"photo": ("phone.jpg", _jpeg(), "image/jpeg")},
        headers={"Referer": f"{b.url}/photo"},
    )
    assert saved.status_code == 303, saved.text[:300]
    assert browser.get(a, saved.headers["Location"]).status_code == 200
    written = user.photo.data if user.photo is not None else b""
    refresh_tokens = list(tenant.refresh_tokens)
    assert refresh_tokens and previous and written != previous

    dump = b"\n".join(_everything(redis_client))

    assert b"profilefix:op:" in dump and b"profilefix:session:" in dump  # the records are there
    assert b"profilefix:history:" in dump  # and the change history with its thumbnails
    for token in refresh_tokens:
        assert token.encode() not in dump
    assert b"RefreshToken" not in dump  # MSAL's cache
    assert _JWT.search(dump) is None  # any access or ID token
    for photo in (previous, written):
        assert not any(window in dump for window in _windows(photo))
    assert b'"previous"' not in dump and _pictures_in(dump) == []  # nor any thumbnail
