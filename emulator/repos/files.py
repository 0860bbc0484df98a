"""The pack-store seam: a repository's files, addressed by relative path.

Everything a repository keeps on disk (pack files and their indexes) goes through `RepoFiles`,
so a wrapper can encrypt at rest without the git code knowing. Writes are atomic: a temp file
is fsynced, renamed into place, and the directory fsynced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

PACK_DIR = "objects/pack"


class RepoFiles(Protocol):
    def list(self, directory: str) -> list[str]: ...

    def open_read(self, relpath: str) -> BinaryIO: ...

    def size(self, relpath: str) -> int: ...

    def mtime(self, relpath: str) -> float: ...

    def publish(self, relpath: str, source: Path) -> None:
        """Move `source` (a finished local file) to `relpath`, atomically and durably."""
        ...

    def delete(self, relpath: str) -> None: ...

    def scratch_dir(self) -> Path:
        """A directory on the same filesystem for files being built (quarantine)."""
        ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalRepoFiles:
    """Plain files under one directory per repository (named by repository id, so a rename
    touches metadata only)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, relpath: str) -> Path:
        parts = relpath.split("/")
        if relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"invalid repository file path: {relpath!r}")
        return self.root.joinpath(*parts)

    def list(self, directory: str) -> list[str]:
        path = self._path(directory)
        try:
            return sorted(os.listdir(path))
        except FileNotFoundError:
            return []

    def open_read(self, relpath: str) -> BinaryIO:
        return open(self._path(relpath), "rb")

    def size(self, relpath: str) -> int:
        return self._path(relpath).stat().st_size

    def mtime(self, relpath: str) -> float:
        return self._path(relpath).stat().st_mtime

    def publish(self, relpath: str, source: Path) -> None:
        dest = self._path(relpath)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb+") as f:
            os.fsync(f.fileno())
        if source.parent != dest.parent:
            tmp = dest.parent / f".tmp-{dest.name}-{os.getpid()}"
            shutil.move(source, tmp)
            source = tmp
        os.replace(source, dest)
        _fsync_dir(dest.parent)

    def delete(self, relpath: str) -> None:
        try:
            self._path(relpath).unlink()
        except FileNotFoundError:
            pass

    def scratch_dir(self) -> Path:
        path = self.root / "incoming"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def make_scratch(self, suffix: str = "") -> Path:
        fd, name = tempfile.mkstemp(dir=self.scratch_dir(), suffix=suffix)
        os.close(fd)
        return Path(name)

    def destroy(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
