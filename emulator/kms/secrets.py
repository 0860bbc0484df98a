"""Secrets at rest (secret access keys, session secrets, git credential hashes): sealed with
AES-256-GCM under a key derived from the master key (see `emulator.kms.master`) for one purpose,
with the record's identity as associated data, so a sealed value copied to another record does
not open.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_FILE = "master.key"
_NONCE = 12
_VERSION = b"\x01"


class MasterKeyError(Exception):
    """The master key is missing, malformed, or not the one the data was written with."""


class SecretBox:
    """Seal and open small secrets under a purpose-specific key derived from the master key."""

    def __init__(self, master_key: bytes, purpose: bytes = b"ccemu secrets v1") -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
            master_key
        )
        self._aead = AESGCM(derived)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _VERSION + aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < 1 + _NONCE + 16 or sealed[:1] != _VERSION:
            raise MasterKeyError("sealed secret is malformed")
        try:
            return self._aead.decrypt(sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], _VERSION + aad)
        except Exception:
            raise MasterKeyError(
                "a stored secret does not open with this master key: the data dir was written"
                " with another one"
            ) from None
