"""The pack-store seam: a repository's files, addressed by relative path.

Everything a repository keeps on disk (pack files and their indexes) goes through `RepoFiles`,
so a wrapper can encrypt at rest without the git code knowing (`encrypted_files`). Writes are
atomic: a temp file is fsynced, renamed into place, and the directory fsynced.

Files being built (a push's quarantine pack, a merge's output) are `ScratchFile`s made by
`create_scratch`: read-write, seekable, and written in whatever form the store keeps scratch
data in (plain here; encrypted under a key that lives only in memory in the encrypted store).
They are published with `publish(relpath, scratch.path)` by the store that made them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

PACK_DIR = "objects/pack"
SCRATCH_DIR = "incoming"
# A file being moved into PACK_DIR; never read, and removed at start-up (a crash may leave it).
TEMP_PREFIX = ".tmp-"

# Turns bytes at a file offset into their stored form and back (an XOR keystream, or nothing).
Transform = Callable[[bytes | bytearray | memoryview, int], bytes | bytearray | memoryview]


class ScratchFile:
    """A read-write scratch file with its own position, stored through `transform` (which must
    be its own inverse at every offset, as a stream cipher is). Reads and writes use positioned
    I/O, so there is no buffer to flush before reading back what was written."""

    def __init__(self, path: Path, transform: Transform | None = None) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        self._transform = transform
        self._pos = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        n = len(data)
        out = data if self._transform is None else self._transform(data, self._pos)
        view = memoryview(out)
        pos = self._pos
        while view:
            written = os.pwrite(self._fd, view, pos)
            view = view[written:]
            pos += written
        self._pos += n
        return n

    def pread(self, n: int, offset: int) -> bytes:
        data = os.pread(self._fd, n, offset)
        return data if self._transform is None else bytes(self._transform(data, offset))

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = max(0, os.fstat(self._fd).st_size - self._pos)
        data = self.pread(n, self._pos)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence == os.SEEK_END:
            offset += os.fstat(self._fd).st_size
        elif whence != os.SEEK_SET:
            raise ValueError(f"invalid whence {whence}")
        if offset < 0:
            raise OSError(22, "negative seek position")
        self._pos = offset
        return offset

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._fd)

    def __enter__(self) -> ScratchFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _checked_parts(relpath: str) -> list[str]:
    parts = relpath.split("/")
    if relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid repository file path: {relpath!r}")
    return parts


class RepoFiles(Protocol):
    def list(self, directory: str) -> list[str]: ...

    def open_read(self, relpath: str) -> BinaryIO: ...

    def size(self, relpath: str) -> int: ...

    def mtime(self, relpath: str) -> float: ...

    @property
    def owner(self) -> str:
        """Whose files these are (the repository id): what is cached from them is dropped
        when the repository is deleted."""
        ...

    def identity(self, relpath: str) -> tuple[str, int, int, int]:
        """(path, inode, stored size, modification time in ns): a publish, which replaces the
        file, changes it."""
        ...

    def publish(self, relpath: str, source: Path) -> None:
        """Move `source` (a finished local file) to `relpath`, atomically and durably."""
        ...

    def delete(self, relpath: str) -> None: ...

    def scratch_dir(self) -> Path:
        """A directory on the same filesystem for files being built (quarantine)."""
        ...

    def create_scratch(self, prefix: str = "", suffix: str = "") -> ScratchFile:
        """A new empty file in the scratch dir, open for reading and writing."""
        ...

    def destroy(self) -> None:
        """Remove every file of the repository."""
        ...


def fsync_dir(path: Path) -> None:
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

    @property
    def owner(self) -> str:
        return self.root.name

    def path(self, relpath: str) -> Path:
        return self.root.joinpath(*_checked_parts(relpath))

    def list(self, directory: str) -> list[str]:
        path = self.path(directory)
        try:
            return sorted(os.listdir(path))
        except FileNotFoundError:
            return []

    def open_read(self, relpath: str) -> BinaryIO:
        return open(self.path(relpath), "rb")

    def size(self, relpath: str) -> int:
        return self.path(relpath).stat().st_size

    def mtime(self, relpath: str) -> float:
        return self.path(relpath).stat().st_mtime

    def identity(self, relpath: str) -> tuple[str, int, int, int]:
        _checked_parts(relpath)
        path = os.path.join(self.root, relpath)
        st = os.stat(path)
        return path, st.st_ino, st.st_size, st.st_mtime_ns

    def publish(self, relpath: str, source: Path) -> None:
        dest = self.path(relpath)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb+") as f:
            os.fsync(f.fileno())
        if source.parent != dest.parent:
            # A unique name: two pushes of the very same pack may publish it at once, and
            # start-up removes whatever a crash leaves under this prefix (TEMP_PREFIX).
            tmp = dest.parent / f"{TEMP_PREFIX}{dest.name}-{secrets.token_hex(8)}"
            try:
                shutil.move(source, tmp)
                os.replace(tmp, dest)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        else:
            os.replace(source, dest)
        fsync_dir(dest.parent)

    def delete(self, relpath: str) -> None:
        try:
            self.path(relpath).unlink()
        except FileNotFoundError:
            pass

    def scratch_dir(self) -> Path:
        path = self.root / SCRATCH_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path

    def make_scratch(self, prefix: str = "", suffix: str = "") -> Path:
        fd, name = tempfile.mkstemp(dir=self.scratch_dir(), prefix=prefix, suffix=suffix)
        os.close(fd)
        return Path(name)

    def create_scratch(self, prefix: str = "", suffix: str = "") -> ScratchFile:
        return ScratchFile(self.make_scratch(prefix, suffix))

    def destroy(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
