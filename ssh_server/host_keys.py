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


def load_or_create(data_dir: Path, make_rsa: Callable[[], bytes] = rsa_pem) -> list[paramiko.PKey]:
    """The host keys, Ed25519 first; generated and stored on first use (the RSA key's PEM by
    `make_rsa`, which `ccemu serve` starts early: see emulator.keygen)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    kinds: tuple[tuple[str, Callable[[], bytes], type[paramiko.PKey]], ...] = (
        (ED25519_FILE, ed25519_pem, paramiko.Ed25519Key),
        (RSA_FILE, make_rsa, paramiko.RSAKey),
    )
    keys: list[paramiko.PKey] = []
    for name, generate, cls in kinds:
        path = data_dir / name
        if not path.exists():
            _create(path, generate())
        keys.append(cls.from_private_key_file(str(path)))
    return keys


def load_existing(data_dir: Path) -> list[paramiko.PKey]:
    """The host keys a server has made in `data_dir`, Ed25519 first; FileNotFoundError if
    there are none (nothing is made: a key no server uses must not be trusted)."""
    keys: list[paramiko.PKey] = []
    for name, cls in ((ED25519_FILE, paramiko.Ed25519Key), (RSA_FILE, paramiko.RSAKey)):
        path = data_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"no SSH host key {path}")
        keys.append(cls.from_private_key_file(str(path)))
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
