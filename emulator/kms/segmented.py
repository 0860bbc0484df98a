"""The segmented AEAD file format that every stored pack and index is written in.

A file is a header followed by segments. Each segment holds up to `segment_size` (64 KiB)
bytes of plaintext, sealed on its own with AES-256-GCM, so a reader can seek anywhere and
decrypt only the segments it touches::

    header   magic "CCSG" | version 1 (1 byte) | cipher id (1 byte) | segment size (4 bytes BE)
             | salt (16 bytes) | nonce prefix (7 bytes)                            = 33 bytes
    segment  ciphertext of up to `segment_size` bytes | 16-byte GCM tag   (repeated)

- File key: HKDF-SHA256(IKM = the repository's data key, salt = the header's salt,
  info = "ccemu segmented v1\\0" + repository id + "\\0" + the file's relative path). A file
  copied to another path or another repository derives another key and does not open.
- Nonce of segment i: nonce prefix (7 random bytes) | i (4 bytes BE) | last flag (1 byte:
  1 on the final segment, else 0). Reordered segments fail (the index is in the nonce); a file
  cut at a segment boundary fails (its new final segment was sealed with flag 0); bytes
  appended fail (the old final segment was sealed with flag 1). This is the construction of
  Hoang, Reyhanitabar, Rogaway and Vizár ("online AE", STREAM), as in Tink's streaming AEAD.
- The whole header is the associated data of every segment: changing the segment size, the
  salt, the nonce prefix or the cipher id fails every segment.
- The last segment holds 1..segment_size bytes (0 only for an empty file: one empty segment),
  so the plaintext size follows from the file size alone (`plaintext_size`); truncation is
  caught when the final segment is read, and a read at or past the end checks it first.

Any failure raises `EncryptionIntegrityChecksFailedException` (a `ClientError`): never wrong
bytes. The cipher is pluggable only so that a benchmark can measure the cost of encryption
against the same code with `NullCipher`; files record their cipher id and a store only opens
files of the cipher it was built with.
"""

from __future__ import annotations

import io
import os
import secrets
import struct
from collections import OrderedDict
from typing import BinaryIO, Protocol, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from emulator.codecommit_errors import error
from emulator.errors import ClientError

MAGIC = b"CCSG"
VERSION = 1
SEGMENT_SIZE = 64 * 1024
TAG_SIZE = 16
SALT_SIZE = 16
PREFIX_SIZE = 7
_HEADER = struct.Struct(f">4sBBI{SALT_SIZE}s{PREFIX_SIZE}s")
HEADER_SIZE = _HEADER.size
_INFO = b"ccemu segmented v1\0"
_CACHED_SEGMENTS = 4

Bytes = bytes | bytearray | memoryview


def integrity_error(detail: str) -> ClientError:
    return error("EncryptionIntegrityChecksFailedException", "file", detail=detail)


class _ReadsInto(Protocol):
    def readinto(self, buffer: memoryview, /) -> int: ...


class Aead(Protocol):
    """One file key: AESGCM's `encrypt(nonce, data, aad)` / `decrypt(nonce, data, aad)`."""

    def encrypt(self, nonce: bytes, data: Bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: Bytes, associated_data: bytes | None) -> bytes: ...


class SegmentCipher(Protocol):
    cipher_id: int

    def aead(self, key: bytes) -> Aead: ...


class AesGcmCipher:
    """AES-256-GCM: the only cipher ccemu stores data with."""

    cipher_id = 1

    def aead(self, key: bytes) -> Aead:
        return AESGCM(key)


class _NullAead:
    _TAG = bytes(TAG_SIZE)

    def encrypt(self, nonce: bytes, data: Bytes, associated_data: bytes | None) -> bytes:
        return bytes(data) + self._TAG

    def decrypt(self, nonce: bytes, data: Bytes, associated_data: bytes | None) -> bytes:
        view = memoryview(data)
        if len(view) < TAG_SIZE:
            raise InvalidTag
        return bytes(view[:-TAG_SIZE])


class NullCipher:
    """No encryption, same layout and the same copies: for benchmarks only (see
    bench/encryption.py). Its files record cipher id 0, so a store using AES-GCM refuses them."""

    cipher_id = 0

    def aead(self, key: bytes) -> Aead:
        return _NullAead()


AES_GCM = AesGcmCipher()


def file_key(data_key: bytes, salt: bytes, repo_id: str, relpath: str) -> bytes:
    info = _INFO + repo_id.encode() + b"\0" + relpath.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(data_key)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= 1 << 32:
        raise ValueError("file too large for the segmented format")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def plaintext_size(file_size: int, segment_size: int = SEGMENT_SIZE) -> int:
    """The plaintext size of a file of `file_size` bytes, from its layout alone."""
    body = file_size - HEADER_SIZE
    if body < TAG_SIZE:
        raise integrity_error("encrypted file is truncated")
    stride = segment_size + TAG_SIZE
    count = -(-body // stride)
    last = body - (count - 1) * stride
    if last < TAG_SIZE:
        raise integrity_error("encrypted file is truncated")
    return body - count * TAG_SIZE


class SegmentedWriter:
    """Encrypts a stream into `out`, holding at most one segment of plaintext. `close()` seals
    the final segment; a writer that is not closed leaves a file that fails to open."""

    def __init__(
        self,
        out: BinaryIO,
        data_key: bytes,
        repo_id: str,
        relpath: str,
        cipher: SegmentCipher = AES_GCM,
        segment_size: int = SEGMENT_SIZE,
    ) -> None:
        salt = secrets.token_bytes(SALT_SIZE)
        self._prefix = secrets.token_bytes(PREFIX_SIZE)
        self._header = _HEADER.pack(
            MAGIC, VERSION, cipher.cipher_id, segment_size, salt, self._prefix
        )
        self._aead = cipher.aead(file_key(data_key, salt, repo_id, relpath))
        self._out = out
        self._segment_size = segment_size
        self._buf = bytearray()
        self._index = 0
        self._closed = False
        out.write(self._header)

    def write(self, data: Bytes) -> int:
        view = memoryview(data)
        n = len(view)
        size = self._segment_size
        if self._buf:
            take = min(n, size - len(self._buf))
            self._buf += view[:take]
            view = view[take:]
            if not view:
                return n
            self._seal(self._buf, last=False)
            self._buf = bytearray()
        # whole segments straight from the caller's buffer; keep the tail (it may be the last)
        while len(view) > size:
            self._seal(view[:size], last=False)
            view = view[size:]
        self._buf += view
        return n

    def _seal(self, plain: Bytes, last: bool) -> None:
        nonce = _nonce(self._prefix, self._index, last)
        self._out.write(self._aead.encrypt(nonce, plain, self._header))
        self._index += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._seal(self._buf, last=True)
            self._buf = bytearray()

    def __enter__(self) -> SegmentedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()


def encrypt_file(
    source: BinaryIO,
    out: BinaryIO,
    data_key: bytes,
    repo_id: str,
    relpath: str,
    cipher: SegmentCipher = AES_GCM,
    chunk: int = 1 << 20,
) -> None:
    with SegmentedWriter(out, data_key, repo_id, relpath, cipher) as writer:
        while data := source.read(chunk):
            writer.write(data)


class SegmentedReader:
    """A read-only, seekable binary file over an encrypted file. Reads decrypt only the
    segments they touch; the last few decrypted segments are kept for small sequential reads.
    Not thread-safe (like any file object)."""

    def __init__(
        self,
        raw: BinaryIO,
        data_key: bytes,
        repo_id: str,
        relpath: str,
        cipher: SegmentCipher = AES_GCM,
        file_size: int | None = None,
    ) -> None:
        self._raw = raw
        try:
            header = raw.read(HEADER_SIZE)
            if len(header) != HEADER_SIZE:
                raise integrity_error(f"{relpath}: encrypted file header is truncated")
            magic, version, cipher_id, segment_size, salt, prefix = _HEADER.unpack(header)
            if magic != MAGIC or version != VERSION:
                raise integrity_error(f"{relpath}: not an encrypted ccemu file")
            if cipher_id != cipher.cipher_id or not 1024 <= segment_size <= 1 << 24:
                raise integrity_error(f"{relpath}: encrypted file header does not verify")
            if file_size is None:
                file_size = os.fstat(raw.fileno()).st_size
            self._size = plaintext_size(file_size, segment_size)
        except BaseException:
            raw.close()
            raise
        self._relpath = relpath
        self._header = header
        self._prefix = prefix
        self._segment_size = segment_size
        self._stride = segment_size + TAG_SIZE
        self._count = max(1, -(-self._size // segment_size))
        self._aead = cipher.aead(file_key(data_key, salt, repo_id, relpath))
        self._pos = 0
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._verified_end = False
        self._scratch = bytearray()
        # AESGCM's decrypt_into (cryptography 45 and later); else decrypt and copy
        self._aead_into = getattr(self._aead, "decrypt_into", None)
        self.closed = False

    # -- io.RawIOBase-like interface ------------------------------------------------------

    @property
    def size(self) -> int:
        return self._size

    @property
    def name(self) -> str:
        return self._relpath

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            pos = offset
        elif whence == os.SEEK_CUR:
            pos = self._pos + offset
        elif whence == os.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError(22, "negative seek position")
        self._pos = pos
        return pos

    def read(self, n: int | None = -1) -> bytes:
        pos = self._pos
        end = self._size if n is None or n < 0 else min(self._size, pos + n)
        if pos >= end:
            if not self._verified_end:  # a truncated file must not look like a short one
                self._segment(self._count - 1)
            return b""
        first = pos // self._segment_size
        last = (end - 1) // self._segment_size
        if first == last:
            seg = self._segment(first)
            base = first * self._segment_size
            data = seg[pos - base : end - base]
        else:
            data = b"".join(self._segments(first, last, pos, end))
        self._pos = end
        return data

    def read1(self, n: int = -1) -> bytes:
        return self.read(n)

    def readinto(self, buffer: Bytes) -> int:
        """Fill `buffer` from the current position; whole segments are decrypted straight into
        it (no plaintext copy of their own), and the sealed bytes go through one scratch buffer
        kept by the reader, so a long sequential read allocates next to nothing per call."""
        view = memoryview(buffer).cast("B")
        pos = self._pos
        end = min(self._size, pos + len(view))
        if pos >= end:
            if not self._verified_end:
                self._segment(self._count - 1)
            return 0
        size = self._segment_size
        i = pos // size
        while pos < end:
            base = i * size
            stop = min(base + size, self._size)
            if pos != base or stop > end or i in self._cache:  # a part, or already decrypted
                seg = self._segment(i)
                hi = min(end, stop)
                view[pos - self._pos : hi - self._pos] = seg[pos - base : hi - base]
                pos = hi
                i += 1
                continue
            j = i  # whole segments i..j-1, none decrypted yet
            while (
                j < self._count and min((j + 1) * size, self._size) <= end and j not in self._cache
            ):
                j += 1
            sealed = self._read_sealed_into(i, j - 1)
            for k in range(i, j):
                off = (k - i) * self._stride
                lo = k * size - self._pos
                plain = view[lo : lo + min(size, self._size - k * size)]
                self._decrypt_into(k, sealed[off : off + len(plain) + TAG_SIZE], plain)
            pos = min(j * size, self._size)
            i = j
        n = end - self._pos
        self._pos = end
        return n

    def readall(self) -> bytes:
        return self.read()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._cache.clear()
            self._scratch = bytearray()
            self._raw.close()

    def fileno(self) -> int:
        # dulwich maps a file when it has a descriptor; this one must be read instead
        raise io.UnsupportedOperation("an encrypted file has no plaintext descriptor")

    def __enter__(self) -> SegmentedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- segments -------------------------------------------------------------------------

    def _decrypt(self, index: int, sealed: Bytes) -> bytes:
        last = index == self._count - 1
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, index, last), sealed, self._header)
        except InvalidTag:
            raise self._damaged(index) from None
        if last:
            self._verified_end = True
        return plain

    def _decrypt_into(self, index: int, sealed: memoryview, out: memoryview) -> None:
        """As `_decrypt`, the plaintext written into `out` (its exact length)."""
        into = self._aead_into
        if into is None:
            out[:] = self._decrypt(index, sealed)
            return
        last = index == self._count - 1
        try:
            into(_nonce(self._prefix, index, last), sealed, self._header, out)
        except InvalidTag:
            raise self._damaged(index) from None
        if last:
            self._verified_end = True

    def _damaged(self, index: int) -> ClientError:
        return integrity_error(f"{self._relpath}: segment {index} failed its integrity check")

    def _segment(self, index: int) -> bytes:
        hit = self._cache.get(index)
        if hit is not None:
            self._cache.move_to_end(index)
            return hit
        sealed = self._read_sealed(index, index)
        plain = self._decrypt(index, sealed)
        self._remember(index, plain)
        return plain

    def _remember(self, index: int, plain: bytes) -> None:
        self._cache[index] = plain
        if len(self._cache) > _CACHED_SEGMENTS:
            self._cache.popitem(last=False)

    def _sealed_span(self, first: int, last: int) -> tuple[int, int]:
        """(offset, length) in the file of the sealed segments first..last."""
        length = (last - first + 1) * self._stride
        if last == self._count - 1:
            length -= self._stride - (self._size - last * self._segment_size + TAG_SIZE)
        return HEADER_SIZE + first * self._stride, length

    def _read_sealed(self, first: int, last: int) -> bytes:
        """The sealed bytes of segments first..last, read in one call."""
        start, length = self._sealed_span(first, last)
        self._raw.seek(start)
        sealed = self._raw.read(length)
        if len(sealed) != length:
            raise integrity_error(f"{self._relpath}: encrypted file is truncated")
        return sealed

    def _read_sealed_into(self, first: int, last: int) -> memoryview:
        """As `_read_sealed`, into the reader's scratch buffer (valid until the next call)."""
        start, length = self._sealed_span(first, last)
        if len(self._scratch) < length:
            self._scratch = bytearray(length)
        sealed = memoryview(self._scratch)[:length]
        self._raw.seek(start)
        got = 0
        while got < length:
            n = cast(_ReadsInto, self._raw).readinto(sealed[got:])
            if not n:
                raise integrity_error(f"{self._relpath}: encrypted file is truncated")
            got += n
        return sealed

    def _segments(self, first: int, last: int, pos: int, end: int) -> list[bytes]:
        """Plaintext pieces covering [pos, end), which spans segments first..last."""
        size = self._segment_size
        pieces: list[bytes] = []
        i = first
        while i <= last:
            hit = self._cache.get(i)
            if hit is not None:
                plain = hit
                j = i + 1
                parts = [plain]
            else:
                j = i
                while j <= last and j not in self._cache:
                    j += 1
                sealed = memoryview(self._read_sealed(i, j - 1))
                parts = []
                for k in range(i, j):
                    off = (k - i) * self._stride
                    parts.append(self._decrypt(k, sealed[off : off + self._stride]))
            for k, plain in enumerate(parts, start=i):
                base = k * size
                lo = max(pos, base) - base
                hi = min(end, base + size) - base
                pieces.append(plain if lo == 0 and hi == len(plain) else plain[lo:hi])
            i = j
        # a sequential reader starts its next read in the last segment it touched
        self._remember(last, parts[-1])
        return pieces
