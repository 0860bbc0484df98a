"""Repository triggers end to end: PutRepositoryTriggers' validation, pushes with the git CLI,
the exact trigger record at a Lambda URL, event and branch filters, TestRepositoryTriggers, and
EventBridge-style events at a webhook."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, Server, git, make_commits, start_server
from events_receiver import Receiver, get_json, post_json, wait_idle

FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:build"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
EVENT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


@pytest.fixture(scope="module")
def lambda_receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def hook_receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def events_server(
    tmp_path_factory: pytest.TempPathFactory, lambda_receiver: Receiver, hook_receiver: Receiver
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("events")
    endpoints = base / "lambdas.json"
    endpoints.write_text(json.dumps({FUNCTION: lambda_receiver.url}))
    srv = start_server(
        base / "data",
        "--lambda-endpoints",
        str(endpoints),
        "--event-webhook",
        hook_receiver.url,
        "--delivery-retry-scale",
        "0.01",
    )
    yield srv
    srv.stop()


def _trigger(**kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": "build", "destinationArn": FUNCTION, "events": ["all"]}
    out.update(kw)
    return out


def _repo(server: Server) -> tuple[Any, str]:
    cc = server.client("codecommit")
    name = f"repo-{uuid.uuid4().hex[:10]}"
    cc.create_repository(repositoryName=name)
    return cc, name


def _records_for(r: Receiver, repo: str) -> list[dict[str, Any]]:
    out = []
    for req in r.requests:
        doc = req.json()
        for rec in doc.get("Records", []):
            if rec.get("eventSourceARN", "").endswith(f":{repo}"):
                out.append(rec)
    return out


def test_put_get_triggers_and_validation(events_server: Server) -> None:
    cc, name = _repo(events_server)
    assert cc.get_repository_triggers(repositoryName=name)["triggers"] == []
    config_id = cc.put_repository_triggers(
        repositoryName=name,
        triggers=[_trigger(branches=["main"], customData="ci", events=["createReference"])],
    )["configurationId"]
    got = cc.get_repository_triggers(repositoryName=name)
    assert got["configurationId"] == config_id
    assert got["triggers"] == [
        {
            "name": "build",
            "destinationArn": FUNCTION,
            "customData": "ci",
            "branches": ["main"],
            "events": ["createReference"],
        }
    ]

    def refused(triggers: Any) -> str:
        with pytest.raises(ClientError) as info:
            cc.put_repository_triggers(repositoryName=name, triggers=triggers)
        return str(info.value.response["Error"]["Code"])

    assert refused([_trigger(name=f"t{i}") for i in range(11)]) == (
        "MaximumRepositoryTriggersExceededException"
    )
    assert refused([_trigger(events=["all", "createReference"])]) == (
        "InvalidRepositoryTriggerEventsException"
    )
    assert refused([_trigger(customData="x" * 1001)]) == (
        "InvalidRepositoryTriggerCustomDataException"
    )
    assert refused([_trigger(branches=[f"b{i}" for i in range(11)])]) == (
        "MaximumBranchesExceededException"
    )
    # A destination is checked for its form: a topic or function ARN with a 12-digit account.
    for malformed in (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:build",
        f"arn:aws:sns:{REGION}:1234:topic",
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue",
    ):
        assert refused([_trigger(destinationArn=malformed)]) == (
            "InvalidRepositoryTriggerDestinationArnException"
        )
    assert refused([_trigger(destinationArn="")]) == (
        "RepositoryTriggerDestinationArnRequiredException"
    )
    assert refused([_trigger(name="")]) == "RepositoryTriggerNameRequiredException"
    assert refused([_trigger(), _trigger()]) == "InvalidRepositoryTriggerNameException"
    assert refused([_trigger(branches=["bad..name"])]) == (
        "InvalidRepositoryTriggerBranchNameException"
    )
    assert refused([_trigger(events=[])]) == ("InvalidRepositoryTriggerEventsException")
    assert refused([_trigger(events=["pushed"])]) == "InvalidRepositoryTriggerEventsException"
    other_region = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:build"
    assert refused([_trigger(destinationArn=other_region)]) == (
        "InvalidRepositoryTriggerRegionException"
    )
    # Nothing of the refused configurations was stored.
    assert cc.get_repository_triggers(repositoryName=name)["configurationId"] == config_id
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.put_repository_triggers(repositoryName="nope-" + name, triggers=[_trigger()])


def test_push_delivers_trigger_record_to_lambda_url(
    events_server: Server, lambda_receiver: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, name = _repo(events_server)
    config_id = cc.put_repository_triggers(
        repositoryName=name, triggers=[_trigger(customData="hello")]
    )["configurationId"]
    work = tmp_path / "w"
    (sha,) = make_commits(git_env, work)
    git(git_env, "push", "-q", events_server.git_url(name), "main", cwd=work)
    assert wait_idle(events_server.url)["idle"]
    (rec,) = _records_for(lambda_receiver, name)
    assert list(rec) == sorted(rec)  # AWS serializes the record with sorted keys
    assert rec == {
        "awsRegion": REGION,
        "codecommit": {"references": [{"commit": sha, "created": True, "ref": "refs/heads/main"}]},
        "customData": "hello",
        "eventId": rec["eventId"],
        "eventName": "ReferenceChanges",
        "eventPartNumber": 1,
        "eventSource": "aws:codecommit",
        "eventSourceARN": f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}",
        "eventTime": rec["eventTime"],
        "eventTotalParts": 1,
        "eventTriggerConfigId": config_id,
        "eventTriggerName": "build",
        "eventVersion": "1.0",
        "userIdentityARN": ROOT_ARN,
    }
    uuid.UUID(rec["eventId"])
    assert EVENT_TIME.match(rec["eventTime"])

    # An update, then a delete, each one record naming the reference.
    (sha2,) = make_commits(git_env, work)
    git(git_env, "push", "-q", events_server.git_url(name), "main", cwd=work)
    git(git_env, "push", "-q", events_server.git_url(name), "main:side", cwd=work)
    git(git_env, "push", "-q", events_server.git_url(name), ":side", cwd=work)
    assert wait_idle(events_server.url)["idle"]
    refs = [r["codecommit"]["references"] for r in _records_for(lambda_receiver, name)]
    assert refs[1:] == [
        [{"commit": sha2, "ref": "refs/heads/main"}],
        [{"commit": sha2, "created": True, "ref": "refs/heads/side"}],
        [{"commit": sha2, "deleted": True, "ref": "refs/heads/side"}],
    ]


def test_event_and_branch_filters(
    events_server: Server, lambda_receiver: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, name = _repo(events_server)
    cc.put_repository_triggers(
        repositoryName=name,
        triggers=[
            _trigger(name="main-updates", branches=["main"], events=["updateReference"]),
            _trigger(name="deletes", events=["deleteReference"]),
        ],
    )
    work = tmp_path / "w"
    make_commits(git_env, work)
    url = events_server.git_url(name)
    git(git_env, "push", "-q", url, "main", "main:dev", cwd=work)  # two creations: no match
    make_commits(git_env, work)
    git(git_env, "push", "-q", url, "main", "main:dev", cwd=work)  # main matches; dev does not
    git(git_env, "tag", "v1", cwd=work)
    git(git_env, "push", "-q", url, "v1", cwd=work)  # a tag creation: no match
    git(git_env, "push", "-q", url, ":dev", ":v1", cwd=work)  # deletes match "deletes"
    assert wait_idle(events_server.url)["idle"]
    got = [
        (r["eventTriggerName"], [x["ref"] for x in r["codecommit"]["references"]])
        for r in _records_for(lambda_receiver, name)
    ]
    assert got == [
        ("main-updates", ["refs/heads/main"]),
        ("deletes", ["refs/heads/dev", "refs/tags/v1"]),
    ]


def test_test_repository_triggers(
    events_server: Server, lambda_receiver: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, name = _repo(events_server)
    work = tmp_path / "w"
    (sha,) = make_commits(git_env, work)
    git(git_env, "push", "-q", events_server.git_url(name), "main", cwd=work)
    unmapped = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nowhere"
    out = cc.test_repository_triggers(
        repositoryName=name,
        triggers=[_trigger(name="ok"), _trigger(name="bad", destinationArn=unmapped)],
    )
    assert out["successfulExecutions"] == ["ok"]
    assert [f["trigger"] for f in out["failedExecutions"]] == ["bad"]
    assert wait_idle(events_server.url)["idle"]
    tests = [r for r in _records_for(lambda_receiver, name) if r["eventName"] == "TriggerEventTest"]
    assert len(tests) == 1
    assert tests[0]["eventTriggerName"] == "ok"
    assert tests[0]["codecommit"]["references"] == [{"commit": sha, "ref": "refs/heads/main"}]
    with pytest.raises(ClientError) as info:
        cc.test_repository_triggers(
            repositoryName=name, triggers=[_trigger(events=["all", "deleteReference"])]
        )
    assert info.value.response["Error"]["Code"] == "InvalidRepositoryTriggerEventsException"


def test_eventbridge_event_reaches_webhooks(
    events_server: Server, hook_receiver: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, name = _repo(events_server)
    extra = Receiver()
    hook = post_json(f"{events_server.url}/_ccemu/webhooks", {"url": extra.url})
    try:
        work = tmp_path / "w"
        (sha1,) = make_commits(git_env, work)
        url = events_server.git_url(name)
        git(git_env, "push", "-q", url, "main", cwd=work)
        (sha2,) = make_commits(git_env, work)
        git(git_env, "push", "-q", url, "main", cwd=work)
        git(git_env, "tag", "v1", cwd=work)
        git(git_env, "push", "-q", url, "v1", cwd=work)
        cc.create_branch(repositoryName=name, branchName="dev", commitId=sha1)
        cc.delete_branch(repositoryName=name, branchName="dev")
        assert wait_idle(events_server.url)["idle"]

        def mine(r: Receiver) -> list[dict[str, Any]]:
            return [q.json() for q in r.requests if q.json()["detail"]["repositoryName"] == name]

        events = mine(hook_receiver)
        assert mine(extra) == events
        repo_id = cc.get_repository(repositoryName=name)["repositoryMetadata"]["repositoryId"]
        first = events[0]
        assert list(first) == [
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail",
        ]
        assert first["version"] == "0"
        assert first["detail-type"] == "CodeCommit Repository State Change"
        assert first["source"] == "aws.codecommit"
        assert first["account"] == ACCOUNT
        assert first["region"] == REGION
        assert first["resources"] == [f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}"]
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", first["time"])
        base = {"repositoryName": name, "repositoryId": repo_id}
        assert [e["detail"] for e in events] == [
            {
                "event": "referenceCreated",
                **base,
                "referenceType": "branch",
                "referenceName": "main",
                "referenceFullName": "refs/heads/main",
                "commitId": sha1,
                "callerUserArn": ROOT_ARN,
            },
            {
                "event": "referenceUpdated",
                **base,
                "referenceType": "branch",
                "referenceName": "main",
                "referenceFullName": "refs/heads/main",
                "commitId": sha2,
                "oldCommitId": sha1,
                "callerUserArn": ROOT_ARN,
            },
            {
                "event": "referenceCreated",
                **base,
                "referenceType": "tag",
                "referenceName": "v1",
                "referenceFullName": "refs/tags/v1",
                "commitId": sha2,
                "callerUserArn": ROOT_ARN,
            },
            {
                "event": "referenceCreated",
                **base,
                "referenceType": "branch",
                "referenceName": "dev",
                "referenceFullName": "refs/heads/dev",
                "commitId": sha1,
                "callerUserArn": ROOT_ARN,
            },
            {
                "event": "referenceDeleted",
                **base,
                "referenceType": "branch",
                "referenceName": "dev",
                "referenceFullName": "refs/heads/dev",
                "oldCommitId": sha1,
                "callerUserArn": ROOT_ARN,
            },
        ]
        hooks = get_json(f"{events_server.url}/_ccemu/webhooks")["webhooks"]
        assert {h["url"] for h in hooks} == {hook_receiver.url, extra.url}
        assert hook["url"] == extra.url
    finally:
        import urllib.request

        req = urllib.request.Request(
            f"{events_server.url}/_ccemu/webhooks/{hook['id']}", method="DELETE"
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 204
        extra.stop()


def test_events_log_shows_deliveries_and_attempts(
    events_server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, name = _repo(events_server)
    cc.put_repository_triggers(repositoryName=name, triggers=[_trigger()])
    work = tmp_path / "w"
    make_commits(git_env, work)
    git(git_env, "push", "-q", events_server.git_url(name), "main", cwd=work)
    assert wait_idle(events_server.url)["idle"]
    log = get_json(f"{events_server.url}/_ccemu/events?repository={name}")["events"]
    assert [e["kind"] for e in log] == ["reference-changes"]
    kinds = sorted(d["kind"] for d in log[0]["deliveries"])
    assert kinds == ["lambda", "webhook"]
    for d in log[0]["deliveries"]:
        assert d["state"] == "delivered"
        assert len(d["attempts"]) == 1
        assert d["attempts"][0]["status"] == 200
    assert get_json(f"{events_server.url}/_ccemu/events?repository={name}&since=4102444800") == {
        "events": []
    }
