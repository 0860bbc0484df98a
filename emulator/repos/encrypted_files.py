"""A repository's files encrypted at rest: `RepoFiles` over `LocalRepoFiles`.

Published files (packs, indexes, retirement markers) are in the segmented AEAD format
(`emulator.kms.segmented`) under file keys derived from the repository's data key, with the
repository id and the file's relative path bound in, so `open_read` gives a seekable plaintext
view that decrypts only what is read, and `size` is the plaintext size, known from the file
size alone.

Scratch files (a push's quarantine pack and index, a merge's output) never hold plaintext
either: each is XORed with an AES-256-CTR keystream under a random key that exists only in
this object's memory, so it is random-access for the indexer's read-back and for dulwich's
thin-pack completion, costs one AES pass, and is unreadable garbage if the process dies before
start-up cleanup removes it. Scratch files are confidential, not authenticated: they live for
one request and are read only by the request that wrote them, and the content is checked
(pack checksum, object ids) before it is published. `publish` decrypts the scratch file,
encrypts it into a temp file next to the destination, fsyncs it, renames it into place, fsyncs
the directory and removes the scratch file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO, Protocol

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from emulator.kms.secrets import MasterKeyError
from emulator.kms.segmented import (
    AES_GCM,
    MAGIC,
    NullCipher,
    SegmentCipher,
    SegmentedReader,
    SegmentedWriter,
    plaintext_size,
)
from emulator.repos.files import TEMP_PREFIX, LocalRepoFiles, ScratchFile, fsync_dir
from emulator.repos.model import Repository

_COPY_CHUNK = 1 << 20

# Benchmark only (bench/encryption.py): store packs with `NullCipher`, to measure what
# encryption costs against the very same code. Never set it for real data.
BENCH_NULL_CIPHER_ENV = "CCEMU_BENCH_NULL_CIPHER"


class StoredCipherMismatch(MasterKeyError):
    """The data dir holds packs written with another cipher than the one asked for."""


def cipher_from_env(root: Path, environ: Mapping[str, str] | None = None) -> SegmentCipher:
    """AES-GCM, or `NullCipher` when the benchmark-only variable asks for it. Refuses (at start
    up) a data dir whose stored packs were written with the other one, so a benchmark run can
    never open real data without its integrity checks, nor the reverse."""
    env = os.environ if environ is None else environ
    cipher: SegmentCipher = NullCipher() if env.get(BENCH_NULL_CIPHER_ENV) == "1" else AES_GCM
    for path in root.glob("*/objects/pack/*"):
        if path.name.startswith(TEMP_PREFIX):
            continue
        with open(path, "rb") as f:
            head = f.read(len(MAGIC) + 2)
        if head[: len(MAGIC)] == MAGIC and head[-1] != cipher.cipher_id:
            raise StoredCipherMismatch(
                f"{path} was written with cipher {head[-1]}, not {cipher.cipher_id}: "
                f"{BENCH_NULL_CIPHER_ENV} is for benchmark data dirs only"
            )
    return cipher


class DataKeyProvider(Protocol):
    def data_key(self, repo: Repository) -> bytes:
        """The repository's 32-byte data key. Raises the CodeCommit encryption errors
        (`EncryptionKeyDisabledException`, ...) when the key cannot be used."""
        ...


class _Keystream:
    """AES-256-CTR keystream XOR at any byte offset (its own inverse)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._nonce = secrets.token_bytes(8)  # high half of the counter block; low = block no.

    def __call__(
        self, data: bytes | bytearray | memoryview, offset: int
    ) -> bytes | bytearray | memoryview:
        block, skip = divmod(offset, 16)
        counter = self._nonce + block.to_bytes(8, "big")
        ctx = Cipher(algorithms.AES(self._key), modes.CTR(counter)).encryptor()
        if skip:
            ctx.update(bytes(skip))
        return ctx.update(data)


class EncryptedRepoFiles:
    """One repository's files, encrypted. The data key is asked for on first use (so deleting
    a repository whose key is disabled still works) and kept for the life of this object."""

    def __init__(
        self,
        inner: LocalRepoFiles,
        repo: Repository,
        keys: DataKeyProvider,
        cipher: SegmentCipher = AES_GCM,
    ) -> None:
        self.inner = inner
        self.repo = repo
        self._keys = keys
        self._cipher = cipher
        self._data_key: bytes | None = None
        self._scratch: dict[Path, _Keystream] = {}

    @property
    def root(self) -> Path:
        return self.inner.root

    @property
    def owner(self) -> str:
        return self.inner.owner

    def _key(self) -> bytes:
        if self._data_key is None:
            self._data_key = self._keys.data_key(self.repo)
        return self._data_key

    # -- published files --------------------------------------------------------------------

    def list(self, directory: str) -> list[str]:
        return self.inner.list(directory)

    def open_read(self, relpath: str) -> BinaryIO:
        key = self._key()
        raw = self.inner.open_read(relpath)
        reader = SegmentedReader(raw, key, self.repo.id, relpath, self._cipher)
        return reader  # type: ignore[return-value]  # implements the read side of BinaryIO

    def size(self, relpath: str) -> int:
        return plaintext_size(self.inner.size(relpath))

    def mtime(self, relpath: str) -> float:
        return self.inner.mtime(relpath)

    def identity(self, relpath: str) -> tuple[str, int, int, int]:
        return self.inner.identity(relpath)

    def publish(self, relpath: str, source: Path) -> None:
        """Encrypt `source` (plain, or a scratch file of this store) into `relpath`; the
        source is removed whatever happens."""
        try:
            key = self._key()
            dest = self.inner.path(relpath)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.parent / f"{TEMP_PREFIX}{dest.name}-{secrets.token_hex(8)}"
            try:
                with self._open_source(source) as src, open(tmp, "xb") as out:
                    writer = SegmentedWriter(out, key, self.repo.id, relpath, self._cipher)
                    while data := src.read(_COPY_CHUNK):
                        writer.write(data)
                    writer.close()
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, dest)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            fsync_dir(dest.parent)
        finally:
            self._scratch.pop(source, None)
            source.unlink(missing_ok=True)

    def _open_source(self, source: Path) -> contextlib.AbstractContextManager[BinaryIO]:
        stream = self._scratch.get(source)
        if stream is None:
            return open(source, "rb")
        return ScratchFile(source, stream)  # type: ignore[return-value]

    def delete(self, relpath: str) -> None:
        self.inner.delete(relpath)

    def destroy(self) -> None:
        self.inner.destroy()

    # -- scratch ----------------------------------------------------------------------------

    def scratch_dir(self) -> Path:
        return self.inner.scratch_dir()

    def create_scratch(self, prefix: str = "", suffix: str = "") -> ScratchFile:
        path = self.inner.make_scratch(prefix, suffix)
        stream = _Keystream()
        self._scratch[path] = stream
        return ScratchFile(path, stream)
