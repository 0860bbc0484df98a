"""One server per data dir: a second `ccemu serve` on it is refused with the holder named,
while the commands that only read keep working."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import start_server


def _ccemu(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args], capture_output=True, text=True, timeout=timeout
    )


def _serve(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _ccemu("serve", "--port", "0", "--ssh-port", "0", "--data-dir", str(data), *args)


def test_second_server_on_a_data_dir_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        cc = srv.client()
        cc.create_repository(repositoryName="kept")
        assert srv.ready_file is not None
        ready_before = srv.ready_file.read_text()
        state = sorted((p.name, p.stat().st_mtime_ns) for p in data.iterdir() if p.is_file())
        second = _serve(data, "--ready-file", str(srv.ready_file))
        assert second.returncode == 1
        assert str(data.resolve()) in second.stderr
        assert f"pid {srv.proc.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        # nothing written: the first's state, keys and ready file are as they were
        after = sorted((p.name, p.stat().st_mtime_ns) for p in data.iterdir() if p.is_file())
        assert [n for n, _ in after] == [n for n, _ in state]
        unchanged = {"state.db", "master.key", "ssh_host_ed25519_key", "ssh_host_rsa_key"}
        assert [x for x in after if x[0] in unchanged] == [x for x in state if x[0] in unchanged]
        assert srv.ready_file.read_text() == ready_before
        # and the first still serves
        assert cc.get_repository(repositoryName="kept")["repositoryMetadata"]
    finally:
        srv.stop()


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data)
    srv.proc.send_signal(signal.SIGKILL)  # no clean exit: the kernel drops the lock
    srv.proc.wait(timeout=20)
    again = start_server(data)
    try:
        assert again.alive()
    finally:
        again.stop()


def test_reading_commands_work_while_a_server_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data, "--https-port", "0")
    try:
        assert srv.ready_file is not None
        for args in (
            ["ssh-host-key", "--data-dir", str(data)],
            ["ssh-host-key", "--ready-file", str(srv.ready_file)],
            ["ca-path", "--data-dir", str(data)],
            ["ca-path", "--ready-file", str(srv.ready_file)],
            ["configure", "--ready-file", str(srv.ready_file)],
            ["configure", "--data-dir", str(data), "--endpoint", srv.url],
        ):
            proc = _ccemu(*args)
            assert proc.returncode == 0, (args, proc.stderr)
            assert proc.stdout
        assert srv.alive()
    finally:
        srv.stop()
