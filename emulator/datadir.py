"""The data dir is private to its owner: the directory and every directory in it 0700, every file
0600.

State (policies, repository, branch and tag names), keys and packs live there; nothing in it is
for another local user. New files are created private (`ccemu` runs with umask 077, and the state
database is created 0600 before SQLite opens it, so its WAL and shared-memory files, which SQLite
creates with the database's mode, are too). `make_private` also repairs a data dir written by an
older version or copied in with looser modes, once at start-up.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


def make_private(data_dir: Path) -> None:
    """Create `data_dir` if needed and take every group and other permission off it and off
    everything under it. Symbolic links are left alone (their mode means nothing, and what they
    point at is not ours)."""
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _restrict(data_dir, DIR_MODE)
    for dirpath, dirnames, filenames in os.walk(data_dir):
        for name in dirnames:
            _restrict(Path(dirpath, name), DIR_MODE)
        for name in filenames:
            _restrict(Path(dirpath, name), FILE_MODE)


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (whatever the process umask)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def _restrict(path: Path, mode: int) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return  # removed meanwhile (a scratch file)
    if stat.S_ISLNK(st.st_mode):
        return
    current = stat.S_IMODE(st.st_mode)
    if current & ~mode:
        os.chmod(path, current & mode)


LOCK_FILE = "ccemu.lock"


class DataDirInUse(Exception):
    """Another process serves this data dir: two would share its state unknowingly."""


class DataDirLock:
    """An exclusive `flock` on `<data dir>/ccemu.lock`, held while the emulator is open.

    The kernel drops it when the process ends, however it ends, so a crash leaves no stale
    lock; the file keeps the holder's pid only to name it in the refusal. Readers that never
    write (`ccemu ssh-host-key`, `ccemu ca-path`) do not take it."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        self.path = data_dir / LOCK_FILE
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            who = f"pid {holder}" if holder.isdigit() else "a process that is starting"
            raise DataDirInUse(
                f"the data dir {data_dir.resolve()} is in use by another ccemu ({who}); stop"
                " it, or give this one another --data-dir"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None
