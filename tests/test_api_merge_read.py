"""The read-only merge operations (GetMergeOptions, GetMergeConflicts, DescribeMergeConflicts,
BatchDescribeMergeConflicts, GetMergeCommit) with git as the oracle: branches are built with the
git CLI and pushed, then the merge base is compared with `git merge-base`, the merged tree of a
clean merge with `git merge-tree --write-tree`, the conflicting files with the ones
`git merge-tree --write-tree --name-only` lists, and the hunks of a line conflict with the
conflict markers git writes."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, Server, git
from dulwich.objects import Tree

from emulator.config import Config
from emulator.core import Emulator
from emulator.repos.code import CodeReader
from emulator.repos.merge import merge_commits


@dataclass
class Repo:
    name: str
    work: Path
    env: dict[str, str]

    def git(self, *args: str, check: bool = True) -> str:
        return git(self.env, *args, cwd=self.work, check=check).stdout

    def write(self, path: str, data: bytes | str) -> None:
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        self.git("add", "--", path)

    def commit(self, message: str) -> str:
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def branch(self, name: str, start: str = "main") -> None:
        self.git("checkout", "-q", "-B", name, start)


LINES = "".join(f"line {i}\n" for i in range(1, 31))


def _edit(text: str, **changes: str) -> str:
    """`text` with `line N` replaced (n<N>=...) as given."""
    lines = text.splitlines(keepends=True)
    for key, value in changes.items():
        lines[int(key[1:]) - 1] = value
    return "".join(lines)


@pytest.fixture(scope="module")
def repo(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    tmp = tmp_path_factory.mktemp("merge-read")
    home = tmp / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AWS_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="A",
        GIT_AUTHOR_EMAIL="a@example.com",
        GIT_COMMITTER_NAME="A",
        GIT_COMMITTER_EMAIL="a@example.com",
    )
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    work = tmp / "work"
    work.mkdir()
    r = Repo(f"merge-{uuid.uuid4().hex[:10]}", work, env)
    r.git("init", "-q", "-b", "main")
    r.write("shared.txt", LINES)
    r.write("conflict.txt", LINES)
    r.write("both.txt", LINES)
    r.write("gone.txt", "to be deleted\n")
    r.write("mode.sh", "#!/bin/sh\n")
    r.write("image.bin", bytes(range(256)) * 4)
    r.write("docs/old-name.md", "a document that moves\n" * 5)
    r.commit("base")
    # `clean`: changes that merge with main's without conflict.
    r.branch("clean")
    r.write("clean-only.txt", "clean\n")
    r.write("shared.txt", _edit(LINES, n2="clean 2\n"))
    r.git("mv", "docs/old-name.md", "docs/new-name.md")
    (work / "mode.sh").chmod(0o755)
    r.git("add", "mode.sh")
    r.commit("clean work")
    # `conflicts`: every kind of conflict with main.
    r.branch("conflicts")
    r.write("conflict.txt", _edit(LINES, n10="source 10\n", n20="source 20\n"))
    r.write("both.txt", _edit(LINES, n5="source 5\n"))
    r.write("gone.txt", "modified on the source\n")
    r.write("added.txt", "added by the source\nsame\n")
    r.write("image.bin", bytes(range(255, -1, -1)) * 4)
    r.commit("conflicting work")
    # `ahead`: main plus one commit (a fast-forward).
    r.branch("main")
    r.write("main-1.txt", "main\n")
    r.write("shared.txt", _edit(LINES, n25="main 25\n"))
    r.write("conflict.txt", _edit(LINES, n10="dest 10\n", n21="dest 21\n"))
    r.write("both.txt", _edit(LINES, n25="dest 25\n"))
    r.git("rm", "-q", "gone.txt")
    r.write("added.txt", "added by the destination\nsame\n")
    r.write("image.bin", bytes(range(128)) * 8)
    r.commit("main work")
    r.branch("ahead")
    r.write("ahead.txt", "ahead\n")
    r.commit("ahead")
    r.branch("main")
    cc = server.client()
    cc.create_repository(repositoryName=r.name)
    git(env, "push", "-q", server.git_url(r.name), "main", "clean", "conflicts", "ahead", cwd=work)
    return r


def _merge_tree(r: Repo, ours: str, theirs: str, *extra: str) -> tuple[int, str]:
    proc = subprocess.run(
        ["git", "merge-tree", "--write-tree", *extra, ours, theirs],
        cwd=r.work,
        env=r.env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, proc.stdout


def _conflicting_paths(r: Repo, ours: str, theirs: str) -> list[str]:
    code, out = _merge_tree(r, ours, theirs, "--name-only")
    assert code == 1
    block = out.split("\n\n", 1)[0].splitlines()
    return sorted(set(block[1:]))


def _git_conflict_hunks(r: Repo, ours: str, theirs: str, path: str) -> list[tuple[str, str]]:
    """(destination lines, source lines) of each conflict marker block git writes."""
    _, out = _merge_tree(r, ours, theirs)
    tree = out.splitlines()[0]
    text = r.git("cat-file", "blob", f"{tree}:{path}")
    hunks = []
    mine: list[str] = []
    theirs_lines: list[str] = []
    state = None
    for line in text.splitlines(keepends=True):
        if line.startswith("<<<<<<< "):
            state, mine, theirs_lines = "ours", [], []
        elif line == "=======\n" and state == "ours":
            state = "theirs"
        elif line.startswith(">>>>>>> ") and state == "theirs":
            hunks.append(("".join(mine), "".join(theirs_lines)))
            state = None
        elif state == "ours":
            mine.append(line)
        elif state == "theirs":
            theirs_lines.append(line)
    return hunks


def _rev(r: Repo, name: str) -> str:
    return r.git("rev-parse", name).strip()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- merge base and options ---------------------------------------------------------------------


def test_merge_options_and_base_agree_with_git_merge_base(repo: Repo, cc: Any) -> None:
    got = cc.get_merge_options(
        repositoryName=repo.name,
        sourceCommitSpecifier="clean",
        destinationCommitSpecifier="main",
        conflictDetailLevel="LINE_LEVEL",
    )
    assert got["baseCommitId"] == repo.git("merge-base", "main", "clean").strip()
    assert got["sourceCommitId"] == _rev(repo, "clean")
    assert got["destinationCommitId"] == _rev(repo, "main")
    assert got["mergeOptions"] == ["SQUASH_MERGE", "THREE_WAY_MERGE"]
    # A destination the source contains can be fast-forwarded: every option is open.
    ff = cc.get_merge_options(
        repositoryName=repo.name, sourceCommitSpecifier="ahead", destinationCommitSpecifier="main"
    )
    assert ff["mergeOptions"] == ["FAST_FORWARD_MERGE", "SQUASH_MERGE", "THREE_WAY_MERGE"]
    assert ff["baseCommitId"] == _rev(repo, "main")
    # Conflicts close the squash and three-way merges, unless a strategy settles them.
    blocked = cc.get_merge_options(
        repositoryName=repo.name,
        sourceCommitSpecifier="conflicts",
        destinationCommitSpecifier="main",
    )
    assert blocked["mergeOptions"] == []
    assert blocked["baseCommitId"] == repo.git("merge-base", "main", "conflicts").strip()
    settled = cc.get_merge_options(
        repositoryName=repo.name,
        sourceCommitSpecifier="conflicts",
        destinationCommitSpecifier="main",
        conflictResolutionStrategy="ACCEPT_SOURCE",
    )
    assert settled["mergeOptions"] == ["SQUASH_MERGE", "THREE_WAY_MERGE"]


def test_same_commit_on_both_sides_is_a_fast_forward(repo: Repo, cc: Any) -> None:
    got = cc.get_merge_options(
        repositoryName=repo.name,
        sourceCommitSpecifier=_rev(repo, "main"),
        destinationCommitSpecifier="main",
    )
    assert got["baseCommitId"] == got["sourceCommitId"] == got["destinationCommitId"]
    assert got["mergeOptions"] == ["FAST_FORWARD_MERGE", "SQUASH_MERGE", "THREE_WAY_MERGE"]


def test_merge_base_of_a_history_with_merges_is_git_merge_base(
    server: Server, cc: Any, tmp_path: Path, git_env: dict[str, str]
) -> None:
    r = Repo(f"mb-{uuid.uuid4().hex[:8]}", tmp_path / "w", git_env)
    r.work.mkdir()
    r.git("init", "-q", "-b", "main")
    r.write("f.txt", "0\n")
    r.commit("root")
    r.branch("topic")
    for i in range(3):
        r.write(f"t{i}.txt", f"{i}\n")
        r.commit(f"topic {i}")
        r.branch("main")
        r.write(f"m{i}.txt", f"{i}\n")
        r.commit(f"main {i}")
        r.git("merge", "-q", "--no-edit", "topic")
        r.branch("topic")
        r.write(f"u{i}.txt", f"{i}\n")
        r.commit(f"topic after {i}")
        r.branch("main")
    cc.create_repository(repositoryName=r.name)
    git(git_env, "push", "-q", server.git_url(r.name), "main", "topic", cwd=r.work)
    got = cc.get_merge_options(
        repositoryName=r.name, sourceCommitSpecifier="topic", destinationCommitSpecifier="main"
    )
    assert got["baseCommitId"] == r.git("merge-base", "main", "topic").strip()


# -- a clean merge ---------------------------------------------------------------------------


def test_clean_merge_has_no_conflicts_and_git_agrees(repo: Repo, cc: Any) -> None:
    code, _ = _merge_tree(repo, "main", "clean")
    assert code == 0
    for strategy in ("NONE", "AUTOMERGE"):
        got = cc.get_merge_conflicts(
            repositoryName=repo.name,
            sourceCommitSpecifier="clean",
            destinationCommitSpecifier="main",
            mergeOption="THREE_WAY_MERGE",
            conflictDetailLevel="LINE_LEVEL",
            conflictResolutionStrategy=strategy,
        )
        assert got["mergeable"] is True
        assert got["conflictMetadataList"] == []
    # AUTOMERGE merges lines even at FILE_LEVEL.
    auto = cc.get_merge_options(
        repositoryName=repo.name,
        sourceCommitSpecifier="clean",
        destinationCommitSpecifier="main",
        conflictResolutionStrategy="AUTOMERGE",
    )
    assert auto["mergeOptions"] == ["SQUASH_MERGE", "THREE_WAY_MERGE"]


def test_file_level_makes_a_file_changed_on_both_sides_a_conflict(repo: Repo, cc: Any) -> None:
    """git merges shared.txt's separate hunks; at FILE_LEVEL (the default) CodeCommit calls
    the file a conflict, and describes its hunks, none of them conflicting."""
    got = cc.get_merge_conflicts(
        repositoryName=repo.name,
        sourceCommitSpecifier="clean",
        destinationCommitSpecifier="main",
        mergeOption="SQUASH_MERGE",
    )
    assert got["mergeable"] is False
    [meta] = got["conflictMetadataList"]
    assert meta["filePath"] == "shared.txt"
    assert meta["contentConflict"] is True
    assert meta["numberOfConflicts"] == 1
    assert meta["mergeOperations"] == {"source": "M", "destination": "M"}
    described = cc.describe_merge_conflicts(
        repositoryName=repo.name,
        sourceCommitSpecifier="clean",
        destinationCommitSpecifier="main",
        mergeOption="SQUASH_MERGE",
        filePath="shared.txt",
    )
    hunks = described["mergeHunks"]
    assert [h["isConflict"] for h in hunks] == [False, False]
    assert hunks[0]["source"] == {"startLine": 1, "endLine": 2, "hunkContent": _b64("clean 2\n")}
    assert hunks[1]["destination"] == {
        "startLine": 24,
        "endLine": 25,
        "hunkContent": _b64("main 25\n"),
    }
    assert hunks[1]["base"] == {"startLine": 24, "endLine": 25, "hunkContent": _b64("line 25\n")}


def test_merged_tree_is_git_merge_tree(repo: Repo, fresh_server: Server) -> None:
    """The engine's merged tree is the tree git merge-tree writes, for a clean merge of renames,
    a mode change, an added file and hunks of one file; its new objects are returned, not
    stored. (No read operation shows the tree: the engine is asked on a stopped server's data.)"""
    code, out = _merge_tree(repo, "main", "clean")
    assert code == 0
    expected = out.split()[0]
    fresh_server.client().create_repository(repositoryName=repo.name)
    git(repo.env, "push", "-q", fresh_server.git_url(repo.name), "main", "clean", cwd=repo.work)
    fresh_server.stop()
    emu = Emulator(Config(data_dir=fresh_server.data_dir))
    try:
        repository = emu.repos.get(ACCOUNT, REGION, repo.name)
        with CodeReader(emu.repos, repository, emu.pack_cache) as reader:
            result = merge_commits(reader, _rev(repo, "clean"), _rev(repo, "main"), "LINE_LEVEL")
            assert result.tree_id == expected
            assert result.objects
            for obj in result.objects:
                assert reader.header(obj.id.decode()) is None  # not stored
                kind = "tree" if isinstance(obj, Tree) else "blob"
                assert repo.git("cat-file", "-t", obj.id.decode()).strip() == kind
    finally:
        emu.close()


# -- conflicts ----------------------------------------------------------------------------------


def _conflicts(cc: Any, repo: Repo, **kw: Any) -> dict[str, dict[str, Any]]:
    args = {
        "repositoryName": repo.name,
        "sourceCommitSpecifier": "conflicts",
        "destinationCommitSpecifier": "main",
        "mergeOption": "THREE_WAY_MERGE",
        "conflictDetailLevel": "LINE_LEVEL",
        **kw,
    }
    got = cc.get_merge_conflicts(**args)
    assert got["baseCommitId"] == repo.git("merge-base", "main", "conflicts").strip()
    return {m["filePath"]: m for m in got["conflictMetadataList"]}


def test_conflicting_files_are_the_ones_git_reports(repo: Repo, cc: Any) -> None:
    found = _conflicts(cc, repo)
    assert sorted(found) == _conflicting_paths(repo, "main", "conflicts")
    assert sorted(found) == ["added.txt", "conflict.txt", "gone.txt", "image.bin"]
    # modify/delete: the source modified what the destination deleted.
    gone = found["gone.txt"]
    assert gone["mergeOperations"] == {"source": "M", "destination": "D"}
    assert gone["objectTypes"] == {"source": "FILE", "base": "FILE"}
    assert gone["fileSizes"] == {"source": len("modified on the source\n"), "base": 14}
    # add/add with different contents.
    added = found["added.txt"]
    assert added["mergeOperations"] == {"source": "A", "destination": "A"}
    assert added["contentConflict"] is True
    assert "base" not in added["fileModes"]
    # Binary files changed on both sides conflict whatever the detail level.
    image = found["image.bin"]
    assert image["isBinaryFile"] == {"source": True, "destination": True, "base": True}
    assert image["contentConflict"] is True
    # Two line conflicts in one file (lines 10 and 20/21).
    text = found["conflict.txt"]
    assert text["numberOfConflicts"] == 2
    assert text["isBinaryFile"] == {"source": False, "destination": False, "base": False}
    assert text["fileModes"] == {"source": "NORMAL", "destination": "NORMAL", "base": "NORMAL"}
    # both.txt's changes (line 5 and line 25) merge at LINE_LEVEL, as in git.
    assert "both.txt" not in found


def test_line_conflict_hunks_are_git_conflict_markers(repo: Repo, cc: Any) -> None:
    for path in ("conflict.txt", "added.txt"):
        got = cc.describe_merge_conflicts(
            repositoryName=repo.name,
            sourceCommitSpecifier="conflicts",
            destinationCommitSpecifier="main",
            mergeOption="THREE_WAY_MERGE",
            conflictDetailLevel="LINE_LEVEL",
            filePath=path,
        )
        conflicts = [
            (
                base64.b64decode(h["destination"]["hunkContent"]).decode(),
                base64.b64decode(h["source"]["hunkContent"]).decode(),
            )
            for h in got["mergeHunks"]
            if h["isConflict"]
        ]
        assert conflicts == _git_conflict_hunks(repo, "main", "conflicts", path)
        assert got["conflictMetadata"]["filePath"] == path
    # The line ranges: line 10 (index 9) on each side and in the base.
    first = next(h for h in got_hunks(cc, repo, "conflict.txt") if h["isConflict"])
    for side in ("source", "destination", "base"):
        assert (first[side]["startLine"], first[side]["endLine"]) == (9, 10)
    assert base64.b64decode(first["base"]["hunkContent"]) == b"line 10\n"


def got_hunks(cc: Any, repo: Repo, path: str, **kw: Any) -> list[dict[str, Any]]:
    hunks: list[dict[str, Any]] = cc.describe_merge_conflicts(
        repositoryName=repo.name,
        sourceCommitSpecifier="conflicts",
        destinationCommitSpecifier="main",
        mergeOption="SQUASH_MERGE",
        conflictDetailLevel="LINE_LEVEL",
        filePath=path,
        **kw,
    )["mergeHunks"]
    return hunks


def test_hunks_are_paginated_by_max_merge_hunks(repo: Repo, cc: Any) -> None:
    every = got_hunks(cc, repo, "conflict.txt")
    assert len(every) == 2
    args = {
        "repositoryName": repo.name,
        "sourceCommitSpecifier": "conflicts",
        "destinationCommitSpecifier": "main",
        "mergeOption": "SQUASH_MERGE",
        "conflictDetailLevel": "LINE_LEVEL",
        "filePath": "conflict.txt",
        "maxMergeHunks": 1,
    }
    one = cc.describe_merge_conflicts(**args)
    two = cc.describe_merge_conflicts(**args, nextToken=one["nextToken"])
    assert one["mergeHunks"] + two["mergeHunks"] == every
    assert "nextToken" not in two


def test_conflict_files_are_paginated_by_max_conflict_files(repo: Repo, cc: Any) -> None:
    args = {
        "repositoryName": repo.name,
        "sourceCommitSpecifier": "conflicts",
        "destinationCommitSpecifier": "main",
        "mergeOption": "THREE_WAY_MERGE",
        "conflictDetailLevel": "LINE_LEVEL",
        "maxConflictFiles": 3,
    }
    first = cc.get_merge_conflicts(**args)
    second = cc.get_merge_conflicts(**args, nextToken=first["nextToken"])
    paths = [m["filePath"] for m in first["conflictMetadataList"] + second["conflictMetadataList"]]
    assert paths == sorted(_conflicts(cc, repo))
    assert len(first["conflictMetadataList"]) == 3 and "nextToken" not in second
    batch = cc.batch_describe_merge_conflicts(**{**args, "maxConflictFiles": 2, "maxMergeHunks": 1})
    assert [c["conflictMetadata"]["filePath"] for c in batch["conflicts"]] == paths[:2]
    assert all(len(c["mergeHunks"]) <= 1 for c in batch["conflicts"])
    assert batch["nextToken"]


def test_batch_describe_limits_to_the_paths_asked_and_reports_missing_ones(
    repo: Repo, cc: Any
) -> None:
    got = cc.batch_describe_merge_conflicts(
        repositoryName=repo.name,
        sourceCommitSpecifier="conflicts",
        destinationCommitSpecifier="main",
        mergeOption="THREE_WAY_MERGE",
        conflictDetailLevel="LINE_LEVEL",
        filePaths=["conflict.txt", "both.txt", "nowhere.txt"],
    )
    assert [c["conflictMetadata"]["filePath"] for c in got["conflicts"]] == ["conflict.txt"]
    assert [e["filePath"] for e in got["errors"]] == ["nowhere.txt"]
    assert got["errors"][0]["exceptionName"] == "FileDoesNotExistException"
    hunks = got["conflicts"][0]["mergeHunks"]
    assert hunks == got_hunks(cc, repo, "conflict.txt")


def test_strategies_settle_conflicts_by_taking_a_side(repo: Repo, cc: Any) -> None:
    for strategy in ("ACCEPT_SOURCE", "ACCEPT_DESTINATION"):
        for level in ("FILE_LEVEL", "LINE_LEVEL"):
            got = cc.get_merge_conflicts(
                repositoryName=repo.name,
                sourceCommitSpecifier="conflicts",
                destinationCommitSpecifier="main",
                mergeOption="THREE_WAY_MERGE",
                conflictDetailLevel=level,
                conflictResolutionStrategy=strategy,
            )
            assert got["mergeable"] is True and got["conflictMetadataList"] == []
    # AUTOMERGE settles no overlapping lines, binary files or deletions.
    auto = _conflicts(
        cc, repo, conflictDetailLevel="FILE_LEVEL", conflictResolutionStrategy="AUTOMERGE"
    )
    assert sorted(auto) == ["added.txt", "conflict.txt", "gone.txt", "image.bin"]
    # FILE_LEVEL without a strategy adds both.txt (changed on both sides, lines apart).
    assert "both.txt" in _conflicts(cc, repo, conflictDetailLevel="FILE_LEVEL")


def test_fast_forward_option_has_no_conflict_list(repo: Repo, cc: Any) -> None:
    ff = cc.get_merge_conflicts(
        repositoryName=repo.name,
        sourceCommitSpecifier="ahead",
        destinationCommitSpecifier="main",
        mergeOption="FAST_FORWARD_MERGE",
    )
    assert ff["mergeable"] is True and ff["conflictMetadataList"] == []
    no = cc.get_merge_conflicts(
        repositoryName=repo.name,
        sourceCommitSpecifier="clean",
        destinationCommitSpecifier="main",
        mergeOption="FAST_FORWARD_MERGE",
    )
    assert no["mergeable"] is False and no["conflictMetadataList"] == []


# -- GetMergeCommit -----------------------------------------------------------------------------


def test_get_merge_commit_finds_the_commit_that_merged_the_source(
    server: Server, cc: Any, tmp_path: Path, git_env: dict[str, str]
) -> None:
    r = Repo(f"mc-{uuid.uuid4().hex[:8]}", tmp_path / "w", git_env)
    r.work.mkdir()
    r.git("init", "-q", "-b", "main")
    r.write("f.txt", "0\n")
    r.commit("root")
    r.branch("topic")
    r.write("t.txt", "t\n")
    topic = r.commit("topic")
    r.branch("main")
    r.write("m.txt", "m\n")
    r.commit("main")
    r.git("merge", "-q", "--no-ff", "--no-edit", "topic")
    merged = _rev(r, "HEAD")
    r.write("after.txt", "a\n")
    r.commit("after")
    r.branch("other")
    r.write("o.txt", "o\n")
    r.commit("other")
    cc.create_repository(repositoryName=r.name)
    git(git_env, "push", "-q", server.git_url(r.name), "main", "topic", "other", cwd=r.work)
    got = cc.get_merge_commit(
        repositoryName=r.name, sourceCommitSpecifier="topic", destinationCommitSpecifier="main"
    )
    assert got["mergedCommitId"] == merged
    assert got["sourceCommitId"] == topic
    assert got["baseCommitId"] == r.git("merge-base", "main", "topic").strip() == topic
    # Not merged yet: no merge commit.
    pending = cc.get_merge_commit(
        repositoryName=r.name, sourceCommitSpecifier="other", destinationCommitSpecifier="main"
    )
    assert "mergedCommitId" not in pending
    assert pending["baseCommitId"] == _rev(r, "main")


# -- errors --------------------------------------------------------------------------------------


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return str(info.value.response["Error"]["Code"])


def test_errors_for_bad_specifiers_options_and_tokens(repo: Repo, cc: Any, server: Server) -> None:
    base = {
        "repositoryName": repo.name,
        "sourceCommitSpecifier": "conflicts",
        "destinationCommitSpecifier": "main",
    }
    assert _code(cc.get_merge_options, **{**base, "sourceCommitSpecifier": "nope"}) == (
        "CommitDoesNotExistException"
    )
    assert _code(cc.get_merge_options, **{**base, "destinationCommitSpecifier": "a..b"}) == (
        "InvalidCommitException"
    )
    assert _code(cc.get_merge_commit, **{**base, "sourceCommitSpecifier": "0" * 40}) == (
        "CommitDoesNotExistException"
    )
    conflicts = {**base, "mergeOption": "THREE_WAY_MERGE"}
    assert _code(cc.get_merge_conflicts, **{**conflicts, "sourceCommitSpecifier": "a..b"}) == (
        "InvalidSourceCommitSpecifierException"
    )
    assert _code(cc.get_merge_conflicts, **{**conflicts, "destinationCommitSpecifier": "a..b"}) == (
        "InvalidDestinationCommitSpecifierException"
    )
    assert _code(cc.get_merge_conflicts, **conflicts, nextToken="garbage") == (
        "InvalidContinuationTokenException"
    )
    assert _code(cc.get_merge_conflicts, **conflicts, maxConflictFiles=0) == (
        "InvalidMaxConflictFilesException"
    )
    describe = {**conflicts, "filePath": "conflict.txt"}
    assert _code(cc.describe_merge_conflicts, **describe, maxMergeHunks=0) == (
        "InvalidMaxMergeHunksException"
    )
    assert _code(
        cc.describe_merge_conflicts, **{**describe, "mergeOption": "FAST_FORWARD_MERGE"}
    ) == ("InvalidMergeOptionException")
    assert _code(
        cc.batch_describe_merge_conflicts, **{**conflicts, "mergeOption": "FAST_FORWARD_MERGE"}
    ) == ("InvalidMergeOptionException")
    assert _code(cc.describe_merge_conflicts, **{**describe, "filePath": "nowhere.txt"}) == (
        "FileDoesNotExistException"
    )
    assert _code(cc.describe_merge_conflicts, **{**describe, "filePath": "a/../b"}) == (
        "InvalidPathException"
    )
    # Values the model's enums refuse, sent as they are.
    raw = _unvalidated(server)
    assert _code(raw.get_merge_options, **base, conflictDetailLevel="WORD_LEVEL") == (
        "InvalidConflictDetailLevelException"
    )
    assert _code(raw.get_merge_options, **base, conflictResolutionStrategy="THEIRS") == (
        "InvalidConflictResolutionStrategyException"
    )
    assert _code(raw.get_merge_conflicts, **{**conflicts, "mergeOption": "OCTOPUS"}) == (
        "InvalidMergeOptionException"
    )
    assert _code(raw.get_merge_conflicts, **base) == "MergeOptionRequiredException"
    assert _code(
        raw.get_merge_options, repositoryName=repo.name, destinationCommitSpecifier="main"
    ) == ("CommitRequiredException")
    # Nothing changed, and the server serves the next request.
    assert cc.get_merge_options(**base, conflictDetailLevel="LINE_LEVEL")["mergeOptions"] == []


def _unvalidated(server: Server) -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "codecommit",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=BotoConfig(parameter_validation=False, retries={"max_attempts": 1}),
    )


@pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")
def test_aws_cli_get_merge_options(repo: Repo, server: Server, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    proc = subprocess.run(
        [
            "aws",
            "--endpoint-url",
            server.url,
            "codecommit",
            "get-merge-options",
            "--repository-name",
            repo.name,
            "--source-commit-specifier",
            "ahead",
            "--destination-commit-specifier",
            "main",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["mergeOptions"] == ["FAST_FORWARD_MERGE", "SQUASH_MERGE", "THREE_WAY_MERGE"]
    assert got["baseCommitId"] == _rev(repo, "main")
