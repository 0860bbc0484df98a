"""`ccemu` as a user runs it: help, the ready file, the banner, clean shutdown, persistence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import start_server


def test_help_documents_every_serve_flag() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in (
        "--host",
        "--port",
        "--ssh-port",
        "--data-dir",
        "--region",
        "--ready-file",
        "--root-access-key",
        "--root-secret-key",
        "--max-push-bytes",
    ):
        assert flag in out
    top = subprocess.run(
        [sys.executable, "-m", "emulator", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "serve" in top and "SigV4" in top


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("ccemu")
    assert exe.exists()
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "serve" in out.stdout


def test_ready_file_banner_and_clean_sigterm(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    assert srv.url.startswith("http://127.0.0.1:")
    port = int(srv.url.rsplit(":", 1)[1])
    assert port not in (0, 8080)
    with urllib.request.urlopen(f"{srv.url}/_ccemu/health", timeout=10) as resp:
        assert json.load(resp) == {"status": "ok"}
    assert srv.stop() == 0
    log = srv.log.read_text()
    assert srv.url in log and "test" in log  # banner: endpoint and credentials


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_server_and_frees_port(tmp_path: Path, sig: signal.Signals) -> None:
    srv = start_server(tmp_path / "data")
    srv.proc.send_signal(sig)
    assert srv.proc.wait(timeout=20) == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{srv.url}/_ccemu/health", timeout=2)


def test_binds_loopback_only_by_default(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        assert srv.url.split("://")[1].startswith("127.0.0.1:")
        out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        port = srv.url.rsplit(":", 1)[1]
        lines = [ln for ln in out.splitlines() if f":{port} " in ln]
        if lines:  # ss is present: the socket is bound to loopback, not 0.0.0.0
            assert all("127.0.0.1:" in ln for ln in lines)
    finally:
        srv.stop()


def test_bad_flags_are_refused(tmp_path: Path) -> None:
    for args in (
        ["--port", "70000"],
        ["--account", "12345"],
        ["--port", "x"],
        ["--resolved-cache-mib", "0"],
        ["--cache-mib", "8", "--cache-idle-mib", "9"],  # keeping more when idle than ever
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "emulator", "serve", "--data-dir", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 2
        assert "error" in proc.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "a")
    try:
        port = srv.url.rsplit(":", 1)[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "emulator",
                "serve",
                "--port",
                port,
                "--data-dir",
                str(tmp_path / "b"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode != 0
        assert "in use" in proc.stderr.lower()
        assert "Traceback" not in proc.stderr
        assert srv.alive()
    finally:
        srv.stop()


@pytest.mark.parametrize("variable", ["GIT_SSL_CAINFO", "AWS_CA_BUNDLE"])
def test_configure_warns_of_a_ca_variable_that_overrides_its_ca(
    tmp_path: Path, variable: str
) -> None:
    args = [
        sys.executable,
        "-m",
        "emulator",
        "configure",
        "--endpoint",
        "http://127.0.0.1:8080",
        "--https-endpoint",
        "https://127.0.0.1:8443",
        "--data-dir",
        str(tmp_path / "data"),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_SSL_CAINFO", "AWS_CA_BUNDLE")}
    quiet = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    assert "warning" not in quiet.stderr
    loud = subprocess.run(
        args, env={**env, variable: "/etc/ssl/certs/other.pem"}, capture_output=True, text=True
    )
    assert loud.returncode == 0
    assert f"warning: {variable}=/etc/ssl/certs/other.pem is set" in loud.stderr
    assert str(tmp_path / "data" / "tls" / "ca.pem") in loud.stderr
    assert loud.stdout == quiet.stdout
