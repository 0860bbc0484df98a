"""Validation as AWS does it, both ways: each limit of CodeCommit's quotas page and of the
service model at its boundary (n accepted, n+1 refused with AWS's error), through boto3 against
a real server; trigger destinations accepted as AWS accepts them, their failed deliveries
recorded with the reason."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, Server, git, make_commits, start_server
from events_receiver import Receiver, get_json, wait_idle

FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:build"


@pytest.fixture(scope="module")
def lambda_receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, lambda_receiver: Receiver) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("limits")
    endpoints = base / "lambdas.json"
    endpoints.write_text(json.dumps({FUNCTION: lambda_receiver.url}))
    s = start_server(
        base / "data", "--lambda-endpoints", str(endpoints), "--delivery-retry-scale", "0.01"
    )
    yield s
    s.stop()


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return str(info.value.response["Error"]["Code"])


def _new_repo(cc: Any) -> str:
    name = f"lim-{uuid.uuid4().hex[:10]}"
    cc.create_repository(repositoryName=name)
    return name


def _trigger(**kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": "t", "destinationArn": FUNCTION, "events": ["all"]}
    out.update(kw)
    return out


def test_repository_name_and_description_limits(srv: Server) -> None:
    cc = srv.client()
    name = "n" * 99 + uuid.uuid4().hex[:1]
    cc.create_repository(repositoryName=name, repositoryDescription="d" * 1000)
    assert _code(cc.create_repository, repositoryName="n" * 101) == "InvalidRepositoryNameException"
    assert (
        _code(
            cc.create_repository, repositoryName=f"d-{name[:20]}", repositoryDescription="d" * 1001
        )
        == "InvalidRepositoryDescriptionException"
    )
    assert _code(cc.get_repository, repositoryName=f"d-{name[:20]}") == (
        "RepositoryDoesNotExistException"
    )


def test_batch_get_repositories_takes_100_names_and_an_empty_list(srv: Server) -> None:
    cc = srv.client()
    name = _new_repo(cc)
    hundred = [name] + [f"missing-{i}" for i in range(99)]
    out = cc.batch_get_repositories(repositoryNames=hundred)
    assert [r["repositoryName"] for r in out["repositories"]] == [name]
    assert len(out["repositoriesNotFound"]) == 99
    assert _code(cc.batch_get_repositories, repositoryNames=[*hundred, "one-more"]) == (
        "MaximumRepositoryNamesExceededException"
    )
    empty = cc.batch_get_repositories(repositoryNames=[])
    assert (empty["repositories"], empty["repositoriesNotFound"], empty["errors"]) == ([], [], [])


def test_update_encryption_key_without_a_key_is_encryption_key_required(srv: Server) -> None:
    import boto3

    cc = srv.client()
    name = _new_repo(cc)
    raw = boto3.client(
        "codecommit",
        endpoint_url=srv.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=BotoConfig(parameter_validation=False, retries={"max_attempts": 1}),
    )
    before = cc.get_repository(repositoryName=name)["repositoryMetadata"]["kmsKeyId"]
    for kw in ({}, {"kmsKeyId": ""}):
        with pytest.raises(ClientError) as info:
            raw.update_repository_encryption_key(repositoryName=name, **kw)
        assert info.value.response["Error"] == {
            "Code": "EncryptionKeyRequiredException",
            "Message": "A KMS encryption key ID is required but was not specified.",
        }
    assert cc.get_repository(repositoryName=name)["repositoryMetadata"]["kmsKeyId"] == before


def test_tag_limits(srv: Server) -> None:
    cc = srv.client()
    name = _new_repo(cc)
    arn = cc.get_repository(repositoryName=name)["repositoryMetadata"]["Arn"]
    cc.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert _code(cc.tag_resource, resourceArn=arn, tags={"k50": "v"}) == "TooManyTagsException"
    other = _new_repo(cc)
    arn = cc.get_repository(repositoryName=other)["repositoryMetadata"]["Arn"]
    cc.tag_resource(resourceArn=arn, tags={"k" * 128: "v" * 256})
    assert _code(cc.tag_resource, resourceArn=arn, tags={"k" * 129: "v"}) == (
        "InvalidTagsMapException"
    )
    assert _code(cc.tag_resource, resourceArn=arn, tags={"k": "v" * 257}) == (
        "InvalidTagsMapException"
    )
    assert len(cc.list_tags_for_resource(resourceArn=arn)["tags"]) == 1


def test_branch_names_of_40_hex_digits_or_at_sign_are_refused(
    srv: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc = srv.client()
    name = _new_repo(cc)
    (sha,) = make_commits(git_env, tmp_path / "w")
    git(git_env, "push", "-q", srv.git_url(name), "main", cwd=tmp_path / "w")
    for bad in ("@", "0123456789abcdef0123456789abcdef01234567", sha, "b" * 257):
        assert _code(cc.create_branch, repositoryName=name, branchName=bad, commitId=sha) == (
            "InvalidBranchNameException"
        )
        assert _code(cc.get_branch, repositoryName=name, branchName=bad) == (
            "InvalidBranchNameException"
        )
    for good in ("b" * 256, "0123456789abcdef0123456789abcdef0123456", "a@b"):
        cc.create_branch(repositoryName=name, branchName=good, commitId=sha)
    assert sorted(cc.list_branches(repositoryName=name)["branches"]) == sorted(
        ["main", "b" * 256, "0123456789abcdef0123456789abcdef0123456", "a@b"]
    )


def test_trigger_limits(srv: Server) -> None:
    cc = srv.client()
    name = _new_repo(cc)

    def put(triggers: list[dict[str, Any]]) -> str:
        return str(
            cc.put_repository_triggers(repositoryName=name, triggers=triggers)["configurationId"]
        )

    def refused(triggers: list[dict[str, Any]]) -> str:
        return _code(cc.put_repository_triggers, repositoryName=name, triggers=triggers)

    put([_trigger(name=f"t{i}") for i in range(10)])
    assert refused([_trigger(name=f"t{i}") for i in range(11)]) == (
        "MaximumRepositoryTriggersExceededException"
    )
    put([_trigger(branches=[f"b{i}" for i in range(10)])])
    assert refused([_trigger(branches=[f"b{i}" for i in range(11)])]) == (
        "MaximumBranchesExceededException"
    )
    put([_trigger(customData="c" * 1000)])
    assert refused([_trigger(customData="c" * 1001)]) == (
        "InvalidRepositoryTriggerCustomDataException"
    )
    put([_trigger(name="n" * 100)])
    assert refused([_trigger(name="n" * 101)]) == "InvalidRepositoryTriggerNameException"
    assert refused([_trigger(branches=["@"])]) == "InvalidRepositoryTriggerBranchNameException"
    last = put([_trigger(name="build.main_v2-x")])
    # CodeCommit's quotas: "Trigger names cannot contain spaces or commas".
    for bad in ("my trigger", "a,b", " lead", "trail "):
        assert refused([_trigger(name=bad)]) == "InvalidRepositoryTriggerNameException"
    # Nothing of the refused configurations was stored, and the server still answers.
    assert cc.get_repository_triggers(repositoryName=name)["configurationId"] == last


def _deliveries(srv: Server, repo: str) -> list[dict[str, Any]]:
    assert wait_idle(srv.url)["idle"]
    log = get_json(f"{srv.url}/_ccemu/events?repository={repo}")["events"]
    return [d for e in log for d in e["deliveries"]]


def test_unmapped_lambda_and_foreign_topic_are_accepted_and_their_deliveries_fail_recorded(
    srv: Server, lambda_receiver: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc = srv.client()
    name = _new_repo(cc)
    unmapped = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nowhere"
    foreign_topic = f"arn:aws:sns:{REGION}:210987654321:builds"
    cc.put_repository_triggers(
        repositoryName=name,
        triggers=[
            _trigger(name="mapped"),
            _trigger(name="unmapped", destinationArn=unmapped),
            _trigger(name="foreign", destinationArn=foreign_topic),
        ],
    )
    got = cc.get_repository_triggers(repositoryName=name)["triggers"]
    assert [t["destinationArn"] for t in got] == [FUNCTION, unmapped, foreign_topic]
    work = tmp_path / "w"
    make_commits(git_env, work)
    git(git_env, "push", "-q", srv.git_url(name), "main", cwd=work)
    by_source = {d["source"]: d for d in _deliveries(srv, name)}
    assert by_source["mapped"]["state"] == "delivered"
    assert any(
        rec["eventTriggerName"] == "mapped" and rec["eventSourceARN"].endswith(f":{name}")
        for req in lambda_receiver.requests
        for rec in req.json().get("Records", [])
    )
    for source, reason in (
        ("unmapped", f"no URL is mapped to {unmapped}"),
        ("foreign", f"the Amazon SNS topic {foreign_topic} does not exist"),
    ):
        d = by_source[source]
        assert d["state"] == "dead"
        assert [a["error"] for a in d["attempts"]] == [reason]
