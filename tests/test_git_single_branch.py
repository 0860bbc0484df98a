"""Clones of some of the refs (`--single-branch`): the server walks what the wanted commits
reach, and keeps the answer for the next such clone, growing it from a kept answer for older
commits. A kept answer must never outlive what it describes, nor lend another branch's objects:
a push (new objects, moved refs, a new tag) changes what the next clone gets."""

from __future__ import annotations

from pathlib import Path

from conftest import Server, git, make_commits, start_server
from maintenance import run_maintenance
from test_git_http import create_repo


def _clone_one(env: dict[str, str], url: str, dest: Path, branch: str = "main") -> str:
    # kept as the pack sent (not unpacked), so what it holds can be counted
    git(
        env,
        "-c",
        "transfer.unpackLimit=1",
        "clone",
        "-q",
        "--bare",
        "--single-branch",
        "-b",
        branch,
        url,
        str(dest),
    )
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


def _edit_commits(env: dict[str, str], work: Path, branch: str, count: int, seed: int) -> None:
    """`count` commits on `branch` each rewriting a few lines of the same large files, so the
    pack git makes holds long delta chains that cross branches."""
    git(env, "checkout", "-q", branch, cwd=work)
    for i in range(count):
        for f in range(3):
            path = work / f"big-{f}.txt"
            lines = path.read_text().splitlines()
            for j in range(0, len(lines), 17):
                lines[(j + seed + i) % len(lines)] = f"{branch} {seed} {i} {j} {f}"
            path.write_text("\n".join(lines) + "\n")
        git(env, "commit", "-q", "-am", f"{branch} edit {seed}.{i}", cwd=work)


def test_single_branch_clone_rewrites_deltas_whose_base_is_left_out_or_moved(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    """Deltas in the stored packs run between the objects of both branches. A clone of one
    branch leaves the other's objects out: a delta against one of them must go out whole, and a
    delta whose base now sits at another distance must say so; a thin push completed with
    copies of bases already stored (an object in two packs) must go out once."""
    work = tmp_path / "w"
    work.mkdir()
    git(git_env, "init", "-q", "-b", "main", cwd=work)
    for f in range(3):
        text = "".join(f"line {f} {j} " + "x" * 40 + "\n" for j in range(400))
        (work / f"big-{f}.txt").write_text(text)
    git(git_env, "add", ".", cwd=work)
    git(git_env, "commit", "-q", "-m", "base", cwd=work)
    git(git_env, "branch", "side", cwd=work)
    for seed in range(3):
        _edit_commits(git_env, work, "main", 4, seed)
        _edit_commits(git_env, work, "side", 4, 100 + seed)
    create_repo(server, repo_name)
    url = server.git_url(repo_name)
    git(git_env, "push", "-q", url, "main", "side", cwd=work)
    _edit_commits(git_env, work, "side", 3, 200)
    _edit_commits(git_env, work, "main", 3, 300)
    git(git_env, "push", "-q", url, "main", "side", cwd=work)  # thin: completed on receive
    _assert_branch_clones(git_env, url, work, tmp_path)


def _two_branches(env: dict[str, str], work: Path) -> None:
    """main and side, each with commits (and objects) of its own."""
    make_commits(env, work, 3)
    git(env, "checkout", "-q", "-b", "side", cwd=work)
    make_commits(env, work, 2, prefix="side")
    git(env, "checkout", "-q", "main", cwd=work)
    make_commits(env, work, 2, prefix="later")


def _assert_branch_clones(env: dict[str, str], url: str, work: Path, tmp_path: Path) -> None:
    for branch in ("main", "side"):
        dest = tmp_path / f"c-{branch}"
        want = git(env, "rev-parse", branch, cwd=work).stdout.strip()
        assert _clone_one(env, url, dest, branch) == want
        listed = git(env, "rev-list", "--objects", branch, cwd=work).stdout.split("\n")
        got = git(env, "rev-list", "--objects", "--all", cwd=dest).stdout.split("\n")
        assert sorted(got) == sorted(listed)  # all of the branch, nothing of the other
        counted = git(env, "count-objects", "-v", cwd=dest).stdout
        assert f"in-pack: {len(listed) - 1}\n" in counted  # each object once


def test_default_branch_walk_of_maintenance_lends_no_other_branch_objects(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    """After a push, the background walk goes through the default branch first and keeps what
    it reaches for clones of that branch alone. What it keeps must be that branch's objects
    only (not those of the walk of every ref that follows), and under that branch's commit."""
    work = tmp_path / "w"
    _two_branches(git_env, work)
    create_repo(server, repo_name)
    url = server.git_url(repo_name)
    git(git_env, "push", "-q", url, "main", "side", cwd=work)
    run_maintenance(server)  # walks main, then side up to main's objects
    _assert_branch_clones(git_env, url, work, tmp_path)
    full = tmp_path / "full"  # a full clone still gets both branches
    git(git_env, "clone", "-q", "--bare", url, str(full))
    every = git(git_env, "rev-list", "--objects", "--all", cwd=work).stdout.split("\n")
    assert sorted(git(git_env, "rev-list", "--objects", "--all", cwd=full).stdout.split("\n")) == (
        sorted(every)
    )


def test_default_branch_walk_of_a_full_clone_lends_no_other_branch_objects(
    git_env: dict[str, str], tmp_path: Path
) -> None:
    """A full clone that walks every ref (no background pass yet: it is held off here) goes
    through the default branch first and keeps what it reaches for the clones of that branch
    alone: only that branch's objects, under that branch's commit."""
    srv = start_server(tmp_path / "data", "--maintenance-delay", "3600")
    try:
        work = tmp_path / "w"
        _two_branches(git_env, work)
        create_repo(srv, "walk-first")
        url = srv.git_url("walk-first")
        git(git_env, "push", "-q", url, "main", "side", cwd=work)
        full = tmp_path / "full"
        git(git_env, "clone", "-q", "--bare", url, str(full))
        every = git(git_env, "rev-list", "--objects", "--all", cwd=work).stdout.split("\n")
        got = git(git_env, "rev-list", "--objects", "--all", cwd=full).stdout.split("\n")
        assert sorted(got) == sorted(every)
        _assert_branch_clones(git_env, url, work, tmp_path)
        assert srv.proc.poll() is None
    finally:
        srv.stop()


def test_default_branch_closure_grown_by_maintenance_after_a_push_is_not_stale(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    """After a push that moves the default branch on, the background pass grows the kept
    closure by what the push added: the next clone of that branch gets the new commits (and
    still nothing of the other branch)."""
    work = tmp_path / "w"
    _two_branches(git_env, work)
    create_repo(server, repo_name)
    url = server.git_url(repo_name)
    git(git_env, "push", "-q", url, "main", "side", cwd=work)
    run_maintenance(server)  # keeps main's closure
    make_commits(git_env, work, 2, prefix="newer")
    git(git_env, "push", "-q", url, "main", cwd=work)
    run_maintenance(server)  # grows it by the pushed commits
    _assert_branch_clones(git_env, url, work, tmp_path)
