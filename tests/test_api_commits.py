"""PutFile, DeleteFile and CreateCommit through boto3 against a real server: commits git agrees
with (fetched and checked with `git fsck --full`, trees equal to what git writes for the same
changes), CodeCommit's errors, the one write path (a compare-and-swap lost to a concurrent
writer, branch protection on `codecommit:References`, triggers fired with the caller as actor)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import MakeGitUser, Server, git, make_commits
from events_receiver import Receiver, wait_idle
from test_events_triggers import (  # noqa: F401 - the events server and its receivers
    FUNCTION,
    _records_for,
    events_server,
    hook_receiver,
    lambda_receiver,
)

ZERO = "0" * 40


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return str(info.value.response["Error"]["Code"])


def _clone(server: Server, env: dict[str, str], name: str, dest: Path) -> Path:
    git(env, "clone", "-q", server.git_url(name), str(dest))
    git(env, "fsck", "--full", "--strict", cwd=dest)
    return dest


def test_putfile_on_an_empty_repository_makes_its_first_commit(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = server.client()
    cc.create_repository(repositoryName=repo_name)
    out = cc.put_file(
        repositoryName=repo_name,
        branchName="main",
        fileContent=b"v1\n",
        filePath="/docs/version.txt",
        commitMessage="first version",
        name="Release Bot",
        email="bot@example.com",
    )
    meta = cc.get_repository(repositoryName=repo_name)["repositoryMetadata"]
    assert meta["defaultBranch"] == "main"
    assert cc.get_branch(repositoryName=repo_name, branchName="main")["branch"] == {
        "branchName": "main",
        "commitId": out["commitId"],
    }
    clone = _clone(server, git_env, repo_name, tmp_path / "c")
    assert (clone / "docs" / "version.txt").read_bytes() == b"v1\n"
    log = git(git_env, "log", "-1", "--format=%H|%T|%an|%ae|%cn|%s", cwd=clone).stdout.strip()
    who = "Release Bot|bot@example.com|Release Bot"
    assert log == f"{out['commitId']}|{out['treeId']}|{who}|first version"
    blob = git(git_env, "rev-parse", "HEAD:docs/version.txt", cwd=clone).stdout.strip()
    assert out["blobId"] == blob
    got = cc.get_file(repositoryName=repo_name, filePath="docs/version.txt")
    assert got["fileContent"] == b"v1\n"


def test_putfile_and_deletefile_follow_the_branch(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = server.client()
    cc.create_repository(repositoryName=repo_name)
    first = cc.put_file(
        repositoryName=repo_name, branchName="main", fileContent=b"a", filePath="a.txt"
    )
    second = cc.put_file(
        repositoryName=repo_name,
        branchName="main",
        fileContent=b"#!/bin/sh\n",
        filePath="bin/run",
        fileMode="EXECUTABLE",
        parentCommitId=first["commitId"],
    )
    kw = {"repositoryName": repo_name, "branchName": "main"}
    # the same content again, a stale parent, none at all, a malformed one, an unknown one
    assert (
        _code(
            cc.put_file, **kw, fileContent=b"a", filePath="a.txt", parentCommitId=second["commitId"]
        )
        == "SameFileContentException"
    )
    assert (
        _code(
            cc.put_file, **kw, fileContent=b"b", filePath="a.txt", parentCommitId=first["commitId"]
        )
        == "ParentCommitIdOutdatedException"
    )
    assert (
        _code(cc.put_file, **kw, fileContent=b"b", filePath="a.txt")
        == "ParentCommitIdRequiredException"
    )
    assert (
        _code(cc.put_file, **kw, fileContent=b"b", filePath="a.txt", parentCommitId="xyz")
        == "InvalidParentCommitIdException"
    )
    assert (
        _code(cc.put_file, **kw, fileContent=b"b", filePath="a.txt", parentCommitId="1" * 40)
        == "ParentCommitDoesNotExistException"
    )
    assert (
        _code(
            cc.put_file, **kw, fileContent=b"", filePath="b.txt", parentCommitId=second["commitId"]
        )
        == "FileContentRequiredException"
    )
    assert (
        _code(
            cc.put_file,
            **kw,
            fileContent=b"x",
            filePath="a.txt/x",
            parentCommitId=second["commitId"],
        )
        == "DirectoryNameConflictsWithFileNameException"
    )
    assert (
        _code(
            cc.put_file,
            **kw,
            fileContent=b"x",
            filePath="../x",  # request data, not a path read here
            parentCommitId=second["commitId"],
        )
        == "InvalidPathException"
    )
    assert (
        _code(
            cc.put_file,
            repositoryName=repo_name,
            branchName="nope",
            fileContent=b"x",
            filePath="x",
            parentCommitId=second["commitId"],
        )
        == "BranchDoesNotExistException"
    )
    assert (
        _code(
            cc.put_file,
            **kw,
            fileContent=b"x" * (6 * 1024 * 1024 + 1),
            filePath="big",
            parentCommitId=second["commitId"],
        )
        == "FileContentSizeLimitExceededException"
    )
    tip = cc.get_branch(**kw)["branch"]["commitId"]
    assert tip == second["commitId"]  # nothing above moved the branch
    deleted = cc.delete_file(**kw, filePath="a.txt", parentCommitId=tip, commitMessage="drop a")
    assert deleted["filePath"] == "a.txt" and deleted["blobId"] == first["blobId"]
    assert (
        _code(cc.delete_file, **kw, filePath="a.txt", parentCommitId=deleted["commitId"])
        == "FileDoesNotExistException"
    )
    clone = _clone(server, git_env, repo_name, tmp_path / "c")
    assert sorted(p.name for p in clone.iterdir() if p.name != ".git") == ["bin"]
    mode = git(git_env, "ls-tree", "HEAD", "bin/run", cwd=clone).stdout.split()[0]
    assert mode == "100755"
    history = git(git_env, "log", "--format=%s", cwd=clone).stdout.split("\n")
    assert history[:3] == ["drop a", "Added bin/run", "Added a.txt"]


def test_createcommit_gives_the_tree_git_gives(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = server.client()
    cc.create_repository(repositoryName=repo_name)
    work = tmp_path / "w"
    make_commits(git_env, work, 1)
    (work / "file0.txt").write_text("zero\n")
    (work / "lib").mkdir()
    (work / "lib" / "old.py").write_text("old\n")
    (work / "tool.sh").write_text("echo\n")
    git(git_env, "add", "-A", cwd=work)
    git(git_env, "commit", "-q", "-m", "tree", cwd=work)
    git(git_env, "push", "-q", server.git_url(repo_name), "main", cwd=work)
    parent = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    out = cc.create_commit(
        repositoryName=repo_name,
        branchName="main",
        parentCommitId=parent,
        authorName="Ada",
        email="ada@example.com",
        commitMessage="reshape",
        putFiles=[
            {"filePath": "src/new.py", "fileContent": b"new\n"},
            {"filePath": "src/moved.py", "sourceFile": {"filePath": "lib/old.py", "isMove": True}},
        ],
        deleteFiles=[{"filePath": "file0.txt"}],
        setFileModes=[{"filePath": "tool.sh", "fileMode": "EXECUTABLE"}],
    )
    # the same changes, made by git in the work tree
    (work / "src").mkdir()
    (work / "src" / "new.py").write_text("new\n")
    git(git_env, "mv", "lib/old.py", "src/moved.py", cwd=work)
    git(git_env, "rm", "-q", "file0.txt", cwd=work)
    (work / "tool.sh").chmod(0o755)
    git(git_env, "add", "-A", cwd=work)
    assert out["treeId"] == git(git_env, "write-tree", cwd=work).stdout.strip()
    assert sorted(f["absolutePath"] for f in out["filesAdded"]) == ["src/moved.py", "src/new.py"]
    assert sorted(f["absolutePath"] for f in out["filesDeleted"]) == ["file0.txt", "lib/old.py"]
    assert out["filesUpdated"] == [
        {
            "absolutePath": "tool.sh",
            "blobId": out["filesUpdated"][0]["blobId"],
            "fileMode": "EXECUTABLE",
        }
    ]
    git(git_env, "pull", "-q", server.git_url(repo_name), "main", cwd=work)
    git(git_env, "fsck", "--full", "--strict", cwd=work)
    assert git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip() == out["commitId"]
    kw = {"repositoryName": repo_name, "branchName": "main", "parentCommitId": out["commitId"]}
    assert _code(cc.create_commit, **kw) == "FileEntryRequiredException"
    assert (
        _code(
            cc.create_commit, **kw, putFiles=[{"filePath": "src/new.py", "fileContent": b"new\n"}]
        )
        == "NoChangeException"
    )
    assert (
        _code(cc.create_commit, **kw, putFiles=[{"filePath": "x"}])
        == "SourceFileOrContentRequiredException"
    )
    assert (
        _code(cc.create_commit, **kw, setFileModes=[{"filePath": "tool.sh", "fileMode": "BAD"}])
        == "InvalidFileModeException"
    )
    many = [{"filePath": f"f{i}", "fileContent": b"x"} for i in range(101)]
    assert _code(cc.create_commit, **kw, putFiles=many) == "MaximumFileEntriesExceededException"


def test_concurrent_putfiles_on_one_parent_move_the_branch_once(
    server: Server, repo_name: str
) -> None:
    cc = server.client()
    cc.create_repository(repositoryName=repo_name)
    base = cc.put_file(repositoryName=repo_name, branchName="main", fileContent=b"0", filePath="n")
    results: list[str] = []

    def writer(i: int) -> None:
        client = server.client()
        try:
            client.put_file(
                repositoryName=repo_name,
                branchName="main",
                fileContent=str(i).encode() + b"\n",
                filePath="n",
                parentCommitId=base["commitId"],
            )
            results.append("ok")
        except ClientError as exc:
            results.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1
    assert set(results) == {"ok", "ParentCommitIdOutdatedException"}
    tip = cc.get_branch(repositoryName=repo_name, branchName="main")["branch"]["commitId"]
    commit = cc.get_commit(repositoryName=repo_name, commitId=tip)["commit"]
    assert commit["parents"] == [base["commitId"]]


def test_putfile_on_a_protected_branch_is_denied(
    server: Server, make_git_user: MakeGitUser, repo_name: str
) -> None:
    cc = server.client()
    cc.create_repository(repositoryName=repo_name)
    base = cc.put_file(repositoryName=repo_name, branchName="main", fileContent=b"0", filePath="n")
    cc.create_branch(repositoryName=repo_name, branchName="feature", commitId=base["commitId"])
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": [
                        "codecommit:PutFile",
                        "codecommit:CreateCommit",
                        "codecommit:DeleteFile",
                    ],
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
    kw = {
        "repositoryName": repo_name,
        "fileContent": b"1",
        "filePath": "n",
        "parentCommitId": base["commitId"],
    }
    assert _code(theirs.put_file, branchName="main", **kw) == "AccessDeniedException"
    assert (
        cc.get_branch(repositoryName=repo_name, branchName="main")["branch"]["commitId"]
        == base["commitId"]
    )
    theirs.put_file(branchName="feature", **kw)  # another branch is allowed


def test_createcommit_fires_the_repositorys_triggers_as_the_caller(
    events_server: Server,  # noqa: F811 - the fixture imported above
    lambda_receiver: Receiver,  # noqa: F811
) -> None:
    cc = events_server.client("codecommit")
    name = f"repo-{uuid.uuid4().hex[:10]}"
    cc.create_repository(repositoryName=name)
    cc.put_repository_triggers(
        repositoryName=name,
        triggers=[{"name": "build", "destinationArn": FUNCTION, "events": ["all"]}],
    )
    out = cc.create_commit(
        repositoryName=name,
        branchName="main",
        putFiles=[{"filePath": "README.md", "fileContent": b"hi\n"}],
    )
    assert wait_idle(events_server.url)["idle"]
    (rec,) = _records_for(lambda_receiver, name)
    assert rec["codecommit"]["references"] == [
        {"commit": out["commitId"], "created": True, "ref": "refs/heads/main"}
    ]
    assert rec["userIdentityARN"].endswith(":root")


def test_aws_cli_put_file_end_to_end(server: Server, repo_name: str, tmp_path: Path) -> None:
    server.client().create_repository(repositoryName=repo_name)
    content = tmp_path / "version.txt"
    content.write_bytes(b"1.2.3\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    cli = [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "--output", "json"]
    args = ["--repository-name", repo_name, "--branch-name", "main", "--file-path", "version.txt"]
    proc = subprocess.run(
        [*cli, "codecommit", "put-file", *args, "--file-content", f"fileb://{content}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    got = server.client().get_file(repositoryName=repo_name, filePath="version.txt")
    assert got["fileContent"] == b"1.2.3\n" and got["commitId"] == out["commitId"]
