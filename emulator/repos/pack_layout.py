"""A pack's delta layout in pack order: for each entry, the entry its delta is made against.

`send_closure` copies the stored entries of a large object set in runs, as they are, which an
OFS_DELTA allows only when its base goes out at the same distance before it. Telling that needs
each entry's base without parsing 100,000s of entry headers per request, so the layout is read
once per pack (by the same sequential scan that builds the pack's commit graph) and kept in the
`PackCache` as one `array` (4 bytes an entry).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

from emulator.repos.pack_reader import OFS_DELTA, REF_DELTA, PackReader, parse_entry_header

_WINDOW = 1 << 20

WHOLE = -1  # an entry stored whole
BY_ID = -2  # a REF_DELTA: its base is named by id (maybe in another pack)


class LayoutBuilder:
    """Collects the layout of one pack while its entries are read in pack order."""

    def __init__(self, sorted_offsets: array[int]) -> None:
        self._so = sorted_offsets
        self.bases = array("i")

    def add(self, typ: int, base_offset: int | None) -> None:
        if typ == OFS_DELTA:
            assert base_offset is not None
            k = bisect_left(self._so, base_offset)
            self.bases.append(k if self._so[k] == base_offset else BY_ID)
        elif typ == REF_DELTA:
            self.bases.append(BY_ID)
        else:
            self.bases.append(WHOLE)


def layout_key(reader: PackReader, p: int) -> tuple[object, ...]:
    return ("layout", reader.indexes[p].key)


def remember_layout(reader: PackReader, p: int, bases: array[int]) -> None:
    reader.cached(layout_key(reader, p), lambda: (bases, 4 * len(bases) + 64))


def entry_bases(reader: PackReader, p: int) -> array[int]:
    """For each entry of pack `p` in pack order: the pack-order index of its OFS_DELTA base,
    `WHOLE`, or `BY_ID`."""

    def build() -> tuple[object, int]:
        ix = reader.indexes[p]
        so = ix.sorted_offsets
        builder = LayoutBuilder(so)
        f = reader.file(p)
        buf = b""
        buf_start = 0
        for k in range(ix.count):
            off = so[k]
            want_end = min(so[k + 1], off + 32)
            if off < buf_start or want_end > buf_start + len(buf):
                f.seek(off)
                buf = f.read(max(_WINDOW, want_end - off))
                buf_start = off
            hdr = parse_entry_header(buf, off, off - buf_start)
            builder.add(hdr.type, hdr.base_offset)
        return builder.bases, 4 * len(builder.bases) + 64

    bases = reader.cached(layout_key(reader, p), build)
    assert isinstance(bases, array)
    return bases
