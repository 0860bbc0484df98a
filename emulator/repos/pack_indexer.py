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
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from operator import itemgetter
from typing import BinaryIO

from dulwich.pack import apply_delta

OFS_DELTA, REF_DELTA = 6, 7
_TYPE_HEADERS = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_CHUNK = 1 << 20
MAX_DELTA_DEPTH = 4095  # the deepest chain `git pack-objects --depth` makes

# (type 1-4, content) of a base outside the pack, or None if the store lacks it.
External = Callable[[bytes], "tuple[int, bytes] | None"]
# Called with (type, binary sha, content) for every object of the pack.
OnObject = Callable[[int, bytes, bytes], None]


class PackError(Exception):
    """The received bytes are not a valid pack."""


class PackWorkExceeded(PackError):
    """The pack inflates to more than a push may cost."""


class ClientGone(Exception):
    """The client hung up while its pack was being indexed."""


@dataclass(slots=True)
class _Entry:
    pack_type: int
    data_start: int  # absolute offset of the zlib stream
    end: int  # absolute offset past the entry
    base: int | bytes | None  # base offset (OFS_DELTA, or REF_DELTA found in the pack) or sha
    depth: int = 0  # links between this object and its whole base (0: not a delta)


@dataclass(frozen=True)
class WorkLimit:
    """What indexing one pack may cost, in bytes produced by inflating and patching (a base
    read back from the file and patched again counts again): `allowance` plus `ratio` times
    the pack bytes received so far. git's index-pack has no such cap; a pack that deltas
    compress a thousandfold is already far beyond any real repository's."""

    allowance: int = 1 << 30
    ratio: int = 1000


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
        work: WorkLimit | None = None,
        gone: Callable[[], bool] = lambda: False,
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
        self._work_limit = work or WorkLimit()
        self._work = 0  # bytes inflated and patched so far
        self._gone = gone

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
        pending: list[tuple[int, bytes]] = []  # (offset, base sha) of deltas with later bases
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
        # The trailer is on disk now, outside the hash: a later read-back (`_read_back` flushes
        # first) must not write it a second time.
        self._written = self._pos
        self._out.flush()
        if count == 0:
            return None
        if pending:
            self._resolve_pending(pending, entries)
        return IndexedPack(entries, self._types, trailer, self._external_bases)

    def charge(self, work: int) -> None:
        """Count `work` bytes of other processing of this pack against its work limit."""
        self._count(work)

    def object(self, sha: bytes) -> tuple[int, bytes] | None:
        """Type and content of an object of the pack (once `run` has returned, while the file
        is still open), or None if the pack does not hold it."""
        offset = self._sha_offsets.get(sha)
        return None if offset is None else self._content_at(offset)

    def _read_entry(self, pending: list[tuple[int, bytes]]) -> tuple[int, int, bytes | None]:
        if self._gone():
            raise ClientGone("the client hung up")
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
                    pending.append((offset, base))  # its delta is read back from the file
                    return offset, crc, None
                entry.depth = 1
                typ_b, data_b = ext
                return offset, crc, self._resolved(offset, typ_b, self._patch(data_b, body))
        assert isinstance(entry.base, int)
        self._set_depth(entry, entry.base)
        typ_b, data_b = self._content_at(entry.base)
        return offset, crc, self._resolved(offset, typ_b, self._patch(data_b, body))

    def _set_depth(self, entry: _Entry, base: int) -> None:
        entry.depth = self._entries[base].depth + 1
        if entry.depth > MAX_DELTA_DEPTH:
            raise PackError(f"delta chain longer than {MAX_DELTA_DEPTH} links")

    def _count(self, produced: int) -> None:
        """Charge `produced` bytes of inflating or patching to the push."""
        self._work += produced
        limit = self._work_limit
        if self._work > limit.allowance + limit.ratio * self._offset:
            raise PackWorkExceeded(
                f"the pack inflates to more than {limit.allowance} bytes plus {limit.ratio} "
                "times its size"
            )

    def _patch(self, base: bytes, delta: bytes) -> bytes:
        if self._gone():
            raise ClientGone("the client hung up")
        # The delta's header states the result size: refuse before building it.
        size = _delta_result_size(delta)
        if size > self._max_size:
            raise PackSizeError(
                f"an object of {size} bytes exceeds the limit of {self._max_size} bytes"
            )
        self._count(size)
        return _patch(base, delta)

    def _inflate(self, size: int, crc: int) -> tuple[bytes, int]:
        """The inflated entry data at the read position, and `crc` extended over its zlib
        stream. Never inflates more than one byte past the size the entry's header declares:
        a stream that goes on is refused there, however far it would have gone."""
        d = zlib.decompressobj()
        parts: list[bytes] = []
        produced = 0
        want = size + 5 * (size >> 14) + 32
        while True:
            if not self._fill(1):
                raise PackError("pack is truncated")
            window = self._buf[self._pos : self._pos + want]
            try:
                out = d.decompress(window, size + 1 - produced)
            except zlib.error as exc:
                raise PackError(f"corrupt object data: {exc}") from None
            produced += len(out)
            if produced > size:
                raise PackError("object size does not match its header")
            parts.append(out)
            used = len(window) - len(d.unconsumed_tail) - len(d.unused_data)
            crc = zlib.crc32(memoryview(window)[:used], crc)
            self._pos += used
            if d.eof:
                break
            want = _CHUNK
        self._count(produced)
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
        """Keep `content` as a base for the deltas that follow. The newest object always stays,
        whatever its size (it is in memory anyway): a chain of large objects in pack order then
        costs one patch per link, never a walk back to its start."""
        old = self._cache.pop(offset, None)
        if old is not None:
            self._cache_bytes -= len(old[1])
        self._cache[offset] = (typ, content)
        self._cache_bytes += len(content)
        while self._cache_bytes > self._cache_budget and len(self._cache) > 1:
            _, (_, dropped) = self._cache.popitem(last=False)
            self._cache_bytes -= len(dropped)

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
        # Walk back to a base in the cache or in the file, then patch forward, reading each
        # delta back only when it is applied: a chain costs no more memory than its ends.
        chain: list[int] = []
        cur = offset
        while True:
            hit = self._cache.get(cur)
            if hit is not None:
                typ, data = hit
                break
            entry = self._entries[cur]
            if entry.pack_type in _TYPE_HEADERS:
                typ, data = entry.pack_type, self._read_back(entry)
                break
            chain.append(cur)
            if isinstance(entry.base, bytes):  # a base outside the pack
                typ, data = self._external_bases[entry.base]
                break
            if entry.base is None or len(chain) > MAX_DELTA_DEPTH:
                raise PackError("delta chain too long or unresolved")
            cur = entry.base
        for off in reversed(chain):
            data = self._patch(data, self._read_back(self._entries[off]))
            self._remember(off, typ, data)
        return typ, data

    def _read_back(self, entry: _Entry) -> bytes:
        """An entry's inflated data, read back through the file object (it may be encrypted),
        which is then positioned at its end again for the bytes still to come."""
        self._flush()
        self._out.flush()
        self._out.seek(entry.data_start)
        raw = self._out.read(entry.end - entry.data_start)
        self._out.seek(0, os.SEEK_END)
        body = zlib.decompress(raw)
        self._count(len(body))
        return body

    def _resolve_pending(
        self, pending: list[tuple[int, bytes]], entries: list[tuple[bytes, int, int]]
    ) -> None:
        """REF_DELTAs whose base came later in the pack (or is another such delta): each is
        resolved once, when its base is, as index-pack does."""
        position = {off: i for i, (_, off, _) in enumerate(entries)}
        waiting: dict[bytes, list[int]] = {}
        for offset, base_sha in pending:
            waiting.setdefault(base_sha, []).append(offset)
        ready = [sha for sha in waiting if sha in self._sha_offsets]
        while ready:
            base_sha = ready.pop()
            base_off = self._sha_offsets[base_sha]
            for offset in waiting.pop(base_sha):
                entry = self._entries[offset]
                entry.base = base_off
                self._set_depth(entry, base_off)
                delta = self._read_back(entry)
                typ, data = self._content_at(base_off)
                sha = self._resolved(offset, typ, self._patch(data, delta))
                i = position[offset]
                entries[i] = (sha, offset, entries[i][2])
                if sha in waiting:
                    ready.append(sha)
        if waiting:
            missing = ", ".join(sorted(s.hex() for s in waiting)[:5])
            raise PackError(f"unresolved deltas (missing base objects {missing})")


class PackSizeError(PackError):
    """An object is larger than the configured limit."""


def _delta_result_size(delta: bytes) -> int:
    """The target size a delta's header declares (after the source size); 0 if the header is
    unreadable (applying the delta then fails)."""
    i = size = 0
    for _ in range(2):
        size = shift = 0
        while True:
            if i >= len(delta) or shift > 63:
                return 0
            c = delta[i]
            i += 1
            size |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
    return size


def _patch(base: bytes, delta: bytes) -> bytes:
    try:
        out = apply_delta(base, delta)
    except Exception as exc:  # dulwich raises ApplyDeltaError or ValueError
        raise PackError(f"bad delta: {exc}") from None
    return out[0] if len(out) == 1 else b"".join(out)


def write_index_v2(f: BinaryIO, entries: list[tuple[bytes, int, int]], pack_sha: bytes) -> None:
    """Write a version-2 `.idx` for `entries` (binary sha, offset, crc32), sorted by sha."""
    shas = list(map(itemgetter(0), entries))
    offsets = list(map(itemgetter(1), entries))
    crcs = list(map(itemgetter(2), entries))
    counts = [0] * 256
    for first, c in Counter(map(itemgetter(0), shas)).items():
        counts[first] = c
    fanout = list(accumulate(counts))
    small: list[int] = offsets
    large: list[int] = []
    if offsets and max(offsets) >= 0x80000000:
        small = []
        for offset in offsets:
            if offset < 0x80000000:
                small.append(offset)
            else:
                small.append(0x80000000 | len(large))
                large.append(offset)
    n = len(entries)
    parts = [
        b"\xfftOc\x00\x00\x00\x02",
        struct.pack(">256I", *fanout),
        b"".join(shas),
        struct.pack(f">{n}I", *crcs),
        struct.pack(f">{n}I", *small),
        struct.pack(f">{len(large)}Q", *large),
        pack_sha,
    ]
    data = b"".join(parts)
    f.write(data + hashlib.sha1(data).digest())  # noqa: S324 - git's index checksum
