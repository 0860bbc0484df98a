"""The server's host keys: Ed25519 and RSA, made on first start, kept in the data dir (0600).

They must stay the same across restarts, or every client's `known_hosts` entry breaks. RSA is
there for older clients that do not speak Ed25519; both are offered and the client picks. The
files are made and read by ssh_server.host_key_files; this module gives them to paramiko.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.keygen import rsa_pem
from ssh_server import host_key_files
from ssh_server.host_key_files import ED25519_FILE, RSA_FILE

__all__ = ["ED25519_FILE", "RSA_FILE", "fingerprint", "known_hosts_line", "load", "load_existing"]


def _paramiko_key(path: Path) -> paramiko.PKey:
    if path.name == RSA_FILE:
        try:
            key = host_key_files.private_key(path)
        except ValueError as exc:
            raise paramiko.SSHException(str(exc)) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise paramiko.SSHException(f"{path}: not an RSA private key")
        return paramiko.RSAKey(key=key)
    return paramiko.Ed25519Key.from_private_key_file(str(path))


def load(paths: list[Path]) -> list[paramiko.PKey]:
    """The host keys in `paths` (host_key_files.ensure or .existing), as paramiko serves them."""
    return [_paramiko_key(path) for path in paths]


def load_or_create(data_dir: Path, make_rsa: Callable[[], bytes] = rsa_pem) -> list[paramiko.PKey]:
    """The host keys, Ed25519 first; generated and stored on first use."""
    return load(host_key_files.ensure(data_dir, make_rsa))


def load_existing(data_dir: Path) -> list[paramiko.PKey]:
    """The host keys a server has made in `data_dir`, Ed25519 first; FileNotFoundError if
    there are none (nothing is made: a key no server uses must not be trusted)."""
    return load(host_key_files.existing(data_dir))


def fingerprint(key: paramiko.PKey) -> str:
    """`SHA256:…` as `ssh-keygen -l` and the ssh client print it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_line(key: paramiko.PKey, host: str, port: int) -> str:
    """A `known_hosts` line for this key at host:port (OpenSSH writes `[host]:port` unless the
    port is 22)."""
    where = host if port == 22 else f"[{host}]:{port}"
    return f"{where} {key.get_name()} {key.get_base64()}"
