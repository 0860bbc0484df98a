"""The key ccemu's SNS signs messages with, and the certificate it serves for checking them.

An RSA key and a self-signed X.509 certificate are made with `cryptography` on first use and kept
in the data dir (the key 0600). `SigningCertURL` points at ccemu, which serves the certificate, so
a receiver can verify messages the way SNS message validators do: fetch the certificate, rebuild
the canonical string, check the SHA256withRSA signature (SignatureVersion 2).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

KEY_FILE = "sns-signing-key.pem"
CERT_FILE = "sns-signing-cert.pem"
CERT_PATH = "/_ccemu/sns/SimpleNotificationService-ccemu.pem"

# The fields each message type signs, in this order (AWS: "Verifying the signatures of Amazon
# SNS messages"). Subject only when the message has one.
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


def canonical_string(message: Mapping[str, object]) -> bytes:
    """AWS's string to sign: `Name\\nvalue\\n` for each signed field present."""
    fields = NOTIFICATION_FIELDS if message.get("Type") == "Notification" else CONFIRMATION_FIELDS
    parts = []
    for name in fields:
        value = message.get(name)
        if value is None:
            continue
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode()


class Signer:
    """SNS's message signing key and certificate, made on first use (an RSA key takes a while
    to generate, and most runs never send an SNS message) and kept in the data dir."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._lock = threading.Lock()
        self._loaded: tuple[rsa.RSAPrivateKey, bytes] | None = None

    @property
    def cert_pem(self) -> bytes:
        return self._load()[1]

    def _load(self) -> tuple[rsa.RSAPrivateKey, bytes]:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load_or_create()
            return self._loaded

    def _load_or_create(self) -> tuple[rsa.RSAPrivateKey, bytes]:
        data_dir = self._data_dir
        key_path, cert_path = data_dir / KEY_FILE, data_dir / CERT_FILE
        if key_path.exists() and cert_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{key_path} does not hold an RSA key")
            return key, cert_path.read_bytes()
        new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.ccemu.local")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(new_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .sign(new_key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        pem = new_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = key_path.with_name(key_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.replace(tmp, key_path)
        cert_path.write_bytes(cert_pem)
        return new_key, cert_pem

    def sign(self, message: Mapping[str, object]) -> str:
        """The base64 SHA256withRSA signature of `message` (SignatureVersion 2)."""
        key = self._load()[0]
        raw = key.sign(canonical_string(message), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode()
