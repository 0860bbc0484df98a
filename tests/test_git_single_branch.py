"""Clones of some of the refs (`--single-branch`): the server walks what the wanted commits
reach, and keeps the answer for the next such clone, growing it from a kept answer for older
commits. A kept answer must never outlive what it describes, nor lend another branch's objects:
a push (new objects, moved refs, a new tag) changes what the next clone gets."""

from __future__ import annotations

from pathlib import Path

from conftest import Server, git, make_commits
from test_git_http import create_repo


def _clone_one(env: dict[str, str], url: str, dest: Path, branch: str = "main") -> str:
    git(env, "clone", "-q", "--bare", "--single-branch", "-b", branch, url, str(dest))
    git(env, "fsck", "--no-dangling", cwd=dest)
    return git(env, "rev-parse", branch, cwd=dest).stdout.strip()


def test_single_branch_clone_after_a_push_is_not_served_from_a_stale_walk(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    make_commits(git_env, work, 3)
    git(git_env, "checkout", "-q", "-b", "side", cwd=work)
    make_commits(git_env, work, 2, prefix="side")
    git(git_env, "checkout", "-q", "main", cwd=work)
    create_repo(server, repo_name)
    url = server.git_url(repo_name)
    git(git_env, "push", "-q", url, "main", "side", cwd=work)
    first = _clone_one(git_env, url, tmp_path / "c1")
    assert _clone_one(git_env, url, tmp_path / "c2") == first  # the kept walk, same answer
    # a new commit on main, and an annotated tag on it: the next clone has both
    [new] = make_commits(git_env, work, 1)
    git(git_env, "tag", "-a", "v1", "-m", "v1", cwd=work)
    git(git_env, "push", "-q", url, "main", "v1", cwd=work)
    c3 = tmp_path / "c3"
    assert _clone_one(git_env, url, c3) == new
    assert "v1" in git(git_env, "tag", cwd=c3).stdout.split()
    # main moved back to an older commit (no new objects): the clone follows the ref
    git(git_env, "push", "-q", "-f", url, f"{first}:refs/heads/main", cwd=work)
    assert _clone_one(git_env, url, tmp_path / "c4") == first
    # the other branch alone: what it reaches, and nothing of main's newer commit
    side = git(git_env, "rev-parse", "side", cwd=work).stdout.strip()
    c5 = tmp_path / "c5"
    assert _clone_one(git_env, url, c5, "side") == side
    assert git(git_env, "cat-file", "-e", new, cwd=c5, check=False).returncode != 0
