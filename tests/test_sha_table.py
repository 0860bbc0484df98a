"""`ShaTable` against a Python set of the same ids: lookups, order, splicing new ids in."""

from __future__ import annotations

import random

import pytest

from emulator.repos.sha_table import ShaTable


def _ids(rng: random.Random, n: int) -> list[bytes]:
    return [rng.randbytes(20) for _ in range(n)]


def test_lookups_and_order_match_a_set_of_the_same_ids() -> None:
    rng = random.Random(7)
    ids = set(_ids(rng, 5000))
    table = ShaTable.of(ids)
    ordered = sorted(ids)
    assert len(table) == len(ids)
    assert list(table) == ordered
    assert table[0] == ordered[0] and table[-1] == ordered[-1]
    for i, sha in enumerate(ordered[::97]):
        assert table.position(sha) == i * 97
        assert sha in table
    for sha in _ids(rng, 500):
        assert (sha in table) == (sha in ids)
    assert b"short" not in table and "not bytes" not in table
    with pytest.raises(IndexError):
        table[len(ids)]


def test_ids_sharing_their_first_eight_bytes_are_told_apart() -> None:
    prefix = b"\x5a" * 8
    a, b, c = (prefix + bytes([k]) * 12 for k in (1, 2, 3))
    table = ShaTable.of([c, a])
    assert (table.position(a), table.position(c)) == (0, 1)
    assert b not in table
    grown = table.union([b, a])
    assert list(grown) == [a, b, c]
    assert grown.position(b) == 1
    assert prefix + b"\x00" * 12 not in grown and prefix + b"\xff" * 12 not in grown


def test_union_splices_new_ids_into_their_places() -> None:
    rng = random.Random(11)
    ids = set(_ids(rng, 3000))
    table = ShaTable.of(ids)
    more = _ids(rng, 200) + rng.sample(sorted(ids), 50)  # new ones and ones already there
    grown = table.union(more)
    assert list(grown) == sorted(ids | set(more))
    assert table.union(rng.sample(sorted(ids), 10)) is table  # nothing new: the same table
    assert list(ShaTable(b"").union(more)) == sorted(set(more))


def test_a_blob_that_is_not_whole_ids_is_refused() -> None:
    with pytest.raises(ValueError):
        ShaTable(b"\0" * 21)


def test_ids_at_both_ends_of_every_first_byte_are_found() -> None:
    # Lookups bisect only the ids of the first byte they start with (git's fan-out): the
    # lowest and highest id of each first byte, and the first bytes no id starts with.
    rng = random.Random(5)
    ids = {bytes([b]) + fill * 19 for b in range(0, 256, 3) for fill in (b"\x00", b"\xff")}
    ids |= set(_ids(rng, 300))
    table = ShaTable.of(ids)
    for i, sha in enumerate(sorted(ids)):
        assert table.position(sha) == i
    for b in range(1, 256, 3):
        probe = bytes([b]) + b"\x00" * 19
        assert (probe in table) == (probe in ids)
    assert ShaTable(b"").position(b"\x00" * 20) is None
    assert b"\xff" * 20 not in ShaTable.of([b"\x00" * 20])


def test_ids_that_differ_only_after_the_bisected_bytes_keep_their_order() -> None:
    """Lookups bisect on bytes 1-4 within the ids of one first byte: ids equal there (and
    others around them) are still found, ordered and refused by their remaining bytes."""
    rng = random.Random(7)
    prefixes = [bytes([b]) + rng.randbytes(4) for b in (0, 0x5A, 0xFF)]
    same = [p + rng.randbytes(15) for p in prefixes for _ in range(40)]
    ids = sorted(set(same + _ids(rng, 3000)))
    table = ShaTable.of(reversed(ids))
    assert list(table) == ids
    for i, sha in enumerate(ids):
        assert table.position(sha) == i
    for p in prefixes:
        for _ in range(50):
            probe = p + rng.randbytes(15)
            assert (probe in table) == (probe in set(ids))
    absent = [p + rng.randbytes(15) for p in prefixes for _ in range(20)]
    absent = [a for a in absent if a not in set(ids)]
    assert list(table.union(absent)) == sorted(set(ids) | set(absent))
