"""Memory that comes back: the pack caches are bounded in bytes, a deleted repository's entries
go with it, and freed heap is returned to the system once the server is idle."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, git, make_commits, start_server
from maintenance import run_maintenance

from emulator.memory import fix_mmap_threshold, limit_arenas
from emulator.repos.pack_cache import ENTRY_OVERHEAD, PackCache, Weighed


def test_cache_weighs_entries_in_bytes_and_evicts_least_recently_used() -> None:
    cache = PackCache(max_bytes=10_000)
    for name in "abc":
        cache.get_or_build(name, lambda n=name: (n, 3_000 - ENTRY_OVERHEAD), owner="r1")
    assert cache.stats().bytes == 9_000
    cache.get_or_build("a", lambda: ("rebuilt", 0))  # a hit: "a" becomes the most recent
    cache.get_or_build("d", lambda: ("d", 3_000 - ENTRY_OVERHEAD), owner="r1")
    stats = cache.stats()
    assert (stats.bytes, stats.entries, stats.evicted) == (9_000, 3, 1)
    assert cache.get_or_build("b", lambda: ("b again", 0)) == "b again"  # "b" went first
    # A value larger than the whole budget is built and used, never kept.
    assert cache.get_or_build("huge", lambda: ("huge", 20_000)) == "huge"
    assert cache.get_or_build("huge", lambda: ("built again", 0)) == "built again"
    assert cache.stats().bytes <= 10_000


def test_growing_value_is_reweighed_at_each_use() -> None:
    class Memo(Weighed):
        size = 100

        def cache_bytes(self) -> int:
            return self.size

    cache = PackCache(max_bytes=100_000)
    memo = Memo()
    cache.get_or_build("memo", lambda: (memo, memo.size))
    memo.size = 50_000
    cache.get_or_build("memo", lambda: (Memo(), 0))
    assert cache.stats().bytes == 50_000 + ENTRY_OVERHEAD


def test_forgetting_a_repository_keeps_what_another_one_uses() -> None:
    cache = PackCache(max_bytes=1 << 20)
    cache.get_or_build(("idx", "shared"), lambda: ("idx", 1000), owner="a")
    cache.get_or_build(("idx", "shared"), lambda: ("idx", 1000), owner="b")
    cache.get_or_build(("memo", "a"), lambda: ("memo", 500), owner="a")
    assert cache.forget_owner("a") == 500 + ENTRY_OVERHEAD
    assert cache.owned_bytes("a") == 0
    assert cache.owned_bytes("b") == 1000 + ENTRY_OVERHEAD
    cache.forget_owner("b")
    assert cache.stats().entries == 0


def test_retiring_packs_drops_what_was_built_from_them() -> None:
    cache = PackCache(max_bytes=1 << 20)
    old_a, old_b, new = ("pack-aa", b"1"), ("pack-bb", b"2"), ("pack-cc", b"3")
    cache.get_or_build(("idx", *old_a), lambda: ("idx", 1000), owner="r")
    cache.get_or_build(("commits", old_b), lambda: ("graph", 1000), owner="r")
    cache.get_or_build(("dups", (old_a, old_b)), lambda: ("dups", 1000), owner="r")
    cache.get_or_build(("idx", *new), lambda: ("idx", 700), owner="r")
    cache.get_or_build(("idx", *old_a), lambda: ("idx", 1000), owner="other")  # shared
    assert cache.forget_packs("r", ["pack-aa", "pack-bb"]) == 2 * (1000 + ENTRY_OVERHEAD)
    assert cache.owned_bytes("r") == 700 + ENTRY_OVERHEAD
    assert cache.owned_bytes("other") == 1000 + ENTRY_OVERHEAD  # another repository's use


def test_what_was_built_for_an_older_set_of_packs_goes_when_a_push_adds_one() -> None:
    cache = PackCache(max_bytes=1 << 20)
    one = (("pack-aa", b"1"),)
    two = (("pack-bb", b"2"), ("pack-aa", b"1"))
    cache.pack_set("r", one)
    cache.get_or_build(("generations", one), lambda: ("gen", 1000), owner="r")
    cache.get_or_build(("exact", one, frozenset()), lambda: (True, 10), owner="r")
    cache.get_or_build(("idx", "pack-aa", b"1", 99), lambda: ("idx", 500), owner="r")
    cache.get_or_build(("reach", one[0]), lambda: ([], 300), owner="r")  # per base pack: kept
    cache.get_or_build(("generations", one), lambda: ("gen", 1000), owner="other")
    cache.pack_set("r", one)  # the same set again: nothing goes
    assert cache.owned_bytes("r") == 1000 + 10 + 500 + 300 + 4 * ENTRY_OVERHEAD
    cache.pack_set("r", two)  # a push added a pack
    assert cache.owned_bytes("r") == 500 + 300 + 2 * ENTRY_OVERHEAD
    assert cache.owned_bytes("other") == 1000 + ENTRY_OVERHEAD  # still used elsewhere
    cache.forget_owner("r")
    cache.forget_owner("other")
    assert cache.stats().entries == 0


def _stats(server: Server) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "/_ccemu/stats", timeout=30) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


@pytest.fixture
def trimming_server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path / "data", "--memory-trim-idle", "0.2")
    yield srv
    srv.stop()


def _push_and_clone(server: Server, env: dict[str, str], work: Path, name: str) -> str:
    server.client().create_repository(repositoryName=name)
    head = make_commits(env, work / name, 3)[-1]
    git(env, "push", "-q", server.git_url(name), "HEAD:refs/heads/main", cwd=work / name)
    git(env, "clone", "-q", "--bare", server.git_url(name), str(work / f"{name}-clone"))
    return head


def test_deleted_repository_leaves_nothing_in_the_caches(
    trimming_server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    server = trimming_server
    cc = server.client()
    for name in ("kept", "deleted"):
        head = _push_and_clone(server, git_env, tmp_path, name)
        cc.get_commit(repositoryName=name, commitId=head)  # the repository's memo too
    full = _stats(server)["cache"]
    assert full["bytes"] > 0
    kinds = full["byKind"]  # what the clones and the API call built, kind by kind
    assert {"idx", "commits", "memo"} <= kinds.keys(), kinds
    assert sum(k["bytes"] for k in kinds.values()) == full["bytes"]
    assert sum(k["entries"] for k in kinds.values()) == full["entries"]
    cc.delete_repository(repositoryName="deleted")
    after = _stats(server)["cache"]
    assert 0 < after["bytes"] < full["bytes"]
    # The other repository's entries are intact and it still serves.
    git(git_env, "clone", "-q", "--bare", server.git_url("kept"), str(tmp_path / "again"))
    cc.delete_repository(repositoryName="kept")
    # Every entry was owned by one of the two: nothing is left.
    assert _stats(server)["cache"] == {**after, "bytes": 0, "entries": 0, "byKind": {}}


def test_repack_leaves_no_entries_of_the_packs_it_retired(
    git_env: dict[str, str], tmp_path: Path
) -> None:
    server = start_server(tmp_path / "data", "--maintenance-delay", "3600")
    try:
        _three_packs_then_repack(server, git_env, tmp_path)
    finally:
        server.stop()


def _three_packs_then_repack(server: Server, git_env: dict[str, str], tmp_path: Path) -> None:
    server.client().create_repository(repositoryName="r")
    work = tmp_path / "work"
    url = server.git_url("r")
    make_commits(git_env, work, 15)
    git(git_env, "push", "-q", url, "HEAD:refs/heads/main", cwd=work)
    side = make_commits(git_env, work, 15, prefix="side")[-1]
    git(git_env, "push", "-q", url, f"{side}:refs/heads/side", cwd=work)
    git(git_env, "push", "-q", url, ":refs/heads/side", cwd=work)  # unreachable now
    git(git_env, "reset", "-q", "--hard", "HEAD~15", cwd=work)
    make_commits(git_env, work, 15, prefix="more")
    git(git_env, "push", "-q", url, "HEAD:refs/heads/main", cwd=work)  # three packs
    git(git_env, "clone", "-q", "--bare", url, str(tmp_path / "c1"))
    before = _stats(server)["cache"]
    # The refs no longer reach everything stored: the packs are merged into one, theirs retired.
    assert run_maintenance(server) == 1
    git(git_env, "clone", "-q", "--bare", url, str(tmp_path / "c2"))
    after = _stats(server)["cache"]
    # The new pack's entries weigh less than the three packs' did; the retired packs'
    # entries are gone rather than left for the budget to push out.
    assert 0 < after["bytes"] < before["bytes"], (before, after)


def test_freed_memory_is_returned_once_the_server_is_idle(
    trimming_server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    server = trimming_server
    memory = _stats(server)["memory"]
    if not memory["trimAvailable"]:
        pytest.skip("malloc_trim is glibc's")
    assert memory["trims"] == 0  # nothing has run: nothing to give back
    _push_and_clone(server, git_env, tmp_path, "worked")
    deadline = time.monotonic() + 30
    while _stats(server)["memory"]["trims"] == 0:
        assert time.monotonic() < deadline, "no trim after the work ended"
        time.sleep(0.1)
    last = _stats(server)["memory"]["lastTrim"]
    assert last["rssAfter"] <= last["rssBefore"]
    # Later work, after a long quiet spell, is followed by a trim of its own.
    time.sleep(0.5)
    git(git_env, "clone", "-q", "--bare", server.git_url("worked"), str(tmp_path / "later"))
    while _stats(server)["memory"]["trims"] == 1:
        assert time.monotonic() < deadline + 30, "no trim after the later work"
        time.sleep(0.1)


def test_request_in_flight_for_a_deleted_repository_leaves_nothing_behind() -> None:
    cache = PackCache(max_bytes=1 << 20)
    cache.forget_owner("deleted")
    assert cache.get_or_build("late", lambda: ("built", 100), owner="deleted") == "built"
    assert cache.stats().entries == 0


def test_arena_limit_leaves_an_explicit_setting_alone() -> None:
    assert limit_arenas({"MALLOC_ARENA_MAX": "4"}) is None
    limit = limit_arenas({})
    assert limit is None or limit >= 2  # None: not glibc


_MAPPING_PROBE = r"""
import sys
from emulator.memory import fix_mmap_threshold

def heap_bytes():
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("[heap]"):
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                return hi - lo
    return 0

if sys.argv[1] == "fixed":
    assert fix_mmap_threshold({}) is not None
big = bytearray(16 << 20)  # a large buffer, freed: glibc would raise its threshold to this
del big
before = heap_bytes()
blocks = [bytearray(2 << 20) for _ in range(4)]
print((heap_bytes() - before) >> 20)  # MiB the heap grew by
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc's malloc only",
)
def test_large_buffer_freed_does_not_pull_later_ones_into_the_heap() -> None:
    # A push's or a clone's megabyte buffers must stay in mappings of their own, given back
    # when freed, even after a larger one was freed (glibc's moving threshold would put them
    # in the heap, among what outlives them, for good).
    def heap_growth_mib(mode: str) -> int:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        out = subprocess.run(
            [sys.executable, "-c", _MAPPING_PROBE, mode],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return int(out.stdout.strip())

    assert heap_growth_mib("default") >= 8  # what the setting guards against happens here
    assert heap_growth_mib("fixed") < 2
    assert fix_mmap_threshold({"MALLOC_MMAP_THRESHOLD_": "65536"}) is None
