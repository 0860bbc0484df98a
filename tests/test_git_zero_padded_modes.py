"""Trees whose directory entries carry a zero-padded mode (`040000 docs`), as old repositories
hold (flask's history has one; git's fsck only warns, `zeroPaddedFilemode`). git reads modes as
octal numbers, so such an entry is a directory like any other: what a fetch sends and what
maintenance keeps must walk into it. Reading the mode's spelling instead lost the objects under
it: a single-branch clone failed ("did not receive expected object") and maintenance collected
objects that a commit still reaches."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import Server, git
from maintenance import run_maintenance
from test_git_http import create_repo, remote_refs


def _object(env: dict[str, str], work: Path, kind: str, data: bytes) -> str:
    return (
        subprocess.run(
            ["git", "hash-object", "--literally", "-w", "-t", kind, "--stdin"],
            cwd=work,
            env=env,
            input=data,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )


def _tree(env: dict[str, str], work: Path, entries: list[tuple[bytes, bytes, str]]) -> str:
    raw = b"".join(mode + b" " + name + b"\0" + bytes.fromhex(sha) for mode, name, sha in entries)
    return _object(env, work, "tree", raw)


def _history(env: dict[str, str], work: Path) -> tuple[str, str, str, list[str]]:
    """main: A (root tree with `040000 old/` holding old/file.txt) then B (which drops old/);
    side: a commit off A. Returns A, B, side and the objects only the padded entry reaches."""
    git(env, "init", "-q", "-b", "main", str(work))
    inner_blob = _object(env, work, "blob", b"only under the zero-padded entry\n")
    inner = _tree(env, work, [(b"100644", b"file.txt", inner_blob)])
    readme = _object(env, work, "blob", b"readme\n")
    root_a = _tree(env, work, [(b"100644", b"README", readme), (b"040000", b"old", inner)])
    a = git(env, "commit-tree", root_a, "-m", "A", cwd=work).stdout.strip()
    root_b = _tree(env, work, [(b"100644", b"README", readme)])
    b = git(env, "commit-tree", root_b, "-p", a, "-m", "B", cwd=work).stdout.strip()
    other = _object(env, work, "blob", b"side\n")
    root_s = _tree(env, work, [(b"100644", b"README", other)])
    side = git(env, "commit-tree", root_s, "-p", a, "-m", "side", cwd=work).stdout.strip()
    git(env, "update-ref", "refs/heads/main", b, cwd=work)
    git(env, "update-ref", "refs/heads/side", side, cwd=work)
    return a, b, side, [inner, inner_blob]


def test_single_branch_clone_walks_into_a_zero_padded_directory(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    _, b, _, only_padded = _history(git_env, work)
    create_repo(server, repo_name)
    url = server.git_url(repo_name)
    git(git_env, "push", "-q", url, "main", "side", cwd=work)
    # one branch of two: the server walks the objects (not every ref is wanted)
    clone = tmp_path / "one.git"
    git(git_env, "clone", "-q", "--bare", "--single-branch", "-b", "main", url, str(clone))
    assert git(git_env, "rev-parse", "main", cwd=clone).stdout.strip() == b
    for sha in only_padded:
        assert git(git_env, "cat-file", "-e", sha, cwd=clone, check=False).returncode == 0, sha
    git(git_env, "fsck", "--no-dangling", cwd=clone)


def test_maintenance_keeps_what_a_zero_padded_directory_reaches(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    a, b, side, only_padded = _history(git_env, work)
    create_repo(server, repo_name)
    url = server.git_url(repo_name)
    git(git_env, "push", "-q", url, f"{a}:refs/heads/main", cwd=work)
    git(git_env, "push", "-q", url, "main", "side", cwd=work)  # a second pack
    run_maintenance(server)  # merges the packs, keeping what the refs reach
    assert remote_refs(git_env, url) == {
        "HEAD": b,
        "refs/heads/main": b,
        "refs/heads/side": side,
    }
    clone = tmp_path / "all.git"
    git(git_env, "clone", "-q", "--bare", url, str(clone))
    for sha in only_padded:
        assert git(git_env, "cat-file", "-e", sha, cwd=clone, check=False).returncode == 0, sha
    git(git_env, "fsck", "--no-dangling", cwd=clone)
