"""Secrets at rest (secret access keys, session secrets): sealed with AES-256-GCM under a key
derived from the master key, with the record's identity as associated data, so a sealed value
copied to another record does not open.

The master key comes from `CCEMU_MASTER_KEY` (64 hex digits) or a file in the data dir,
generated on first start with mode 0600. It protects the SQLite file when it is copied or read
on its own; it does not protect against someone who can read the whole data dir.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_FILE = "master.key"
_NONCE = 12
_VERSION = b"\x01"


class MasterKeyError(Exception):
    """The master key is missing, malformed, or not the one the data was written with."""


def load_master_key(data_dir: Path, env: str | None = None) -> bytes:
    value = env if env is not None else os.environ.get("CCEMU_MASTER_KEY")
    if value:
        try:
            key = bytes.fromhex(value.strip())
        except ValueError:
            raise MasterKeyError("CCEMU_MASTER_KEY must be 64 hex digits") from None
        if len(key) != 32:
            raise MasterKeyError("CCEMU_MASTER_KEY must be 64 hex digits (32 bytes)")
        return key
    path = data_dir / MASTER_KEY_FILE
    if path.exists():
        key = bytes.fromhex(path.read_text().strip())
        if len(key) != 32:
            raise MasterKeyError(f"{path} does not hold a 32-byte key")
        return key
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


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
