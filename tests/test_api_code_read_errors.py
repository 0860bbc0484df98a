"""Reading code through the API: commit specifiers as CodeCommit takes them, AWS's error for
each wrong input (with nothing changed and the server still answering), the 6 MB limit on file
content, who may read (the gate, before the handler), and the aws CLI end to end."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from conftest import REGION, MakeGitUser, Server, git, make_commits

# CodeCommit's limit on file content through the API (FileContent's `max` in the model).
MAX_FILE = 6 * 1024 * 1024


@dataclass
class Repo:
    name: str
    work: Path
    env: dict[str, str]
    first: str
    tip: str


@pytest.fixture(scope="module")
def repo(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    tmp = tmp_path_factory.mktemp("code-errors")
    home = tmp / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AWS_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="T",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="T",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    work = tmp / "work"
    first = make_commits(env, work, 1)[0]
    (work / "docs").mkdir()
    (work / "docs" / "guide.md").write_text("guide\n")
    (work / "limit.bin").write_bytes(b"x" * MAX_FILE)
    (work / "over.bin").write_bytes(b"y" * (MAX_FILE + 1))
    git(env, "add", ".", cwd=work)
    git(env, "commit", "-q", "-m", "more", cwd=work)
    git(env, "tag", "-a", "v1", "-m", "v1", first, cwd=work)
    git(env, "tag", "light", cwd=work)
    git(env, "branch", "other", first, cwd=work)
    tip = git(env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    name = f"cerr-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    git(env, "push", "-q", server.git_url(name), "main", "other", "--tags", cwd=work)
    return Repo(name, work, env, first, tip)


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return str(info.value.response["Error"]["Code"])


def _unvalidated(server: Server) -> Any:
    """A client that sends what it is given, so the server's own checks answer."""
    import boto3

    return boto3.client(
        "codecommit",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=BotoConfig(parameter_validation=False, retries={"max_attempts": 1}),
    )


def _still_serves(cc: Any, repo: Repo) -> None:
    out = cc.get_file(repositoryName=repo.name, filePath="docs/guide.md")
    assert out["fileContent"] == b"guide\n" and out["commitId"] == repo.tip


def test_commit_specifiers_name_branches_tags_references_head_and_ids(cc: Any, repo: Repo) -> None:
    first_file = git(repo.env, "ls-tree", "--name-only", repo.first, cwd=repo.work).stdout.split()[
        0
    ]
    cases = {
        None: repo.tip,
        "main": repo.tip,
        "refs/heads/main": repo.tip,
        "HEAD": repo.tip,
        "other": repo.first,
        "refs/heads/other": repo.first,
        "v1": repo.first,  # an annotated tag, peeled to its commit
        "refs/tags/v1": repo.first,
        "light": repo.tip,  # a lightweight tag
        repo.first: repo.first,
        repo.first.upper(): repo.first,
    }
    for spec, commit in cases.items():
        kw = {} if spec is None else {"commitSpecifier": spec}
        out = cc.get_file(repositoryName=repo.name, filePath=first_file, **kw)
        assert out["commitId"] == commit, spec
        folder = cc.get_folder(repositoryName=repo.name, folderPath="", **kw)
        assert folder["commitId"] == commit, spec


def test_bad_commit_specifiers_get_awss_errors(server: Server, cc: Any, repo: Repo) -> None:
    tree = git(repo.env, "rev-parse", "HEAD^{tree}", cwd=repo.work).stdout.strip()
    for spec, code in [
        ("nope", "CommitDoesNotExistException"),
        ("1" * 40, "CommitDoesNotExistException"),
        (repo.tip[:10], "CommitDoesNotExistException"),  # only full commit IDs are taken
        (tree, "InvalidCommitException"),
        ("a..b", "InvalidCommitException"),
        ("main~1", "InvalidCommitException"),
        ("has space", "InvalidCommitException"),
    ]:
        for call in (cc.get_file, cc.get_folder):
            member = "filePath" if call == cc.get_file else "folderPath"
            kw = {member: "docs/guide.md" if member == "filePath" else "docs"}
            assert _code(call, repositoryName=repo.name, commitSpecifier=spec, **kw) == code, spec
        assert (
            _code(
                cc.get_differences,
                repositoryName=repo.name,
                beforeCommitSpecifier=spec,
                afterCommitSpecifier="main",
            )
            == code
        )
    raw = _unvalidated(server)
    assert _code(raw.get_differences, repositoryName=repo.name) == "CommitRequiredException"
    # A repository with no branch has no default commit to read from.
    empty = f"cerr-empty-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=empty)
    assert (
        _code(cc.get_folder, repositoryName=empty, folderPath="/") == "CommitDoesNotExistException"
    )
    _still_serves(cc, repo)


def test_paths_that_name_nothing_or_break_the_rules(cc: Any, repo: Repo) -> None:
    r = repo.name
    assert _code(cc.get_file, repositoryName=r, filePath="nope.txt") == "FileDoesNotExistException"
    assert _code(cc.get_file, repositoryName=r, filePath="docs") == "FileDoesNotExistException"
    assert _code(cc.get_file, repositoryName=r, filePath="docs/guide.md/x") == (
        "FileDoesNotExistException"
    )
    assert _code(cc.get_folder, repositoryName=r, folderPath="nope") == (
        "FolderDoesNotExistException"
    )
    assert _code(cc.get_folder, repositoryName=r, folderPath="docs/guide.md") == (
        "FolderDoesNotExistException"
    )
    for bad in [
        "../etc/passwd",  # request data, not a path read here
        "docs/../docs/guide.md",
        "docs//guide.md",
        "./docs/guide.md",
    ]:
        assert _code(cc.get_file, repositoryName=r, filePath=bad) == "InvalidPathException", bad
    for folder in [
        "../etc",  # request data, not a path read here
        "docs/../docs",
        "a//docs",
        "./docs",
        "docs/.",
    ]:
        assert _code(cc.get_folder, repositoryName=r, folderPath=folder) == (
            "InvalidPathException"
        ), folder
    assert _code(cc.get_file, repositoryName=r, filePath="") == "PathRequiredException"
    assert _code(
        cc.get_differences,
        repositoryName=r,
        afterCommitSpecifier="main",
        afterPath="../x",  # request data, not a path read here
    ) == ("InvalidPathException")
    assert _code(
        cc.get_differences, repositoryName=r, afterCommitSpecifier="main", afterPath="nowhere"
    ) == ("PathDoesNotExistException")
    _still_serves(cc, repo)


def test_blob_and_commit_ids_are_checked(server: Server, cc: Any, repo: Repo) -> None:
    r = repo.name
    tree = git(repo.env, "rev-parse", "HEAD^{tree}", cwd=repo.work).stdout.strip()
    assert _code(cc.get_blob, repositoryName=r, blobId="xyz") == "InvalidBlobIdException"
    assert _code(cc.get_blob, repositoryName=r, blobId="1" * 40) == "BlobIdDoesNotExistException"
    assert _code(cc.get_blob, repositoryName=r, blobId=tree) == "BlobIdDoesNotExistException"
    assert _code(cc.get_commit, repositoryName=r, commitId="xyz") == "InvalidCommitIdException"
    assert _code(cc.get_commit, repositoryName=r, commitId="1" * 40) == (
        "CommitIdDoesNotExistException"
    )
    assert _code(cc.get_commit, repositoryName=r, commitId=tree) == "InvalidCommitIdException"
    raw = _unvalidated(server)
    assert _code(raw.get_blob, repositoryName=r) == "BlobIdRequiredException"
    assert _code(raw.get_commit, repositoryName=r) == "CommitIdRequiredException"
    assert _code(raw.get_file, repositoryName=r) == "PathRequiredException"
    assert _code(raw.get_folder, repositoryName=r) == "PathRequiredException"
    assert _code(raw.batch_get_commits, repositoryName=r) == "CommitIdsListRequiredException"
    _still_serves(cc, repo)


def test_page_sizes_and_tokens_are_checked(cc: Any, repo: Repo) -> None:
    r = repo.name
    assert _code(
        cc.get_differences, repositoryName=r, afterCommitSpecifier="main", MaxResults=0
    ) == ("InvalidMaxResultsException")
    assert _code(
        cc.get_differences, repositoryName=r, afterCommitSpecifier="main", NextToken="garbage"
    ) == ("InvalidContinuationTokenException")
    assert _code(
        cc.list_file_commit_history, repositoryName=r, filePath="docs/guide.md", maxResults=-1
    ) == ("InvalidMaxResultsException")
    # A token of one listing is refused by another.
    token = cc.get_differences(repositoryName=r, afterCommitSpecifier="main", MaxResults=1)[
        "NextToken"
    ]
    assert _code(
        cc.get_differences, repositoryName=r, afterCommitSpecifier="other", NextToken=token
    ) == ("InvalidContinuationTokenException")
    _still_serves(cc, repo)


def test_every_read_of_a_missing_repository_is_repository_does_not_exist(cc: Any) -> None:
    r = f"cerr-gone-{uuid.uuid4().hex[:8]}"
    calls = [
        (cc.get_blob, {"blobId": "1" * 40}),
        (cc.get_file, {"filePath": "a"}),
        (cc.get_folder, {"folderPath": "a"}),
        (cc.get_commit, {"commitId": "1" * 40}),
        (cc.batch_get_commits, {"commitIds": ["1" * 40]}),
        (cc.get_differences, {"afterCommitSpecifier": "main"}),
        (cc.list_file_commit_history, {"filePath": "a"}),
    ]
    for call, kw in calls:
        assert _code(call, repositoryName=r, **kw) == "RepositoryDoesNotExistException"


def test_file_content_over_6_mb_is_file_too_large(cc: Any, repo: Repo) -> None:
    r = repo.name
    at_limit = cc.get_file(repositoryName=r, filePath="limit.bin")
    assert at_limit["fileSize"] == MAX_FILE and at_limit["fileContent"] == b"x" * MAX_FILE
    assert _code(cc.get_file, repositoryName=r, filePath="over.bin") == "FileTooLargeException"
    over = git(repo.env, "rev-parse", "HEAD:over.bin", cwd=repo.work).stdout.strip()
    assert _code(cc.get_blob, repositoryName=r, blobId=over) == "FileTooLargeException"
    _still_serves(cc, repo)


def test_a_user_denied_a_read_action_is_refused_before_anything_is_read(
    server: Server, repo: Repo, make_git_user: MakeGitUser
) -> None:
    arn = f"arn:aws:codecommit:{REGION}:123456789012:{repo.name}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "codecommit:*", "Resource": arn},
            {
                "Effect": "Deny",
                "Action": ["codecommit:GetFile", "codecommit:GetBlob"],
                "Resource": arn,
            },
            # Branch protection as AWS documents it: it names codecommit:References, which the
            # read actions do not carry, so it does not apply to them.
            {
                "Effect": "Deny",
                "Action": ["codecommit:GetFolder", "codecommit:GetDifferences"],
                "Resource": arn,
                "Condition": {
                    "StringEqualsIfExists": {"codecommit:References": ["refs/heads/main"]},
                    "Null": {"codecommit:References": "false"},
                },
            },
        ],
    }
    user = make_git_user(json.dumps(policy), managed=None)
    cc = server.client(key=user.access_key, secret=user.secret)
    assert _code(cc.get_file, repositoryName=repo.name, filePath="docs/guide.md") == (
        "AccessDeniedException"
    )
    # Refused before the input is looked at: a malformed blob id is denied, not invalid.
    assert _code(cc.get_blob, repositoryName=repo.name, blobId="xyz") == "AccessDeniedException"
    assert cc.get_folder(repositoryName=repo.name, folderPath="docs")["files"]
    assert cc.get_differences(
        repositoryName=repo.name, beforeCommitSpecifier="other", afterCommitSpecifier="main"
    )["differences"]
    assert cc.get_commit(repositoryName=repo.name, commitId=repo.tip)["commit"]


def test_aws_cli_get_file_end_to_end(server: Server, repo: Repo) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    cli = [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "--output", "json"]
    args = ["--repository-name", repo.name, "--commit-specifier", "v1"]
    first_file = git(repo.env, "ls-tree", "--name-only", repo.first, cwd=repo.work).stdout.split()[
        0
    ]
    proc = subprocess.run(
        [*cli, "codecommit", "get-file", *args, "--file-path", first_file],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    want = git(repo.env, "show", f"v1:{first_file}", cwd=repo.work).stdout.encode()
    assert base64.b64decode(out["fileContent"]) == want
    assert out["commitId"] == repo.first and out["fileMode"] == "NORMAL"
