"""Memory that comes back under load: the requests' resolved objects share one budget, and the
pack cache shrinks to its idle budget once the server has been idle."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from conftest import Server, git, start_server

from emulator.repos.pack_cache import ENTRY_OVERHEAD, PackCache
from emulator.repos.resolved_budget import ResolvedBudget

MIB = 1024 * 1024


def _stats(server: Server) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "/_ccemu/stats", timeout=30) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


def _wide_history(env: dict[str, str], path: Path, files: int = 400, commits: int = 200) -> None:
    """A bare repository whose every commit changes one file of one wide directory: each
    commit has two new trees of `files` entries (about 19 KB each, stored as deltas), so a
    walk of its history resolves several MiB of trees. `side` is the history's first half."""
    stream = bytearray()

    def data(b: bytes) -> None:
        stream.extend(b"data %d\n" % len(b) + b + b"\n")

    for c in range(commits):
        stream.extend(b"commit refs/heads/main\ncommitter T <t@e> %d +0000\n" % (1_700_000_000 + c))
        data(b"commit %d" % c)
        changed = range(files) if c == 0 else [(c * 7) % files]
        for f in changed:
            stream.extend(b"M 100644 inline dir/file-%04d.txt\n" % f)
            data(b"file %d version %d\n" % (f, c) * 20)
        if c == commits // 2:
            stream.extend(b"reset refs/heads/side\nfrom refs/heads/main\n")
        stream.extend(b"\n")
    git(env, "init", "-q", "--bare", str(path))
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=path, env=env, input=bytes(stream), check=True
    )
    git(env, "repack", "-adq", cwd=path)


def _objects(env: dict[str, str], repo: Path, *refs: str) -> tuple[str, list[str]]:
    """What a repository holds: its refs (those named, or all) and every object they reach,
    sorted."""
    refs_out = git(env, "for-each-ref", "--format=%(objectname) %(refname)", *refs, cwd=repo)
    tips = refs or ("--all",)
    listed = git(env, "rev-list", "--objects", *tips, cwd=repo).stdout.split("\n")
    return refs_out.stdout, sorted(line.split(" ")[0] for line in listed if line)


def _push_copies(server: Server, env: dict[str, str], src: Path, names: list[str]) -> None:
    cc = server.client()
    for name in names:
        cc.create_repository(repositoryName=name)
        git(env, "push", "-q", "--mirror", server.git_url(name), cwd=src)


# -- the shared account of resolved objects ---------------------------------------------------


def test_reader_beyond_its_floor_cannot_take_what_the_account_has_spent() -> None:
    budget = ResolvedBudget(max_bytes=16 * 100)  # floor: 100 bytes
    a, b = budget.grant(), budget.grant()
    a.take(1500)
    assert not a.must_give(10_000)  # within the budget: kept
    b.take(100)  # b's floor is granted although the account has only 100 left
    b.take(50)
    assert budget.stats().bytes == 1650
    assert b.must_give(10_000)  # beyond its floor while the account is spent: b evicts
    assert a.must_give(10_000)  # and so does a, at its next entry
    b.give(50, evicted=1)
    a.give(200, evicted=2)
    assert not a.must_give(10_000) and not b.must_give(10_000)
    a.release()
    b.release()
    b.release()  # twice: nothing more
    stats = budget.stats()
    assert (stats.bytes, stats.readers, stats.peak_bytes, stats.evicted) == (0, 0, 1650, 3)


def test_concurrent_clones_never_hold_more_resolved_objects_than_the_shared_budget(
    git_env: dict[str, str], tmp_path: Path
) -> None:
    """Each request used to keep up to 32 MiB of resolved objects of its own: N concurrent
    walks held N times that. With a 1 MiB account (floor 64 KiB), four concurrent walks of
    several MiB of trees each hold at most the budget plus a floor each, and give it all back."""
    src = tmp_path / "src.git"
    _wide_history(git_env, src)
    server = start_server(
        tmp_path / "data", "--resolved-cache-mib", "1", "--maintenance-delay", "3600"
    )
    try:
        names = [f"wide-{i}" for i in range(4)]
        _push_copies(server, git_env, src, names)
        account = _stats(server)["resolved"]
        assert (account["maxBytes"], account["floorBytes"]) == (MIB, MIB // 16)
        errors: list[BaseException] = []
        seen: list[int] = []
        done = threading.Event()

        def clone(name: str) -> None:
            try:
                # One branch of several: the server walks what it reaches (no pack reuse).
                url = server.git_url(name)
                out = str(tmp_path / f"{name}.git")
                git(git_env, "clone", "-q", "--bare", "--single-branch", "-b", "side", url, out)
            except BaseException as exc:
                errors.append(exc)

        def watch() -> None:
            while not done.is_set():
                seen.append(_stats(server)["resolved"]["bytes"])
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        clones = [threading.Thread(target=clone, args=(n,)) for n in names]
        for t in clones:
            t.start()
        for t in clones:
            t.join()
        done.set()
        watcher.join()
        assert not errors, errors
        account = _stats(server)["resolved"]
        bound = MIB + 4 * (MIB // 16)  # the budget, and a floor for each concurrent reader
        assert max(seen) <= bound, seen
        # The walks did lean on the account (they resolve several MiB each), never past it.
        assert MIB // 2 < account["peakBytes"] <= bound, account
        assert account["evicted"] > 0
        # Every reader gave back what it held when its request ended.
        assert (account["bytes"], account["readers"]) == (0, 0), account
        for name in names:
            want = _objects(git_env, src, "refs/heads/side")
            assert _objects(git_env, tmp_path / f"{name}.git") == want
            git(git_env, "fsck", "--strict", cwd=tmp_path / f"{name}.git")
        # The server still serves the next request.
        git(git_env, "ls-remote", server.git_url(names[0]))
    finally:
        server.stop()


# -- the idle budget of the pack cache --------------------------------------------------------


def test_idle_shrink_drops_answers_before_indexes_and_least_recent_first() -> None:
    cache = PackCache(max_bytes=10_000, idle_bytes=4_000)
    entry = 1_000 - ENTRY_OVERHEAD
    cache.get_or_build(("memo", "r"), lambda: ("memo", entry), owner="r")
    cache.get_or_build(("idx", "old"), lambda: ("idx", entry), owner="r")
    cache.get_or_build(("commits", "a"), lambda: ("graph", entry), owner="r")
    cache.get_or_build(("idx", "new"), lambda: ("idx", entry), owner="r")
    cache.get_or_build(("differences", "r", 1), lambda: ("diff", entry), owner="r")
    cache.get_or_build(("reach", "k"), lambda: ("reach", entry), owner="r")
    # 6,000 bytes against 4,000: the two answers go (although one is the second most recent),
    # not an index or a graph.
    assert cache.shrink_idle() == 2_000
    assert sorted(cache.stats().kinds) == ["commits", "idx", "reach"]
    # Over the idle budget after the cheap kinds: the least recently used of the rest goes.
    cache.get_or_build(("peel", "x"), lambda: ("peel", entry), owner="r")
    cache.get_or_build(("dups", "y"), lambda: ("dups", entry), owner="r")
    used = cache.last_used
    assert cache.shrink_idle() == 2_000  # "peel", then the oldest index
    assert cache.last_used == used  # shrinking is not activity
    stats = cache.stats()
    assert (stats.bytes, stats.idle_bytes, stats.shrunk) == (4_000, 4_000, 4)
    assert cache.get_or_build(("idx", "old"), lambda: ("rebuilt", 0)) == "rebuilt"
    assert cache.get_or_build(("idx", "new"), lambda: ("rebuilt", 0)) == "idx"
    assert PackCache(max_bytes=10_000).idle_budget == 2_500  # a quarter unless set


def test_idle_server_shrinks_its_cache_and_still_clones_exactly(
    git_env: dict[str, str], tmp_path: Path
) -> None:
    """A full cache stayed full however long the server idled, so the idle trim could not give
    its pages back. After the work and the idle delay, the cache is within its idle budget
    (0 here: all of it goes), and a clone right after is exactly git's repository."""
    src = tmp_path / "src.git"
    _wide_history(git_env, src, files=100, commits=40)
    # No background maintenance: its pass would use (and refill) the cache after the trim.
    args = ("--cache-idle-mib", "0", "--memory-trim-idle", "1", "--maintenance-delay", "3600")
    server = start_server(tmp_path / "data", *args)
    try:
        _push_copies(server, git_env, src, ["busy"])
        cc = server.client()
        git(git_env, "clone", "-q", "--bare", server.git_url("busy"), str(tmp_path / "c1.git"))
        main = git(git_env, "rev-parse", "main", cwd=src).stdout.strip()
        side = git(git_env, "rev-parse", "side", cwd=src).stdout.strip()
        cc.get_commit(repositoryName="busy", commitId=main)
        cc.get_differences(
            repositoryName="busy", beforeCommitSpecifier=side, afterCommitSpecifier=main
        )
        stats = _stats(server)
        busy, trims = stats["cache"], stats["memory"]["trims"]
        assert busy["idleBytes"] == 0
        assert {"idx", "commits", "memo", "differences"} <= busy["byKind"].keys(), busy
        deadline = time.monotonic() + 30
        while _stats(server)["memory"]["trims"] == trims:
            assert time.monotonic() < deadline, "the idle server never shrank its cache"
            time.sleep(0.1)
        idle = _stats(server)["cache"]
        assert idle["bytes"] <= idle["idleBytes"], idle
        assert idle["byKind"] == {} and idle["shrunk"] >= busy["entries"], idle
        # A clone right after rebuilds what it needs and is exactly the pushed repository.
        git(git_env, "clone", "-q", "--bare", server.git_url("busy"), str(tmp_path / "c2.git"))
        assert _objects(git_env, tmp_path / "c2.git") == _objects(git_env, src)
        git(git_env, "fsck", "--strict", cwd=tmp_path / "c2.git")
        answer = cc.get_differences(
            repositoryName="busy", beforeCommitSpecifier=side, afterCommitSpecifier=main
        )
        assert answer["differences"]
    finally:
        server.stop()
