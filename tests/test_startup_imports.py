"""What `ccemu serve` imports before it is ready: every module there is start-up time that a CI
fixture pays on every run, so the heavy ones a door needs only on its first request stay out."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def test_server_import_leaves_botocore_to_the_first_api_request() -> None:
    # The API door (botocore's models and every service's handlers) is loaded in the background
    # once the listeners are up; signature checks and git passwords do not pull it in earlier.
    loaded = _modules_after("import emulator.server")
    assert not {m for m in loaded if m == "botocore" or m.startswith("botocore.")}
    assert "emulator.api.endpoint" not in loaded


def test_server_import_leaves_paramiko_to_the_ssh_door() -> None:
    # The SSH door (paramiko) starts in the background once the HTTP listeners are up; its host
    # keys are made and announced from the key files without it.
    loaded = _modules_after("import emulator.server")
    assert not {m for m in loaded if m == "paramiko" or m.startswith("paramiko.")}
    assert "ssh_server.server" not in loaded


def test_serve_answers_ssh_once_ready_and_never_imports_invoke(tmp_path: Path) -> None:
    # paramiko imports invoke (a task runner) for client-side ssh_config `Match exec`; `ccemu
    # serve` reads no ssh_config, and the import was a sixth of what it waited for to be ready.
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "emulator",
            "serve",
            "--port",
            "0",
            "--ssh-port",
            "0",
            "--https-port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            "--ready-file",
            str(ready),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready.exists()
        # The SSH door answers with its banner: paramiko is loaded and serving without invoke.
        ssh = json.loads(ready.read_text())["ssh"]
        host, port = ssh.removeprefix("ssh://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            assert sock.recv(64).startswith(b"SSH-2.0-")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    imported = {line.rsplit("|", 1)[1].strip() for line in err.splitlines() if "|" in line}
    assert "paramiko" in imported
    # (a refused `import invoke` is listed too, at a few microseconds; a real one loads its parts)
    assert not {m for m in imported if m.startswith("invoke.")}
