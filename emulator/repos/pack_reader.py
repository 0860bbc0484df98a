"""Read access to a repository's stored packs for serving fetches.

`PackCache` keeps each pack's parsed index (and, in `commit_graph`, its commits) across requests;
a cached pack is keyed by its name and the checksum in its `.idx` trailer, so a pack rewritten
under the same name is never confused with the old one. `PackReader` is one request's view: it
opens the pack files through `RepoFiles` (seekable file objects, never paths, since the files may
be encrypted at rest), reads raw entries and resolves deltas.
"""

from __future__ import annotations

import weakref
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dulwich.pack import apply_delta

from emulator.repos.files import PACK_DIR, RepoFiles
from emulator.repos.pack_cache import PackCache
from emulator.repos.sha_table import ShaTable

__all__ = ["PackCache"]  # the cache lives in pack_cache; readers import it from here too

OBJ_COMMIT = 1
OBJ_TREE = 2
OBJ_BLOB = 3
OBJ_TAG = 4
OFS_DELTA = 6
REF_DELTA = 7
TYPE_NAMES = {OBJ_COMMIT: b"commit", OBJ_TREE: b"tree", OBJ_BLOB: b"blob", OBJ_TAG: b"tag"}

_IDX_MAGIC = b"\xfftOc"
# What one reader may keep of the objects it resolved, whatever the shared account has left.
RESOLVED_CAP = 32 * 1024 * 1024
_MAX_CHAIN = 10_000  # a delta chain longer than this is corrupt (git's default depth is 50)


class PackFormatError(Exception):
    """A stored pack or index is not what its format says it is."""


@dataclass(frozen=True, eq=False)
class PackIndex:
    """A parsed version-2 `.idx`: sorted binary SHAs, their offsets, and the offsets in pack
    order (so an entry's extent is `[offset, next offset)`, the last one ending before the
    20-byte trailer)."""

    name: str
    key: tuple[str, bytes]
    pack_size: int
    pack_checksum: bytes
    shas: ShaTable
    offsets: array[int]  # parallel to `shas`
    sorted_offsets: array[int]  # ascending, plus `pack_size - 20` as a sentinel
    sorted_pos: array[int]  # index into `shas` of the k-th entry in pack order

    @property
    def count(self) -> int:
        return len(self.shas)

    def cache_bytes(self) -> int:
        """Estimated memory: the SHAs and the three offset arrays."""
        arrays = (self.offsets, self.sorted_offsets, self.sorted_pos)
        return self.shas.cache_bytes() + sum(len(a) * a.itemsize for a in arrays)

    def find(self, sha: bytes) -> int | None:
        i = self.shas.position(sha)
        return None if i is None else self.offsets[i]

    def entry_end(self, offset: int) -> int:
        return self.sorted_offsets[bisect_right(self.sorted_offsets, offset)]

    def sha_at(self, offset: int) -> bytes:
        k = bisect_left(self.sorted_offsets, offset)
        if k >= len(self.sorted_pos) or self.sorted_offsets[k] != offset:
            raise PackFormatError(f"{self.name}: no entry at offset {offset}")
        return self.shas[self.sorted_pos[k]]


def parse_index(name: str, data: bytes, pack_size: int) -> PackIndex:
    if len(data) < 8 + 1024 + 40 or data[:4] != _IDX_MAGIC or data[4:8] != b"\0\0\0\2":
        raise PackFormatError(f"{name}.idx: not a version 2 pack index")
    fanout = array("I", data[8 : 8 + 1024])
    fanout.byteswap()
    n = fanout[255]
    sha_start = 8 + 1024
    off_start = sha_start + 24 * n  # past the SHAs and the CRC32s
    large_start = off_start + 4 * n
    if len(data) < large_start + 40:
        raise PackFormatError(f"{name}.idx: truncated")
    shas = ShaTable(data[sha_start : sha_start + 20 * n])
    small = array("I", data[off_start:large_start])
    small.byteswap()
    # 32-bit offsets while the pack is under 2 GiB (four bytes an object, not eight)
    offsets = small
    if any(o & 0x80000000 for o in small):
        large = array("Q", data[large_start : len(data) - 40])
        large.byteswap()
        offsets = array("Q", small)
        for i, o in enumerate(small):
            if o & 0x80000000:
                offsets[i] = large[o & 0x7FFFFFFF]
    order = sorted(range(n), key=offsets.__getitem__)
    sorted_offsets = array("I" if pack_size < 1 << 32 else "Q", (offsets[i] for i in order))
    sorted_offsets.append(pack_size - 20)
    return PackIndex(
        name=name,
        key=(name, data[-20:]),
        pack_size=pack_size,
        pack_checksum=data[-40:-20],
        shas=shas,
        offsets=offsets,
        sorted_offsets=sorted_offsets,
        sorted_pos=array("I", order),
    )


@dataclass
class EntryHeader:
    type: int  # 1-4, or OFS_DELTA / REF_DELTA
    size: int  # inflated size (of the delta for delta entries)
    data_start: int  # offset of the zlib stream, relative to the entry start
    base_offset: int | None = None  # absolute, for OFS_DELTA
    base_sha: bytes | None = None  # for REF_DELTA


def parse_entry_header(buf: bytes | memoryview, offset: int, pos: int = 0) -> EntryHeader:
    """Parse the entry header at `buf[pos:]`; `offset` is that entry's offset in its pack."""
    c = buf[pos]
    typ = (c >> 4) & 7
    size = c & 15
    shift = 4
    i = pos + 1
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
        return EntryHeader(typ, size, i - pos, base_offset=offset - rel)
    if typ == REF_DELTA:
        return EntryHeader(typ, size, i - pos + 20, base_sha=bytes(buf[i : i + 20]))
    if typ in (0, 5):
        raise PackFormatError(f"bad object type {typ} at offset {offset}")
    return EntryHeader(typ, size, i - pos)


def encode_entry_header(typ: int, size: int) -> bytes:
    out = bytearray()
    c = (typ << 4) | (size & 15)
    size >>= 4
    while size:
        out.append(c | 0x80)
        c = size & 0x7F
        size >>= 7
    out.append(c)
    return bytes(out)


def encode_ofs(rel: int) -> bytes:
    out = [rel & 0x7F]
    rel >>= 7
    while rel:
        rel -= 1
        out.append(0x80 | (rel & 0x7F))
        rel >>= 7
    return bytes(reversed(out))


class PackReader:
    """One request's view of a repository's packs, in a fixed order (largest first), opened
    lazily. Not thread-safe; close it when done. The objects it resolves are kept within its
    share of the emulator's account (`resolved_budget`), given back on close."""

    def __init__(self, files: RepoFiles, names: list[str], cache: PackCache) -> None:
        self.files = files
        self.cache = cache
        self.owner = files.owner  # what this reader caches dies with this repository
        indexes = [self._load_index(n) for n in names]
        indexes.sort(key=lambda ix: (-ix.pack_size, ix.name))
        self.indexes = indexes
        self.key: tuple[tuple[str, bytes], ...] = tuple(ix.key for ix in indexes)
        cache.pack_set(self.owner, self.key)
        self._files: list[BinaryIO | None] = [None] * len(indexes)
        # keyed by `_spot(p, offset)`: one int, not a tuple of two, for each of the 100,000s
        # of objects a walk of every tree resolves (small objects that fragment the heap)
        self._packs = max(1, len(indexes))
        self._resolved: OrderedDict[int, tuple[int, bytes]] = OrderedDict()
        # What this reader's resolved objects weigh is counted in the emulator's account
        # (`resolved_budget`), given back when the reader is closed or collected.
        self._grant = cache.resolved.grant()
        weakref.finalize(self, self._grant.release)
        self.resolved_budget = RESOLVED_CAP

    def _load_index(self, name: str) -> PackIndex:
        rel = f"{PACK_DIR}/{name}.idx"
        rel_pack = f"{PACK_DIR}/{name}.pack"

        def read_trailer() -> tuple[object, int]:
            size = self.files.size(rel)
            pack_size = self.files.size(rel_pack)
            with self.files.open_read(rel) as f:
                f.seek(max(0, size - 20))
                return (f.read(20), pack_size), 0

        # The index's checksum, read once per published version of the two files (their
        # identity changes when they are replaced): an encrypted index is not opened on every
        # request just to read its last 20 bytes.
        stamp = ("idx-trailer", self.files.identity(rel), self.files.identity(rel_pack))
        found = self.cached(stamp, read_trailer)
        assert isinstance(found, tuple)
        idx_sum, pack_size = found

        def build() -> tuple[object, int]:
            with self.files.open_read(rel) as f:
                data = f.read()
            ix = parse_index(name, data, pack_size)
            if ix.key[1] != idx_sum:
                raise PackFormatError(f"{name}.idx changed while it was read")
            return ix, ix.cache_bytes()

        # The cache is shared by all repositories, and the same pack pushed to two of them
        # has the same name and index: the pack's size is part of the key, so a damaged
        # (truncated) copy in one repository never lends its extent to the other.
        ix = self.cached(("idx", name, idx_sum, pack_size), build)
        assert isinstance(ix, PackIndex)
        return ix

    def cached(self, key: object, build: Callable[[], tuple[object, int]]) -> object:
        """`PackCache.get_or_build` for this repository: `build` returns the value and an
        estimate of its bytes (see `pack_cache`)."""
        return self.cache.get_or_build(key, build, self.owner)

    def close(self) -> None:
        for f in self._files:
            if f is not None:
                f.close()
        self._files = [None] * len(self.indexes)
        self._resolved.clear()  # a reader kept by its engine holds no objects once done
        self._grant.release()
        self.cache.touch()  # the end of work: what it freed may be given back

    def __enter__(self) -> PackReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def file(self, p: int) -> BinaryIO:
        f = self._files[p]
        if f is None:
            f = self.files.open_read(f"{PACK_DIR}/{self.indexes[p].name}.pack")
            self._files[p] = f
        return f

    def locate(self, sha: bytes) -> tuple[int, int] | None:
        """The first pack (in this reader's order) holding `sha`, and the entry's offset."""
        for p, ix in enumerate(self.indexes):
            off = ix.find(sha)
            if off is not None:
                return p, off
        return None

    def __contains__(self, sha: bytes) -> bool:
        return self.locate(sha) is not None

    def read_at(self, p: int, start: int, length: int) -> bytes:
        f = self.file(p)
        f.seek(start)
        data = f.read(length)
        if len(data) != length:
            raise PackFormatError(f"{self.indexes[p].name}: short read at {start}")
        return data

    def read_entry(self, p: int, offset: int) -> tuple[EntryHeader, bytes]:
        """The entry's header and its raw bytes (header included)."""
        end = self.indexes[p].entry_end(offset)
        raw = self.read_at(p, offset, end - offset)
        return parse_entry_header(raw, offset), raw

    def iter_entry_chunks(
        self, p: int, start: int, end: int, chunk: int = 1 << 20
    ) -> Iterator[memoryview]:
        """The bytes [start, end) of pack `p` in pieces of up to `chunk` bytes, each a view of
        one buffer that the next piece overwrites: use (or copy) a piece before asking for the
        next. One buffer for the whole range, filled in place, so streaming a large pack does
        not allocate (and free) a megabyte per piece."""
        f = self.file(p)
        f.seek(start)
        buf = memoryview(bytearray(min(chunk, end - start)))
        while start < end:
            # a file opened "rb" or a SegmentedReader: both read into a buffer (BinaryIO
            # does not declare it)
            n = f.readinto(buf[: min(len(buf), end - start)])  # type: ignore[attr-defined]
            if not n:
                raise PackFormatError(f"{self.indexes[p].name}: short read at {start}")
            start += n
            yield buf[:n]

    def resolve_at(self, p: int, offset: int) -> tuple[int, bytes]:
        """Type (1-4) and content of the object stored at `offset` of pack `p`."""
        spot = self._spot(p, offset)
        hit = self._resolved.get(spot)
        if hit is not None:
            self._resolved.move_to_end(spot)
            return hit
        chain: list[tuple[int, int, bytes]] = []  # (pack, offset, inflated delta)
        cur_p, cur_off = p, offset
        while True:
            hit = self._resolved.get(self._spot(cur_p, cur_off))
            if hit is not None:
                typ, data = hit
                break
            hdr, raw = self.read_entry(cur_p, cur_off)
            body = zlib.decompress(raw[hdr.data_start :])
            if hdr.type <= OBJ_TAG:
                typ, data = hdr.type, body
                self._remember(cur_p, cur_off, typ, data)
                break
            chain.append((cur_p, cur_off, body))
            if len(chain) > _MAX_CHAIN:
                raise PackFormatError("delta chain too long")
            if hdr.base_offset is not None:
                cur_off = hdr.base_offset
            else:
                assert hdr.base_sha is not None
                loc = self.locate(hdr.base_sha)
                if loc is None:
                    raise PackFormatError(f"missing delta base {hdr.base_sha.hex()}")
                cur_p, cur_off = loc
        for dp, doff, delta in reversed(chain):
            data = b"".join(apply_delta(data, delta))
            self._remember(dp, doff, typ, data)
        return typ, data

    def _remember(self, p: int, offset: int, typ: int, data: bytes) -> None:
        spot = self._spot(p, offset)
        if len(data) > self.resolved_budget // 4 or spot in self._resolved:
            return
        self._resolved[spot] = (typ, data)
        grant = self._grant
        grant.take(len(data))
        # Beyond its floor, a reader keeps what it resolved only while all readers together
        # are within the shared budget; else its own oldest entries go (never the newest).
        while len(self._resolved) > 1 and grant.must_give(self.resolved_budget):
            _, (_, old) = self._resolved.popitem(last=False)
            grant.give(len(old), evicted=1)

    def _spot(self, p: int, offset: int) -> int:
        return offset * self._packs + p  # one int per (pack, offset), each pair its own

    def get(self, sha: bytes) -> tuple[int, bytes] | None:
        loc = self.locate(sha)
        return None if loc is None else self.resolve_at(*loc)

    def type_of(self, sha: bytes) -> int:
        """The type (1-4) of a stored object, from entry headers alone (a delta's from its
        base's), without inflating it; 0 if it is missing."""
        loc = self.locate(sha)
        for _ in range(_MAX_CHAIN + 1):
            if loc is None:
                return 0
            p, off = loc
            hdr = parse_entry_header(
                self.read_at(p, off, min(64, self.indexes[p].entry_end(off) - off)), off
            )
            if hdr.type <= OBJ_TAG:
                return hdr.type
            if hdr.base_offset is not None:
                loc = (p, hdr.base_offset)
            else:
                assert hdr.base_sha is not None
                loc = self.locate(hdr.base_sha)
        raise PackFormatError("delta chain too long")

    def peel(self, sha: bytes) -> bytes | None:
        """The object an annotated tag finally points at, or None if `sha` is not a tag."""
        seen = 0
        cur = sha
        while True:
            obj = self.get(cur)
            if obj is None or obj[0] != OBJ_TAG:
                return None if cur == sha else cur
            cur = tag_target(obj[1])
            seen += 1
            if seen > 100:
                raise PackFormatError("tag chain too long")


def tag_target(data: bytes) -> bytes:
    if not data.startswith(b"object "):
        raise PackFormatError("malformed tag")
    return bytes.fromhex(data[7:47].decode("ascii"))


def parse_commit(data: bytes) -> tuple[bytes, tuple[bytes, ...], int]:
    """(tree, parents, committer time) of a raw commit, SHAs binary."""
    try:
        if not data.startswith(b"tree "):
            raise ValueError
        tree = bytes.fromhex(data[5:45].decode("ascii"))
        parents: list[bytes] = []
        pos = 46
        while data.startswith(b"parent ", pos):
            parents.append(bytes.fromhex(data[pos + 7 : pos + 47].decode("ascii")))
            pos += 48
    except ValueError:
        raise PackFormatError("malformed commit") from None
    when = 0
    head_end = data.find(b"\n\n", pos - 1)
    if head_end < 0:
        head_end = len(data)
    i = data.find(b"\ncommitter ", pos - 1, head_end)
    if i >= 0:
        nl = data.find(b"\n", i + 1)
        if nl < 0:
            nl = len(data)
        gt = data.rfind(b">", i, nl)
        fields = data[gt + 1 : nl].split()
        if fields:
            try:
                when = int(fields[0])
            except ValueError:
                when = 0
    return tree, tuple(parents), when


def is_tree_mode(mode: bytes) -> bool:
    """Whether a tree entry's mode (as stored) names a subtree. git reads modes as octal and
    accepts leading zeros (`040000`, which old repositories hold and fsck only warns about), so
    the spelling alone is not enough."""
    return mode == b"40000" or (mode[:1] == b"0" and int(mode, 8) & 0o170000 == 0o040000)


def is_gitlink_mode(mode: bytes) -> bool:
    """Whether a tree entry's mode names a submodule commit (which lives in another repository)."""
    return mode == b"160000" or (mode[:1] == b"0" and int(mode, 8) & 0o170000 == 0o160000)


def iter_tree(data: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(mode, name, binary sha) of each tree entry."""
    pos = 0
    end = len(data)
    while pos < end:
        sp = data.index(b" ", pos)
        nul = data.index(b"\0", sp)
        yield data[pos:sp], data[sp + 1 : nul], data[nul + 1 : nul + 21]
        pos = nul + 21


def find_tree_entry(data: bytes, name: bytes) -> tuple[int, bytes] | None:
    """(mode, binary sha) of the entry called `name` in a raw tree, found without building an
    object per entry: a tree holding it contains ` name\\0`, so most misses cost one search in
    C; a hit is confirmed by stepping over the entries before it."""
    if data.find(b" " + name + b"\0") < 0:
        return None
    n = len(name)
    pos = 0
    end = len(data)
    while pos < end:
        sp = data.index(b" ", pos)
        nul = data.index(b"\0", sp)
        if nul - sp - 1 == n and data.startswith(name, sp + 1):
            return int(data[pos:sp], 8), data[nul + 1 : nul + 21]
        pos = nul + 21
    return None
