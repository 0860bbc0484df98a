"""Pack consolidation: many pushes leave few packs, and nothing is lost or changed by a merge."""

from __future__ import annotations

from pathlib import Path

from emulator.repos import repack
from emulator.repos.files import PACK_DIR, LocalRepoFiles
from emulator.repos.object_store import RepoObjectStore
from tests.conftest import Server, git, make_commits, start_server
from tests.maintenance import run_maintenance


def _packs(srv: Server, name: str) -> list[str]:
    meta = srv.client().get_repository(repositoryName=name)["repositoryMetadata"]
    store = RepoObjectStore(LocalRepoFiles(srv.data_dir / "repos" / meta["repositoryId"]))
    return store.pack_names()


def test_packs_to_merge_policy() -> None:
    few = [(f"p{i}", 10) for i in range(repack.CONSOLIDATE_AT - 1)]
    assert repack.packs_to_merge(few) == []
    many = [(f"p{i}", 10) for i in range(repack.CONSOLIDATE_AT)]
    assert sorted(repack.packs_to_merge(many)) == sorted(n for n, _ in many)
    # A base pack bigger than all the others together is left alone.
    with_base = [("base", 10_000), *many[1:]]
    assert sorted(repack.packs_to_merge(with_base)) == sorted(n for n, _ in many[1:])


def test_many_pushes_are_merged_and_history_is_intact(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    srv = start_server(tmp_path / "data")
    try:
        name = "many-pushes"
        srv.client().create_repository(repositoryName=name)
        url = srv.git_url(name)
        work = tmp_path / "work"
        make_commits(git_env, work, 3)
        git(git_env, "push", url, "main", cwd=work)
        old = tmp_path / "old"
        git(git_env, "clone", "-q", url, str(old))
        for i in range(repack.CONSOLIDATE_AT + 4):
            make_commits(git_env, work, 1, prefix=f"f{i}")
            # a file edited in every push makes deltas against objects of earlier packs
            (work / "shared.txt").write_text("line\n" * 200 + f"edit {i}\n")
            git(git_env, "add", "shared.txt", cwd=work)
            git(git_env, "commit", "-q", "-m", f"edit {i}", cwd=work)
            git(git_env, "push", "-q", url, "main", cwd=work)
            if i % 3 == 0:
                git(git_env, "tag", f"v{i}", cwd=work)
                git(git_env, "push", "-q", url, f"v{i}", cwd=work)
        run_maintenance(srv)  # merging runs in the background, never in a push
        packs = _packs(srv, name)
        assert len(packs) < repack.CONSOLIDATE_AT, packs
        head = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()

        fresh = tmp_path / "fresh"
        git(git_env, "clone", "-q", "--mirror", url, str(fresh))
        git(git_env, "fsck", "--strict", cwd=fresh)
        assert git(git_env, "rev-parse", "main", cwd=fresh).stdout.strip() == head
        assert git(git_env, "rev-list", "--count", "main", cwd=fresh).stdout.strip() == str(
            3 + 2 * (repack.CONSOLIDATE_AT + 4)
        )
        git(git_env, "fetch", "-q", "origin", cwd=old)
        assert git(git_env, "rev-parse", "origin/main", cwd=old).stdout.strip() == head
        git(git_env, "fsck", cwd=old)
    finally:
        srv.stop()

    # Retired packs stay readable until a restart, which deletes them.
    repo_root = next(p for p in (tmp_path / "data" / "repos").iterdir() if p.is_dir())
    retired = [e for e in LocalRepoFiles(repo_root).list(PACK_DIR) if e.endswith(".retired")]
    assert retired
    srv = start_server(tmp_path / "data")
    try:
        left = LocalRepoFiles(repo_root).list(PACK_DIR)
        assert not [e for e in left if e.endswith(".retired")]
        assert len([e for e in left if e.endswith(".pack")]) == len(_packs(srv, name))
        again = tmp_path / "again"
        git(git_env, "clone", "-q", "--mirror", srv.git_url(name), str(again))
        git(git_env, "fsck", "--strict", cwd=again)
        assert git(git_env, "rev-parse", "main", cwd=again).stdout.strip() == head
    finally:
        srv.stop()
