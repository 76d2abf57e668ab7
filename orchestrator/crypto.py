"""AES-256-GCM envelope for definitions and credentials.

Every record gets a fresh 96-bit nonce (stored in its ``*_iv`` column), the table, column
and row id as associated data (so a ciphertext moved to another row or column fails), and
the id of the key that sealed it (so keys rotate). Keys come from
``ORCHESTRATOR_ENCRYPTION_KEYS``: comma-separated URL-safe base64 of 32 bytes each (padding
optional); the first encrypts, all decrypt.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orchestrator.config import ConfigError, Settings, secret_file

log = logging.getLogger(__name__)

NONCE_BYTES = 12
KEY_FILE_NAME = "encryption.key"


class CryptoError(Exception):
    """A record cannot be decrypted; the message says why without revealing data."""


def generate_key() -> str:
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


def key_id_for(key: bytes) -> str:
    return hashlib.sha256(b"orchestrator-key-id:" + key).hexdigest()[:16]


def _decode_key(text: str, position: int) -> bytes:
    """URL-safe base64 with or without its ``=`` padding (``secrets.token_urlsafe(32)`` prints none)."""
    hint = "make one with `orchestrator keys generate`"
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"ORCHESTRATOR_ENCRYPTION_KEYS: key #{position} is not URL-safe base64 ({hint})") from None
    if len(key) != 32:
        raise ConfigError(
            f"ORCHESTRATOR_ENCRYPTION_KEYS: key #{position} decodes to {len(key)} bytes; AES-256 needs 32 ({hint})"
        )
    return key


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes
    nonce: bytes
    key_id: str


class KeyRing:
    """The first key encrypts; every key decrypts what it sealed."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ConfigError("no encryption key configured (ORCHESTRATOR_ENCRYPTION_KEYS)")
        self._keys = {key_id_for(k): AESGCM(k) for k in keys}
        self.primary_key_id = key_id_for(keys[0])

    @classmethod
    def from_strings(cls, keys: list[str] | tuple[str, ...]) -> "KeyRing":
        return cls([_decode_key(k, i + 1) for i, k in enumerate(keys)])

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._keys[self.primary_key_id].encrypt(nonce, plaintext, associated_data)
        return Sealed(ciphertext, nonce, self.primary_key_id)

    def decrypt(self, sealed: Sealed, associated_data: bytes, what: str) -> bytes:
        aead = self._keys.get(sealed.key_id)
        if aead is None:
            raise CryptoError(
                f"{what} was encrypted with key id {sealed.key_id}, which is not in ORCHESTRATOR_ENCRYPTION_KEYS"
            )
        try:
            return aead.decrypt(sealed.nonce, sealed.ciphertext, associated_data)
        except InvalidTag:
            raise CryptoError(
                f"{what} failed authentication: the ciphertext was altered, belongs to another record, "
                "or the key with its id is wrong"
            ) from None


def load_keyring(settings: Settings) -> KeyRing:
    """The configured keys; a standalone install with none gets one in its data directory."""
    if settings.encryption_keys:
        return KeyRing.from_strings(settings.encryption_keys)
    if not settings.is_embedded_database:
        raise ConfigError(
            "ORCHESTRATOR_ENCRYPTION_KEYS is required with a server database "
            "(make a key with `orchestrator keys generate`)"
        )
    key_file = Path(settings.data_dir) / KEY_FILE_NAME
    key, made = secret_file(key_file, generate_key)
    if made:
        log.warning("no ORCHESTRATOR_ENCRYPTION_KEYS set: generated a key in %s; back it up with the database", key_file)
    return KeyRing.from_strings([key])


# Encrypted fields on ORM rows follow one convention: ``<field>_encrypted``, ``<field>_iv``
# and a per-row ``key_id``; the row's id is assigned before sealing.

def _associated_data(row: Any, field: str, table: str | None = None) -> bytes:
    return f"{table or row.__tablename__}.{field}:{row.id}".encode()


def seal_field(keyring: KeyRing, row: Any, field: str, plaintext: bytes) -> None:
    if row.id is None:
        row.id = uuid.uuid4()
    sealed = keyring.encrypt(plaintext, _associated_data(row, field))
    setattr(row, f"{field}_encrypted", sealed.ciphertext)
    setattr(row, f"{field}_iv", sealed.nonce)
    row.key_id = sealed.key_id


def open_field(keyring: KeyRing, row: Any, field: str, table: str | None = None) -> bytes:
    """``row``: a model instance, or a Core row of ``table`` with the same columns."""
    table = table or row.__tablename__
    sealed = Sealed(getattr(row, f"{field}_encrypted"), getattr(row, f"{field}_iv"), row.key_id)
    return keyring.decrypt(sealed, _associated_data(row, field, table), f"{table}.{field} of {row.id}")
