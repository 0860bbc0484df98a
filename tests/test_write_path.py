"""The one write path with objects built in memory, as API commits and merges make them: written
through the (encrypted) pack store, refs moved by compare-and-swap with their events, and the
result is a repository the real git clones and `git fsck --full` accepts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dulwich.objects import Blob, Commit, Tree

from emulator.config import Config
from emulator.core import Emulator
from emulator.repos.model import ZERO_SHA, RefUpdate, Repository
from emulator.repos.object_checks import ObjectCheckError
from emulator.repos.service import ATOMIC_FAILED, STALE_REF
from emulator.repos.write_path import write_refs
from tests.conftest import ACCOUNT, REGION, git, start_server
from tests.test_encryption_git import assert_absent

MAIN = b"refs/heads/main"
ACTOR = f"arn:aws:iam::{ACCOUNT}:user/release-bot"


@contextmanager
def emulator(data_dir: Path) -> Iterator[Emulator]:
    """The core of a ccemu on `data_dir`, in this process (no door), closed at the end."""
    emu = Emulator(Config(data_dir=data_dir, maintenance_delay=3600.0))
    try:
        yield emu
    finally:
        emu.close()


def new_repository(emu: Emulator, name: str) -> Repository:
    """A repository made as CreateRepository makes it, with its data key."""
    repo = emu.repos.create(ACCOUNT, REGION, name)
    emu.data_keys.create(repo, emu.data_keys.choose_key(ACCOUNT, REGION, None))
    return repo


def commit(
    files: dict[bytes, bytes], message: str, parents: list[bytes] | None = None
) -> tuple[Commit, list[Blob | Tree | Commit]]:
    """A commit of `files` (one directory) built with dulwich, and every object it adds."""
    blobs = {name: Blob.from_string(data) for name, data in files.items()}
    tree = Tree()
    for name, blob in blobs.items():
        tree.add(name, 0o100644, blob.id)
    c = Commit()
    c.tree = tree.id
    c.parents = parents or []
    c.author = c.committer = b"Release Bot <bot@example.com>"
    c.author_time = c.commit_time = 1_700_000_000
    c.author_timezone = c.commit_timezone = 0
    c.message = message.encode()
    return c, [*blobs.values(), tree, c]


def pack_files(emu: Emulator, repo: Repository) -> list[str]:
    return emu.repos.files(repo).list("objects/pack")


def test_commit_built_in_memory_is_stored_encrypted_and_clones_through_git(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    name = f"write-{uuid.uuid4().hex[:8]}"
    marker = f"secret-{uuid.uuid4().hex}"
    with emulator(data) as emu:
        repo = new_repository(emu, name)
        hook = emu.events.webhooks.add("http://127.0.0.1:9/hook")
        first, objects = commit({b"version.txt": b"1.0\n"}, "first")
        outcome = write_refs(
            emu.repos, repo, [RefUpdate(MAIN, ZERO_SHA, first.id)], actor=ACTOR, objects=objects
        )
        assert outcome.results == [None] and outcome.published is not None
        # The second commit reuses the stored blob: only new objects are written.
        second, objects = commit(
            {b"version.txt": b"1.0\n", b"notes.txt": f"{marker}\n".encode()},
            f"second {marker}",
            [first.id],
        )
        new = [o for o in objects if o.id != Blob.from_string(b"1.0\n").id]
        outcome = write_refs(
            emu.repos, repo, [RefUpdate(MAIN, first.id, second.id)], actor=ACTOR, objects=new
        )
        assert outcome.applied
        assert emu.repos.ref(repo, MAIN) == second.id
        # Each ref change wrote its event in the ref transaction, naming the writer.
        logged = emu.events.outbox.log(repository=name)
        assert [e.event.actor for e in logged] == [ACTOR, ACTOR]
        emu.events.webhooks.remove(hook.id)
        assert not list((emu.repos.root / repo.id / "incoming").glob("*"))

    # Nothing written is readable at rest.
    assert_absent(data, [marker.encode()])

    srv = start_server(data)
    try:
        clone = tmp_path / "clone"
        git(git_env, "clone", "-q", srv.git_url(name), str(clone))
        git(git_env, "fsck", "--full", "--strict", cwd=clone)
        assert git(git_env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == second.id.decode()
        assert (clone / "notes.txt").read_text() == f"{marker}\n"
        assert (clone / "version.txt").read_text() == "1.0\n"
        log = git(git_env, "log", "--format=%an <%ae> %at %s", cwd=clone).stdout.splitlines()
        assert log == [
            f"Release Bot <bot@example.com> 1700000000 second {marker}",
            "Release Bot <bot@example.com> 1700000000 first",
        ]
    finally:
        srv.stop()


def test_lost_compare_and_swap_answers_stale_ref_and_leaves_no_reachable_trace(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    """Two writers commit on the same tip: the one whose expected old value is stale moves
    nothing, is told so, and its objects stay unreachable: never cloned, the repository still
    whole."""
    data = tmp_path / "data"
    name = f"race-{uuid.uuid4().hex[:8]}"
    with emulator(data) as emu:
        repo = new_repository(emu, name)
        emu.events.webhooks.add("http://127.0.0.1:9/hook")
        base, objects = commit({b"a.txt": b"a\n"}, "base")
        assert write_refs(
            emu.repos, repo, [RefUpdate(MAIN, ZERO_SHA, base.id)], actor=ACTOR, objects=objects
        ).applied
        winner, objects = commit({b"a.txt": b"winner\n"}, "winner", [base.id])
        assert write_refs(
            emu.repos, repo, [RefUpdate(MAIN, base.id, winner.id)], actor=ACTOR, objects=objects
        ).applied
        loser, objects = commit({b"a.txt": b"loser\n"}, "loser", [base.id])
        outcome = write_refs(
            emu.repos, repo, [RefUpdate(MAIN, base.id, loser.id)], actor=ACTOR, objects=objects
        )
        assert outcome.results == [STALE_REF]
        assert outcome.published is not None  # published, for the collector to remove
        assert emu.repos.ref(repo, MAIN) == winner.id
        # Events only for the updates that happened: the base and the winner.
        assert len(emu.events.outbox.log(repository=name)) == 2

    srv = start_server(data)
    try:
        clone = tmp_path / "clone"
        git(git_env, "clone", "-q", "--mirror", srv.git_url(name), str(clone))
        git(git_env, "fsck", "--full", "--strict", cwd=clone)
        assert git(git_env, "rev-parse", "main", cwd=clone).stdout.strip() == winner.id.decode()
        missing = git(git_env, "cat-file", "-e", loser.id.decode(), cwd=clone, check=False)
        assert missing.returncode != 0
    finally:
        srv.stop()


def test_api_commit_with_a_dotgit_path_is_refused_like_a_push(tmp_path: Path) -> None:
    """An API commit goes through git's fsck rules as a pushed one does: a tree entry named
    `.git` (which would overwrite a cloner's repository) stores nothing and moves nothing."""
    with emulator(tmp_path / "data") as emu:
        repo = new_repository(emu, "dotgit")
        bad, objects = commit({b".git": b"[core]\n\thooksPath = /tmp\n"}, "evil")
        with pytest.raises(ObjectCheckError):
            write_refs(
                emu.repos, repo, [RefUpdate(MAIN, ZERO_SHA, bad.id)], actor=ACTOR, objects=objects
            )
        assert emu.repos.refs(repo) == {}
        assert pack_files(emu, repo) == []
        assert not list((emu.repos.root / repo.id / "incoming").glob("*"))


def test_api_commit_naming_an_object_the_repository_lacks_is_refused(tmp_path: Path) -> None:
    """A commit whose parent is not stored would make a repository git cannot clone."""
    with emulator(tmp_path / "data") as emu:
        repo = new_repository(emu, "dangling")
        orphan, _ = commit({b"a.txt": b"a\n"}, "never stored")
        child, objects = commit({b"a.txt": b"b\n"}, "child", [orphan.id])
        with pytest.raises(ObjectCheckError, match=orphan.id.decode()):
            write_refs(
                emu.repos, repo, [RefUpdate(MAIN, ZERO_SHA, child.id)], actor=ACTOR, objects=objects
            )
        # A ref update to an object that exists nowhere is refused as well.
        with pytest.raises(ObjectCheckError, match="missing object"):
            write_refs(emu.repos, repo, [RefUpdate(MAIN, ZERO_SHA, orphan.id)], actor=ACTOR)
        assert emu.repos.refs(repo) == {}
        assert pack_files(emu, repo) == []


def test_refused_ref_with_atomic_stores_nothing(tmp_path: Path) -> None:
    """Per-ref authorization: a writer denied one ref of an atomic write moves none and stores
    none of its objects."""
    with emulator(tmp_path / "data") as emu:
        repo = new_repository(emu, "protected")
        c, objects = commit({b"a.txt": b"a\n"}, "one")
        prod = b"refs/heads/prod"

        def authorize(ref: bytes) -> str | None:
            return "denied: prod is protected" if ref == prod else None

        outcome = write_refs(
            emu.repos,
            repo,
            [RefUpdate(MAIN, ZERO_SHA, c.id), RefUpdate(prod, ZERO_SHA, c.id)],
            actor=ACTOR,
            objects=objects,
            authorize_ref=authorize,
        )
        assert outcome.results == [ATOMIC_FAILED, "denied: prod is protected"]
        assert outcome.published is None
        assert emu.repos.refs(repo) == {}
        assert pack_files(emu, repo) == []
        # Without atomic, the allowed ref moves and the refused one does not.
        outcome = write_refs(
            emu.repos,
            repo,
            [RefUpdate(MAIN, ZERO_SHA, c.id), RefUpdate(prod, ZERO_SHA, c.id)],
            actor=ACTOR,
            objects=objects,
            authorize_ref=authorize,
            atomic=False,
        )
        assert outcome.results == [None, "denied: prod is protected"]
        assert emu.repos.refs(repo) == {MAIN: c.id}


def test_api_commit_does_not_parse_the_stored_pack_indexes_again(tmp_path: Path) -> None:
    """An API commit checks its objects against the stored packs through the emulator's shared
    cache of parsed indexes: a bot committing to a large repository must not pay for parsing
    the repository's whole index (tens of thousands of entries) on every commit."""
    with emulator(tmp_path / "data") as emu:
        repo = new_repository(emu, "cached")
        first, objects = commit({b"a.txt": b"a\n"}, "first")
        stored = write_refs(
            emu.repos, repo, [RefUpdate(MAIN, ZERO_SHA, first.id)], actor=ACTOR, objects=objects
        ).published
        assert stored is not None
        second, objects = commit({b"a.txt": b"b\n"}, "second", [first.id])
        outcome = write_refs(
            emu.repos, repo, [RefUpdate(MAIN, first.id, second.id)], actor=ACTOR, objects=objects
        )
        assert outcome.applied
        # The second commit's check read the first pack's index: it is now in the shared
        # cache, where the next reader or writer finds it.
        parsed = [k for k in emu.pack_cache._items if isinstance(k, tuple) and k[0] == "idx"]
        assert stored in [k[1] for k in parsed]
        assert emu.repos.pack_cache is emu.pack_cache
