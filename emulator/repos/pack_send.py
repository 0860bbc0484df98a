"""Writing the pack of a fetch: side-band framing and pack assembly from stored entries.

Nothing here builds a pack in memory: stored bytes are read in large chunks and cut into full
side-band frames (git's LARGE_PACKET_DATA_MAX is 65515 bytes of data per frame), with the
trailing SHA-1 computed over exactly what is sent.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from array import array
from collections.abc import Callable, Collection, Iterator, Sequence
from itertools import compress

from emulator.repos.output_buffer import Bytes, Write
from emulator.repos.pack_layout import WHOLE, entry_bases
from emulator.repos.pack_reader import (
    OBJ_TAG,
    OFS_DELTA,
    REF_DELTA,
    PackIndex,
    PackReader,
    encode_entry_header,
    encode_ofs,
    parse_entry_header,
)
from emulator.repos.sha_table import ShaTable

SIDEBAND_64K_DATA = 65515  # 65520-byte pkt-line minus the 4-byte length and the band byte
SIDEBAND_DATA = 995  # side-band (not -64k): 1000-byte packets
RAW_CHUNK = 65536
FULL_OBJECT_LEVEL = 1  # objects re-deflated for a fetch: speed over a few percent of size


def pkt(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


FLUSH = b"0000"


class PackOutput:
    """Frames pack bytes onto band 1 (or writes them raw without side-band) and hashes them."""

    def __init__(self, write: Write, sideband: int | None) -> None:
        self._write = write
        self._frame = sideband or RAW_CHUNK
        self._banded = sideband is not None
        self._sha = hashlib.sha1()  # noqa: S324 - the pack trailer is SHA-1 by format
        self._buf = bytearray()
        self.started = False

    def _emit(self, data: Bytes) -> None:
        self.started = True
        if self._banded:
            self._write(b"%04x\x01" % (len(data) + 5))
        self._write(data)  # the writers append to their buffer: no copy of our own

    def data(self, data: Bytes) -> None:
        """Frame `data` (a view valid during the call): what completes the frame held back
        from the last call goes first, whole frames are emitted from `data` itself (a
        megabyte piece of a pack is not copied into the held bytes), the tail is held."""
        self._sha.update(data)
        frame = self._frame
        view = memoryview(data)
        n = len(view)
        pos = 0
        buf = self._buf
        if buf:
            pos = min(frame - len(buf), n)
            buf += view[:pos]
            if len(buf) < frame:
                return
            self._emit(buf)
            buf.clear()
        while n - pos >= frame:
            self._emit(view[pos : pos + frame])
            pos += frame
        if pos < n:
            buf += view[pos:]

    def finish(self) -> None:
        self.data(self._sha.digest())
        if self._buf:
            self._emit(self._buf)
            self._buf = bytearray()


def pack_header(count: int) -> bytes:
    return b"PACK" + struct.pack(">II", 2, count)


class Duplicates:
    """The idx positions of one pack whose objects an earlier pack also holds: a byte per entry
    (1: held earlier), not a set of ints, since it is kept for as long as the set of packs is
    read (a set of 100,000s of positions is that many small objects)."""

    __slots__ = ("_count", "_flags")

    def __init__(self, flags: bytes) -> None:
        self._flags = flags
        self._count = flags.count(1)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __contains__(self, pos: int) -> bool:
        return self._count > 0 and self._flags[pos] == 1

    def __iter__(self) -> Iterator[int]:
        if not self._count:
            return iter(())
        return compress(range(len(self._flags)), self._flags)

    def cache_bytes(self) -> int:
        return len(self._flags) + 100


_NONE = Duplicates(b"")


def duplicate_positions(reader: PackReader) -> list[Duplicates]:
    """Per pack, the idx positions of objects an earlier pack (in reader order) also holds.
    Completing a thin pack on receive copies bases the repository already had, so after a few
    pushes this is the normal case."""
    if len(reader.indexes) == 1:
        return [_NONE]

    def build() -> tuple[object, int]:
        dups: list[Duplicates] = [_NONE]
        indexes = reader.indexes
        for k in range(1, len(indexes)):
            ix = indexes[k]
            flags = bytearray(ix.count)
            for earlier in indexes[:k]:
                # Look the smaller table's ids up in the larger one.
                if earlier.count < ix.count:
                    for sha in earlier.shas.ids():
                        i = ix.shas.position(sha)
                        if i is not None:
                            flags[i] = 1
                else:
                    held = bytes(map(earlier.shas.__contains__, ix.shas.ids()))
                    for i in compress(range(ix.count), held):
                        flags[i] = 1
            dups.append(Duplicates(bytes(flags)) if 1 in flags else _NONE)
        return dups, sum(d.cache_bytes() for d in dups)

    dups = reader.cached(("dups", reader.key), build)
    assert isinstance(dups, list)
    return dups


def send_whole_packs(reader: PackReader, out: PackOutput, ofs_delta: bool) -> int:
    """Every stored object, each once: packs without duplicates are copied as they are (their
    OFS_DELTA offsets stay valid since each pack's entries stay contiguous); the others are
    copied entry by entry, skipping duplicates and turning OFS_DELTA into REF_DELTA."""
    dups = duplicate_positions(reader)
    total = sum(ix.count - len(d) for ix, d in zip(reader.indexes, dups, strict=True))
    out.data(pack_header(total))
    for p, ix in enumerate(reader.indexes):
        if not dups[p] and ofs_delta:
            for chunk in reader.iter_entry_chunks(p, 12, ix.pack_size - 20):
                out.data(chunk)
            continue
        skip = dups[p]
        for k in range(ix.count):
            pos = ix.sorted_pos[k]
            if pos in skip:
                continue
            start = ix.sorted_offsets[k]
            end = ix.sorted_offsets[k + 1]
            head = reader.read_at(p, start, min(end - start, 64))
            hdr = parse_entry_header(head, start)
            if hdr.type == OFS_DELTA:
                assert hdr.base_offset is not None
                out.data(encode_entry_header(REF_DELTA, hdr.size) + ix.sha_at(hdr.base_offset))
                start += hdr.data_start
            for chunk in reader.iter_entry_chunks(p, start, end):
                out.data(chunk)
    out.finish()
    return total


_BLOCK = 1 << 20  # bytes read at once by send_objects


def send_objects(
    reader: PackReader,
    out: PackOutput,
    objects: Sequence[bytes],
    client_has: Collection[bytes],
    thin: bool,
) -> tuple[int, int]:
    """The given objects, each from its stored entry. A stored delta goes out as REF_DELTA with
    its compressed bytes untouched when its base is in this pack or (thin pack) on the client;
    otherwise the object is resolved and deflated whole. Returns (objects, reused deltas)."""
    sending = set(objects)
    located: list[tuple[int, int, bytes]] = []
    for sha in sending:
        loc = reader.locate(sha)
        if loc is None:
            raise LookupError(f"object {sha.hex()} is missing")
        located.append((loc[0], loc[1], sha))
    located.sort()  # pack order: sequential reads
    out.data(pack_header(len(located)))
    reused = 0
    # Entries are read a block at a time (they come in pack order), not one read each.
    block_p, block_start, block = -1, 0, b""
    for p, off, _sha in located:
        ix = reader.indexes[p]
        end = ix.entry_end(off)
        if end - off > 4 * RAW_CHUNK:
            head = reader.read_at(p, off, 64)
            hdr = parse_entry_header(head, off)
            raw = None
        else:
            if p != block_p or off < block_start or end > block_start + len(block):
                last = ix.pack_size - 20
                block_p, block_start = p, off
                block = reader.read_at(p, off, max(end, min(off + _BLOCK, last)) - off)
            raw = block[off - block_start : end - block_start]
            hdr = parse_entry_header(raw, off)
        if hdr.type <= OBJ_TAG:
            if raw is None:
                for chunk in reader.iter_entry_chunks(p, off, end):
                    out.data(chunk)
            else:
                out.data(raw)
            continue
        if hdr.base_offset is not None:
            base = ix.sha_at(hdr.base_offset)
        else:
            assert hdr.base_sha is not None
            base = hdr.base_sha
        if base in sending or (thin and base in client_has):
            reused += 1
            out.data(encode_entry_header(REF_DELTA, hdr.size) + base)
            if raw is None:
                for chunk in reader.iter_entry_chunks(p, off + hdr.data_start, end):
                    out.data(chunk)
            else:
                out.data(memoryview(raw)[hdr.data_start :])
            continue
        typ, data = reader.resolve_at(p, off)
        out.data(encode_entry_header(typ, len(data)))
        out.data(zlib.compress(data, FULL_OBJECT_LEVEL))
    out.finish()
    return len(located), reused


class _Blocks:
    """Reads one pack's entries, which come in pack order, a block at a time, and gathers what
    goes out into large writes (runs and rewritten headers are often a few bytes each)."""

    def __init__(self, reader: PackReader, p: int, out: PackOutput) -> None:
        self.reader = reader
        self.p = p
        self.out = out
        self.last = reader.indexes[p].pack_size - 20
        self.start = 0
        self.block = b""
        self.acc = bytearray()

    def get(self, start: int, end: int) -> bytes | memoryview:
        if start < self.start or end > self.start + len(self.block):
            self.start = start
            self.block = self.reader.read_at(
                self.p, start, max(end, min(start + _BLOCK, self.last)) - start
            )
        return memoryview(self.block)[start - self.start : end - self.start]

    def put(self, data: bytes) -> None:
        self.acc += data
        if len(self.acc) >= _BLOCK:
            self.flush()

    def copy(self, start: int, end: int) -> None:
        if end - start > _BLOCK:
            self.flush()
            for chunk in self.reader.iter_entry_chunks(self.p, start, end):
                self.out.data(chunk)
            return
        self.acc += self.get(start, end)
        if len(self.acc) >= _BLOCK:
            self.flush()

    def flush(self) -> None:
        if self.acc:
            self.out.data(self.acc)
            self.acc = bytearray()


def send_closure(
    reader: PackReader,
    out: PackOutput,
    members: ShaTable,
    in_pack: Callable[[PackIndex], bytes],
    extra: Collection[bytes],
) -> tuple[int, int]:
    """`members` and `extra` (ids of objects to send) to a client that holds nothing and reads
    OFS_DELTA. `in_pack(ix)` says which entries of a pack are members (a byte per entry, in
    index order), the bulk of the work when done afresh, so the caller may keep it.

    Each pack's wanted entries go in pack order, in runs copied as they are: an OFS_DELTA whose
    base goes out at the same distance before it keeps its stored bytes; one whose base moved
    gets its distance rewritten; one whose base is not sent goes as REF_DELTA (its base is sent
    from another pack) or is resolved and deflated whole. Python work is per entry that is not
    copied as it is, plus a short step per entry to tell which ones those are. Returns
    (objects, reused deltas)."""
    extra = {e for e in extra if e not in members}
    dups = duplicate_positions(reader)
    wanted: list[bytes] = []  # per pack, one byte per entry in pack order: 1 if it goes out
    total = 0
    for p, ix in enumerate(reader.indexes):
        by_pos = bytearray(in_pack(ix))
        for sha in extra:
            i = ix.shas.position(sha)
            if i is not None:
                by_pos[i] = 1
        for i in dups[p]:
            by_pos[i] = 0
        wk = bytes(map(by_pos.__getitem__, ix.sorted_pos))
        total += wk.count(1)
        wanted.append(wk)
    if total != len(members) + len(extra):
        for sha in [*members, *extra]:
            if sha not in reader:
                raise LookupError(f"object {sha.hex()} is missing")
        raise LookupError("objects are missing")
    out.data(pack_header(total))
    pos = 12  # where the next entry starts in the output
    reused = 0
    for p, ix in enumerate(reader.indexes):
        wk = wanted[p]
        if wk.find(1) < 0:
            continue
        bases = entry_bases(reader, p)
        so = ix.sorted_offsets
        shifts = array("q", bytes(8 * ix.count))  # stored offset minus output offset
        blocks = _Blocks(reader, p, out)
        run_start = run_end = -1
        for k in compress(range(ix.count), wk):
            off = so[k]
            end = so[k + 1]
            shift = off - pos
            shifts[k] = shift
            b = bases[k]
            if b == WHOLE or (b >= 0 and wk[b] and shifts[b] == shift):
                if off != run_end:
                    if run_end >= 0:
                        blocks.copy(run_start, run_end)
                    run_start = off
                run_end = end
                pos += end - off
                if b >= 0:
                    reused += 1
                continue
            if run_end >= 0:
                blocks.copy(run_start, run_end)
                run_end = -1
            head = blocks.get(off, min(end, off + 64))
            if b >= 0 and wk[b]:  # the base goes out earlier, at another distance
                i = 0  # past the type and size, kept as they are
                while head[i] & 0x80:
                    i += 1
                j = i = i + 1  # past the stored distance, replaced
                while head[j] & 0x80:
                    j += 1
                header = bytes(head[:i]) + encode_ofs(pos - (so[b] - shifts[b]))
                reused += 1
                blocks.put(header)
                blocks.copy(off + j + 1, end)
                pos += len(header) + end - off - j - 1
                continue
            hdr = parse_entry_header(head, off)
            base = ix.sha_at(hdr.base_offset) if hdr.base_offset is not None else hdr.base_sha
            assert base is not None
            if base in members or base in extra:
                header = encode_entry_header(REF_DELTA, hdr.size) + base
            else:
                typ, data = reader.resolve_at(p, off)
                body = zlib.compress(data, FULL_OBJECT_LEVEL)
                header = encode_entry_header(typ, len(data))
                blocks.put(header)
                blocks.put(body)
                pos += len(header) + len(body)
                continue
            reused += 1
            blocks.put(header)
            blocks.copy(off + hdr.data_start, end)
            pos += len(header) + end - off - hdr.data_start
        if run_end >= 0:
            blocks.copy(run_start, run_end)
        blocks.flush()
    out.finish()
    return total, reused
