"""The shared index cache reads an index's checksum once per published version of the files,
not on every request: a pack and index replaced under the same name must still be read
afresh by the next reader, never answered from the cached index of the files they replaced."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from emulator.repos.files import PACK_DIR, LocalRepoFiles
from emulator.repos.pack_reader import PackCache, PackReader
from emulator.repos.pack_send import duplicate_positions
from tests.conftest import git, make_commits


def _packed(env: dict[str, str], work: Path, prefix: str, count: int) -> tuple[str, Path]:
    [*_, tip] = make_commits(env, work, count, prefix=prefix)
    git(env, "repack", "-q", "-a", "-d", cwd=work)
    [idx] = (work / ".git" / PACK_DIR).glob("*.idx")
    return tip, idx


def _publish(files: LocalRepoFiles, tmp: Path, idx: Path, name: str) -> None:
    for suffix in (".pack", ".idx"):
        copy = tmp / f"copy{suffix}"
        shutil.copy(idx.with_suffix(suffix), copy)
        files.publish(f"{PACK_DIR}/{name}{suffix}", copy)


def test_a_pack_replaced_under_the_same_name_is_not_read_through_the_old_index(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    first, idx1 = _packed(git_env, tmp_path / "one", "one", 2)
    second, idx2 = _packed(git_env, tmp_path / "two", "two", 5)
    files = LocalRepoFiles(tmp_path / "store")
    cache = PackCache()
    name = "pack-" + "a" * 40
    _publish(files, tmp_path, idx1, name)
    with PackReader(files, [name], cache) as reader:
        assert bytes.fromhex(first) in reader
        assert bytes.fromhex(second) not in reader
    _publish(files, tmp_path, idx2, name)
    with PackReader(files, [name], cache) as reader:
        assert bytes.fromhex(second) in reader
        assert bytes.fromhex(first) not in reader
        obj = reader.get(bytes.fromhex(second))
        assert obj is not None and obj[1].startswith(b"tree ")


def test_duplicate_positions_are_what_earlier_packs_hold(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    # Kept for as long as a set of packs is read: a byte per entry, not a set of positions.
    # Checked against sets built from the idx files, with each order of sizes: a later pack
    # that is a superset of an earlier one, and an earlier pack of few, large objects before a
    # later one of many small objects sharing one of them.
    files = LocalRepoFiles(tmp_path / "store")
    names: list[str] = []

    def publish(idx: Path) -> None:
        names.append(f"pack-{len(names):040d}")
        _publish(files, tmp_path, idx, names[-1])

    one = tmp_path / "one"
    publish(_packed(git_env, one, "one", 4)[1])
    publish(_packed(git_env, one, "more", 6)[1])  # the same history and more
    for repo, prefix, count, big in (("big", "big", 1, True), ("many", "many", 30, False)):
        work = tmp_path / repo
        make_commits(git_env, work, count, prefix=prefix)
        (work / "shared.txt").write_text("shared\n")
        if big:
            (work / "big.bin").write_bytes(os.urandom(400_000))
        git(git_env, "add", ".", cwd=work)
        git(git_env, "commit", "-q", "-m", "shared", cwd=work)
        git(git_env, "repack", "-q", "-a", "-d", cwd=work)
        [idx] = (work / ".git" / PACK_DIR).glob("*.idx")
        publish(idx)
    with PackReader(files, names, PackCache()) as reader:
        order = [ix.name for ix in reader.indexes]
        assert order.index(names[2]) < order.index(names[3])  # few large objects first
        assert reader.indexes[order.index(names[2])].count < (
            reader.indexes[order.index(names[3])].count
        )
        seen: set[bytes] = set()
        found = duplicate_positions(reader)
        for ix, dups in zip(reader.indexes, found, strict=True):
            expected = {i for i, sha in enumerate(ix.shas) if sha in seen}
            assert set(dups) == expected
            assert len(dups) == len(expected) and bool(dups) == bool(expected)
            assert all((i in dups) == (i in expected) for i in range(ix.count))
            seen.update(ix.shas)
        assert sum(len(d) for d in found) == 4 * 3 + 1  # the first history, and shared.txt
