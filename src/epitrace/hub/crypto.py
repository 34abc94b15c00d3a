"""Envelope encryption of personal data, and blind indexes to search it.

- Each case has its own random 256-bit **data key**. Its personal fields are encrypted
  with AES-256-GCM (``cryptography``), each with associated data naming the case and
  the field, so a ciphertext copied to another row or field fails to decrypt.
- The data key is stored only **wrapped** by a master key held outside the database,
  through a ``KeyProvider`` (``wrap``/``unwrap``): the embedded default derives the
  master key from ``settings.MASTER_KEY``; a KMS or HSM provider can replace it
  (``settings.EPITRACE_KEY_PROVIDER``, a dotted path).
- Destroying a case's wrapped key makes every ciphertext of that case unreadable,
  wherever copies of it went (backups included): crypto-shredding, used by the purge.
- A **blind index** (HMAC-SHA256 under a separate key, also outside the database) of a
  normalised phone or identity number finds a case without decrypting every row.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.module_loading import import_string

from epitrace.errors import EpitraceError

VERSION = b"\x01"  # first byte of every blob: room to change the format later
NONCE_BYTES = 12  # GCM's standard nonce; random per encryption (2^-32 collision bound is ample)


class CryptoError(EpitraceError):
    """Personal data could not be read."""


class KeyDestroyed(CryptoError):
    """The data key was destroyed (purged): the data is gone for good."""


class Undecryptable(CryptoError):
    """Wrong key, or the ciphertext was altered or moved to another row or field."""


class KeyProvider(Protocol):
    """Holds the master key and never lets it into the database."""

    name: str

    def wrap(self, data_key: bytes, context: bytes = b"") -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes = b"") -> bytes: ...


def _derive(secret: str, purpose: bytes) -> bytes:
    # The kept secrets are random text of any length; HKDF turns each into a
    # 32-byte key, a different one per purpose, so no key serves two uses.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, VERSION + associated)


def open_sealed(key: bytes, blob: bytes, associated: bytes) -> bytes:
    blob = bytes(blob)  # PostgreSQL hands back a memoryview
    if blob[:1] != VERSION or len(blob) < 1 + NONCE_BYTES + 16:
        raise Undecryptable("not a ciphertext of a known format")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, VERSION + associated)
    except InvalidTag as error:
        raise Undecryptable(
            "authentication failed: wrong key, or the ciphertext was altered or moved"
        ) from error


class LocalKeyProvider:
    """The embedded default: the master key from ``settings.MASTER_KEY`` (env or key file)."""

    name = "local"

    def __init__(self, secret: str | None = None) -> None:
        self._key = _derive(secret or settings.MASTER_KEY, b"epitrace master key v1")

    def wrap(self, data_key: bytes, context: bytes = b"") -> bytes:
        return seal(self._key, data_key, b"data key|" + context)

    def unwrap(self, wrapped: bytes, context: bytes = b"") -> bytes:
        return open_sealed(self._key, wrapped, b"data key|" + context)


def key_provider() -> KeyProvider:
    return import_string(settings.EPITRACE_KEY_PROVIDER)()


def hub_key(purpose: bytes) -> bytes:
    """A key for the hub's own sealed data that belongs to no single case (a cache), one
    per ``purpose``, derived from the master key."""
    return _derive(settings.MASTER_KEY, purpose)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def blind_index(kind: str, normalised: str) -> str:
    """HMAC-SHA256 of a normalised value: equal values match, nothing reads back.

    The kind is part of the message, so a phone number and an identity number that
    happen to share digits never share a digest.
    """
    key = _derive(settings.INDEX_KEY, b"epitrace blind index v1")
    message = kind.encode() + b"\x00" + normalised.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
