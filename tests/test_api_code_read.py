"""Reading code through the API (GetBlob, GetFile, GetFolder, GetCommit, BatchGetCommits,
GetDifferences, ListFileCommitHistory), with the git CLI as the oracle: a repository is built
with git (renames, mode changes, symlinks, a submodule, binary files, a deep tree, unicode and
spaces in paths, merges, a long history), pushed, and every answer is compared with what git
computes on the same commits."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REGION, Server, git

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

    ZONES = ["+0000", "-0800", "+0530", "+0100", "-0330"]

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


def test_a_smoke(cc: Any, built: Built) -> None:
    out = cc.get_file(repositoryName=built.name, filePath="README.md")
    assert out["fileContent"] == b"# demo\nmore\n"
