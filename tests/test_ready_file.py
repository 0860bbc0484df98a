"""`--ready-file` exists exactly while a ready server runs: a CI job waiting for it never takes
an earlier run's file, nor a half-written one, for this run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import start_server

STALE = {"http": "http://127.0.0.1:1", "ssh": "ssh://127.0.0.1:1"}


def _serve(data: Path, ready: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--ssh-port",
            "0",
            "--data-dir",
            str(data),
            "--ready-file",
            str(ready),
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ,
    )


def test_stale_ready_file_is_removed_before_the_server_is_ready(tmp_path: Path) -> None:
    # An earlier run killed before its exit left its file; this run cannot become ready (its
    # port is taken), so a waiting job must find no file at all, not the old one.
    srv = start_server(tmp_path / "a")
    try:
        ready = tmp_path / "ready.json"
        ready.write_text(json.dumps(STALE))
        port = srv.url.rsplit(":", 1)[1]
        proc = _serve(tmp_path / "b", ready, "--port", port)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1 and b"cannot listen" in err
        assert not ready.exists()
        assert srv.alive()
    finally:
        srv.stop()


def test_ready_file_appears_whole_and_is_gone_after_exit(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    ready.write_text(json.dumps(STALE))
    proc = _serve(tmp_path / "data", ready, "--port", "0")
    try:
        seen: list[dict[str, str]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                text = ready.read_text()
            except FileNotFoundError:
                continue
            info = json.loads(text)  # never half-written
            seen.append(info)
            if info != STALE:
                break
        info = seen[-1]
        assert info != STALE and info["http"].startswith("http://127.0.0.1:")
        # what it names answers: the file was written once the server was ready
        with urllib.request.urlopen(f"{info['http']}/_ccemu/health", timeout=10) as resp:
            assert json.load(resp) == {"status": "ok"}
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert not ready.exists()


def test_exit_leaves_a_ready_file_another_server_wrote_since(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    assert srv.ready_file is not None and srv.ready_file.exists()
    other = json.dumps(STALE)
    srv.ready_file.write_text(other)
    assert srv.stop() == 0
    assert srv.ready_file.read_text() == other
