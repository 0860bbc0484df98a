"""Pushed `.gitmodules` and `.gitattributes` that git's fsck refuses are refused, and those it
accepts are stored. git is the oracle: each case is first indexed by `git index-pack --strict`,
and ccemu must agree with it (and name the same fsck message id)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import Server, git
from test_git_http import assert_serving, create_repo, remote_refs

CASES = {
    # name: (the blob at .gitmodules, git's fsck message id, or None where git accepts it)
    "benign": (b'[submodule "lib"]\n\tpath = lib\n\turl = ../lib.git\n', None),
    "benign-crlf-comments": (
        b'# note\r\n[submodule "a b"] ; c\r\n\tpath = "a b"\r\n\turl = https://h.example/x\r\n',
        None,
    ),
    "name-escapes-modules-dir": (
        # the name ../../modules/x
        b'[submodule "' + b"../" * 2 + b'modules/x"]\n\tpath = x\n\turl = https://h.example/x\n',
        "gitmodulesName",
    ),
    "name-backslash-dotdot": (
        b'[submodule "a\\\\..\\\\b"]\n\tpath = x\n\turl = ./x\n',
        "gitmodulesName",
    ),
    "url-is-an-option": (b'[submodule "x"]\n\tpath = x\n\turl = -u./payload\n', "gitmodulesUrl"),
    "url-option-quoted-uppercase-key": (
        b'[submodule "x"]\n\tpath = x\n\tURL = "-u./payload"\n',
        "gitmodulesUrl",
    ),
    "url-option-after-continuation": (
        b'[submodule "x"]\n\tpath = x\n\turl = \\\n-u./payload\n',
        "gitmodulesUrl",
    ),
    "url-option-old-style-section": (b"[submodule.x]\n\turl = -u./payload\n", "gitmodulesUrl"),
    "url-newline-encoded": (
        b'[submodule "x"]\n\tpath = x\n\turl = https://h.example/%0a/x\n',
        "gitmodulesUrl",
    ),
    "relative-url-newline-encoded": (
        b'[submodule "x"]\n\tpath = x\n\turl = ./%0a\n',
        "gitmodulesUrl",
    ),
    "relative-url-climbs-to-host": (
        b'[submodule "x"]\n\tpath = x\n\turl = ../../:h.example/x\n',
        "gitmodulesUrl",
    ),
    "url-without-host": (
        b'[submodule "x"]\n\tpath = x\n\turl = https:///h.example/x\n',
        "gitmodulesUrl",
    ),
    "path-is-an-option": (
        b'[submodule "x"]\n\tpath = -x\n\turl = https://h.example/x\n',
        "gitmodulesPath",
    ),
    "update-runs-a-command": (
        b'[submodule "x"]\n\tpath = x\n\turl = ./x\n\tupdate = !sh -c evil\n',
        "gitmodulesUpdate",
    ),
    "bad-url-after-parse-error-is-unseen": (
        b'[submodule "x"]\n\tpath = x\n\tbogus = "\\q"\n\turl = -u./payload\n',
        None,
    ),
}


def oracle(env: dict[str, str], work: Path, commit: str) -> subprocess.CompletedProcess[str]:
    """`git index-pack --strict` on a pack of the commit's whole history."""
    pack = subprocess.run(
        ["git", "pack-objects", "--revs", "--stdout", "-q"],
        cwd=work,
        env=env,
        input=f"{commit}\n".encode(),
        capture_output=True,
        check=True,
    ).stdout
    bare = work.parent / f"oracle-{commit[:8]}"
    git(env, "init", "-q", "--bare", str(bare))
    return subprocess.run(
        ["git", "index-pack", "--strict", "--stdin"],
        cwd=bare,
        env=env,
        input=pack,
        capture_output=True,
    )  # type: ignore[return-value]


def commit_with(env: dict[str, str], work: Path, entries: list[tuple[str, str, str]]) -> str:
    """A commit whose tree holds `entries` (mode, name, object id), built with git's plumbing."""
    if not (work / ".git").exists():
        git(env, "init", "-q", "-b", "main", str(work))
    listing = "".join(
        f"{mode} {'tree' if mode == '040000' else 'blob'} {oid}\t{name}\n"
        for mode, name, oid in entries
    )
    tree = git(env, "mktree", cwd=work, input=listing.encode()).stdout.strip()
    return git(env, "commit-tree", tree, "-m", "with special files", cwd=work).stdout.strip()


def blob(env: dict[str, str], work: Path, data: bytes) -> str:
    if not (work / ".git").exists():
        git(env, "init", "-q", "-b", "main", str(work))
    return (
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=work,
            env=env,
            input=data,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )


def push(env: dict[str, str], work: Path, url: str, commit: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "push", url, f"{commit}:refs/heads/main"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )


def check_against_git(
    server: Server,
    env: dict[str, str],
    repo_name: str,
    work: Path,
    commit: str,
    expected: str | None,
) -> None:
    verdict = oracle(env, work, commit)
    assert (verdict.returncode == 0) == (expected is None), verdict.stderr
    create_repo(server, repo_name)
    url = server.git_url(repo_name)
    result = push(env, work, url, commit)
    if expected is None:
        assert result.returncode == 0, result.stderr
        assert remote_refs(env, url)["refs/heads/main"] == commit
        return
    assert expected in verdict.stderr.decode()  # type: ignore[attr-defined]
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert remote_refs(env, url) == {}
    assert_serving(server, env)


@pytest.mark.parametrize("case", list(CASES))
def test_gitmodules_git_refuses_are_refused(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path, case: str
) -> None:
    data, expected = CASES[case]
    work = tmp_path / "w"
    modules = blob(git_env, work, data)
    readme = blob(git_env, work, b"hello\n")
    commit = commit_with(
        git_env, work, [("100644", ".gitmodules", modules), ("100644", "README", readme)]
    )
    check_against_git(server, git_env, repo_name, work, commit, expected)


def test_gitmodules_under_another_spelling_is_checked(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    modules = blob(git_env, work, b'[submodule "x"]\n\tpath = x\n\turl = -u./payload\n')
    commit = commit_with(git_env, work, [("100644", ".GITMODULES", modules)])
    check_against_git(server, git_env, repo_name, work, commit, "gitmodulesUrl")


def test_gitmodules_that_is_a_directory_is_refused(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    readme = blob(git_env, work, b"hello\n")
    sub = git(git_env, "mktree", cwd=work, input=f"100644 blob {readme}\tREADME\n".encode())
    sub_tree = sub.stdout.strip()
    commit = commit_with(git_env, work, [("040000", ".gitmodules", sub_tree)])
    check_against_git(server, git_env, repo_name, work, commit, "gitmodulesBlob")


def test_gitattributes_with_a_line_too_long_to_parse_is_refused(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    attrs = blob(git_env, work, b"*.txt text\n" + b"x" * 3000 + b" binary\n")
    commit = commit_with(git_env, work, [("100644", ".gitattributes", attrs)])
    check_against_git(server, git_env, repo_name, work, commit, "gitattributesLineLength")


def test_gitmodules_read_back_after_a_large_push_keeps_the_stored_pack_intact(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    # The `.gitmodules` check reads the blob back from the pack once the whole pack is in; with
    # more than the indexer's 64 MiB cache of content after it, that read goes to the file.
    # It once wrote the pack's trailer a second time, and every later clone got a pack with
    # 20 bytes of junk at its end ("invalid length read" in git).
    work = tmp_path / "w"
    modules = blob(git_env, work, CASES["benign"][0])
    big = blob(git_env, work, b"ccemu-" * (12 * 1024 * 1024))  # 72 MiB, compresses to little
    commit = commit_with(
        git_env, work, [("100644", ".gitmodules", modules), ("100644", "big.bin", big)]
    )
    create_repo(server, repo_name)
    url = server.git_url(repo_name)
    result = push(git_env, work, url, commit)
    assert result.returncode == 0, result.stderr
    clone = tmp_path / "clone.git"
    git(git_env, "clone", "-q", "--bare", url, str(clone))
    assert git(git_env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == commit
    git(git_env, "fsck", "--full", cwd=clone)


def test_names_accepted_once_are_checked_again_with_other_kinds(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    # The verdict on a directory's list of names is kept between trees; the same names with
    # `.gitmodules` now a symbolic link must still be refused as git refuses it.
    work = tmp_path / "w"
    modules = blob(git_env, work, CASES["benign"][0])
    readme = blob(git_env, work, b"hello\n")
    good = commit_with(
        git_env, work, [("100644", ".gitmodules", modules), ("100644", "README", readme)]
    )
    check_against_git(server, git_env, repo_name, work, good, None)
    bad = commit_with(
        git_env, work, [("120000", ".gitmodules", modules), ("100644", "README", readme)]
    )
    check_against_git(server, git_env, f"{repo_name}-2", work, bad, "gitmodulesSymlink")
