"""The master key: the root of ccemu's key hierarchy, and the check that it is the right one.

    master key → KMS key material (versioned) → repository data key → file keys
               → secrets in SQLite (secret access keys, session secrets, git credential hashes)

Where it comes from, first match wins:
  1. `--master-key-file PATH` (a file holding 64 hex digits; generated there, mode 0600, when it
     does not exist and the data dir has never been started),
  2. `CCEMU_MASTER_KEY` (64 hex digits),
  3. `master.key` in the data dir, generated with mode 0600 on the first start.

At the first start a key check value (a constant sealed under the key) is written to SQLite; each
later start opens it, so a data dir is never served, let alone written, under a key other than
the one it was written with.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

from emulator.kms.secrets import MASTER_KEY_FILE, MasterKeyError, SecretBox

KEY_BYTES = 32
_CHECK_META = "master_key_check"
_CHECK_PLAINTEXT = b"ccemu master key check v1"

IN_DATA_DIR_WARNING = (
    "the master key is kept in {path}, inside the data dir. It protects what is copied or leaked"
    " without that file: a backup or copy of state.db and repos/ alone, a database file sent"
    " somewhere. It does NOT protect against anyone who can read the whole data dir or copies"
    " it whole: the key travels with the data. To keep the key apart from the data, move it"
    " out and start with --master-key-file PATH or CCEMU_MASTER_KEY=<64 hex digits>."
)


@dataclass(frozen=True)
class MasterKey:
    key: bytes
    source: str  # where it came from, for messages: a path or "CCEMU_MASTER_KEY"
    warning: str | None  # what to tell the operator at start, if anything


def _parse(text: str, source: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise MasterKeyError(f"{source} must hold 64 hex digits (a 32-byte key)") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{source} must hold 64 hex digits (a 32-byte key)")
    return key


def _read_file(path: Path) -> bytes:
    try:
        text = path.read_text()
    except OSError as exc:
        raise MasterKeyError(f"cannot read the master key file {path}: {exc.strerror}") from None
    return _parse(text, str(path))


def _generate(path: Path) -> bytes:
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return key


def _loose_permissions(path: Path) -> str | None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"the master key file {path} is readable by others (mode {stat.S_IMODE(mode):o});"
            " chmod 600 it"
        )
    return None


def _recorded_check(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_CHECK_META,)).fetchone()
    return None if row is None else str(row[0])


def load(data_dir: Path, key_file: Path | None, env: str | None, *, first_start: bool) -> MasterKey:
    """Find (or, on a first start, generate) the master key. Never generates a key for a data
    dir that was already started: that would only hide the real problem, a missing key."""
    if key_file is not None:
        if not key_file.exists() and first_start:
            return MasterKey(_generate(key_file), str(key_file), _loose_permissions(key_file))
        return MasterKey(_read_file(key_file), str(key_file), _loose_permissions(key_file))
    if env:
        return MasterKey(_parse(env, "CCEMU_MASTER_KEY"), "CCEMU_MASTER_KEY", None)
    path = data_dir / MASTER_KEY_FILE
    if not path.exists():
        if not first_start:
            raise MasterKeyError(
                f"the data dir {data_dir} was written with a master key, but none was given and"
                f" {path} does not exist: start with --master-key-file PATH or CCEMU_MASTER_KEY"
                " set to the key it was written with"
            )
        _generate(path)
    key = _read_file(path)
    notes = [IN_DATA_DIR_WARNING.format(path=path), _loose_permissions(path)]
    return MasterKey(key, str(path), " ".join(n for n in notes if n))


def open_master_key(
    conn: sqlite3.Connection, data_dir: Path, key_file: Path | None, env: str | None
) -> MasterKey:
    """The master key the data dir was written with, or MasterKeyError before anything is
    written. Records the key check value on the first start."""
    recorded = _recorded_check(conn)
    master = load(data_dir, key_file, env, first_start=recorded is None)
    box = SecretBox(master.key, purpose=b"ccemu master key check")
    aad = _CHECK_META.encode()
    if recorded is None:
        sealed = box.seal(_CHECK_PLAINTEXT, aad)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (_CHECK_META, sealed.hex())
        )
        recorded = _recorded_check(conn)
        assert recorded is not None
    try:
        ok = box.open(bytes.fromhex(recorded), aad) == _CHECK_PLAINTEXT
    except (MasterKeyError, ValueError):
        ok = False
    if not ok:
        raise MasterKeyError(
            f"the master key from {master.source} is not the one the data dir {data_dir} was"
            " written with; refusing to start (nothing was changed). Start with the original key"
            " (--master-key-file PATH or CCEMU_MASTER_KEY)."
        )
    return master
