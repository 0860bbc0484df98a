"""Commits made of file changes (the core of PutFile, DeleteFile and CreateCommit), with git as
the oracle: the same changes made in a work tree with the git CLI give the same tree, and the
commit passes `git fsck --full`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import git
from dulwich.objects import Commit
from dulwich.repo import Repo

from emulator.errors import ClientError
from emulator.repos.tree_edit import (
    MAX_FILE_ENTRIES,
    MAX_FILE_SIZE,
    Identity,
    PutFile,
    SetMode,
    build_commit,
)

ME = Identity("Ada", "ada@example.com", 1_700_000_000)


@pytest.fixture
def work(git_env: dict[str, str], tmp_path: Path) -> Path:
    """A repository with nested folders, an executable, a symlink and a submodule entry."""
    w = tmp_path / "w"
    git(git_env, "init", "-q", "-b", "main", str(w))
    (w / "src" / "pkg").mkdir(parents=True)
    (w / "src" / "pkg" / "a.py").write_text("a = 1\n")
    (w / "src" / "pkg" / "b.py").write_text("b = 2\n")
    (w / "docs").mkdir()
    (w / "docs" / "only.md").write_text("# only file here\n")
    (w / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (w / "run.sh").chmod(0o755)
    (w / "README.md").write_text("hello\n")
    os.symlink("README.md", w / "link")
    git(git_env, "add", "-A", cwd=w)
    sub = "1234567890abcdef1234567890abcdef12345678"
    git(git_env, "update-index", "--add", "--cacheinfo", f"160000,{sub},vendor/lib", cwd=w)
    git(git_env, "commit", "-q", "-m", "base", cwd=w)
    return w


def head(work: Path) -> tuple[Repo, Commit]:
    repo = Repo(str(work))
    commit = repo[repo.head()]
    assert isinstance(commit, Commit)
    return repo, commit


def apply(work: Path, **kw: object) -> str:
    """build_commit on HEAD; its objects are added to the repository; the new tree's id."""
    repo, parent = head(work)
    built = build_commit(repo.object_store.__getitem__, parent, author=ME, message="m", **kw)  # type: ignore[arg-type]
    for obj in built.objects:
        repo.object_store.add_object(obj)
    repo.refs[b"refs/heads/api"] = built.commit.id
    return built.tree_id


def git_tree(env: dict[str, str], work: Path) -> str:
    # the submodule has no work tree here: leave its index entry as it is
    git(env, "add", "-A", "--", ".", ":(exclude)vendor/lib", cwd=work)
    return git(env, "write-tree", cwd=work).stdout.strip()


def fsck(env: dict[str, str], work: Path) -> None:
    git(env, "fsck", "--full", "--strict", cwd=work)


def test_put_update_delete_and_mode_give_the_tree_git_gives(
    git_env: dict[str, str], work: Path
) -> None:
    ours = apply(
        work,
        puts=[
            PutFile("new/deep/dir/file.txt", b"new\n"),
            PutFile("/src/pkg/a.py", b"a = 10\n"),  # a leading slash is allowed
            PutFile("tool", b"#!/bin/sh\n", mode="EXECUTABLE"),
            PutFile("unicode dir/naïve file.txt", b"x\n"),
        ],
        deletes=["src/pkg/b.py"],
        set_modes=[SetMode("run.sh", "NORMAL")],
    )
    (work / "new" / "deep" / "dir").mkdir(parents=True)
    (work / "new" / "deep" / "dir" / "file.txt").write_text("new\n")
    (work / "src" / "pkg" / "a.py").write_text("a = 10\n")
    (work / "tool").write_text("#!/bin/sh\n")
    (work / "tool").chmod(0o755)
    (work / "unicode dir").mkdir()
    (work / "unicode dir" / "naïve file.txt").write_text("x\n")
    (work / "src" / "pkg" / "b.py").unlink()
    (work / "run.sh").chmod(0o644)
    assert ours == git_tree(git_env, work)
    fsck(git_env, work)
    log = git(git_env, "log", "-1", "--format=%an|%ae|%at|%cn|%P|%s", "api", cwd=work).stdout
    parent = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    assert log.strip() == f"Ada|ada@example.com|1700000000|Ada|{parent}|m"


def test_deleting_a_folders_last_file_removes_the_folder_unless_kept(
    git_env: dict[str, str], work: Path
) -> None:
    gone = apply(work, deletes=["docs/only.md"])
    (work / "docs" / "only.md").unlink()
    assert gone == git_tree(git_env, work)
    kept = apply(work, deletes=["docs/only.md"], keep_empty_folders=True)
    (work / "docs" / ".gitkeep").write_text("")
    assert kept == git_tree(git_env, work)
    fsck(git_env, work)


def test_move_and_copy_keep_the_blob_and_its_mode(git_env: dict[str, str], work: Path) -> None:
    ours = apply(
        work,
        puts=[
            PutFile("bin/run.sh", source="run.sh", move=True),
            PutFile("copy.md", source="README.md"),
        ],
    )
    (work / "bin").mkdir()
    git(git_env, "mv", "run.sh", "bin/run.sh", cwd=work)
    (work / "copy.md").write_text("hello\n")
    assert ours == git_tree(git_env, work)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"puts": [PutFile("src", b"x")]}, "FileNameConflictsWithDirectoryNameException"),
        ({"puts": [PutFile("README.md/x", b"x")]}, "DirectoryNameConflictsWithFileNameException"),
        ({"puts": [PutFile("vendor/lib/x", b"x")]}, "FilePathConflictsWithSubmodulePathException"),
        ({"puts": [PutFile("vendor/lib", b"x")]}, "FilePathConflictsWithSubmodulePathException"),
        ({"deletes": ["nope.txt"]}, "FileDoesNotExistException"),
        ({"deletes": ["src"]}, "FileDoesNotExistException"),
        ({"deletes": ["vendor/lib"]}, "FileDoesNotExistException"),
        ({"set_modes": [SetMode("nope", "NORMAL")]}, "FileDoesNotExistException"),
        ({"puts": [PutFile("README.md", b"hello\n")]}, "NoChangeException"),
        ({"puts": [PutFile("a/../b", b"x")]}, "InvalidPathException"),
        ({"puts": [PutFile(".git/config", b"x")]}, "InvalidPathException"),
        ({"puts": [PutFile("a//b", b"x")]}, "InvalidPathException"),
        ({"puts": [PutFile("", b"x")]}, "PathRequiredException"),
        ({"puts": [PutFile("x", b"1"), PutFile("x", b"2")]}, "SamePathRequestException"),
        ({"puts": [PutFile("x", b"1")], "deletes": ["x"]}, "SamePathRequestException"),
        ({"puts": [PutFile("x")]}, "SourceFileOrContentRequiredException"),
        (
            {"puts": [PutFile("x", b"1", source="README.md")]},
            "FileContentAndSourceFileSpecifiedException",
        ),
        ({"puts": [PutFile("x", source="nope")]}, "FileDoesNotExistException"),
        ({"puts": [PutFile("x", b"1", mode="WRITABLE")]}, "InvalidFileModeException"),
        (
            {"puts": [PutFile("big", b"x" * (MAX_FILE_SIZE + 1))]},
            "FileContentSizeLimitExceededException",
        ),
        (
            {"puts": [PutFile(f"f{i}", b"x") for i in range(MAX_FILE_ENTRIES + 1)]},
            "MaximumFileEntriesExceededException",
        ),
        ({}, "FileEntryRequiredException"),
    ],
)
def test_changes_codecommit_refuses(work: Path, change: dict[str, object], code: str) -> None:
    repo, parent = head(work)
    with pytest.raises(ClientError) as info:
        build_commit(repo.object_store.__getitem__, parent, author=ME, message="m", **change)  # type: ignore[arg-type]
    assert info.value.code == code


def test_putfile_of_the_same_content_is_same_file_content(work: Path) -> None:
    repo, parent = head(work)
    with pytest.raises(ClientError) as info:
        build_commit(
            repo.object_store.__getitem__,
            parent,
            puts=[PutFile("README.md", b"hello\n")],
            author=ME,
            message="m",
            refuse_same_content=True,
        )
    assert info.value.code == "SameFileContentException"


def test_first_commit_of_an_empty_repository(git_env: dict[str, str], tmp_path: Path) -> None:
    w = tmp_path / "empty"
    git(git_env, "init", "-q", "-b", "main", str(w))
    repo = Repo(str(w))
    built = build_commit(
        repo.object_store.__getitem__,
        None,
        puts=[PutFile("a/b.txt", b"b\n")],
        author=ME,
        message="first",
    )
    for obj in built.objects:
        repo.object_store.add_object(obj)
    repo.refs[b"refs/heads/main"] = built.commit.id
    assert built.commit.parents == []
    assert [c.path for c in built.added] == ["a/b.txt"]
    out = subprocess.run(
        ["git", "show", "main:a/b.txt"], cwd=w, env=git_env, capture_output=True, check=True
    )
    assert out.stdout == b"b\n"
    fsck(git_env, w)
