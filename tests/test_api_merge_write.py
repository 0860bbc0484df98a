"""MergeBranchesByFastForward, BySquash, ByThreeWay and CreateUnreferencedMergeCommit through
boto3 against a real server, with git as the oracle: the merged tree is the one
`git merge-tree --write-tree` computes, the commits pass `git fsck`, and the branch moves
through the one write path (branch protection applies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import MakeGitUser, Server, git


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return str(info.value.response["Error"]["Code"])


def _repo(server: Server, env: dict[str, str], name: str, work: Path) -> Any:
    """main with a base commit; `feature` adds a file and edits a.txt's last line; main edits
    a.txt's first line (a clean three-way merge); `clash` edits main's first line too."""
    cc = server.client()
    cc.create_repository(repositoryName=name)
    git(env, "init", "-q", "-b", "main", str(work))
    (work / "a.txt").write_text("one\ntwo\nthree\nfour\nfive\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "base", cwd=work)
    git(env, "checkout", "-q", "-b", "feature", cwd=work)
    (work / "b.txt").write_text("feature\n")
    (work / "a.txt").write_text("one\ntwo\nthree\nfour\nFIVE\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "feature", cwd=work)
    git(env, "checkout", "-q", "-b", "clash", "main", cwd=work)
    (work / "a.txt").write_text("uno\ntwo\nthree\nfour\nfive\n")
    git(env, "commit", "-q", "-am", "clash", cwd=work)
    git(env, "checkout", "-q", "main", cwd=work)
    (work / "a.txt").write_text("ONE\ntwo\nthree\nfour\nfive\n")
    git(env, "commit", "-q", "-am", "main", cwd=work)
    git(env, "push", "-q", server.git_url(name), "main", "feature", "clash", cwd=work)
    return cc


def _tip(cc: Any, name: str, branch: str) -> str:
    return str(cc.get_branch(repositoryName=name, branchName=branch)["branch"]["commitId"])


def test_three_way_and_squash_give_git_merge_trees_tree(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    cc = _repo(server, git_env, repo_name, work)
    main, feature = _tip(cc, repo_name, "main"), _tip(cc, repo_name, "feature")
    want = git(git_env, "merge-tree", "--write-tree", "main", "feature", cwd=work).stdout.strip()
    # FILE_LEVEL (the default) calls a file both sides changed a conflict
    kw = {"repositoryName": repo_name, "sourceCommitSpecifier": "feature"}
    kw["destinationCommitSpecifier"] = "main"
    assert _code(cc.merge_branches_by_three_way, **kw) == "ManualMergeRequiredException"
    squash = cc.merge_branches_by_squash(
        **kw, conflictDetailLevel="LINE_LEVEL", targetBranch="main", commitMessage="squash"
    )
    assert squash["treeId"] == want
    squashed = cc.get_commit(repositoryName=repo_name, commitId=squash["commitId"])["commit"]
    assert squashed["parents"] == [main] and squashed["message"].startswith("squash")
    assert _tip(cc, repo_name, "main") == squash["commitId"]
    # a three-way merge on top of the squash: two parents, git's tree again
    merged = cc.merge_branches_by_three_way(
        **kw, conflictDetailLevel="LINE_LEVEL", authorName="Ada", email="ada@example.com"
    )
    commit = cc.get_commit(repositoryName=repo_name, commitId=merged["commitId"])["commit"]
    assert commit["parents"] == [squash["commitId"], feature]
    assert commit["author"]["name"] == "Ada" and commit["author"]["email"] == "ada@example.com"
    git(git_env, "fetch", "-q", server.git_url(repo_name), "main", cwd=work)
    git(git_env, "fsck", "--full", "--strict", cwd=work)
    assert git(git_env, "rev-parse", "FETCH_HEAD^{tree}", cwd=work).stdout.strip() == want


def test_fast_forward_moves_the_branch_or_asks_for_a_manual_merge(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    feature = _tip(cc, repo_name, "feature")
    base = cc.get_commit(repositoryName=repo_name, commitId=feature)["commit"]["parents"][0]
    cc.create_branch(repositoryName=repo_name, branchName="old", commitId=base)
    out = cc.merge_branches_by_fast_forward(
        repositoryName=repo_name, sourceCommitSpecifier="feature", destinationCommitSpecifier="old"
    )
    assert out["commitId"] == feature and _tip(cc, repo_name, "old") == feature
    kw = {"repositoryName": repo_name, "sourceCommitSpecifier": "feature"}
    assert (
        _code(cc.merge_branches_by_fast_forward, **kw, destinationCommitSpecifier="main")
        == "ManualMergeRequiredException"
    )
    assert (
        _code(cc.merge_branches_by_fast_forward, **kw, destinationCommitSpecifier=base)
        == "InvalidTargetBranchException"
    )
    assert (
        _code(
            cc.merge_branches_by_fast_forward,
            **kw,
            destinationCommitSpecifier="main",
            targetBranch="nope",
        )
        == "BranchDoesNotExistException"
    )


def test_conflicts_are_settled_by_strategy_or_resolution(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    kw = {
        "repositoryName": repo_name,
        "sourceCommitSpecifier": "clash",
        "destinationCommitSpecifier": "main",
        "conflictDetailLevel": "LINE_LEVEL",
    }
    assert _code(cc.merge_branches_by_squash, **kw) == "ManualMergeRequiredException"
    took = cc.create_unreferenced_merge_commit(
        **kw, mergeOption="THREE_WAY_MERGE", conflictResolutionStrategy="ACCEPT_SOURCE"
    )
    got = cc.get_file(repositoryName=repo_name, commitSpecifier=took["commitId"], filePath="a.txt")
    assert got["fileContent"] == b"uno\ntwo\nthree\nfour\nfive\n"
    assert _tip(cc, repo_name, "main") != took["commitId"]  # unreferenced: no branch moved
    resolved = cc.merge_branches_by_three_way(
        **kw,
        conflictResolutionStrategy="AUTOMERGE",
        conflictResolution={
            "replaceContents": [
                {"filePath": "a.txt", "replacementType": "USE_NEW_CONTENT", "content": b"both\n"}
            ]
        },
    )
    got = cc.get_file(repositoryName=repo_name, filePath="a.txt")
    assert got["fileContent"] == b"both\n" and got["commitId"] == resolved["commitId"]
    again = {
        **kw,
        "destinationCommitSpecifier": "clash",
        "sourceCommitSpecifier": "feature",
        "conflictDetailLevel": "FILE_LEVEL",
    }
    bad = {"replaceContents": [{"filePath": "b.txt", "replacementType": "KEEP_BASE"}]}
    assert (
        _code(
            cc.merge_branches_by_three_way,
            **again,
            conflictResolution=bad,
        )
        == "InvalidConflictResolutionException"
    )
    assert (
        _code(cc.create_unreferenced_merge_commit, **kw, mergeOption="FAST_FORWARD_MERGE")
        == "InvalidMergeOptionException"
    )


def test_merge_into_a_protected_branch_is_denied(
    server: Server,
    git_env: dict[str, str],
    make_git_user: MakeGitUser,
    repo_name: str,
    tmp_path: Path,
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    before = _tip(cc, repo_name, "main")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": ["codecommit:Merge*"],
                    "Resource": "*",
                    "Condition": {
                        "StringEqualsIfExists": {"codecommit:References": ["refs/heads/main"]},
                        "Null": {"codecommit:References": "false"},
                    },
                }
            ],
        }
    )
    user = make_git_user(policy=policy)
    theirs = server.client("codecommit", key=user.access_key, secret=user.secret)
    kw = {"repositoryName": repo_name, "sourceCommitSpecifier": "feature"}
    assert (
        _code(
            theirs.merge_branches_by_squash,
            **kw,
            destinationCommitSpecifier="main",
            conflictDetailLevel="LINE_LEVEL",
        )
        == "AccessDeniedException"
    )
    assert _tip(cc, repo_name, "main") == before
    theirs.merge_branches_by_fast_forward(**kw, destinationCommitSpecifier="feature")


def test_keep_empty_folders_keeps_a_folder_the_merge_emptied(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    cc = _repo(server, git_env, repo_name, work)
    git(git_env, "checkout", "-q", "-b", "cleanup", "main", cwd=work)
    (work / "docs").mkdir()
    (work / "docs" / "only.md").write_text("x\n")
    git(git_env, "add", "-A", cwd=work)
    git(git_env, "commit", "-q", "-m", "docs", cwd=work)
    git(git_env, "push", "-q", server.git_url(repo_name), "cleanup:keep", "cleanup:drop", cwd=work)
    git(git_env, "rm", "-q", "docs/only.md", cwd=work)
    git(git_env, "commit", "-q", "-m", "no docs", cwd=work)
    (work / "c.txt").write_text("c\n")
    git(git_env, "add", "-A", cwd=work)
    git(git_env, "commit", "-q", "-m", "c", cwd=work)
    git(git_env, "push", "-q", server.git_url(repo_name), "cleanup", cwd=work)
    for target, keep in (("keep", True), ("drop", False)):
        cc.merge_branches_by_squash(
            repositoryName=repo_name,
            sourceCommitSpecifier="cleanup",
            destinationCommitSpecifier=target,
            keepEmptyFolders=keep,
        )
        root = cc.get_folder(repositoryName=repo_name, commitSpecifier=target, folderPath="/")
        folders = [f["relativePath"] for f in root["subFolders"]]
        assert ("docs" in folders) == keep
    kept = cc.get_file(repositoryName=repo_name, commitSpecifier="keep", filePath="docs/.gitkeep")
    assert kept["fileContent"] == b""
