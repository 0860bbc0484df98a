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
import sys
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import BinaryIO

from dulwich.pack import apply_delta

OFS_DELTA, REF_DELTA = 6, 7
_TYPE_HEADERS = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_SHA_HEADERS = (b"", b"commit %d\0", b"tree %d\0", b"blob %d\0", b"tag %d\0")  # by type
_NO_SHA = bytes(20)
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


@dataclass(frozen=True)
class WorkLimit:
    """What indexing one pack may cost, in bytes produced by inflating and patching (a base
    read back from the file and patched again counts again): `allowance` plus `ratio` times
    the pack bytes received so far. git's index-pack has no such cap; a pack that deltas
    compress a thousandfold is already far beyond any real repository's."""

    allowance: int = 1 << 30
    ratio: int = 1000


class IndexedPack:
    """What indexing a pack found, as flat arrays in pack order (an object's index is its
    position in the pack): a few bytes per object and no Python object per object, so a
    push of hundreds of thousands of objects leaves no litter of small objects behind."""

    def __init__(
        self,
        shas: bytearray,
        offsets: array[int],
        crcs: array[int],
        types: bytearray,
        checksum: bytes,
        external_bases: dict[bytes, tuple[int, bytes]],
    ) -> None:
        self.shas = shas  # binary SHA-1s, 20 bytes each
        self.offsets = offsets
        self.crcs = crcs
        self.types = types  # type 1-4 of each object
        self.checksum = checksum  # the pack's trailing SHA-1
        self.external_bases = external_bases  # a thin pack's bases, from the store
        self._sorted: bytes = b""  # the SHA-1s in index order, once `write_index` ran
        self._sorted_types: bytes = b""

    def __len__(self) -> int:
        return len(self.offsets)

    def add(self, sha: bytes, offset: int, crc: int, type_num: int) -> None:
        """Count an object appended to the pack (a thin pack's base)."""
        self.shas += sha
        self.offsets.append(offset)
        self.crcs.append(crc)
        self.types.append(type_num)

    def entries(self) -> list[tuple[bytes, int, int]]:
        """(binary sha, offset, crc32) of every object, in pack order."""
        shas = self.shas
        return [
            (bytes(shas[20 * i : 20 * i + 20]), offset, crc)
            for i, (offset, crc) in enumerate(zip(self.offsets, self.crcs, strict=True))
        ]

    def write_index(self, f: BinaryIO) -> list[bytes]:
        """Write the pack's version-2 `.idx` to `f`; return the SHA-1s in index (sorted)
        order, for the caller's presence checks."""
        shas = self.shas
        in_pack = [bytes(shas[i : i + 20]) for i in range(0, len(shas), 20)]
        order = sorted(range(len(in_pack)), key=in_pack.__getitem__)
        sorted_shas = list(map(in_pack.__getitem__, order))
        del in_pack
        self._sorted = b"".join(sorted_shas)
        self._sorted_types = bytes(map(self.types.__getitem__, order))
        offsets = array("Q", map(self.offsets.__getitem__, order))
        crcs = array("I", map(self.crcs.__getitem__, order))
        _write_index(f, self._sorted, offsets, crcs, self.checksum)
        return sorted_shas

    def type_of(self, sha: bytes) -> int | None:
        """The type of an object of the pack (once `write_index` ran), or None."""
        blob = self._sorted
        lo, hi = 0, len(blob) // 20
        while lo < hi:
            mid = (lo + hi) // 2
            if blob[20 * mid : 20 * mid + 20] < sha:
                lo = mid + 1
            else:
                hi = mid
        if blob[20 * lo : 20 * lo + 20] == sha:
            return self._sorted_types[lo]
        return None


class StreamIndexer:
    def __init__(
        self,
        recv: Callable[[int], bytes],
        out: BinaryIO,
        external: External,
        on_object: OnObject,
        max_object_size: int,
        # 16 MiB of bases: on sqlalchemy's whole history (4 GiB of objects) 3% more inflating
        # and patching than 64 MiB, for 48 MiB less memory during a push.
        cache_bytes: int = 16 * 1024 * 1024,
        work: WorkLimit | None = None,
        gone: Callable[[], bool] = lambda: False,
    ) -> None:
        self._recv = recv
        self._out = out
        self._external = external
        self._on_object = on_object
        self._max_size = max_object_size
        self._buf = b""
        self._view = memoryview(self._buf)
        self._pos = 0  # read position in _buf
        self._buf_start = 0  # stream offset of _buf[0]
        self._written = 0  # bytes of _buf already written and hashed
        self._hash = hashlib.sha1()  # noqa: S324 - git's pack checksum
        self._eof = False
        # One slot per entry, in pack order (an entry's index is its position in the pack).
        self._offsets = array("Q")  # where the entry starts
        self._heads = bytearray()  # length of its header: its zlib stream starts after it
        self._kinds = bytearray()  # its type in the pack (1-4, OFS_DELTA, REF_DELTA)
        self._types = bytearray()  # the type of the object (1-4; 0 until a delta is resolved)
        self._bases = array("q")  # a delta's base entry; -1 for a base outside the pack
        self._depths = array("H")  # links between the object and its whole base
        self._crcs = array("I")
        self._shas = bytearray()  # 20 bytes per entry (zeros until resolved)
        self._end = 0  # the offset past the last entry, once the trailer is reached
        self._ref_bases: dict[int, bytes] = {}  # entry -> base SHA outside the pack (or later)
        self._by_sha: dict[bytes, int] | None = None  # built when a REF_DELTA needs it
        self._cache: OrderedDict[int, tuple[int, bytes]] = OrderedDict()  # entry -> content
        self._cache_bytes = 0
        self._cache_budget = cache_bytes
        self._external_bases: dict[bytes, tuple[int, bytes]] = {}
        self._work_limit = work or WorkLimit()
        self._work = 0  # bytes inflated and patched so far
        self._work_cap = self._work_limit.allowance
        self._work_ratio = self._work_limit.ratio
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
            self._view = memoryview(self._buf)
            self._pos = 0
        return len(self._buf) - self._pos >= n

    def _flush(self) -> None:
        """Write and hash the consumed bytes not yet written."""
        if self._pos > self._written:
            chunk = self._view[self._written : self._pos]
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
        read_entry, gone = self._read_entry, self._gone
        for i in range(count):
            if gone():
                raise ClientGone("the client hung up")
            read_entry(i)
        self._end = self._offset
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
        if self._ref_bases:
            self._resolve_pending()
        # What follows (the index, the checks of the whole push) needs no bases.
        self._cache.clear()
        self._cache_bytes = 0
        return IndexedPack(
            self._shas, self._offsets, self._crcs, self._types, trailer, self._external_bases
        )

    def charge(self, work: int) -> None:
        """Count `work` bytes of other processing of this pack against its work limit."""
        self._count(work)

    def object(self, sha: bytes) -> tuple[int, bytes] | None:
        """Type and content of an object of the pack (once `run` has returned, while the file
        is still open), or None if the pack does not hold it."""
        i = self._find(sha)
        return None if i < 0 else self._content_at(i)

    def _find(self, sha: bytes) -> int:
        """The first entry whose object is `sha`, or -1."""
        if self._by_sha is not None:
            return self._by_sha.get(sha, -1)
        shas = self._shas
        at = shas.find(sha)
        while at >= 0 and at % 20:
            at = shas.find(sha, at + 1)
        return -1 if at < 0 else at // 20

    def _sha_index(self) -> dict[bytes, int]:
        """SHA -> entry, kept from the first REF_DELTA on (an OFS_DELTA pack needs none)."""
        if self._by_sha is None:
            shas = self._shas
            by_sha: dict[bytes, int] = {}
            for i in range(len(shas) // 20):
                if self._types[i]:
                    by_sha.setdefault(bytes(shas[20 * i : 20 * i + 20]), i)
            self._by_sha = by_sha
        return self._by_sha

    def _read_entry(self, index: int) -> None:
        if len(self._buf) - self._pos < 32:
            self._fill(32)
        buf, i = self._buf, self._pos
        start_pos = i
        offset = self._buf_start + i
        base = -1
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
            if typ == OFS_DELTA:
                c = buf[i]
                i += 1
                rel = c & 0x7F
                while c & 0x80:
                    c = buf[i]
                    i += 1
                    rel = ((rel + 1) << 7) | (c & 0x7F)
                offsets = self._offsets
                base = bisect_left(offsets, offset - rel)
                if rel <= 0 or base == len(offsets) or offsets[base] != offset - rel:
                    raise PackError(f"bad delta base offset at {offset}")
            elif typ == REF_DELTA:
                base_sha = buf[i : i + 20]
                if len(base_sha) != 20:
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
        self._offsets.append(offset)
        self._heads.append(i - start_pos)
        self._kinds.append(typ)
        # -- inflate: the whole zlib stream is nearly always in the buffer already
        d = zlib.decompressobj()
        want = size + 5 * (size >> 14) + 32  # deflate's worst case for `size` bytes
        if len(buf) - i >= want or self._eof:
            try:
                body = d.decompress(self._view[i : i + want], size + 1)
            except zlib.error as exc:
                raise PackError(f"corrupt object data: {exc}") from None
            if d.eof:
                if len(body) != size:
                    raise PackError("object size does not match its header")
                used = min(want, len(buf) - i) - len(d.unused_data)
                self._pos = i + used
                crc = zlib.crc32(self._view[start_pos : i + used])
                self._work += size
                if self._work > self._work_cap + self._work_ratio * (self._buf_start + self._pos):
                    self._count(0)
            else:
                self._pos = i
                body, crc = self._inflate(size, zlib.crc32(self._view[start_pos:i]))
        else:
            self._pos = i
            body, crc = self._inflate(size, zlib.crc32(self._view[start_pos:i]))
        self._crcs.append(crc)
        if typ < OFS_DELTA:
            self._bases.append(-1)
            self._depths.append(0)
            self._resolved(index, typ, body)
            return
        if typ == REF_DELTA:
            base = self._sha_index().get(base_sha, -1)
            if base < 0:
                self._bases.append(-1)
                self._depths.append(1)
                self._ref_bases[index] = base_sha
                ext = self._external_base(base_sha)
                if ext is None:
                    self._types.append(0)  # its delta is read back from the file
                    self._shas += _NO_SHA
                    return
                typ_b, data_b = ext
                self._resolved(index, typ_b, self._patch(data_b, body))
                return
        depth = self._depths[base] + 1
        if depth > MAX_DELTA_DEPTH:
            raise PackError(f"delta chain longer than {MAX_DELTA_DEPTH} links")
        self._bases.append(base)
        self._depths.append(depth)
        hit = self._cache.get(base)
        if hit is not None:
            self._cache.move_to_end(base)
            typ_b, data_b = hit
        else:
            typ_b, data_b = self._content_at(base)
        self._resolved(index, typ_b, self._patch(data_b, body))

    def _count(self, produced: int) -> None:
        """Charge `produced` bytes of inflating or patching to the push."""
        self._work += produced
        limit = self._work_limit
        if self._work > limit.allowance + limit.ratio * (self._buf_start + self._pos):
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
        self._work += size
        if self._work > self._work_cap + self._work_ratio * (self._buf_start + self._pos):
            self._count(0)
        try:
            out = apply_delta(base, delta)
        except Exception as exc:  # dulwich raises ApplyDeltaError or ValueError
            raise PackError(f"bad delta: {exc}") from None
        return out[0] if len(out) == 1 else b"".join(out)

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

    def _resolved(self, index: int, typ: int, content: bytes) -> None:
        n = len(content)
        if n > self._max_size:
            raise PackSizeError(
                f"an object of {n} bytes exceeds the limit of {self._max_size} bytes"
            )
        h = hashlib.sha1(_SHA_HEADERS[typ] % n)  # noqa: S324
        h.update(content)
        sha = h.digest()
        if len(self._types) == index:
            self._types.append(typ)
            self._shas += sha
        else:  # a delta resolved after the whole pack was read
            self._types[index] = typ
            self._shas[20 * index : 20 * index + 20] = sha
        if self._by_sha is not None:
            self._by_sha.setdefault(sha, index)
        # Keep `content` as a base for the deltas that follow. The newest object always stays,
        # whatever its size (it is in memory anyway): a chain of large objects in pack order
        # then costs one patch per link, never a walk back to its start.
        cache = self._cache
        cache[index] = (typ, content)
        self._cache_bytes += n
        if self._cache_bytes > self._cache_budget:
            self._trim_cache()
        self._on_object(typ, sha, content)

    def _trim_cache(self) -> None:
        cache = self._cache
        while self._cache_bytes > self._cache_budget and len(cache) > 1:
            _, (_, dropped) = cache.popitem(last=False)
            self._cache_bytes -= len(dropped)

    def _remember(self, index: int, typ: int, content: bytes) -> None:
        old = self._cache.pop(index, None)
        if old is not None:
            self._cache_bytes -= len(old[1])
        self._cache[index] = (typ, content)
        self._cache_bytes += len(content)
        self._trim_cache()

    def _external_base(self, sha: bytes) -> tuple[int, bytes] | None:
        hit = self._external_bases.get(sha)
        if hit is None:
            hit = self._external(sha)
            if hit is not None:
                self._external_bases[sha] = hit
        return hit

    def _content_at(self, index: int) -> tuple[int, bytes]:
        """Type and content of the object of entry `index`: from the cache, else from the
        file."""
        hit = self._cache.get(index)
        if hit is not None:
            self._cache.move_to_end(index)
            return hit
        # Walk back to a base in the cache or in the file, then patch forward, reading each
        # delta back only when it is applied: a chain costs no more memory than its ends.
        chain: list[int] = []
        cur = index
        while True:
            hit = self._cache.get(cur)
            if hit is not None:
                typ, data = hit
                break
            kind = self._kinds[cur]
            if kind < OFS_DELTA:
                typ, data = kind, self._read_back(cur)
                break
            chain.append(cur)
            base = self._bases[cur]
            if base < 0:  # a base outside the pack
                found = self._external_bases.get(self._ref_bases.get(cur, _NO_SHA))
                if found is None:
                    raise PackError("delta chain too long or unresolved")
                typ, data = found
                break
            if len(chain) > MAX_DELTA_DEPTH:
                raise PackError("delta chain too long or unresolved")
            cur = base
        for i in reversed(chain):
            data = self._patch(data, self._read_back(i))
            self._remember(i, typ, data)
        return typ, data

    def _read_back(self, index: int) -> bytes:
        """An entry's inflated data, read back through the file object (it may be encrypted),
        which is then positioned at its end again for the bytes still to come."""
        self._flush()
        self._out.flush()
        start = self._offsets[index] + self._heads[index]
        end = self._offsets[index + 1] if index + 1 < len(self._offsets) else self._end
        self._out.seek(start)
        raw = self._out.read(end - start)
        self._out.seek(0, os.SEEK_END)
        body = zlib.decompress(raw)
        self._count(len(body))
        return body

    def _resolve_pending(self) -> None:
        """REF_DELTAs whose base came later in the pack (or is another such delta): each is
        resolved once, when its base is, as index-pack does."""
        waiting: dict[bytes, list[int]] = {}
        for index, base_sha in self._ref_bases.items():
            if not self._types[index]:
                waiting.setdefault(base_sha, []).append(index)
        by_sha = self._sha_index()
        ready = [sha for sha in waiting if sha in by_sha]
        while ready:
            base_sha = ready.pop()
            base = by_sha[base_sha]
            for index in waiting.pop(base_sha):
                depth = self._depths[base] + 1
                if depth > MAX_DELTA_DEPTH:
                    raise PackError(f"delta chain longer than {MAX_DELTA_DEPTH} links")
                self._bases[index] = base
                self._depths[index] = depth
                del self._ref_bases[index]
                delta = self._read_back(index)
                typ, data = self._content_at(base)
                self._resolved(index, typ, self._patch(data, delta))
                sha = bytes(self._shas[20 * index : 20 * index + 20])
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
    try:
        i = 0
        while delta[i] & 0x80:  # the source size, checked against the base by apply_delta
            i += 1
        size = shift = 0
        while True:
            i += 1
            c = delta[i]
            size |= (c & 0x7F) << shift
            if c < 0x80:
                return size
            shift += 7
            if shift > 63:
                return 0
    except IndexError:
        return 0


def write_index_v2(f: BinaryIO, entries: list[tuple[bytes, int, int]], pack_sha: bytes) -> None:
    """Write a version-2 `.idx` for `entries` (binary sha, offset, crc32), sorted by sha."""
    _write_index(
        f,
        b"".join(map(itemgetter(0), entries)),
        array("Q", map(itemgetter(1), entries)),
        array("I", map(itemgetter(2), entries)),
        pack_sha,
    )


def _write_index(
    f: BinaryIO, shas: bytes, offsets: array[int], crcs: array[int], pack_sha: bytes
) -> None:
    """Write a version-2 `.idx`: `shas` (20 bytes each) sorted, with each object's offset
    and crc32 in the same order."""
    n = len(offsets)
    firsts = shas[::20]
    fanout = array("I", (bisect_right(firsts, b) for b in range(256)))
    crcs = array("I", crcs)
    small = array("I", (o if o < 0x80000000 else 0 for o in offsets))
    large = array("Q")
    if n and max(offsets) >= 0x80000000:
        for i, offset in enumerate(offsets):
            if offset >= 0x80000000:
                small[i] = 0x80000000 | len(large)
                large.append(offset)
    if sys.byteorder == "little":
        for a in (fanout, crcs, small, large):
            a.byteswap()
    data = b"".join(
        [
            b"\xfftOc\x00\x00\x00\x02",
            fanout.tobytes(),
            shas,
            crcs.tobytes(),
            small.tobytes(),
            large.tobytes(),
            pack_sha,
        ]
    )
    f.write(data + hashlib.sha1(data).digest())  # noqa: S324 - git's index checksum
