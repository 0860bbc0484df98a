"""CodeCommit repository operations over the real server, with boto3 and the aws CLI."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import ACCOUNT, REGION, Server
from test_api_protocol import unvalidated_client


def unique(prefix: str = "r") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def other_account() -> str:
    return str(random.randint(10**11, 10**12 - 1))


def test_create_repository_returns_full_metadata(server: Server, cc: Any) -> None:
    name = unique()
    kms = server.client("kms")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    alias = f"alias/{name}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
    before = datetime.now(UTC)
    meta = cc.create_repository(
        repositoryName=name,
        repositoryDescription="my repo",
        tags={"team": "a"},
        kmsKeyId=alias,
    )["repositoryMetadata"]
    assert meta["repositoryName"] == name
    assert meta["repositoryDescription"] == "my repo"
    assert meta["accountId"] == ACCOUNT
    assert meta["Arn"] == f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}"
    uuid.UUID(meta["repositoryId"])
    assert meta["cloneUrlHttp"] == f"{server.url}/v1/repos/{name}"
    assert meta["cloneUrlSsh"].endswith(f"/v1/repos/{name}")
    assert meta["kmsKeyId"] == key_arn  # the alias resolved to its key, as CodeCommit shows it
    assert "defaultBranch" not in meta
    assert abs((meta["creationDate"] - before).total_seconds()) < 60
    assert meta["lastModifiedDate"] == meta["creationDate"]
    got = cc.get_repository(repositoryName=name)["repositoryMetadata"]
    assert got == meta


def test_create_repository_errors(cc: Any) -> None:
    name = unique()
    cc.create_repository(repositoryName=name)
    with pytest.raises(cc.exceptions.RepositoryNameExistsException):
        cc.create_repository(repositoryName=name)
    for bad in ["has space", "ends.git", "slash/name", "..", "x" * 101, "ümlaut"]:
        with pytest.raises(cc.exceptions.InvalidRepositoryNameException):
            cc.create_repository(repositoryName=bad)
    with pytest.raises(cc.exceptions.InvalidRepositoryDescriptionException):
        cc.create_repository(repositoryName=unique(), repositoryDescription="d" * 1001)
    with pytest.raises(cc.exceptions.InvalidSystemTagUsageException):
        cc.create_repository(repositoryName=unique(), tags={"aws:owner": "me"})
    with pytest.raises(cc.exceptions.TooManyTagsException):
        cc.create_repository(repositoryName=unique(), tags={f"k{i}": "v" for i in range(51)})
    with pytest.raises(cc.exceptions.InvalidTagsMapException):
        cc.create_repository(repositoryName=unique(), tags={"bad\nkey": "v"})


def test_description_max_length_is_accepted(cc: Any) -> None:
    name = unique()
    meta = cc.create_repository(repositoryName=name, repositoryDescription="é" * 1000)
    assert meta["repositoryMetadata"]["repositoryDescription"] == "é" * 1000


def test_get_missing_repository(cc: Any) -> None:
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException) as info:
        cc.get_repository(repositoryName=unique("missing"))
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_delete_repository_and_missing_is_not_an_error(cc: Any) -> None:
    name = unique()
    rid = cc.create_repository(repositoryName=name)["repositoryMetadata"]["repositoryId"]
    assert cc.delete_repository(repositoryName=name)["repositoryId"] == rid
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.get_repository(repositoryName=name)
    again = cc.delete_repository(repositoryName=name)
    assert "repositoryId" not in again
    # The name is free again, with a new id.
    new_id = cc.create_repository(repositoryName=name)["repositoryMetadata"]["repositoryId"]
    assert new_id != rid


def test_update_repository_name(cc: Any) -> None:
    old, new, taken = unique(), unique(), unique()
    rid = cc.create_repository(repositoryName=old)["repositoryMetadata"]["repositoryId"]
    cc.create_repository(repositoryName=taken)
    cc.update_repository_name(oldName=old, newName=new)
    meta = cc.get_repository(repositoryName=new)["repositoryMetadata"]
    assert meta["repositoryId"] == rid
    assert meta["Arn"].endswith(f":{new}")
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.get_repository(repositoryName=old)
    with pytest.raises(cc.exceptions.RepositoryNameExistsException):
        cc.update_repository_name(oldName=new, newName=taken)
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.update_repository_name(oldName=old, newName=unique())
    with pytest.raises(cc.exceptions.InvalidRepositoryNameException):
        cc.update_repository_name(oldName=new, newName="bad name")


def test_update_repository_description(cc: Any) -> None:
    name = unique()
    meta = cc.create_repository(repositoryName=name)["repositoryMetadata"]
    time.sleep(0.01)
    cc.update_repository_description(repositoryName=name, repositoryDescription="now described")
    after = cc.get_repository(repositoryName=name)["repositoryMetadata"]
    assert after["repositoryDescription"] == "now described"
    assert after["lastModifiedDate"] > meta["lastModifiedDate"]
    cc.update_repository_description(repositoryName=name)
    assert (
        "repositoryDescription" not in cc.get_repository(repositoryName=name)["repositoryMetadata"]
    )
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.update_repository_description(repositoryName=unique(), repositoryDescription="x")
    with pytest.raises(cc.exceptions.InvalidRepositoryDescriptionException):
        cc.update_repository_description(repositoryName=name, repositoryDescription="x" * 1001)


def test_batch_get_repositories(cc: Any) -> None:
    a, b, missing = unique(), unique(), unique("missing")
    cc.create_repository(repositoryName=a)
    cc.create_repository(repositoryName=b)
    out = cc.batch_get_repositories(repositoryNames=[a, missing, b])
    assert [m["repositoryName"] for m in out["repositories"]] == [a, b]
    assert out["repositoriesNotFound"] == [missing]
    assert out["errors"] == [
        {
            "repositoryName": missing,
            "errorCode": "RepositoryDoesNotExistException",
            "errorMessage": f"{missing} does not exist",
        }
    ]
    # The model's limit: 100 names (MaximumRepositoryNamesExceededException: "Currently, this
    # number is 100"); 100 are answered, 101 refused with AWS's text.
    hundred = [a] + [unique() for _ in range(99)]
    assert len(cc.batch_get_repositories(repositoryNames=hundred)["repositoriesNotFound"]) == 99
    with pytest.raises(cc.exceptions.MaximumRepositoryNamesExceededException) as info:
        cc.batch_get_repositories(repositoryNames=[*hundred, unique()])
    assert info.value.response["Error"]["Message"] == (
        "The maximum number of allowed repository names was exceeded. Currently, this number"
        " is 100."
    )
    # The model sets no minimum: an empty list finds nothing.
    assert {
        k: v
        for k, v in cc.batch_get_repositories(repositoryNames=[]).items()
        if k != "ResponseMetadata"
    } == {"repositories": [], "repositoriesNotFound": [], "errors": []}
    with pytest.raises(cc.exceptions.InvalidRepositoryNameException):
        cc.batch_get_repositories(repositoryNames=[a, "not valid"])


def test_list_repositories_sorting(server: Server) -> None:
    acct = other_account()
    cc = server.client(key=acct)
    names = ["b-repo", "a-repo", "C-repo", "c-repo"]
    for n in names:
        cc.create_repository(repositoryName=n)
        time.sleep(0.01)
    listed = cc.list_repositories()["repositories"]
    assert [r["repositoryName"] for r in listed] == sorted(names)
    assert all(uuid.UUID(r["repositoryId"]) for r in listed)
    desc = cc.list_repositories(sortBy="repositoryName", order="descending")["repositories"]
    assert [r["repositoryName"] for r in desc] == sorted(names, reverse=True)
    by_time = cc.list_repositories(sortBy="lastModifiedDate")["repositories"]
    assert [r["repositoryName"] for r in by_time] == names
    cc.update_repository_description(repositoryName="b-repo", repositoryDescription="touched")
    by_time = cc.list_repositories(sortBy="lastModifiedDate", order="descending")["repositories"]
    assert by_time[0]["repositoryName"] == "b-repo"


def test_list_repositories_invalid_arguments(server: Server) -> None:
    cc = unvalidated_client(server)
    with pytest.raises(cc.exceptions.InvalidSortByException):
        cc.list_repositories(sortBy="size")
    with pytest.raises(cc.exceptions.InvalidOrderException):
        cc.list_repositories(order="random")
    with pytest.raises(cc.exceptions.InvalidContinuationTokenException):
        cc.list_repositories(nextToken="not-a-token")


def test_list_repositories_paginates_by_1000(server: Server) -> None:
    acct = other_account()
    cc = server.client(key=acct)
    names = sorted(f"p-{i:05d}" for i in range(1003))
    for n in names:
        cc.create_repository(repositoryName=n)
    first = cc.list_repositories()
    assert len(first["repositories"]) == 1000
    assert first["nextToken"]
    second = cc.list_repositories(nextToken=first["nextToken"])
    assert "nextToken" not in second
    got = [r["repositoryName"] for r in first["repositories"] + second["repositories"]]
    assert got == names
    # A token belongs to its listing: replaying it with another order is refused.
    with pytest.raises(cc.exceptions.InvalidContinuationTokenException):
        cc.list_repositories(nextToken=first["nextToken"], order="descending")
    pages = cc.get_paginator("list_repositories").paginate()
    assert sum(len(p["repositories"]) for p in pages) == 1003


def test_accounts_are_isolated(server: Server) -> None:
    a = server.client(key=other_account())
    b = server.client(key=other_account())
    name = unique("shared")
    a.create_repository(repositoryName=name)
    assert [r["repositoryName"] for r in a.list_repositories()["repositories"]] == [name]
    assert b.list_repositories()["repositories"] == []
    with pytest.raises(b.exceptions.RepositoryDoesNotExistException):
        b.get_repository(repositoryName=name)
    # The same name is free in account B, and deleting there leaves A's alone.
    meta_b = b.create_repository(repositoryName=name)["repositoryMetadata"]
    assert (
        meta_b["accountId"]
        != a.get_repository(repositoryName=name)["repositoryMetadata"]["accountId"]
    )
    b.delete_repository(repositoryName=name)
    assert a.get_repository(repositoryName=name)["repositoryMetadata"]["repositoryName"] == name


def test_regions_are_isolated(server: Server) -> None:
    acct = other_account()
    east = server.client(key=acct, region="us-east-1")
    west = server.client(key=acct, region="eu-west-1")
    name = unique()
    meta = west.create_repository(repositoryName=name)["repositoryMetadata"]
    assert meta["Arn"] == f"arn:aws:codecommit:eu-west-1:{acct}:{name}"
    assert east.list_repositories()["repositories"] == []
    with pytest.raises(east.exceptions.RepositoryDoesNotExistException):
        east.get_repository(repositoryName=name)


def test_clone_url_is_served_by_this_server(server: Server, cc: Any) -> None:
    name = unique()
    url = cc.create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]
    assert url.startswith(server.url + "/")
    # Whatever the git door answers, it is this server answering on that path.
    resp = httpx.get(url + "/info/refs?service=git-upload-pack", timeout=30)
    assert resp.headers.get("server") == "uvicorn"


def _aws(server: Server, *args: str, key: str = "test") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key,
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "awscli",
            "--endpoint-url",
            server.url,
            "--output",
            "json",
            "codecommit",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_aws_cli_repository_lifecycle(server: Server) -> None:
    name = unique("cli")
    proc = _aws(
        server,
        "create-repository",
        "--repository-name",
        name,
        "--repository-description",
        "from the cli",
        "--tags",
        "env=test",
    )
    assert proc.returncode == 0, proc.stderr
    meta = json.loads(proc.stdout)["repositoryMetadata"]
    assert meta["repositoryName"] == name
    assert meta["repositoryDescription"] == "from the cli"
    proc = _aws(server, "get-repository", "--repository-name", name)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["repositoryMetadata"]["repositoryId"] == meta["repositoryId"]
    proc = _aws(server, "list-repositories")
    assert proc.returncode == 0, proc.stderr
    assert name in [r["repositoryName"] for r in json.loads(proc.stdout)["repositories"]]
    proc = _aws(server, "list-tags-for-resource", "--resource-arn", meta["Arn"])
    assert json.loads(proc.stdout)["tags"] == {"env": "test"}
    proc = _aws(server, "delete-repository", "--repository-name", name)
    assert json.loads(proc.stdout)["repositoryId"] == meta["repositoryId"]
    proc = _aws(server, "get-repository", "--repository-name", name)
    assert proc.returncode != 0
    assert "RepositoryDoesNotExistException" in proc.stderr


def test_aws_cli_with_bad_credentials(server: Server) -> None:
    proc = _aws(server, "list-repositories", key="AKIAUNKNOWNKEY")
    assert proc.returncode != 0
    assert "UnrecognizedClientException" in proc.stderr
