"""The server's host keys: Ed25519 and RSA, made on first start, kept in the data dir (0600).

They must stay the same across restarts, or every client's `known_hosts` entry breaks. RSA is
there for older clients that do not speak Ed25519; both are offered and the client picks.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.keygen import ED25519_HOST_KEY, RSA_HOST_KEY, ed25519_pem, rsa_pem

ED25519_FILE = ED25519_HOST_KEY
RSA_FILE = RSA_HOST_KEY


def _create(path: Path, pem: bytes) -> None:
    """Write `pem` to `path` with mode 0600 unless the file exists (a concurrent first start
    keeps whichever key landed first)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()


_OPENSSH_PEM = b"-----BEGIN OPENSSH PRIVATE KEY-----"


def _rsa_key(path: Path) -> paramiko.PKey:
    """The RSA host key at `path`, loaded without cryptography's RSA consistency check.

    That check (a primality test of p and q) took 75 to 150 ms at every start, the largest part
    of it. It guards against a key from elsewhere; this one is the server's own, made by
    emulator.keygen and kept 0600 in the data dir, and whoever could write a bad key there could
    as well write a good one of their own. A key in another format loads as paramiko loads it."""
    data = path.read_bytes()
    if not data.lstrip().startswith(_OPENSSH_PEM):
        return paramiko.RSAKey.from_private_key_file(str(path))
    try:
        key = serialization.load_ssh_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError) as exc:
        raise paramiko.SSHException(f"{path}: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise paramiko.SSHException(f"{path}: not an RSA private key")
    return paramiko.RSAKey(key=key)


def _ed25519_key(path: Path) -> paramiko.PKey:
    return paramiko.Ed25519Key.from_private_key_file(str(path))


def load_or_create(data_dir: Path, make_rsa: Callable[[], bytes] = rsa_pem) -> list[paramiko.PKey]:
    """The host keys, Ed25519 first; generated and stored on first use (the RSA key's PEM by
    `make_rsa`, which `ccemu serve` starts early: see emulator.keygen)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    kinds: tuple[tuple[str, Callable[[], bytes], Callable[[Path], paramiko.PKey]], ...] = (
        (ED25519_FILE, ed25519_pem, _ed25519_key),
        (RSA_FILE, make_rsa, _rsa_key),
    )
    keys: list[paramiko.PKey] = []
    for name, generate, load in kinds:
        path = data_dir / name
        if not path.exists():
            _create(path, generate())
        keys.append(load(path))
    return keys


def load_existing(data_dir: Path) -> list[paramiko.PKey]:
    """The host keys a server has made in `data_dir`, Ed25519 first; FileNotFoundError if
    there are none (nothing is made: a key no server uses must not be trusted)."""
    keys: list[paramiko.PKey] = []
    for name, load in ((ED25519_FILE, _ed25519_key), (RSA_FILE, _rsa_key)):
        path = data_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"no SSH host key {path}")
        keys.append(load(path))
    return keys


def fingerprint(key: paramiko.PKey) -> str:
    """`SHA256:…` as `ssh-keygen -l` and the ssh client print it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_line(key: paramiko.PKey, host: str, port: int) -> str:
    """A `known_hosts` line for this key at host:port (OpenSSH writes `[host]:port` unless the
    port is 22)."""
    where = host if port == 22 else f"[{host}]:{port}"
    return f"{where} {key.get_name()} {key.get_base64()}"
