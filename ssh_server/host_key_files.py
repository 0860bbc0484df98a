"""The SSH host key files in the data dir, without paramiko: made on first start, and read as the
public keys clients are shown, so the server can announce them (and be ready) before the SSH
door's library is loaded. ssh_server.host_keys turns the same files into paramiko keys."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from emulator.keygen import ED25519_HOST_KEY, RSA_HOST_KEY, ed25519_pem, rsa_pem
from emulator.trust import HostKey

ED25519_FILE = ED25519_HOST_KEY
RSA_FILE = RSA_HOST_KEY
FILES = (ED25519_FILE, RSA_FILE)  # the order they are offered in: Ed25519 first

OPENSSH_PEM = b"-----BEGIN OPENSSH PRIVATE KEY-----"


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


def ensure(data_dir: Path, make_rsa: Callable[[], bytes] = rsa_pem) -> list[Path]:
    """The host key files, Ed25519 first; each made and stored if missing (the RSA key's PEM by
    `make_rsa`, which `ccemu serve` starts early: see emulator.keygen)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in ((ED25519_FILE, ed25519_pem), (RSA_FILE, make_rsa)):
        path = data_dir / name
        if not path.exists():
            _create(path, make())
        paths.append(path)
    return paths


def existing(data_dir: Path) -> list[Path]:
    """The host key files a server has made in `data_dir`, Ed25519 first; FileNotFoundError if
    there are none (nothing is made: a key no server uses must not be trusted)."""
    paths = [data_dir / name for name in FILES]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no SSH host key {path}")
    return paths


HostPrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def private_key(path: Path) -> HostPrivateKey:
    """The private key in `path` (OpenSSH's format, or PEM as `ssh-keygen -m PEM` writes it),
    loaded without cryptography's RSA consistency check.

    That check (a primality test of p and q) took 75 to 150 ms at every start, the largest part
    of it. It guards against a key from elsewhere; this one is the server's own, made by
    emulator.keygen and kept 0600 in the data dir, and whoever could write a bad key there could
    as well write a good one of their own. ValueError if the file holds no such key."""
    data = path.read_bytes()
    try:
        key = (
            serialization.load_ssh_private_key(
                data, password=None, unsafe_skip_rsa_key_validation=True
            )
            if data.lstrip().startswith(OPENSSH_PEM)
            else serialization.load_pem_private_key(
                data, password=None, unsafe_skip_rsa_key_validation=True
            )
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"{path}: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an Ed25519 or RSA private key")
    return key


def public_key(path: Path) -> HostKey:
    """The public half of the host key in `path`, as clients are shown it."""
    line = (
        private_key(path)
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    kind, blob = line.decode("ascii").split()[:2]
    return HostKey(kind, blob)
