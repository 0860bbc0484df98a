"""`ccemu ssh-host-key` and `ccemu ca-path` answer for the server that runs, or fail: they never
make a key or a CA that no server uses."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Server, needs_openssh, start_server


def ccemu(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def _ready(srv: Server) -> Path:
    assert srv.ready_file is not None
    return srv.ready_file


@pytest.mark.parametrize("command", ["ssh-host-key", "ca-path"])
def test_outside_a_data_dir_no_key_is_invented(tmp_path: Path, command: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in ([], ["--data-dir", str(empty)], ["--data-dir", str(tmp_path / "none")]):
        proc = ccemu(command, *args, cwd=empty)
        assert proc.returncode == 1, proc.stdout
        assert proc.stdout == ""
        assert "is not a ccemu data dir" in proc.stderr and "ccemu serve" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert _tree(tmp_path) == ["empty"]  # nothing created: no data dir, no key, no CA


@pytest.mark.parametrize("command", ["ssh-host-key", "ca-path"])
def test_a_missing_ready_file_is_a_clear_error(tmp_path: Path, command: str) -> None:
    proc = ccemu(command, "--ready-file", str(tmp_path / "ready.json"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "no ready file" in proc.stderr and "Traceback" not in proc.stderr
    assert _tree(tmp_path) == []


def test_ssh_host_key_of_a_stopped_server_names_no_running_server(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    ready = _ready(srv)
    srv.stop()
    proc = ccemu("ssh-host-key", "--ready-file", str(ready))
    assert proc.returncode == 1
    assert "no ready file" in proc.stderr and "Traceback" not in proc.stderr
    proc = ccemu("ssh-host-key", "--endpoint", srv.url)
    assert proc.returncode == 1
    assert f"cannot ask ccemu at {srv.url}" in proc.stderr and "Traceback" not in proc.stderr


def _keyscan(port: int) -> set[str]:
    out = subprocess.run(
        ["ssh-keyscan", "-p", str(port), "-t", "ed25519,rsa", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return {line for line in out.splitlines() if line and not line.startswith("#")}


@needs_openssh
def test_ssh_host_key_prints_the_keys_openssh_sees(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        seen = _keyscan(srv.ssh_port)
        assert len(seen) == 2
        ready = _ready(srv)
        for args in (
            ["--ready-file", str(ready)],
            ["--endpoint", srv.url],
            ["--data-dir", str(srv.data_dir), "--port", str(srv.ssh_port)],
        ):
            proc = ccemu("ssh-host-key", *args)
            assert proc.returncode == 0, proc.stderr
            lines = proc.stdout.splitlines()
            assert {ln for ln in lines if not ln.startswith("#")} == seen
            # the fingerprints are those ssh-keygen computes for the keys the server showed
            known = tmp_path / "known_hosts"
            known.write_text(proc.stdout)
            listed = subprocess.run(
                ["ssh-keygen", "-l", "-f", str(known)], capture_output=True, text=True, check=True
            ).stdout
            for line in lines:
                if line.startswith("#"):
                    assert line.split()[2] in listed
            # and OpenSSH, checking strictly, accepts the host (it fails later, on the user)
            ssh = subprocess.run(
                [
                    "ssh",
                    "-F",
                    "/dev/null",
                    "-o",
                    f"UserKnownHostsFile={known}",
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "PubkeyAuthentication=no",
                    "-p",
                    str(srv.ssh_port),
                    "nobody@127.0.0.1",
                    "git-upload-pack /v1/repos/x",
                ],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert "Permission denied" in ssh.stderr
            assert "Host key verification failed" not in ssh.stderr
    finally:
        srv.stop()


def _handshake(url: str, cafile: Path) -> bytes:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(cafile))
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(b"GET /_ccemu/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return tls.recv(4096)


def test_ca_path_is_the_ca_the_https_listener_uses(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", "--https-port", "0")
    try:
        info = json.loads(_ready(srv).read_text())
        assert info["data_dir"] == str(srv.data_dir.resolve())
        assert info["ca"] == str((srv.data_dir / "tls" / "ca.pem").resolve())
        paths = set()
        for args in (["--ready-file", str(_ready(srv))], ["--data-dir", str(srv.data_dir)]):
            proc = ccemu("ca-path", *args)
            assert proc.returncode == 0, proc.stderr
            paths.add(proc.stdout.strip())
        assert paths == {info["ca"]}
        # a TLS client trusting that CA alone verifies the certificate the listener serves
        assert _handshake(info["https"], Path(info["ca"])).startswith(b"HTTP/1.1 200")
        # ... and trusting another CA it does not: the check is real
        other = start_server(tmp_path / "other", "--https-port", "0")
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                _handshake(info["https"], other.data_dir / "tls" / "ca.pem")
        finally:
            other.stop()
    finally:
        srv.stop()


def test_ca_path_of_a_server_without_https_is_an_error(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        ready = _ready(srv)
        for args in (["--ready-file", str(ready)], ["--data-dir", str(srv.data_dir)]):
            proc = ccemu("ca-path", *args)
            assert proc.returncode == 1
            assert "--https-port" in proc.stderr and "Traceback" not in proc.stderr
        assert not (srv.data_dir / "tls").exists()  # no CA made for a server that has none
    finally:
        srv.stop()
