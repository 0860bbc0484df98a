"""ListFileCommitHistory page by page against `git log --parents -- <path>`: the walk stops once
a page is complete and the next page resumes it, so these histories are built to catch a page
cut too early (a child older than its parent by its commit date, merges, a file deleted and
added again) and every page size must give git's whole answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, git


@dataclass
class History:
    name: str
    work: Path
    env: dict[str, str]


class Builder:
    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env = env
        self.work = work

    def run(self, *args: str, check: bool = True) -> str:
        return git(self.env, *args, cwd=self.work, check=check).stdout

    def write(self, path: str, text: str) -> None:
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        self.run("add", "--", path)

    def commit(self, when: int, message: str) -> str:
        date = f"{1_600_000_000 + when} +0000"
        env = {**self.env, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        git(env, "commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        return self.run("rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def history(server: Server, tmp_path_factory: pytest.TempPathFactory) -> History:
    tmp = tmp_path_factory.mktemp("file-history")
    home = tmp / "home"
    home.mkdir()
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "A",
        "GIT_AUTHOR_EMAIL": "a@example.com",
        "GIT_COMMITTER_NAME": "C",
        "GIT_COMMITTER_EMAIL": "c@example.com",
    }
    work = tmp / "work"
    work.mkdir()
    git(env, "init", "-q", "-b", "main", cwd=work)
    b = Builder(env, work)
    b.write("f.txt", "r\n")
    b.write("g.txt", "g\n")
    b.commit(10, "root")
    b.write("f.txt", "t2\n")
    b.commit(70, "t2")
    b.write("f.txt", "t1\n")
    b.commit(80, "t1")
    b.write("f.txt", "t\n")
    b.commit(100, "t")
    # `side` changes f.txt in a commit dated before its parent: the date-ordered walk reaches
    # it only after t, t1 and t2, yet it is a child of t in the file's history.
    b.run("checkout", "-q", "-b", "side")
    b.write("f.txt", "s\n")
    b.commit(20, "s (clock behind)")
    b.run("checkout", "-q", "main")
    b.write("g.txt", "u\n")
    b.commit(90, "u (clock behind)")
    b.run("merge", "-q", "--no-commit", "side", check=False)
    b.write("f.txt", "m\n")
    b.commit(200, "merge side, f.txt resolved by hand")
    # A deep file added, changed, deleted, added again, with other files changing around it.
    for i in range(1, 31):
        if i % 5 == 1:
            b.write(f"other/{i}.txt", f"{i}\n")
        elif i % 3 == 0:
            b.write("f.txt", f"{i}\n")
        else:
            b.write("d/e/keep.txt", f"{i}\n")
        if i == 12:
            b.run("rm", "-q", "d/e/keep.txt")
        b.commit(300 + i * 10, f"step {i}")
    # A merge that takes d/e/keep.txt from its second parent unchanged (git follows only
    # that parent) and one whose both sides changed f.txt the same way.
    b.run("checkout", "-q", "-b", "topic")
    b.write("d/e/keep.txt", "topic\n")
    b.commit(700, "topic keep")
    b.write("f.txt", "same\n")
    b.commit(710, "topic f")
    b.run("checkout", "-q", "main")
    b.write("f.txt", "same\n")
    b.commit(705, "main f")
    b.run("merge", "-q", "--no-commit", "topic", check=False)
    b.commit(720, "merge topic")
    b.write("d/e/keep.txt", "last\n")
    b.commit(730, "last")
    # h.txt: a page ends (at a1) while the walk has left main's side of the merge half walked
    # (u2 walked, h1 not yet), so h1's child through u2 is settled only by a later page.
    b.write("h.txt", "h0\n")
    h0 = b.commit(1000, "h0")
    b.write("h.txt", "h1\n")
    b.commit(1010, "h1")
    b.write("other/u2.txt", "u2\n")
    b.commit(1050, "u2")
    b.run("checkout", "-q", "-b", "side2", h0)
    b.write("h.txt", "a1\n")
    b.commit(1030, "a1")
    b.run("checkout", "-q", "main")
    b.run("merge", "-q", "--no-commit", "side2", check=False)
    b.write("h.txt", "m\n")
    b.commit(1100, "merge side2, h.txt resolved by hand")
    name = f"hist-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    git(env, "push", "-q", server.git_url(name), "main", "side", "topic", cwd=work)
    return History(name, work, env)


def _git_log(h: History, path: str) -> list[tuple[str, list[str]]]:
    out = git(h.env, "log", "--parents", "--format=%H %P", "main", "--", path, cwd=h.work).stdout
    return [(ln.split()[0], ln.split()[1:]) for ln in out.splitlines() if ln.strip()]


def _blob(h: History, sha: str, path: str) -> str | None:
    found = git(h.env, "rev-parse", "--verify", "-q", f"{sha}:{path}", cwd=h.work, check=False)
    return found.stdout.strip() or None


def _pages(cc: Any, h: History, path: str, size: int) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = []
    token = None
    while True:
        kw = {"nextToken": token} if token else {}
        out = cc.list_file_commit_history(
            repositoryName=h.name, commitSpecifier="main", filePath=path, maxResults=size, **kw
        )
        assert len(out["revisionDag"]) <= size
        versions += out["revisionDag"]
        token = out.get("nextToken")
        if not token:
            return versions


@pytest.mark.parametrize("path", ["f.txt", "d/e/keep.txt", "g.txt", "h.txt", "other/1.txt"])
def test_history_paged_in_any_size_is_git_log_with_the_children_git_rewrites(
    cc: Any, history: History, path: str
) -> None:
    want = _git_log(history, path)
    assert want
    children: dict[str, list[str]] = {}
    for sha, parents in want:
        for p in parents:
            children.setdefault(p, []).append(sha)
    # Smallest pages first: each page stops the walk as early as it may.
    for size in (1, 2, 3, 7, 100):
        versions = _pages(cc, history, path, size)
        assert [v["commit"]["commitId"] for v in versions] == [sha for sha, _ in want], size
        for v in versions:
            sha = v["commit"]["commitId"]
            assert sorted(v["revisionChildren"]) == sorted(children.get(sha, [])), (size, sha)
            assert v.get("blobId") == _blob(history, sha, path), (size, sha)
            assert v["path"] == path


def test_history_of_a_deleted_and_added_again_file_shows_the_deletion(
    cc: Any, history: History
) -> None:
    versions = _pages(cc, history, "d/e/keep.txt", 4)
    deletions = [v for v in versions if v.get("blobId") is None]
    assert [v["commit"]["message"] for v in deletions] == ["step 12\n"]
    # Before the deletion and after it the file has versions.
    messages = [v["commit"]["message"] for v in versions]
    at = messages.index("step 12\n")
    assert at > 0 and at < len(messages) - 1


def test_a_token_from_one_page_size_continues_another_walk_of_the_same_history(
    cc: Any, history: History
) -> None:
    want = [sha for sha, _ in _git_log(history, "f.txt")]
    first = cc.list_file_commit_history(
        repositoryName=history.name, commitSpecifier="main", filePath="/f.txt", maxResults=2
    )
    # Whole history walked in between by another listing, then the first one resumes.
    assert len(_pages(cc, history, "f.txt", 100)) == len(want)
    rest = cc.list_file_commit_history(
        repositoryName=history.name,
        commitSpecifier="main",
        filePath="f.txt",
        maxResults=3,
        nextToken=first["nextToken"],
    )
    got = [v["commit"]["commitId"] for v in first["revisionDag"] + rest["revisionDag"]]
    assert got == want[:5]
