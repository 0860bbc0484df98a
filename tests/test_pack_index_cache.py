"""The shared index cache reads an index's checksum once per published version of the files,
not on every request: a pack and index replaced under the same name must still be read
afresh by the next reader, never answered from the cached index of the files they replaced."""

from __future__ import annotations

import shutil
from pathlib import Path

from emulator.repos.files import PACK_DIR, LocalRepoFiles
from emulator.repos.pack_reader import PackCache, PackReader
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
