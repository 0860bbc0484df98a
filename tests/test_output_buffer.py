"""What the doors hand on of a git service's writes (`OutputBuffer`)."""

from __future__ import annotations

import time

from emulator.repos.output_buffer import OutputBuffer


def test_writes_are_gathered_up_to_the_limit_and_none_is_lost() -> None:
    out: list[bytes] = []
    buf = OutputBuffer(out.append, 100, 60)
    written = b""
    for i in range(50):
        piece = bytes([i]) * (i % 17 + 1)
        buf.write(memoryview(piece))  # a view valid only during the call
        written += piece
    buf.flush()
    assert b"".join(out) == written
    assert all(len(chunk) <= 100 for chunk in out)
    assert all(len(chunk) > 100 - 17 for chunk in out[:-1])  # full, not one write each
    assert buf.started


def test_a_write_larger_than_the_buffer_goes_whole_after_what_was_held() -> None:
    out: list[bytes] = []
    buf = OutputBuffer(out.append, 64, 60)
    buf.write(b"head")
    buf.write(b"x" * 200)
    buf.write(b"tail")
    buf.flush()
    assert out == [b"head", b"x" * 200, b"tail"]


def test_held_output_goes_once_the_interval_has_passed() -> None:
    out: list[bytes] = []
    buf = OutputBuffer(out.append, 1 << 20, 0.05)
    buf.write(b"progress 1%\r")
    assert out == []  # small and recent: held
    time.sleep(0.1)
    buf.write(b"progress 2%\r")
    assert out == [b"progress 1%\rprogress 2%\r"]


def test_discarded_output_is_never_handed_on() -> None:
    out: list[bytes] = []
    buf = OutputBuffer(out.append, 1 << 20, 60)
    buf.write(b"half an answer")
    buf.discard()
    buf.write(b"ERR")
    buf.flush()
    assert out == [b"ERR"]
    assert buf.started
