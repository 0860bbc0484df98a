"""The master key at start: generated 0600 into the data dir with a warning, or taken from
--master-key-file / CCEMU_MASTER_KEY; a different key than the data was written with is refused
before anything is written."""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import start_server


def snapshot(data_dir: Path) -> dict[str, str]:
    """Every file under the data dir and a digest of its bytes (but the lock file's pid of
    its last holder)."""
    return {
        str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and p.name != "ccemu.lock"
    }


def refused_start(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `ccemu serve`, which is expected to refuse to start (it would serve forever)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--port",
            "0",
            "--ssh-port",
            "0",
            "--data-dir",
            str(data_dir),
            *args,
        ],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(autouse=True)
def no_master_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CCEMU_MASTER_KEY", raising=False)


def test_generated_key_file_is_private_and_explained(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        srv.client().create_repository(repositoryName="r")
    finally:
        srv.stop()
    key_file = tmp_path / "data" / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(bytes.fromhex(key_file.read_text().strip())) == 32
    log = srv.log.read_text()
    assert "master key is kept in" in log and "does NOT protect" in log
    assert "--master-key-file" in log


def test_wrong_master_key_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = secrets.token_hex(32)
    srv = start_server(data, env={"CCEMU_MASTER_KEY": key})
    try:
        srv.client().create_repository(repositoryName="r")
        srv.client("kms").create_key()
    finally:
        srv.stop()
    assert not (data / "master.key").exists()
    before = snapshot(data)

    wrong = refused_start(data, env={"CCEMU_MASTER_KEY": secrets.token_hex(32)})
    assert "not the one the data dir" in wrong.stderr and "refusing to start" in wrong.stderr
    assert snapshot(data) == before

    # No key at all: refused too, and no new key file is made for the data dir.
    missing = refused_start(data)
    assert "was written with a master key" in missing.stderr
    assert not (data / "master.key").exists()
    assert snapshot(data) == before

    # The right key still opens everything.
    srv = start_server(data, env={"CCEMU_MASTER_KEY": key})
    try:
        assert srv.client().get_repository(repositoryName="r")["repositoryMetadata"]
    finally:
        srv.stop()


def test_master_key_file_flag(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key_file = tmp_path / "keys" / "ccemu.key"
    srv = start_server(data, "--master-key-file", str(key_file))
    try:
        srv.client().create_repository(repositoryName="r")
    finally:
        srv.stop()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (data / "master.key").exists()
    assert "master key is kept in" not in srv.log.read_text()

    other = tmp_path / "other.key"
    other.write_text(secrets.token_hex(32) + "\n")
    other.chmod(0o600)
    before = snapshot(data)
    refused = refused_start(data, "--master-key-file", str(other))
    assert str(other) in refused.stderr
    assert snapshot(data) == before

    malformed = tmp_path / "bad.key"
    malformed.write_text("not hex\n")
    refused = refused_start(data, "--master-key-file", str(malformed))
    assert "64 hex digits" in refused.stderr

    srv = start_server(data, "--master-key-file", str(key_file))
    try:
        assert srv.client().get_repository(repositoryName="r")
    finally:
        srv.stop()


@pytest.mark.parametrize("value", ["abc", "zz" * 32, "00" * 31])
def test_malformed_env_key(tmp_path: Path, value: str) -> None:
    refused = refused_start(tmp_path / "data", env={"CCEMU_MASTER_KEY": value})
    assert "CCEMU_MASTER_KEY must hold 64 hex digits" in refused.stderr


def test_git_credential_hashes_are_sealed(tmp_path: Path) -> None:
    from emulator.config import Config
    from emulator.core import Emulator

    emu = Emulator(Config(data_dir=tmp_path / "data"))
    try:
        emu.iam.entities.create_user("123456789012", "dana")
        made = emu.keys.service.create("123456789012", "dana", "codecommit.amazonaws.com")
        (stored,) = (
            emu.db.read()
            .execute(
                "SELECT hash FROM iam_service_credentials WHERE id = ?",
                (made.credential.credential_id,),
            )
            .fetchone()
        )
        assert len(stored) > 32  # the scrypt hash, sealed: nonce, ciphertext and tag
        user = made.credential.service_user_name
        assert emu.keys.verify_git_credential(user, made.password) is not None
        assert emu.keys.verify_git_credential(user, made.password[:-1] + "x") is None
    finally:
        emu.close()
