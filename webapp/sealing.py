"""Secrets at rest: refresh tokens and undo photos are encrypted before they reach Redis or disk.

AES-256-GCM with a key derived from SECRET_KEY by HKDF-SHA256, one key per purpose, so that
rotating SECRET_KEY rotates every key. The record's own name goes in as associated data: a
sealed value copied under another name does not open. A value that does not open (sealed
under an old SECRET_KEY, written before encryption, tampered with) is treated as absent, and
the app carries on as if it had expired: the user signs in again, or undo is no longer offered.
"""

from __future__ import annotations

import functools
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE_BYTES = 12  # GCM's standard nonce, random per value (NIST SP 800-38D §8.2.2)


class Sealer:
    """Encrypts and authenticates values with one key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def from_secret(cls, secret_key: str, purpose: str) -> Sealer:
        """The sealer for `purpose` (e.g. "records"), derived from the app's SECRET_KEY."""
        return cls(_derive(secret_key, purpose))

    @classmethod
    def random(cls) -> Sealer:
        """A key of its own: values do not outlive this object (tests, one-off stores)."""
        return cls(AESGCM.generate_key(bit_length=256))

    def seal(self, plaintext: bytes, name: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, name.encode())

    def open(self, sealed: bytes, name: str) -> bytes | None:
        """The plaintext, or None when `sealed` was not sealed under this key for `name`."""
        if not sealed.startswith(_VERSION) or len(sealed) < 1 + _NONCE_BYTES + 16:
            return None
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, name.encode())
        except InvalidTag:
            return None


@functools.lru_cache(maxsize=16)
def _derive(secret_key: str, purpose: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"profilefix {purpose} v1".encode(),
    )
    return hkdf.derive(secret_key.encode())
