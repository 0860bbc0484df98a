"""Parsing SSH public keys in the encodings IAM's UploadSSHPublicKey accepts: the OpenSSH one-line
form (`ssh-rsa AAAA… comment`), PEM (`BEGIN PUBLIC KEY` / `BEGIN RSA PUBLIC KEY`) and RFC 4716
(`---- BEGIN SSH2 PUBLIC KEY ----`), as `ssh-keygen -e -m PEM|RFC4716` writes them.

Every form is normalised to the OpenSSH line without a comment; the fingerprint is the one IAM
shows, the MD5 of the key blob as colon-separated hex (what `ssh-keygen -l -E md5` prints after
`MD5:`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from emulator.iam.keys.common import InvalidPublicKey

MAX_BODY = 16384
# IAM refuses RSA keys shorter than 2048 bits.
MIN_RSA_BITS = 2048
_RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
_RFC4716_END = "---- END SSH2 PUBLIC KEY ----"


@dataclass(frozen=True)
class ParsedKey:
    openssh: str  # "ssh-ed25519 AAAA…", no comment
    fingerprint: str  # "aa:bb:…"
    pem: str  # SubjectPublicKeyInfo PEM

    @property
    def blob(self) -> bytes:
        return base64.b64decode(self.openssh.split(" ", 1)[1])


def md5_fingerprint(blob: bytes) -> str:
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _invalid(why: str) -> InvalidPublicKey:
    return InvalidPublicKey(f"The SSH public key is not valid: {why}.")


def _rfc4716_blob(text: str) -> bytes:
    lines = [line.strip() for line in text.strip().splitlines()]
    if lines[-1] != _RFC4716_END:
        raise _invalid("the RFC 4716 key has no end marker")
    body: list[str] = []
    in_header = False
    for line in lines[1:-1]:
        # Header lines are `Tag: value`, continued by a trailing backslash (RFC 4716 §3.3).
        if in_header or (":" in line and not body):
            in_header = line.endswith("\\")
            continue
        body.append(line)
    try:
        return base64.b64decode("".join(body), validate=True)
    except binascii.Error:
        raise _invalid("the RFC 4716 key body is not base64") from None


def _blob_type(blob: bytes) -> str:
    if len(blob) < 4:
        raise _invalid("the key blob is truncated")
    n = int.from_bytes(blob[:4], "big")
    if n > 64 or len(blob) < 4 + n:
        raise _invalid("the key blob is truncated")
    return blob[4 : 4 + n].decode("ascii", "replace")


def _load(text: str) -> object:
    if text.startswith(_RFC4716_BEGIN):
        blob = _rfc4716_blob(text)
        line = f"{_blob_type(blob)} {base64.b64encode(blob).decode()}"
        return serialization.load_ssh_public_key(line.encode())
    if text.startswith("-----BEGIN"):
        return serialization.load_pem_public_key(text.encode())
    if "\n" in text:
        raise _invalid("an OpenSSH public key is a single line")
    return serialization.load_ssh_public_key(text.encode())


def parse_public_key(body: str) -> ParsedKey:
    """Parse and normalise an uploaded key, or raise `InvalidPublicKey`."""
    text = body.strip().replace("\r\n", "\n")
    if not text or len(text) > MAX_BODY:
        raise _invalid("the key is empty or too long")
    try:
        key = _load(text)
    except InvalidPublicKey:
        raise
    except (ValueError, TypeError, IndexError, UnicodeError, UnsupportedAlgorithm) as exc:
        raise _invalid(f"it could not be parsed ({str(exc)[:100]})") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise _invalid(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    elif not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise _invalid("only RSA, Ed25519 and ECDSA keys are supported")
    try:
        openssh = key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    except ValueError:
        raise _invalid("the elliptic curve is not one SSH uses") from None
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    line = openssh.decode()
    blob = base64.b64decode(line.split(" ", 1)[1])
    return ParsedKey(line, md5_fingerprint(blob), pem.decode())
