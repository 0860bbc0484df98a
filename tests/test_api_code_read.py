"""Reading code through the API (GetBlob, GetFile, GetFolder, GetCommit, BatchGetCommits,
GetDifferences, ListFileCommitHistory), with the git CLI as the oracle: a repository is built
with git (renames, mode changes, symlinks, a submodule, binary files, a deep tree, unicode and
spaces in paths, merges, a long history), pushed, and every answer is compared with what git
computes on the same commits."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, git

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass
class Built:
    name: str
    work: Path
    env: dict[str, str]
    first: str  # the first commit (tagged v1, annotated)
    second: str  # renames, mode changes, deletions (tagged light)
    merge: str  # main's merge of `feature`
    tip: str  # main's tip


class Committer:
    """Commits with increasing dates in several time zones, so `git log`'s date order is
    unambiguous and UserInfo.date carries offsets."""

    ZONES = ("+0000", "-0800", "+0530", "+0100", "-0330")

    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env = env
        self.work = work
        self.n = 0

    def run(self, *args: str) -> str:
        return git(self.env, *args, cwd=self.work).stdout

    def commit(self, message: str, *extra: str) -> str:
        self.n += 1
        when = f"{1_700_000_000 + self.n * 60} {self.ZONES[self.n % len(self.ZONES)]}"
        env = {**self.env, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        git(env, "commit", "-q", "--allow-empty", "-m", message, *extra, cwd=self.work)
        return self.run("rev-parse", "HEAD").strip()

    def write(self, path: str, data: bytes | str) -> None:
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        self.run("add", "--", path)


@pytest.fixture(scope="module")
def built(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("code-read")
    home = tmp / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AWS_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Zoë Author",
        GIT_AUTHOR_EMAIL="author@example.com",
        GIT_COMMITTER_NAME="Carl Committer",
        GIT_COMMITTER_EMAIL="carl@example.com",
    )
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    work = tmp / "work"
    work.mkdir()
    git(env, "init", "-q", "-b", "main", cwd=work)
    c = Committer(env, work)
    c.write("README.md", "# demo\n")
    c.write("src/app.py", "print('hi')\n" * 20)
    c.write("dir with space/ünïcode file.txt", "unicode\n")
    c.write("bin.dat", bytes(range(256)) * 8)
    c.write("script.sh", "#!/bin/sh\necho hi\n")
    c.run("update-index", "--chmod=+x", "script.sh")
    c.write("a/b/c/d/e/f/g/deep.txt", "deep\n")
    # git sorts the tree `a` as `a/`, after this file ('-' < '/').
    c.write("a-b.txt", "ab\n")
    c.write("busy.txt", "0\n")
    os.symlink("README.md", work / "link")
    c.run("add", "link")
    # A submodule as git records it: a gitlink entry and .gitmodules.
    c.write(".gitmodules", '[submodule "vendor/lib"]\n\tpath = vendor/lib\n\turl = ../lib\n')
    c.run("update-index", "--add", "--cacheinfo", f"160000,{'ab' * 20},vendor/lib")
    first = c.commit("first\n\nwith a body")
    c.run("tag", "-a", "v1", "-m", "version 1")
    c.run("mv", "src/app.py", "src/main.py")
    c.run("update-index", "--chmod=-x", "script.sh")
    c.run("rm", "-q", "bin.dat")
    c.write("README.md", "# demo\nmore\n")
    (work / "link").unlink()
    c.write("link", "now a file\n")
    c.run("mv", "dir with space", "renamed dir")
    c.write("a/new.txt", "new\n")
    c.write("a-b.txt", "ab2\n")
    second = c.commit("second: renames, mode change, deletion, type change")
    c.run("tag", "light")
    # A long history of one busy file, with other files changing around it.
    for i in range(1, 25):
        if i % 3:
            c.write("busy.txt", f"{i}\n")
        else:
            c.write(f"other/{i}.txt", f"{i}\n")
        c.commit(f"step {i}")
    c.run("checkout", "-q", "-b", "feature")
    c.write("busy.txt", "feature\n")
    c.write("feature.txt", "f\n")
    c.commit("feature work")
    c.run("checkout", "-q", "main")
    c.write("main-only.txt", "m\n")
    c.commit("main work")
    c.run("merge", "-q", "--no-ff", "--no-edit", "feature")
    c.commit("placeholder", "--amend", "-m", "merge feature")
    merge = c.run("rev-parse", "HEAD").strip()
    c.write("busy.txt", "after merge\n")
    tip = c.commit("after merge")
    name = f"code-{uuid.uuid4().hex[:10]}"
    cc = server.client()
    cc.create_repository(repositoryName=name)
    git(env, "push", "-q", server.git_url(name), "main", "feature", "--tags", cwd=work)
    return Built(name, work, env, first, second, merge, tip)


def _git(built: Built, *args: str) -> str:
    return git(built.env, *args, cwd=built.work).stdout


def _git_bytes(built: Built, *args: str) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=built.work, env=built.env, capture_output=True, check=True
    ).stdout


def _ls_tree(built: Built, treeish: str) -> list[tuple[str, str, str, str]]:
    """(mode, type, id, name) of each entry, as `git ls-tree -z` lists them."""
    out = _git_bytes(built, "ls-tree", "-z", treeish).decode()
    rows = []
    for line in filter(None, out.split("\0")):
        meta, _, name = line.partition("\t")
        mode, kind, sha = meta.split()
        rows.append((mode, kind, sha, name))
    return rows


MODE_NAMES = {"100644": "NORMAL", "100755": "EXECUTABLE", "120000": "SYMLINK"}


def _tree_paths(built: Built, commit: str) -> list[str]:
    """Every folder of a commit ('' for the root), from `git ls-tree -r -t`."""
    out = _git_bytes(built, "ls-tree", "-r", "-t", "-z", commit).decode()
    folders = [""]
    for line in filter(None, out.split("\0")):
        meta, _, name = line.partition("\t")
        if meta.split()[1] == "tree":
            folders.append(name)
    return folders


@pytest.mark.parametrize("which", ["first", "second", "tip"])
def test_get_folder_lists_every_folder_as_git_ls_tree(cc: Any, built: Built, which: str) -> None:
    commit = getattr(built, which)
    for folder in _tree_paths(built, commit):
        out = cc.get_folder(repositoryName=built.name, commitSpecifier=commit, folderPath=folder)
        assert out["commitId"] == commit
        assert out["folderPath"] == folder
        assert out["treeId"] == _git(built, "rev-parse", f"{commit}:{folder}").strip()
        prefix = f"{folder}/" if folder else ""
        want: dict[str, list[dict[str, str]]] = {
            "subFolders": [],
            "files": [],
            "symbolicLinks": [],
            "subModules": [],
        }
        for mode, kind, sha, name in _ls_tree(built, f"{commit}:{folder}"):
            where = {"absolutePath": prefix + name, "relativePath": name}
            if kind == "tree":
                want["subFolders"].append({"treeId": sha, **where})
            elif kind == "commit":
                want["subModules"].append({"commitId": sha, **where})
            elif mode == "120000":
                want["symbolicLinks"].append({"blobId": sha, **where, "fileMode": "SYMLINK"})
            else:
                want["files"].append({"blobId": sha, **where, "fileMode": MODE_NAMES[mode]})
        for key, entries in want.items():
            assert out[key] == entries, (folder, key)


def test_get_folder_of_the_first_commit_has_each_kind_of_entry(cc: Any, built: Built) -> None:
    root = cc.get_folder(repositoryName=built.name, commitSpecifier="v1", folderPath="/")
    assert [s["relativePath"] for s in root["symbolicLinks"]] == ["link"]
    assert [s["absolutePath"] for s in root["subFolders"]] == [
        "a",
        "dir with space",
        "src",
        "vendor",
    ]
    vendor = cc.get_folder(repositoryName=built.name, commitSpecifier="v1", folderPath="vendor")
    assert vendor["subModules"] == [
        {"commitId": "ab" * 20, "absolutePath": "vendor/lib", "relativePath": "lib"}
    ]
    files = {f["relativePath"]: f["fileMode"] for f in root["files"]}
    assert files["script.sh"] == "EXECUTABLE" and files["README.md"] == "NORMAL"
    deep = cc.get_folder(
        repositoryName=built.name, commitSpecifier="v1", folderPath="/a/b/c/d/e/f/g/"
    )
    assert deep["folderPath"] == "a/b/c/d/e/f/g"
    assert deep["files"][0]["absolutePath"] == "a/b/c/d/e/f/g/deep.txt"


@pytest.mark.parametrize("which", ["first", "second", "tip"])
def test_get_file_and_get_blob_return_what_git_show_does(cc: Any, built: Built, which: str) -> None:
    commit = getattr(built, which)
    out = _git_bytes(built, "ls-tree", "-r", "-z", commit).decode()
    for line in filter(None, out.split("\0")):
        meta, _, path = line.partition("\t")
        mode, kind, sha = meta.split()
        if kind != "blob":
            continue
        content = _git_bytes(built, "cat-file", "blob", sha)
        got = cc.get_file(repositoryName=built.name, commitSpecifier=commit, filePath=path)
        assert got == {
            **{k: got[k] for k in ("ResponseMetadata",)},
            "commitId": commit,
            "blobId": sha,
            "filePath": path,
            "fileMode": MODE_NAMES[mode],
            "fileSize": len(content),
            "fileContent": content,
        }, path
        assert cc.get_blob(repositoryName=built.name, blobId=sha)["content"] == content
    # A leading slash names the same file, as in the model's example (/examples/file.md).
    got = cc.get_file(repositoryName=built.name, commitSpecifier=commit, filePath="/README.md")
    assert got["filePath"] == "README.md"


def _user(line: str) -> dict[str, str]:
    """`author Name <email> 1700000060 -0800` -> UserInfo."""
    _, _, rest = line.partition(" ")
    name, _, rest = rest.partition(" <")
    email, _, date = rest.partition("> ")
    return {"name": name, "email": email, "date": date}


def _cat_commit(built: Built, sha: str) -> dict[str, Any]:
    raw = _git_bytes(built, "cat-file", "commit", sha).decode()
    head, _, message = raw.partition("\n\n")
    out: dict[str, Any] = {"commitId": sha, "parents": [], "message": message}
    for line in head.split("\n"):
        key, _, value = line.partition(" ")
        if key == "tree":
            out["treeId"] = value
        elif key == "parent":
            out["parents"].append(value)
        elif key in ("author", "committer"):
            out[key] = _user(line)
    out["additionalData"] = ""
    return out


def test_get_commit_and_batch_get_commits_agree_with_git_cat_file(cc: Any, built: Built) -> None:
    shas = _git(built, "rev-list", "--all").split()
    for sha in shas:
        got = cc.get_commit(repositoryName=built.name, commitId=sha)["commit"]
        assert got == _cat_commit(built, sha)
    assert cc.get_commit(repositoryName=built.name, commitId=built.first)["commit"]["author"] == {
        "name": "Zoë Author",
        "email": "author@example.com",
        "date": "1700000060 -0800",
    }
    missing = "1" * 40
    out = cc.batch_get_commits(
        repositoryName=built.name, commitIds=[built.first, missing, "abc123", built.merge]
    )
    assert out["commits"] == [_cat_commit(built, built.first), _cat_commit(built, built.merge)]
    assert [(e["commitId"], e["errorCode"]) for e in out["errors"]] == [
        (missing, "CommitIdDoesNotExistException"),
        ("abc123", "InvalidCommitIdException"),
    ]
    assert len(
        cc.batch_get_commits(repositoryName=built.name, commitIds=shas[:100])["commits"]
    ) == min(100, len(shas))


def test_batch_get_commits_refuses_more_than_100_ids(cc: Any, built: Built) -> None:
    with pytest.raises(cc.exceptions.CommitIdsLimitExceededException):
        cc.batch_get_commits(repositoryName=built.name, commitIds=[built.tip] * 101)
    with pytest.raises(cc.exceptions.CommitIdsListRequiredException):
        cc.batch_get_commits(repositoryName=built.name, commitIds=[])
    assert cc.batch_get_commits(repositoryName=built.name, commitIds=[built.tip])["commits"]


# -- differences -------------------------------------------------------------------------------


def _raw_diff(built: Built, before: str, after: str, *paths: str) -> list[dict[str, Any]]:
    """`git diff --raw --no-renames` as Difference objects (a type change, git's T, is M)."""
    out = _git_bytes(
        built, "diff", "--raw", "-z", "--no-renames", "--no-abbrev", before, after, "--", *paths
    ).decode()
    fields = out.split("\0")
    diffs = []
    i = 0
    while i < len(fields) - 1:
        meta, path = fields[i], fields[i + 1]
        i += 2
        old_mode, new_mode, old_sha, new_sha, status = meta.lstrip(":").split()
        change = {"T": "M"}.get(status, status)
        d: dict[str, Any] = {"changeType": change}
        if change != "A":
            d["beforeBlob"] = {"blobId": old_sha, "path": path, "mode": old_mode}
        if change != "D":
            d["afterBlob"] = {"blobId": new_sha, "path": path, "mode": new_mode}
        diffs.append(d)
    return diffs


def _all_differences(cc: Any, **kw: Any) -> list[dict[str, Any]]:
    pages = cc.get_paginator("get_differences").paginate(**kw)
    return [d for p in pages for d in p["differences"]]


def test_get_differences_agree_with_git_diff_raw(cc: Any, built: Built) -> None:
    pairs = [
        (built.first, built.second),
        (built.second, built.first),
        (built.first, built.tip),
        (f"{built.merge}^1", built.merge),
        (f"{built.merge}^2", built.merge),
    ]
    for before, after in pairs:
        b = _git(built, "rev-parse", before).strip()
        want = _raw_diff(built, b, after)
        assert want
        got = _all_differences(
            cc, repositoryName=built.name, beforeCommitSpecifier=b, afterCommitSpecifier=after
        )
        assert got == want, (before, after)


def test_get_differences_without_a_before_commit_lists_every_file_as_added(
    cc: Any, built: Built
) -> None:
    got = _all_differences(cc, repositoryName=built.name, afterCommitSpecifier="v1")
    assert got == _raw_diff(built, EMPTY_TREE, built.first)
    assert {d["changeType"] for d in got} == {"A"}


def test_get_differences_pages_and_limits_to_a_path(cc: Any, built: Built) -> None:
    want = _raw_diff(built, built.first, built.tip)
    seen: list[dict[str, Any]] = []
    token = None
    while True:
        kw = {"NextToken": token} if token else {}
        out = cc.get_differences(
            repositoryName=built.name,
            beforeCommitSpecifier=built.first,
            afterCommitSpecifier="main",
            MaxResults=3,
            **kw,
        )
        assert len(out["differences"]) <= 3
        seen += out["differences"]
        token = out.get("NextToken")
        if not token:
            break
    assert seen == want
    for path in ["src", "other", "renamed dir", "busy.txt"]:
        got = _all_differences(
            cc,
            repositoryName=built.name,
            beforeCommitSpecifier=built.first,
            afterCommitSpecifier="main",
            beforePath=path,
            afterPath=path,
        )
        assert got == _raw_diff(built, built.first, built.tip, path), path


def test_get_differences_compares_a_renamed_folder_by_its_two_paths(cc: Any, built: Built) -> None:
    got = _all_differences(
        cc,
        repositoryName=built.name,
        beforeCommitSpecifier=built.first,
        afterCommitSpecifier=built.second,
        beforePath="dir with space",
        afterPath="renamed dir",
    )
    # The file moved unchanged: git sees no difference between the two folders.
    assert (
        _git(built, "diff", "--raw", f"{built.first}:dir with space", f"{built.second}:renamed dir")
        == ""
    )
    assert got == []
    with pytest.raises(cc.exceptions.PathDoesNotExistException):
        cc.get_differences(
            repositoryName=built.name,
            beforeCommitSpecifier=built.first,
            afterCommitSpecifier=built.second,
            beforePath="nowhere",
        )


# -- file history ------------------------------------------------------------------------------


def _git_log(built: Built, start: str, path: str) -> list[tuple[str, list[str]]]:
    """(commit, rewritten parents) of `git log --parents -- path`, newest first."""
    out = _git(built, "log", "--parents", "--format=%H %P", start, "--", path)
    return [(ln.split()[0], ln.split()[1:]) for ln in out.splitlines() if ln.strip()]


@pytest.mark.parametrize("path", ["busy.txt", "README.md", "src/main.py", "feature.txt", "link"])
def test_list_file_commit_history_agrees_with_git_log(cc: Any, built: Built, path: str) -> None:
    want = _git_log(built, "main", path)
    versions: list[dict[str, Any]] = []
    token = None
    while True:
        kw = {"nextToken": token} if token else {}
        out = cc.list_file_commit_history(
            repositoryName=built.name, filePath=path, maxResults=4, **kw
        )
        versions += out["revisionDag"]
        token = out.get("nextToken")
        if not token:
            break
    assert [v["commit"]["commitId"] for v in versions] == [sha for sha, _ in want]
    children: dict[str, list[str]] = {}
    for sha, parents in want:
        for p in parents:
            children.setdefault(p, []).append(sha)
    for v in versions:
        sha = v["commit"]["commitId"]
        assert v["commit"] == _cat_commit(built, sha)
        assert v["path"] == path
        assert sorted(v["revisionChildren"]) == sorted(children.get(sha, []))
        blob = _git(built, "rev-parse", f"{sha}:{path}").strip()
        assert v["blobId"] == blob


def test_file_history_of_the_busy_file_goes_through_the_merge(cc: Any, built: Built) -> None:
    out = cc.list_file_commit_history(repositoryName=built.name, filePath="busy.txt")
    shas = [v["commit"]["commitId"] for v in out["revisionDag"]]
    feature = _git(built, "rev-parse", "feature").strip()
    assert shas[0] == built.tip and feature in shas
    # The merge took busy.txt from `feature` unchanged: git leaves it out, and so does ccemu.
    assert built.merge not in shas
