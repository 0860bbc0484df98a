"""Branch operations. Commits get into a repository the way users put them there: `git push`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, git, make_commits

from emulator.errors import ClientError
from emulator.repos.branches import validate_branch_name


@dataclass
class Pushed:
    name: str
    commits: list[str]  # oldest first; `main` points at the last
    work: Path
    env: dict[str, str]


@pytest.fixture
def pushed(server: Server, cc: Any, git_env: dict[str, str], tmp_path: Path) -> Pushed:
    name = f"br-{uuid.uuid4().hex[:12]}"
    cc.create_repository(repositoryName=name)
    work = tmp_path / "work"
    commits = make_commits(git_env, work, 3)
    git(git_env, "push", "-q", server.git_url(name), "main", cwd=work)
    return Pushed(name, commits, work, git_env)


def test_push_sets_first_branch_as_default(cc: Any, pushed: Pushed) -> None:
    meta = cc.get_repository(repositoryName=pushed.name)["repositoryMetadata"]
    assert meta["defaultBranch"] == "main"
    branch = cc.get_branch(repositoryName=pushed.name, branchName="main")["branch"]
    assert branch == {"branchName": "main", "commitId": pushed.commits[-1]}


def test_create_get_list_delete_branch(server: Server, cc: Any, pushed: Pushed) -> None:
    cc.create_branch(repositoryName=pushed.name, branchName="feature/x", commitId=pushed.commits[0])
    got = cc.get_branch(repositoryName=pushed.name, branchName="feature/x")["branch"]
    assert got == {"branchName": "feature/x", "commitId": pushed.commits[0]}
    assert sorted(cc.list_branches(repositoryName=pushed.name)["branches"]) == ["feature/x", "main"]
    # git sees the branch the API created.
    remote = git(pushed.env, "ls-remote", server.git_url(pushed.name), cwd=pushed.work).stdout
    assert f"{pushed.commits[0]}\trefs/heads/feature/x" in remote
    deleted = cc.delete_branch(repositoryName=pushed.name, branchName="feature/x")
    assert deleted["deletedBranch"] == {"branchName": "feature/x", "commitId": pushed.commits[0]}
    with pytest.raises(cc.exceptions.BranchDoesNotExistException):
        cc.get_branch(repositoryName=pushed.name, branchName="feature/x")
    # Deleting a branch that is not there is not an error; nothing is returned.
    again = cc.delete_branch(repositoryName=pushed.name, branchName="feature/x")
    assert "deletedBranch" not in again


def test_create_branch_errors(cc: Any, pushed: Pushed) -> None:
    with pytest.raises(cc.exceptions.BranchNameExistsException):
        cc.create_branch(repositoryName=pushed.name, branchName="main", commitId=pushed.commits[0])
    with pytest.raises(cc.exceptions.CommitDoesNotExistException):
        cc.create_branch(repositoryName=pushed.name, branchName="b", commitId="1" * 40)
    with pytest.raises(cc.exceptions.InvalidCommitIdException):
        cc.create_branch(repositoryName=pushed.name, branchName="b", commitId="not-a-sha")
    tree = git(pushed.env, "rev-parse", "HEAD^{tree}", cwd=pushed.work).stdout.strip()
    with pytest.raises(cc.exceptions.InvalidCommitIdException):
        cc.create_branch(repositoryName=pushed.name, branchName="b", commitId=tree)
    for bad in [
        "has space",
        "double..dot",
        "ends.lock",
        "trailing/",
        "-dash",
        "HEAD",
        "a~1",
        "x" * 257,
        "colon:name",
    ]:
        with pytest.raises(cc.exceptions.InvalidBranchNameException):
            cc.create_branch(repositoryName=pushed.name, branchName=bad, commitId=pushed.commits[0])
    # `main/sub` cannot coexist with `main` in git's ref namespace.
    with pytest.raises(cc.exceptions.InvalidBranchNameException):
        cc.create_branch(
            repositoryName=pushed.name, branchName="main/sub", commitId=pushed.commits[0]
        )
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.create_branch(
            repositoryName=f"nope-{uuid.uuid4().hex[:8]}",
            branchName="b",
            commitId=pushed.commits[0],
        )
    assert cc.list_branches(repositoryName=pushed.name)["branches"] == ["main"]


def test_default_branch_rules(cc: Any, pushed: Pushed) -> None:
    with pytest.raises(cc.exceptions.DefaultBranchCannotBeDeletedException):
        cc.delete_branch(repositoryName=pushed.name, branchName="main")
    cc.create_branch(repositoryName=pushed.name, branchName="dev", commitId=pushed.commits[1])
    with pytest.raises(cc.exceptions.BranchDoesNotExistException):
        cc.update_default_branch(repositoryName=pushed.name, defaultBranchName="nope")
    cc.update_default_branch(repositoryName=pushed.name, defaultBranchName="dev")
    meta = cc.get_repository(repositoryName=pushed.name)["repositoryMetadata"]
    assert meta["defaultBranch"] == "dev"
    assert (
        cc.delete_branch(repositoryName=pushed.name, branchName="main")["deletedBranch"]["commitId"]
        == pushed.commits[-1]
    )
    with pytest.raises(cc.exceptions.DefaultBranchCannotBeDeletedException):
        cc.delete_branch(repositoryName=pushed.name, branchName="dev")


def test_list_branches_paginates(cc: Any, pushed: Pushed) -> None:
    created = [f"b{i:03d}" for i in range(120)]
    names = sorted(["main", *created])
    for n in created:
        cc.create_branch(repositoryName=pushed.name, branchName=n, commitId=pushed.commits[0])
    first = cc.list_branches(repositoryName=pushed.name)
    assert len(first["branches"]) == 100 and first["nextToken"]
    second = cc.list_branches(repositoryName=pushed.name, nextToken=first["nextToken"])
    assert "nextToken" not in second
    assert first["branches"] + second["branches"] == names
    pages = cc.get_paginator("list_branches").paginate(repositoryName=pushed.name)
    assert sorted(b for p in pages for b in p["branches"]) == names


# -- branch operations that need no commits -------------------------------------------------


def test_branch_operations_on_an_empty_repository(cc: Any) -> None:
    name = f"empty-{uuid.uuid4().hex[:12]}"
    cc.create_repository(repositoryName=name)
    assert cc.list_branches(repositoryName=name)["branches"] == []
    with pytest.raises(cc.exceptions.CommitDoesNotExistException):
        cc.create_branch(repositoryName=name, branchName="main", commitId="a" * 40)
    with pytest.raises(cc.exceptions.BranchDoesNotExistException):
        cc.get_branch(repositoryName=name, branchName="main")
    with pytest.raises(cc.exceptions.BranchDoesNotExistException):
        cc.update_default_branch(repositoryName=name, defaultBranchName="main")
    assert "deletedBranch" not in cc.delete_branch(repositoryName=name, branchName="main")
    with pytest.raises(cc.exceptions.InvalidBranchNameException):
        cc.get_branch(repositoryName=name, branchName="bad..name")
    with pytest.raises(cc.exceptions.InvalidContinuationTokenException):
        cc.list_branches(repositoryName=name, nextToken="garbage")
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.list_branches(repositoryName=missing)
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.get_branch(repositoryName=missing, branchName="main")


def test_branch_token_of_one_repository_is_refused_by_another(cc: Any, pushed: Pushed) -> None:
    for i in range(100):
        cc.create_branch(repositoryName=pushed.name, branchName=f"t{i}", commitId=pushed.commits[0])
    token = cc.list_branches(repositoryName=pushed.name)["nextToken"]
    other = f"other-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=other)
    with pytest.raises(cc.exceptions.InvalidContinuationTokenException):
        cc.list_branches(repositoryName=other, nextToken=token)


@pytest.mark.parametrize(
    "name",
    [
        "main",
        "feature/x",
        "release-1.2",
        "user@host",
        "ümlaut",
        "a" * 256,
        "g" * 40,
        "0" * 41,
        "0" * 39,
    ],
)
def test_valid_branch_names(name: str) -> None:
    assert validate_branch_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a..b",
        "a b",
        "a\x7fb",
        "/lead",
        "x.lock",
        "a/.hidden",
        "a@{b",
        "a\\b",
        "a" * 257,
        "HEAD",
        "-x",
        "a*",
        "a?",
        "a[",
        "a^",
        "a:",
        "@",  # CodeCommit: a branch name cannot be the single character @
        "0123456789abcdef0123456789ABCDEF01234567",  # nor exactly 40 hexadecimal characters
    ],
)
def test_invalid_branch_names(name: str) -> None:
    with pytest.raises(ClientError) as info:
        validate_branch_name(name)
    expected = "BranchNameRequiredException" if name == "" else "InvalidBranchNameException"
    assert info.value.code == expected


def test_concurrent_create_of_one_branch_has_one_winner(server: Server, pushed: Pushed) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def attempt(i: int) -> str:
        client = server.client()
        try:
            client.create_branch(
                repositoryName=pushed.name, branchName="race", commitId=pushed.commits[i % 3]
            )
        except client.exceptions.BranchNameExistsException:
            return "exists"
        return pushed.commits[i % 3]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    winners = [r for r in results if r != "exists"]
    assert len(winners) == 1
    cc = server.client()
    branch = cc.get_branch(repositoryName=pushed.name, branchName="race")["branch"]
    assert branch["commitId"] == winners[0]


def test_first_branch_created_by_the_api_becomes_default(
    server: Server, cc: Any, git_env: dict[str, str], tmp_path: Path
) -> None:
    name = f"tagonly-{uuid.uuid4().hex[:12]}"
    cc.create_repository(repositoryName=name)
    work = tmp_path / "w"
    (sha,) = make_commits(git_env, work, 1)
    git(git_env, "tag", "v1", cwd=work)
    # Only a tag: the repository has commits but no branch, hence no default branch.
    git(git_env, "push", "-q", server.git_url(name), "refs/tags/v1", cwd=work)
    assert "defaultBranch" not in cc.get_repository(repositoryName=name)["repositoryMetadata"]
    cc.create_branch(repositoryName=name, branchName="first", commitId=sha)
    cc.create_branch(repositoryName=name, branchName="second", commitId=sha)
    meta = cc.get_repository(repositoryName=name)["repositoryMetadata"]
    assert meta["defaultBranch"] == "first"


def test_aws_cli_branches(server: Server, pushed: Pushed) -> None:
    import json

    from test_api_repositories import _aws

    proc = _aws(
        server,
        "create-branch",
        "--repository-name",
        pushed.name,
        "--branch-name",
        "cli",
        "--commit-id",
        pushed.commits[0],
    )
    assert proc.returncode == 0, proc.stderr
    proc = _aws(server, "list-branches", "--repository-name", pushed.name)
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads(proc.stdout)["branches"]) == ["cli", "main"]
    proc = _aws(server, "get-branch", "--repository-name", pushed.name, "--branch-name", "cli")
    assert json.loads(proc.stdout)["branch"]["commitId"] == pushed.commits[0]
    proc = _aws(server, "delete-branch", "--repository-name", pushed.name, "--branch-name", "main")
    assert proc.returncode != 0
    assert "DefaultBranchCannotBeDeletedException" in proc.stderr
