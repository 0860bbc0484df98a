"""`PackOutput`: pack bytes framed onto side-band 1 the way git reads them (pkt-lines of at
most 65,520 bytes: Documentation/gitprotocol-pack.txt, "side-band, side-band-64k")."""

from __future__ import annotations

import hashlib
import random

from emulator.repos.pack_send import SIDEBAND_64K_DATA, PackOutput


def _unframe(stream: bytes) -> list[bytes]:
    frames = []
    pos = 0
    while pos < len(stream):
        size = int(stream[pos : pos + 4], 16)
        assert stream[pos + 4] == 1  # band 1: pack data
        frames.append(stream[pos + 5 : pos + size])
        pos += size
    return frames


def test_pieces_of_a_reused_buffer_come_out_as_whole_frames_in_order() -> None:
    """The pieces are views of one buffer refilled after each call (as a pack is streamed):
    every frame but the last is full, nothing is lost or repeated, and the trailer is the
    SHA-1 of everything before it."""
    rng = random.Random(3)
    payload = rng.randbytes(5 * SIDEBAND_64K_DATA + 4321)
    written: list[bytes] = []
    out = PackOutput(lambda b: written.append(bytes(b)), SIDEBAND_64K_DATA)
    buf = bytearray(1 << 20)
    pos = 0
    while pos < len(payload):
        n = min(rng.choice([1, 7, 1000, SIDEBAND_64K_DATA - 1, SIDEBAND_64K_DATA, 200_000]),
                len(payload) - pos)  # fmt: skip
        buf[:n] = payload[pos : pos + n]
        out.data(memoryview(buf)[:n])
        buf[:n] = b"\xee" * n  # the next read overwrites the buffer
        pos += n
    out.finish()
    frames = _unframe(b"".join(written))
    assert all(len(f) == SIDEBAND_64K_DATA for f in frames[:-1])
    body = b"".join(frames)
    assert body == payload + hashlib.sha1(payload).digest()  # noqa: S324 - git's pack trailer
