"""A local certificate authority and the server certificate for the TLS listener.

Clients that insist on https (git-remote-codecommit builds `https://{CODE_COMMIT_ENDPOINT}/...`)
need a certificate they can trust. ccemu makes its own CA once per data dir and, at every start, a
server certificate for the names and addresses it answers on; a user trusts the CA alone
(`GIT_SSL_CAINFO`, `AWS_CA_BUNDLE`), so a new server certificate needs no new setup.

    tls/ca.pem            the CA certificate (public: what clients trust; `ccemu ca-path`)
    tls/ca-key.pem        the CA's private key (0600; never leaves the data dir)
    tls/server.pem        the server certificate, then the CA certificate (a full chain)
    tls/server-key.pem    its private key (0600)

Keys are ECDSA P-256: quick to make, so a fresh data dir (a CI run) pays about a millisecond.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TLS_DIR = "tls"
CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"

_CA_DAYS = 3650
_SERVER_DAYS = 397  # the longest validity public CAs may issue; some clients check it

# The AWS host names of the services ccemu serves, so a client configured with the real
# endpoint name (through /etc/hosts or a proxy) sees a certificate that matches.
_REGIONAL_SERVICES = ("codecommit", "git-codecommit", "sts", "kms", "sns", "iam")
_GLOBAL_NAMES = ("iam.amazonaws.com", "sts.amazonaws.com")


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def ca_path(data_dir: Path) -> Path:
    """Where the CA certificate of this data dir is (made by `ensure_certificates`)."""
    return data_dir / TLS_DIR / CA_CERT


def subject_names(host: str, region: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) the server certificate is made for."""
    dns = ["localhost"]
    ips = ["127.0.0.1", "::1"]
    if host not in ("", "0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        try:
            ipaddress.ip_address(host)
        except ValueError:
            dns.append(host)
        else:
            ips.append(host)
    dns += [f"{service}.{region}.amazonaws.com" for service in _REGIONAL_SERVICES]
    dns += [f"*.{region}.amazonaws.com", *_GLOBAL_NAMES]
    return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_or_create_ca(
    directory: Path, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if isinstance(
            key, ec.EllipticCurvePrivateKey
        ) and cert.not_valid_after_utc > now + dt.timedelta(days=_SERVER_DAYS):
            return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ccemu"),
            x509.NameAttribute(NameOID.COMMON_NAME, "ccemu local CA"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _pem_key(key))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def ensure_ca(data_dir: Path) -> Path:
    """The CA certificate's path, the CA made first if this data dir has none yet."""
    directory = data_dir / TLS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    _load_or_create_ca(directory, dt.datetime.now(dt.UTC))
    return directory / CA_CERT


def ensure_certificates(
    data_dir: Path, host: str, region: str, now: dt.datetime | None = None
) -> TlsFiles:
    """The CA (made on first use, kept) and a new server certificate for `host` and `region`."""
    now = now or dt.datetime.now(dt.UTC)
    directory = data_dir / TLS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _load_or_create_ca(directory, now)
    key = ec.generate_private_key(ec.SECP256R1())
    dns, ips = subject_names(host, region)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / CA_CERT, directory / SERVER_CERT, directory / SERVER_KEY)
    _write_private(files.server_key, _pem_key(key))
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(
        serialization.Encoding.PEM
    )
    _write_public(files.server_cert, chain)
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The listener's TLS settings: TLS 1.2 or later, the certificate chain from `files`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files.server_cert, files.server_key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
