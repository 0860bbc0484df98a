"""Packs no git client would send, built byte by byte: entries whose headers lie about their
size, and delta chains whose every link rebuilds a large object from a few bytes."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable

BLOB, OFS_DELTA = 3, 6


def entry_header(kind: int, size: int) -> bytes:
    """git's variable-length type-and-size header of a pack entry."""
    out = bytearray()
    c = (kind << 4) | (size & 15)
    size >>= 4
    while size:
        out.append(c | 0x80)
        c = size & 0x7F
        size >>= 7
    out.append(c)
    return bytes(out)


def ofs_offset(distance: int) -> bytes:
    """The OFS_DELTA base distance, in git's big-endian base-128 with the +1 bias."""
    out = bytearray([distance & 0x7F])
    distance >>= 7
    while distance:
        distance -= 1
        out.insert(0, 0x80 | (distance & 0x7F))
        distance >>= 7
    return bytes(out)


def varint(n: int) -> bytes:
    """A delta's little-endian base-128 size."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def copy_op(offset: int, size: int) -> bytes:
    """A delta instruction copying `size` (< 2**24) bytes at `offset` of the base."""
    op, args = 0x80, bytearray()
    for i in range(4):
        byte = (offset >> (8 * i)) & 0xFF
        if byte:
            op |= 1 << i
            args.append(byte)
    for i in range(3):
        byte = (size >> (8 * i)) & 0xFF
        if byte:
            op |= 0x10 << i
            args.append(byte)
    return bytes([op]) + bytes(args)


def deflate_stream(chunks: Iterable[bytes]) -> bytes:
    z = zlib.compressobj(9)
    return b"".join(z.compress(c) for c in chunks) + z.flush()


def pack(entries: Iterable[bytes]) -> bytes:
    """A version-2 pack of already-encoded entries, with its trailing checksum."""
    body = list(entries)
    data = b"PACK" + (2).to_bytes(4, "big") + len(body).to_bytes(4, "big") + b"".join(body)
    return data + hashlib.sha1(data).digest()  # noqa: S324 - git's pack checksum


def lying_blob_pack(declared: int, inflated: int) -> bytes:
    """One blob entry whose header says `declared` bytes and whose zlib stream inflates to
    `inflated` zero bytes (a few hundred KiB of pack for a GiB)."""
    mib = b"\0" * (1 << 20)
    chunks = [mib] * (inflated >> 20) + [b"\0" * (inflated & ((1 << 20) - 1))]
    return pack([entry_header(BLOB, declared) + deflate_stream(chunks)])


def delta_chain_pack(links: int, size: int) -> tuple[bytes, bytes]:
    """A blob of `size` bytes followed by `links` OFS deltas, each the previous object with
    one byte changed: a pack of a few KiB whose objects are all `size` bytes. Returns the pack
    and the SHA-1 of its last object."""
    base = bytes(size)
    entries = [entry_header(BLOB, size) + deflate_stream([base])]
    offsets = [12]
    position = 12 + len(entries[0])
    data = base
    step = (1 << 24) - 1
    for i in range(links):
        # copy everything but the last byte, in copies of at most 2**24 - 1, then insert one
        ops = bytearray(varint(size) + varint(size))
        done = 0
        while done < size - 1:
            n = min(step, size - 1 - done)
            ops += copy_op(done, n)
            done += n
        last = bytes([(i + 1) & 0xFF or 1])
        ops += bytes([1]) + last
        data = data[:-1] + last
        delta = zlib.compress(bytes(ops), 9)
        e = entry_header(OFS_DELTA, len(ops)) + ofs_offset(position - offsets[-1]) + delta
        offsets.append(position)
        entries.append(e)
        position += len(e)
    sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324
    return pack(entries), sha.encode()
