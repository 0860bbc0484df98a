"""What a client must trust to talk to a running ccemu: its SSH host keys and its CA.

`ccemu ssh-host-key` and `ccemu ca-path` answer for one server, never for a guess: they ask the
running server (through its ready file, or `GET /_ccemu/ssh-host-keys` at its URL) or read a data
dir a server has already used. They never make keys: a key made for a directory no server uses
would be trusted by a client and then fail against the server that actually answers.

    ready file   {"http": ..., "ssh": ..., "https": ..., "data_dir": ..., "ca": ...}
                 (`ccemu serve --ready-file`; "https" and "ca" only with --https-port)
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HOST_KEYS_PATH = "/_ccemu/ssh-host-keys"


class TrustError(Exception):
    """Nothing trustworthy to answer with: no running server, no data dir, no key."""


@dataclass(frozen=True)
class HostKey:
    """An SSH host public key as OpenSSH writes it: `type base64-blob`."""

    type: str
    blob: str  # base64, as in known_hosts and authorized_keys

    @property
    def fingerprint(self) -> str:
        """`SHA256:…` as `ssh-keygen -l` and the ssh client print it."""
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def known_hosts_line(self, host: str, port: int) -> str:
        # OpenSSH writes `[host]:port` unless the port is 22.
        where = host if port == 22 else f"[{host}]:{port}"
        return f"{where} {self.type} {self.blob}"


def host_key_lines(keys: list[HostKey], host: str, port: int) -> list[str]:
    """The fingerprints (as `#` comments) and the known_hosts lines, so the whole output can be
    appended to a known_hosts file."""
    lines = [f"# {key.type} {key.fingerprint}" for key in keys]
    return lines + [key.known_hosts_line(host, port) for key in keys]


def read_ready_file(path: Path) -> dict[str, Any]:
    """The ready file of a running `ccemu serve`; TrustError if there is none (the server is
    not running, or not ready yet: the file is written once every listener is up)."""
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise TrustError(
            f"no ready file at {path}: no ccemu started with --ready-file {path} is running"
            " (it writes the file once ready and removes it when it stops)"
        ) from None
    except (OSError, ValueError) as exc:
        raise TrustError(f"cannot read the ready file {path}: {exc}") from None
    if not isinstance(info, dict) or not isinstance(info.get("http"), str):
        raise TrustError(f"{path} is not a ready file of ccemu serve")
    return info


def host_keys_from_server(url: str, timeout: float = 10.0) -> tuple[list[HostKey], str | None]:
    """The host keys the server at `url` (its HTTP endpoint) serves SSH with, and its SSH URL."""
    endpoint = url.rstrip("/") + HOST_KEYS_PATH
    if urlsplit(endpoint).scheme not in ("http", "https"):
        raise TrustError(f"{url} is not an http(s) URL of ccemu")
    import urllib.request  # here: the server imports this module, and never asks itself

    try:
        with urllib.request.urlopen(endpoint, timeout=timeout) as resp:  # noqa: S310 - checked
            body = json.load(resp)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise TrustError(f"cannot ask ccemu at {url} for its SSH host keys: {reason}") from None
    try:
        keys = [HostKey(str(k["type"]), str(k["key"])) for k in body["keys"]]
        ssh = body.get("ssh")
    except (KeyError, TypeError) as exc:
        raise TrustError(f"{endpoint} answered no host keys ({exc})") from None
    if not keys:
        raise TrustError(f"ccemu at {url} serves no SSH")
    return keys, ssh if isinstance(ssh, str) else None


def existing_data_dir(data_dir: Path) -> Path:
    """`data_dir` if a server has used it (its state database is there), else TrustError."""
    if not (data_dir / "state.db").is_file():
        raise TrustError(
            f"{data_dir} is not a ccemu data dir (no server has used it):"
            f" start `ccemu serve --data-dir {data_dir}` first, or give --ready-file of the"
            " running server"
        )
    return data_dir


def ca_from_ready_file(path: Path) -> Path:
    """The CA certificate the running server's https listener is issued from."""
    info = read_ready_file(path)
    ca = info.get("ca")
    if not isinstance(ca, str) or not info.get("https"):
        raise TrustError(
            f"the ccemu of {path} serves no https: start it with --https-port to get a CA"
        )
    if not Path(ca).is_file():
        raise TrustError(f"the CA certificate {ca} named in {path} is gone")
    return Path(ca)


def ca_in_data_dir(data_dir: Path) -> Path:
    """The CA certificate of a data dir a server has served https from."""
    from emulator.tls import ca_path

    path = ca_path(existing_data_dir(data_dir))
    if not path.is_file():
        raise TrustError(
            f"{data_dir} has no CA yet: ccemu makes it when started with --https-port"
            f" (`ccemu serve --data-dir {data_dir} --https-port 8443`)"
        )
    return path


def ssh_endpoint(ssh_url: str | None) -> tuple[str | None, int | None]:
    if not ssh_url:
        return None, None
    parts = urlsplit(ssh_url)
    return parts.hostname, parts.port
