"""The walk of what the refs reach, over packs git wrote: one walk at a time per set of packs."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from emulator.repos.commit_graph import load_graph
from emulator.repos.files import PACK_DIR, LocalRepoFiles
from emulator.repos.pack_reader import PackCache, PackReader
from emulator.repos.reachability import reachable_objects
from tests.conftest import git

DIRS = 1100  # trees enough for the walk to ask whether to stop (every 512 trees read)


def _stored_repo(env: dict[str, str], tmp: Path) -> tuple[LocalRepoFiles, str, bytes, int]:
    work = tmp / "w"
    work.mkdir()
    git(env, "init", "-q", "-b", "main", cwd=work)
    for i in range(DIRS):
        (work / f"d{i}").mkdir()
        (work / f"d{i}" / "f").write_text(f"{i}\n")
    git(env, "add", ".", cwd=work)
    git(env, "commit", "-q", "-m", "many trees", cwd=work)
    git(env, "repack", "-q", "-a", "-d", cwd=work)
    [idx] = (work / ".git" / PACK_DIR).glob("*.idx")
    files = LocalRepoFiles(tmp / "store")
    name = idx.stem
    for suffix in (".pack", ".idx"):
        copy = tmp / f"copy{suffix}"
        shutil.copy(idx.with_suffix(suffix), copy)
        files.publish(f"{PACK_DIR}/{name}{suffix}", copy)
    tip = bytes.fromhex(git(env, "rev-parse", "main", cwd=work).stdout.strip())
    objects = len(git(env, "rev-list", "--objects", "--all", cwd=work).stdout.splitlines())
    return files, name, tip, objects


def test_a_clone_during_the_background_walk_does_not_walk_every_tree_again(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    """The collector starts its walk after a push; a clone that comes in meanwhile waits for
    that walk's answer instead of walking every tree a second time beside it."""
    files, name, tip, objects = _stored_repo(git_env, tmp_path)
    cache = PackCache()
    tips = frozenset({tip})
    first_walking = threading.Event()
    release = threading.Event()
    second_walked = threading.Event()
    answers: dict[str, int] = {}

    def hold() -> bool:  # the first walk, stopped in its middle until released
        first_walking.set()
        release.wait(30)
        return False

    def count() -> bool:
        second_walked.set()
        return False

    def walk(label: str, should_stop: Callable[[], bool]) -> None:
        with PackReader(files, [name], cache) as reader:
            found = reachable_objects(reader, load_graph(reader), tips, should_stop)
            answers[label] = len(found)

    a = threading.Thread(target=walk, args=("first", hold))
    b = threading.Thread(target=walk, args=("second", count))
    a.start()
    try:
        assert first_walking.wait(30)
        b.start()
        # a second walk of its own would ask `count` within its first 512 trees
        assert not second_walked.wait(1.5)
    finally:
        release.set()
        a.join(30)
        if b.ident is not None:  # started
            b.join(30)
    assert answers == {"first": objects, "second": objects}
    assert not second_walked.is_set()  # it took the first walk's answer


def test_reachable_set_equal_to_the_stored_pack_is_kept_once(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    """After a mirror push or a repack the refs reach exactly what the pack holds: the walk's
    answer (and the default branch's closure, when it is the same) is the index's own table,
    not a second copy of a quarter of a million ids, and the cache counts it once."""
    files, name, tip, objects = _stored_repo(git_env, tmp_path)
    cache = PackCache()
    kept: list[object] = []
    with PackReader(files, [name], cache) as reader:
        graph = load_graph(reader)
        found = reachable_objects(reader, graph, frozenset({tip}), None, (tip, kept.append))
        index_table = reader.indexes[0].shas
        assert len(found) == objects
        assert found is index_table
        assert kept == [index_table]
        _, reach_bytes = cache.stats().kinds["reach"]
        assert reach_bytes < index_table.cache_bytes() // 10
