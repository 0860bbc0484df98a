"""The ciphertext blob of the local KMS, and how key material is sealed under the master key.

A blob names the key and material version that made it, so Decrypt needs no KeyId (as on AWS):

    0x01 | key UUID (16) | version (4, big-endian) | nonce (12) | AES-256-GCM ciphertext + tag

The header and the canonical encryption context are the associated data: a changed byte, a blob
spliced onto another key, or a different encryption context fails to authenticate.
"""

from __future__ import annotations

import json
import secrets
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emulator.kms.model import InvalidCiphertextException
from emulator.kms.secrets import SecretBox

_FORMAT = 1
_HEADER = struct.Struct(">B16sI")
_NONCE = 12
_TAG = 16
MATERIAL_BYTES = 32


@dataclass(frozen=True)
class BlobHeader:
    key_id: str
    version: int
    raw: bytes


def canonical_context(context: Mapping[str, str] | None) -> bytes:
    """The encryption context as AAD: its pairs sorted, so the order a client sends is moot."""
    return json.dumps(sorted((context or {}).items()), separators=(",", ":")).encode()


def _invalid() -> InvalidCiphertextException:
    return InvalidCiphertextException("The ciphertext is not valid.")


def parse_header(blob: bytes) -> BlobHeader:
    if len(blob) < _HEADER.size + _NONCE + _TAG or blob[0] != _FORMAT:
        raise _invalid()
    _, raw_id, version = _HEADER.unpack_from(blob)
    return BlobHeader(str(uuid.UUID(bytes=raw_id)), version, blob[: _HEADER.size])


def seal(
    material: bytes, key_id: str, version: int, plaintext: bytes, context: Mapping[str, str] | None
) -> bytes:
    header = _HEADER.pack(_FORMAT, uuid.UUID(key_id).bytes, version)
    nonce = secrets.token_bytes(_NONCE)
    body = AESGCM(material).encrypt(nonce, plaintext, header + canonical_context(context))
    return header + nonce + body


def open_blob(material: bytes, blob: bytes, context: Mapping[str, str] | None) -> bytes:
    header = parse_header(blob)
    nonce = blob[_HEADER.size : _HEADER.size + _NONCE]
    try:
        return AESGCM(material).decrypt(
            nonce, blob[_HEADER.size + _NONCE :], header.raw + canonical_context(context)
        )
    except InvalidTag:
        raise _invalid() from None


class MaterialBox:
    """Seals each version of a key's material under the master key, bound to key and version,
    so material copied to another key or version row does not open."""

    def __init__(self, master_key: bytes) -> None:
        self._box = SecretBox(master_key, purpose=b"ccemu kms key material v1")

    @staticmethod
    def _aad(arn: str, version: int) -> bytes:
        return f"{arn}#{version}".encode()

    def new(self, arn: str, version: int) -> tuple[bytes, bytes]:
        """Fresh material and its sealed form."""
        material = secrets.token_bytes(MATERIAL_BYTES)
        return material, self._box.seal(material, self._aad(arn, version))

    def open(self, arn: str, version: int, sealed: bytes) -> bytes:
        return self._box.open(sealed, self._aad(arn, version))
