"""A pack index's offsets: four bytes an object in memory, eight past 2 GiB (the idx's own
64-bit offset table), as git writes them (Documentation/gitformat-pack.txt, "Version 2 pack-idx
files")."""

from __future__ import annotations

import hashlib
import struct

from emulator.repos.pack_reader import parse_index


def _idx(offsets: dict[bytes, int]) -> bytes:
    """A version-2 .idx of `offsets` (id -> offset); offsets of 2**31 and over go to the
    64-bit table, as git writes them."""
    ids = sorted(offsets)
    fanout = [sum(1 for s in ids if s[0] <= b) for b in range(256)]
    small: list[int] = []
    large: list[int] = []
    for s in ids:
        off = offsets[s]
        if off < 1 << 31:
            small.append(off)
        else:
            small.append(0x80000000 | len(large))
            large.append(off)
    body = b"\xfftOc" + struct.pack(">I", 2)
    body += struct.pack(">256I", *fanout) + b"".join(ids)
    body += struct.pack(f">{len(ids)}I", *[0] * len(ids))  # CRC32s, not read here
    body += struct.pack(f">{len(small)}I", *small) + struct.pack(f">{len(large)}Q", *large)
    body += b"\x11" * 20  # the pack's checksum
    return body + hashlib.sha1(body).digest()  # noqa: S324 - the idx trailer is SHA-1


def _id(n: int) -> bytes:
    return hashlib.sha1(b"%d" % n).digest()  # noqa: S324 - git ids are SHA-1


def test_offsets_of_a_pack_under_4_gib_take_four_bytes_each() -> None:
    offsets = {_id(n): 12 + 100 * n for n in range(500)}
    ix = parse_index("small", _idx(offsets), 12 + 100 * 500 + 20)
    assert ix.offsets.itemsize == 4 and ix.sorted_offsets.itemsize == 4
    for sha, off in offsets.items():
        assert ix.find(sha) == off
        assert ix.sha_at(off) == sha
        assert ix.entry_end(off) == off + 100


def test_offsets_past_2_gib_are_read_from_the_64_bit_table() -> None:
    """A pack of 6 GiB: entries past 2**31 and past 2**32 keep their full offsets, and the
    order of entries (each one's end) is right across the boundaries."""
    sizes = 1 << 30
    offsets = {_id(n): 12 + sizes * n for n in range(6)}
    pack_size = 12 + sizes * 6 + 20
    ix = parse_index("large", _idx(offsets), pack_size)
    for n in range(6):
        sha = _id(n)
        assert ix.find(sha) == 12 + sizes * n
        assert ix.sha_at(12 + sizes * n) == sha
        assert ix.entry_end(12 + sizes * n) == (12 + sizes * (n + 1) if n < 5 else pack_size - 20)
