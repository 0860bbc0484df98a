"""The streaming pack indexer against git's own `index-pack`: same objects, byte-identical
`.idx`, whatever the delta encoding and however small the base cache."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from conftest import git, make_commits

from emulator.repos.pack_indexer import PackError, StreamIndexer, write_index_v2


def _pack(env: dict[str, str], work: Path, *flags: str) -> bytes:
    return subprocess.run(
        ["git", "pack-objects", "--revs", "--stdout", "-q", *flags],
        cwd=work,
        env=env,
        input=b"HEAD\n",
        capture_output=True,
        check=True,
    ).stdout


def _index(
    pack: bytes, tmp_path: Path, cache_bytes: int, piece: int = 1 << 30
) -> tuple[bytes, list[tuple[int, bytes]]]:
    """Index `pack` as it arrives in reads of at most `piece` bytes."""
    seen: list[tuple[int, bytes]] = []
    stream = io.BytesIO(pack)
    with open(tmp_path / "q.pack", "w+b") as f:
        indexed = StreamIndexer(
            lambda n: stream.read(min(n, piece)),
            f,
            lambda sha: None,
            lambda t, sha, c: seen.append((t, sha)),
            1 << 30,
            cache_bytes=cache_bytes,
        ).run()
    assert indexed is not None
    out = io.BytesIO()
    indexed.write_index(out)
    return out.getvalue(), seen


@pytest.mark.parametrize("flags", [(), ("--no-delta-base-offset",)], ids=["ofs", "ref"])
@pytest.mark.parametrize("cache_bytes", [64 << 20, 0], ids=["cached", "no-cache"])
def test_index_matches_git(
    git_env: dict[str, str], tmp_path: Path, flags: tuple[str, ...], cache_bytes: int
) -> None:
    work = tmp_path / "w"
    make_commits(git_env, work, 3)
    big = work / "big.txt"
    for i in range(6):  # versions of one file: delta chains
        big.write_text("".join(f"line {n} {'x' * (n % 7)}\n" for n in range(400 + i * 3)))
        git(git_env, "add", "big.txt", cwd=work)
        git(git_env, "commit", "-q", "-m", f"v{i}", cwd=work)
    pack = _pack(git_env, work, *flags)
    (tmp_path / "git.pack").write_bytes(pack)
    git(git_env, "index-pack", str(tmp_path / "git.pack"), cwd=work)
    ours, seen = _index(pack, tmp_path, cache_bytes)
    assert ours == (tmp_path / "git.idx").read_bytes()
    assert len(seen) == len({sha for _, sha in seen})


def test_entries_split_across_reads_get_the_crc_git_computes(
    git_env: dict[str, str], tmp_path: Path
) -> None:
    """A pack arrives in whatever pieces the connection delivers. An entry header that straddled
    two reads used to get the CRC of the wrong bytes in the `.idx` (git's `verify-pack` and its
    pack reuse then call the stored copy corrupt)."""
    work = tmp_path / "w"
    make_commits(git_env, work, 4)
    pack = _pack(git_env, work)
    (tmp_path / "git.pack").write_bytes(pack)
    git(git_env, "index-pack", str(tmp_path / "git.pack"), cwd=work)
    for piece in (7, 33, 1000):
        ours, _ = _index(pack, tmp_path, 64 << 20, piece)
        assert ours == (tmp_path / "git.idx").read_bytes(), piece


def test_truncated_and_corrupt(git_env: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "w"
    make_commits(git_env, work, 2)
    pack = _pack(git_env, work)
    for bad in (pack[:-30], pack[:12] + b"\x00" * (len(pack) - 12), pack[:-1] + b"\x00"):
        with pytest.raises(PackError):
            _index(bad, tmp_path, 1 << 20)


def test_delta_before_its_base_stores_the_pack_unchanged(tmp_path: Path) -> None:
    """A REF_DELTA may precede its base in a pushed pack (it is resolved once the base has
    arrived, by reading the delta back from the stored copy). Reading back used to write the
    pack's trailer a second time, so the stored pack ended in 20 bytes of junk and every clone
    that sent it as it is failed (`fatal: invalid length read`)."""
    import hashlib
    import zlib

    from dulwich.objects import Blob

    from emulator.repos.pack_reader import OBJ_BLOB, REF_DELTA, encode_entry_header

    base = Blob.from_string(b"".join(b"line %d of the base\n" % n for n in range(200)))
    target = base.data + b"one more line\n"
    # copy the whole base, then insert the new line
    n = len(base.data)
    delta = bytes([n & 0x7F | 0x80, n >> 7, len(target) & 0x7F | 0x80, len(target) >> 7])
    delta += bytes([0x80 | 0x10 | 0x20, n & 0xFF, n >> 8])
    delta += bytes([14]) + b"one more line\n"
    body = b"PACK\0\0\0\2\0\0\0\2"
    body += encode_entry_header(REF_DELTA, len(delta)) + base.sha().digest()
    body += zlib.compress(delta)
    body += encode_entry_header(OBJ_BLOB, n) + zlib.compress(base.data)
    pack = body + hashlib.sha1(body).digest()  # noqa: S324 - the pack trailer is SHA-1
    stream = io.BytesIO(pack)
    seen: list[tuple[int, bytes]] = []
    with open(tmp_path / "q.pack", "w+b") as f:
        indexed = StreamIndexer(
            stream.read, f, lambda sha: None, lambda t, sha, c: seen.append((t, sha)), 1 << 30
        ).run()
    assert indexed is not None
    assert {sha.hex() for _, sha in seen} == {
        base.id.decode(),
        Blob.from_string(target).id.decode(),
    }
    assert (tmp_path / "q.pack").read_bytes() == pack


def test_index_of_a_pack_past_2_gib_keeps_large_offsets() -> None:
    # Offsets of 2 GiB and more go to the index's 64-bit table (git's pack-format): read back
    # by the reader's own parser, every entry is where it was.
    from emulator.repos.pack_reader import parse_index

    entries = sorted(
        [
            (bytes([0x01]) + b"\x00" * 19, 12, 7),
            (bytes([0x80]) + b"\x11" * 19, 3 << 30, 8),
            (bytes([0xFF]) + b"\x22" * 19, (5 << 30) + 3, 9),
            (bytes([0x80]) + b"\x33" * 19, 0x7FFFFFFF, 10),
        ]
    )
    out = io.BytesIO()
    write_index_v2(out, entries, b"\x44" * 20)
    ix = parse_index("big", out.getvalue(), (6 << 30) + 20)
    for sha, offset, _ in entries:
        assert ix.find(sha) == offset
