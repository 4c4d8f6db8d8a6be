"""Secrets at rest: sealed under a key derived from SECRET_KEY, unreadable under any other."""

from __future__ import annotations

from pathlib import Path

from webapp.photo.operations import Kind, OperationStore
from webapp.sealing import Sealer
from webapp.store import FileStore

SECRET = "Ut8rS0y1oE7mMZ2aVfQ9hWJ3kXcLgP5tN4bRr6sD-_vGq1eHc0TzYxA8iKjLmNoP"
ROTATED = "Q2w9Zx7Lk4Rt1Vb8Nm3Hc6Jp0Ys5Df2Ga7Ke9Uo4Ti1Wr6Lq3Pz8Xv5Cb0Mn7Hj"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8


def test_a_sealed_value_opens_only_with_its_key_and_name() -> None:
    sealer = Sealer.from_secret(SECRET, "records")
    sealed = sealer.seal(PHOTO, "op:abc")
    assert PHOTO[4:40] not in sealed
    assert sealer.open(sealed, "op:abc") == PHOTO
    assert Sealer.from_secret(SECRET, "records").open(sealed, "op:abc") == PHOTO  # same key
    assert sealer.open(sealed, "op:other") is None  # copied under another name
    assert Sealer.from_secret(ROTATED, "records").open(sealed, "op:abc") is None
    assert Sealer.from_secret(SECRET, "token cache").open(sealed, "op:abc") is None
    assert sealer.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), "op:abc") is None
    assert sealer.open(b'{"plain": "json"}', "op:abc") is None


def test_operation_records_are_encrypted_and_lost_with_a_rotated_secret_key(
    tmp_path: Path,
) -> None:
    store = FileStore(str(tmp_path), sealer=Sealer.from_secret(SECRET, "records"))
    ops = OperationStore(store)
    op = ops.new("oid.tid", Kind.UPLOAD, image=PHOTO)
    op.previous, op.previous_captured = PHOTO[::-1], True
    ops.save(op)
    raw = store.get(f"op:{op.id}")
    assert raw is not None and PHOTO[4:40] not in raw and b"previous" not in raw
    assert ops.get("oid.tid", op.id) == op

    rotated = OperationStore(
        FileStore(str(tmp_path), sealer=Sealer.from_secret(ROTATED, "records"))
    )
    assert rotated.get("oid.tid", op.id) is None
    assert rotated.latest("oid.tid") is None  # no retry, no undo offered
