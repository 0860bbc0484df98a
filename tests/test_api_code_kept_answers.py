"""GetDifferences and ListFileCommitHistory keep what they computed for the next page; a branch
that moves between two calls must still get git's answer for where it now points, not the kept
one."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from conftest import Server, git


def _history(cc: Any, name: str, path: str) -> list[str]:
    out = cc.list_file_commit_history(repositoryName=name, commitSpecifier="main", filePath=path)
    return [v["commit"]["commitId"] for v in out["revisionDag"]]


def _differences(cc: Any, name: str, before: str) -> list[tuple[str, str]]:
    pages = cc.get_paginator("get_differences").paginate(
        repositoryName=name, beforeCommitSpecifier=before, afterCommitSpecifier="main"
    )
    return [
        (d["changeType"], (d.get("afterBlob") or d["beforeBlob"])["path"])
        for p in pages
        for d in p["differences"]
    ]


def _git_differences(env: dict[str, str], work: Path, before: str) -> list[tuple[str, str]]:
    out = git(env, "diff", "--name-status", "--no-renames", before, "main", cwd=work).stdout
    return [(ln.split("\t")[0], ln.split("\t")[1]) for ln in out.splitlines()]


def test_kept_history_and_differences_follow_a_branch_pushed_between_calls(
    server: Server, cc: Any, git_env: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    git(git_env, "init", "-q", "-b", "main", cwd=work)
    for i in range(3):
        (work / "f.txt").write_text(f"{i}\n")
        (work / f"g{i}.txt").write_text(f"{i}\n")
        git(git_env, "add", ".", cwd=work)
        git(git_env, "commit", "-q", "-m", f"c{i}", cwd=work)
    first = git(git_env, "rev-list", "--max-parents=0", "main", cwd=work).stdout.strip()
    name = f"kept-{uuid.uuid4().hex[:10]}"
    cc.create_repository(repositoryName=name)
    url = server.git_url(name)
    git(git_env, "push", "-q", url, "main", cwd=work)

    def log() -> list[str]:
        return git(git_env, "log", "--format=%H", "main", "--", "f.txt", cwd=work).stdout.split()

    assert _history(cc, name, "f.txt") == log()
    kept = _differences(cc, name, first)
    assert kept == _git_differences(git_env, work, first)
    (work / "f.txt").write_text("moved\n")
    git(git_env, "rm", "-q", "g1.txt", cwd=work)
    git(git_env, "add", ".", cwd=work)
    git(git_env, "commit", "-q", "-m", "moved", cwd=work)
    git(git_env, "push", "-q", url, "main", cwd=work)
    assert _history(cc, name, "f.txt") == log()
    moved = _differences(cc, name, first)
    assert moved != kept
    assert moved == _git_differences(git_env, work, first)
