"""Index a pack while it streams in, inflating each object once (as `git index-pack` does).

`StreamIndexer` reads the pack from a `recv(n)` callable, copies it to a file, inflates every
entry as it arrives, resolves deltas against bases kept in a bounded cache keyed by offset
(a base that fell out of the cache is read back from the file), and hands each resolved object
to a callback while its content is still in memory: the object checks need no second pass.
REF_DELTA bases outside the pack (a thin pack) come from `external(sha)`.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from dulwich.pack import apply_delta

OFS_DELTA, REF_DELTA = 6, 7
_TYPE_HEADERS = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_CHUNK = 1 << 20
_MAX_CHAIN = 10_000  # git's default depth is 50

# (type 1-4, content) of a base outside the pack, or None if the store lacks it.
External = Callable[[bytes], "tuple[int, bytes] | None"]
# Called with (type, binary sha, content) for every object of the pack.
OnObject = Callable[[int, bytes, bytes], None]


class PackError(Exception):
    """The received bytes are not a valid pack."""


@dataclass
class _Entry:
    pack_type: int
    data_start: int  # absolute offset of the zlib stream
    end: int  # absolute offset past the entry
    base: int | bytes | None  # base offset (OFS_DELTA, or REF_DELTA found in the pack) or sha


@dataclass
class IndexedPack:
    entries: list[tuple[bytes, int, int]]  # (binary sha, offset, crc32), in pack order
    types: dict[bytes, int]  # binary sha -> type 1-4
    checksum: bytes  # the pack's trailing SHA-1
    external_bases: dict[bytes, tuple[int, bytes]] = field(default_factory=dict)


class StreamIndexer:
    def __init__(
        self,
        recv: Callable[[int], bytes],
        out: BinaryIO,
        external: External,
        on_object: OnObject,
        max_object_size: int,
        cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._recv = recv
        self._out = out
        self._external = external
        self._on_object = on_object
        self._max_size = max_object_size
        self._buf = b""
        self._pos = 0  # read position in _buf
        self._buf_start = 0  # stream offset of _buf[0]
        self._written = 0  # bytes of _buf already written and hashed
        self._hash = hashlib.sha1()  # noqa: S324 - git's pack checksum
        self._eof = False
        self._entries: dict[int, _Entry] = {}
        self._sha_offsets: dict[bytes, int] = {}
        self._types: dict[bytes, int] = {}
        self._cache: OrderedDict[int, tuple[int, bytes]] = OrderedDict()
        self._cache_bytes = 0
        self._cache_budget = cache_bytes
        self._external_bases: dict[bytes, tuple[int, bytes]] = {}

    # -- the byte stream ---------------------------------------------------------------------

    def _fill(self, n: int) -> bool:
        """Make at least `n` unread bytes available if the stream has them."""
        while len(self._buf) - self._pos < n and not self._eof:
            data = self._recv(max(_CHUNK, n))
            if not data:
                self._eof = True
                break
            self._flush()
            # keep only the unread part; written bytes are on disk already
            self._buf_start += self._pos
            self._written -= self._pos
            self._buf = self._buf[self._pos :] + data
            self._pos = 0
        return len(self._buf) - self._pos >= n

    def _flush(self) -> None:
        """Write and hash the consumed bytes not yet written."""
        if self._pos > self._written:
            chunk = memoryview(self._buf)[self._written : self._pos]
            self._out.write(chunk)
            self._hash.update(chunk)
            self._written = self._pos

    def _take(self, n: int) -> bytes:
        if not self._fill(n):
            raise PackError("pack is truncated")
        data = self._buf[self._pos : self._pos + n]
        self._pos += n
        return data

    @property
    def _offset(self) -> int:
        return self._buf_start + self._pos

    # -- entries -----------------------------------------------------------------------------

    def run(self) -> IndexedPack | None:
        """Read, copy and index the whole pack; None if it holds no objects."""
        header = self._take(12)
        if header[:4] != b"PACK":
            raise PackError("not a pack (bad signature)")
        version = int.from_bytes(header[4:8], "big")
        if version not in (2, 3):
            raise PackError(f"unsupported pack version {version}")
        count = int.from_bytes(header[8:12], "big")
        entries: list[tuple[bytes, int, int]] = []
        pending: list[tuple[int, bytes, bytes]] = []  # (offset, base sha, delta) for later bases
        for _ in range(count):
            offset, crc, resolved = self._read_entry(pending)
            if resolved is not None:
                entries.append((resolved, offset, crc))
            else:
                entries.append((b"", offset, crc))
        self._flush()
        trailer = self._take(20)
        if trailer != self._hash.digest():
            raise PackError("pack checksum mismatch")
        self._out.write(trailer)
        self._out.flush()
        if count == 0:
            return None
        if pending:
            self._resolve_pending(pending, entries)
        return IndexedPack(entries, self._types, trailer, self._external_bases)

    def _read_entry(self, pending: list[tuple[int, bytes, bytes]]) -> tuple[int, int, bytes | None]:
        offset = self._offset
        start_pos = self._pos
        self._fill(32)
        buf, i = self._buf, self._pos
        try:
            c = buf[i]
            typ = (c >> 4) & 7
            size = c & 15
            shift = 4
            i += 1
            while c & 0x80:
                c = buf[i]
                i += 1
                size |= (c & 0x7F) << shift
                shift += 7
            base: int | bytes | None = None
            if typ == OFS_DELTA:
                c = buf[i]
                i += 1
                rel = c & 0x7F
                while c & 0x80:
                    c = buf[i]
                    i += 1
                    rel = ((rel + 1) << 7) | (c & 0x7F)
                base = offset - rel
                if rel <= 0 or base not in self._entries:
                    raise PackError(f"bad delta base offset at {offset}")
            elif typ == REF_DELTA:
                base = buf[i : i + 20]
                if len(base) != 20:
                    raise PackError("pack is truncated")
                i += 20
            elif typ not in _TYPE_HEADERS:
                raise PackError(f"bad object type {typ} at offset {offset}")
        except IndexError:
            raise PackError("pack is truncated") from None
        if size > self._max_size:
            raise PackSizeError(
                f"an object of {size} bytes exceeds the limit of {self._max_size} bytes"
            )
        crc = zlib.crc32(buf[start_pos:i])
        self._pos = i
        data_start = self._offset
        body, crc = self._inflate(size, crc)
        end = self._offset
        entry = _Entry(typ, data_start, end, base)
        self._entries[offset] = entry
        if typ in _TYPE_HEADERS:
            return offset, crc, self._resolved(offset, typ, body)
        if isinstance(base, bytes):
            found = self._sha_offsets.get(base)
            if found is not None:
                entry.base = found
            else:
                ext = self._external_base(base)
                if ext is None:
                    pending.append((offset, base, body))
                    return offset, crc, None
                typ_b, data_b = ext
                return offset, crc, self._resolved(offset, typ_b, _patch(data_b, body))
        assert isinstance(entry.base, int)
        typ_b, data_b = self._content_at(entry.base)
        return offset, crc, self._resolved(offset, typ_b, _patch(data_b, body))

    def _inflate(self, size: int, crc: int) -> tuple[bytes, int]:
        """The inflated entry data at the read position, and `crc` extended over its zlib
        stream."""
        d = zlib.decompressobj()
        parts: list[bytes] = []
        want = size + 5 * (size >> 14) + 32
        while True:
            if not self._fill(1):
                raise PackError("pack is truncated")
            window = self._buf[self._pos : self._pos + want]
            try:
                parts.append(d.decompress(window))
            except zlib.error as exc:
                raise PackError(f"corrupt object data: {exc}") from None
            used = len(window) - len(d.unused_data)
            crc = zlib.crc32(memoryview(window)[:used], crc)
            self._pos += used
            if d.eof:
                break
            want = _CHUNK
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        if len(body) != size:
            raise PackError("object size does not match its header")
        return body, crc

    def _resolved(self, offset: int, typ: int, content: bytes) -> bytes:
        if len(content) > self._max_size:
            raise PackSizeError(
                f"an object of {len(content)} bytes exceeds the limit of {self._max_size} bytes"
            )
        h = hashlib.sha1(b"%s %d\0" % (_TYPE_HEADERS[typ], len(content)))  # noqa: S324
        h.update(content)
        sha = h.digest()
        self._sha_offsets.setdefault(sha, offset)
        self._types[sha] = typ
        self._remember(offset, typ, content)
        self._on_object(typ, sha, content)
        return sha

    def _remember(self, offset: int, typ: int, content: bytes) -> None:
        if len(content) > self._cache_budget // 8:
            return
        self._cache[offset] = (typ, content)
        self._cache_bytes += len(content)
        while self._cache_bytes > self._cache_budget:
            _, (_, old) = self._cache.popitem(last=False)
            self._cache_bytes -= len(old)

    def _external_base(self, sha: bytes) -> tuple[int, bytes] | None:
        hit = self._external_bases.get(sha)
        if hit is None:
            hit = self._external(sha)
            if hit is not None:
                self._external_bases[sha] = hit
        return hit

    def _content_at(self, offset: int) -> tuple[int, bytes]:
        """Type and content of the object at `offset`: from the cache, else from the file."""
        hit = self._cache.get(offset)
        if hit is not None:
            self._cache.move_to_end(offset)
            return hit
        self._flush()
        self._out.flush()
        chain: list[tuple[int, bytes]] = []
        cur = offset
        while True:
            hit = self._cache.get(cur)
            if hit is not None:
                typ, data = hit
                break
            entry = self._entries[cur]
            # read back through the file object (it may be encrypted), then append again
            self._out.seek(entry.data_start)
            raw = self._out.read(entry.end - entry.data_start)
            self._out.seek(0, os.SEEK_END)
            body = zlib.decompress(raw)
            if entry.pack_type in _TYPE_HEADERS:
                typ, data = entry.pack_type, body
                break
            if isinstance(entry.base, bytes):  # a base outside the pack
                typ, data = self._external_bases[entry.base]
                chain.append((cur, body))
                break
            chain.append((cur, body))
            if entry.base is None or len(chain) > _MAX_CHAIN:
                raise PackError("delta chain too long or unresolved")
            cur = entry.base
        for off, delta in reversed(chain):
            data = _patch(data, delta)
            self._remember(off, typ, data)
        return typ, data

    def _resolve_pending(
        self, pending: list[tuple[int, bytes, bytes]], entries: list[tuple[bytes, int, int]]
    ) -> None:
        """REF_DELTAs whose base came later in the pack (or after another such delta)."""
        position = {off: i for i, (_, off, _) in enumerate(entries)}
        while pending:
            left = []
            for offset, base_sha, delta in pending:
                base_off = self._sha_offsets.get(base_sha)
                if base_off is None:
                    left.append((offset, base_sha, delta))
                    continue
                self._entries[offset].base = base_off
                typ, data = self._content_at(base_off)
                sha = self._resolved(offset, typ, _patch(data, delta))
                i = position[offset]
                entries[i] = (sha, offset, entries[i][2])
            if len(left) == len(pending):
                missing = ", ".join(sorted({s.hex() for _, s, _ in left})[:5])
                raise PackError(f"unresolved deltas (missing base objects {missing})")
            pending = left


class PackSizeError(PackError):
    """An object is larger than the configured limit."""


def _patch(base: bytes, delta: bytes) -> bytes:
    try:
        out = apply_delta(base, delta)
    except Exception as exc:  # dulwich raises ApplyDeltaError or ValueError
        raise PackError(f"bad delta: {exc}") from None
    return out[0] if len(out) == 1 else b"".join(out)


def write_index_v2(f: BinaryIO, entries: list[tuple[bytes, int, int]], pack_sha: bytes) -> None:
    """Write a version-2 `.idx` for `entries` (binary sha, offset, crc32), sorted by sha."""
    counts = [0] * 256
    for sha, _, _ in entries:
        counts[sha[0]] += 1
    fanout = []
    total = 0
    for c in counts:
        total += c
        fanout.append(total)
    small: list[int] = []
    large: list[int] = []
    for _, offset, _ in entries:
        if offset < 0x80000000:
            small.append(offset)
        else:
            small.append(0x80000000 | len(large))
            large.append(offset)
    n = len(entries)
    parts = [
        b"\xfftOc\x00\x00\x00\x02",
        struct.pack(">256I", *fanout),
        b"".join(sha for sha, _, _ in entries),
        struct.pack(f">{n}I", *(crc for _, _, crc in entries)),
        struct.pack(f">{n}I", *small),
        struct.pack(f">{len(large)}Q", *large),
        pack_sha,
    ]
    data = b"".join(parts)
    f.write(data + hashlib.sha1(data).digest())  # noqa: S324 - git's index checksum
