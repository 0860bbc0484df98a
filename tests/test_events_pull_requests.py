"""Pull request events through the outbox, against a real server: a local HTTP receiver, as an
EventBridge-style webhook and as the HTTP subscription of an SNS topic that notification rules
target, gets "CodeCommit Pull Request State Change" events in AWS's shape when a pull request is
created (boto3), its source is updated (a git push), its status changes and it is merged; a rule
gets only the event types it names; a refused change sends nothing."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, MakeGitUser, Server, git, start_server
from events_receiver import Receiver, wait_idle

DETAIL_TYPE = "CodeCommit Pull Request State Change"
PR_TYPES = {
    "pullRequestCreated": "codecommit-repository-pull-request-created",
    "pullRequestSourceBranchUpdated": "codecommit-repository-pull-request-source-updated",
    "pullRequestStatusChanged": "codecommit-repository-pull-request-status-changed",
    "pullRequestMergeStatusUpdated": "codecommit-repository-pull-request-merged",
}
AWS_DATE = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d UTC \d{4}$")
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def pr_server(tmp_path_factory: pytest.TempPathFactory, hook: Receiver) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("pr-events") / "data",
        "--delivery-retry-scale",
        "0.01",
        "--event-webhook",
        hook.url,
    )
    yield srv
    srv.stop()


@pytest.fixture
def subscriber() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _repo(server: Server, env: dict[str, str], work: Path) -> tuple[Any, str]:
    """A repository with `main` (one commit) and `feature` (one more, fast-forwardable)."""
    cc = server.client("codecommit")
    name = f"repo-{uuid.uuid4().hex[:10]}"
    cc.create_repository(repositoryName=name)
    git(env, "init", "-q", "-b", "main", str(work))
    (work / "a.txt").write_text("one\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "base", cwd=work)
    git(env, "checkout", "-q", "-b", "feature", cwd=work)
    (work / "b.txt").write_text("feature\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "feature", cwd=work)
    git(env, "push", "-q", server.git_url(name), "main", "feature", cwd=work)
    return cc, name


def _topic_with_rule(
    server: Server, name: str, r: Receiver, event_types: list[str], detail: str = "FULL"
) -> str:
    """An SNS topic whose HTTP subscription is `r` (confirmed) and a notification rule of the
    repository on `event_types` targeting it; returns the rule's ARN."""
    sns = server.client("sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:10]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=r.url)
    (conf,) = r.wait_for(1, where=lambda q: q.json().get("TopicArn") == topic)
    with urllib.request.urlopen(conf.json()["SubscribeURL"], timeout=10) as resp:
        resp.read()
    return str(
        server.client("codestar-notifications").create_notification_rule(
            Name=f"rule-{uuid.uuid4().hex[:8]}",
            EventTypeIds=event_types,
            Resource=f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}",
            Targets=[{"TargetType": "SNS", "TargetAddress": topic}],
            DetailType=detail,
        )["Arn"]
    )


def _pr_events(hook: Receiver, name: str) -> list[dict[str, Any]]:
    """The pull request events the webhook got for repository `name`, in order."""
    with hook.lock:
        docs = [r.json() for r in hook.requests]
    return [
        d
        for d in docs
        if d.get("detail-type") == DETAIL_TYPE and d["detail"]["repositoryNames"] == [name]
    ]


def _notifications(r: Receiver) -> list[dict[str, Any]]:
    return [json.loads(n.json()["Message"]) for n in r.notifications()]


def _push_more(
    env: dict[str, str], server: Server, name: str, work: Path, branch: str = "feature"
) -> str:
    """Commit a new file on the checked-out branch and push it as `branch`."""
    (work / f"{uuid.uuid4().hex[:6]}.txt").write_text("more\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "more", cwd=work)
    git(env, "push", "-q", server.git_url(name), f"HEAD:refs/heads/{branch}", cwd=work)
    return git(env, "rev-parse", "HEAD", cwd=work).stdout.strip()


def test_pull_request_lifecycle_reaches_webhook_and_sns_in_aws_shape(
    pr_server: Server,
    hook: Receiver,
    subscriber: Receiver,
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    work = tmp_path / "w"
    cc, name = _repo(pr_server, git_env, work)
    rule = _topic_with_rule(pr_server, name, subscriber, list(PR_TYPES.values()))
    me = pr_server.client("sts").get_caller_identity()["Arn"]
    main = git(git_env, "rev-parse", "main", cwd=work).stdout.strip()
    target = {"repositoryName": name, "sourceReference": "feature", "destinationReference": "main"}

    # created
    pr = cc.create_pull_request(title="Add b", description="first", targets=[target])
    pr = pr["pullRequest"]
    pr_id = pr["pullRequestId"]
    assert wait_idle(pr_server.url)["idle"]
    (created,) = _pr_events(hook, name)
    assert set(created) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert created["version"] == "0" and created["source"] == "aws.codecommit"
    assert (created["account"], created["region"]) == (ACCOUNT, REGION)
    assert created["resources"] == [f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}"]
    assert ISO_TIME.match(created["time"])
    detail = dict(created["detail"])
    assert list(detail) == sorted(detail)
    link = (
        f"https://{REGION}.console.aws.amazon.com/codesuite/codecommit/repositories/{name}"
        f"/pull-requests/{pr_id}?region={REGION}"
    )
    assert AWS_DATE.match(detail.pop("creationDate"))
    assert AWS_DATE.match(detail.pop("lastModifiedDate"))
    assert detail == {
        "author": me,
        "callerUserArn": me,
        "description": "first",
        "destinationCommit": main,
        "destinationReference": "refs/heads/main",
        "event": "pullRequestCreated",
        "isMerged": "False",
        "notificationBody": (
            f"A pull request event occurred in the following AWS CodeCommit repository: {name}."
            f" User: {me}. Event: Created. Pull request name: {pr_id}. Additional information:"
            f" A pull request was created with the following ID: {pr_id}. The title of the pull"
            f" request is: Add b. For more information, go to the AWS CodeCommit console {link}."
        ),
        "pullRequestId": pr_id,
        "pullRequestStatus": "Open",
        "repositoryNames": [name],
        "revisionId": pr["revisionId"],
        "sourceCommit": pr["pullRequestTargets"][0]["sourceCommit"],
        "sourceReference": "refs/heads/feature",
        "title": "Add b",
    }
    # the rule's SNS message: AWS's notification shape around the same detail
    (note,) = _notifications(subscriber)
    assert note == {
        "account": ACCOUNT,
        "detailType": DETAIL_TYPE,
        "region": REGION,
        "source": "aws.codecommit",
        "time": created["time"],
        "notificationRuleArn": rule,
        "detail": created["detail"],
        "resources": created["resources"],
        "additionalAttributes": {},
    }

    # a git push to the source branch: a new revision
    newer = _push_more(git_env, pr_server, name, work)
    assert wait_idle(pr_server.url)["idle"]
    updated = _pr_events(hook, name)[1]["detail"]
    after = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
    assert updated["event"] == "pullRequestSourceBranchUpdated"
    assert (updated["sourceCommit"], updated["revisionId"]) == (newer, after["revisionId"])
    assert updated["revisionId"] != pr["revisionId"]
    assert (updated["pullRequestStatus"], updated["isMerged"]) == ("Open", "False")
    assert (
        "updated with one or more commits to the source branch: feature."
        in (updated["notificationBody"])
    )

    # merged (fast-forward): the merge state, then the status
    cc.merge_pull_request_by_fast_forward(pullRequestId=pr_id, repositoryName=name)
    assert wait_idle(pr_server.url)["idle"]
    merge, closed = (e["detail"] for e in _pr_events(hook, name)[2:])
    assert merge["event"] == "pullRequestMergeStatusUpdated"
    assert (merge["isMerged"], merge["pullRequestStatus"]) == ("True", "Closed")
    assert merge["mergeOption"] == "FAST_FORWARD_MERGE"
    assert merge["callerUserArn"] == me
    assert (
        "The pull request merge status has been updated. The status is merged."
        in (merge["notificationBody"])
    )
    assert closed["event"] == "pullRequestStatusChanged"
    assert (closed["isMerged"], closed["pullRequestStatus"]) == ("True", "Closed")

    # closed without a merge
    git(git_env, "checkout", "-q", "-b", "other", "main", cwd=work)
    _push_more(git_env, pr_server, name, work, "other")
    other = {"repositoryName": name, "sourceReference": "other", "destinationReference": "main"}
    second = cc.create_pull_request(title="Other", targets=[other])["pullRequest"]
    cc.update_pull_request_status(pullRequestId=second["pullRequestId"], pullRequestStatus="CLOSED")
    assert wait_idle(pr_server.url)["idle"]
    opened, shut = (e["detail"] for e in _pr_events(hook, name)[4:])
    assert (opened["event"], opened["pullRequestId"]) == (
        "pullRequestCreated",
        second["pullRequestId"],
    )
    assert "description" not in opened
    assert shut["event"] == "pullRequestStatusChanged"
    assert (shut["isMerged"], shut["pullRequestStatus"]) == ("False", "Closed")
    assert shut["notificationBody"].endswith(
        f"The pull request status has been updated. The status is closed. For more information,"
        f" go to the AWS CodeCommit console https://{REGION}.console.aws.amazon.com/codesuite/"
        f"codecommit/repositories/{name}/pull-requests/{second['pullRequestId']}?region={REGION}"
    )

    # every event went to the rule's topic too, in the same order, with the same detail
    assert [n["detail"] for n in _notifications(subscriber)] == [
        e["detail"] for e in _pr_events(hook, name)
    ]
    logged = json.loads(
        urllib.request.urlopen(
            f"{pr_server.url}/_ccemu/events?repository={name}", timeout=10
        ).read()
    )["events"]
    assert [e["detail"]["event"] for e in logged if e["kind"] == "pull-request"] == [
        "pullRequestCreated",
        "pullRequestSourceBranchUpdated",
        "pullRequestMergeStatusUpdated",
        "pullRequestStatusChanged",
        "pullRequestCreated",
        "pullRequestStatusChanged",
    ]


def test_rule_for_created_gets_only_pull_request_created(
    pr_server: Server,
    hook: Receiver,
    subscriber: Receiver,
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    work = tmp_path / "w"
    cc, name = _repo(pr_server, git_env, work)
    rule = _topic_with_rule(
        pr_server, name, subscriber, [PR_TYPES["pullRequestCreated"]], detail="BASIC"
    )
    target = {"repositoryName": name, "sourceReference": "feature", "destinationReference": "main"}
    pr_id = cc.create_pull_request(title="Only", targets=[target])["pullRequest"]["pullRequestId"]
    _push_more(git_env, pr_server, name, work)
    cc.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="CLOSED")
    assert wait_idle(pr_server.url)["idle"]
    # the webhook got all three; the rule only the one it names
    assert [e["detail"]["event"] for e in _pr_events(hook, name)] == [
        "pullRequestCreated",
        "pullRequestSourceBranchUpdated",
        "pullRequestStatusChanged",
    ]
    (note,) = _notifications(subscriber)
    assert note["notificationRuleArn"] == rule
    assert (note["detail"]["event"], note["detail"]["pullRequestId"]) == (
        "pullRequestCreated",
        pr_id,
    )


def test_refused_status_change_sends_no_event(
    pr_server: Server,
    hook: Receiver,
    subscriber: Receiver,
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    work = tmp_path / "w"
    cc, name = _repo(pr_server, git_env, work)
    _topic_with_rule(pr_server, name, subscriber, list(PR_TYPES.values()))
    target = {"repositoryName": name, "sourceReference": "feature", "destinationReference": "main"}
    pr_id = cc.create_pull_request(title="T", targets=[target])["pullRequest"]["pullRequestId"]
    cc.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="CLOSED")
    assert wait_idle(pr_server.url)["idle"]
    before = len(_pr_events(hook, name))
    with pytest.raises(ClientError) as info:
        cc.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="OPEN")
    assert info.value.response["Error"]["Code"] == "InvalidPullRequestStatusUpdateException"
    assert wait_idle(pr_server.url)["idle"]
    assert len(_pr_events(hook, name)) == before == 2
    assert len(_notifications(subscriber)) == 2
    # and the server still serves the next request
    assert cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]["pullRequestStatus"] == "CLOSED"


def _change(kind: str, **metadata: object) -> Any:
    from datetime import UTC, datetime

    from emulator.repos.model import Repository
    from emulator.repos.pull_request_model import (
        OPEN,
        PullRequest,
        PullRequestChange,
        Revision,
    )

    when = datetime(2020, 12, 5, 15, 7, 4, tzinfo=UTC)
    repo = Repository("rid", ACCOUNT, REGION, "demo", None, "main", None, when, when)
    pr = PullRequest(
        "key", 7, ACCOUNT, REGION, "rid", "demo", "T", None, OPEN, "arn:a", when, when, None,
        "refs/heads/f", "refs/heads/main", Revision("rev", "s" * 40, "d" * 40, None),
    )  # fmt: skip
    return PullRequestChange(kind, pr, repo, "arn:b", when, metadata)


def test_approval_events_map_to_aws_shape_for_the_approvals_producer() -> None:
    from emulator.events.pull_request_events import event_type_id, state_change

    change = _change("PULL_REQUEST_APPROVAL_STATE_CHANGED", approval_status="APPROVE")
    doc = state_change(change)
    assert doc is not None and event_type_id(change) == (
        "codecommit-repository-approvals-status-changed"
    )
    detail: Any = doc["detail"]
    assert (detail["event"], detail["approvalStatus"]) == (
        "pullRequestApprovalStateChanged",
        "APPROVE",
    )
    assert detail["creationDate"] == "Sat Dec 05 15:07:04 UTC 2020"
    assert "State change: APPROVE." in detail["notificationBody"]
    change = _change("PULL_REQUEST_APPROVAL_RULE_OVERRIDDEN", override_status="REVOKE")
    detail = state_change(change)["detail"]  # type: ignore[index]
    assert (detail["event"], detail["overrideStatus"]) == (
        "pullRequestApprovalRuleOverridden",
        "REVOKE",
    )
    assert event_type_id(change) == "codecommit-repository-approvals-rule-override"
    # a kind with no entry sends nothing
    assert state_change(_change("PULL_REQUEST_APPROVAL_RULE_CREATED")) is None


def test_approval_reaches_webhook_as_approval_state_changed(
    pr_server: Server,
    hook: Receiver,
    make_git_user: MakeGitUser,
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cc, name = _repo(pr_server, git_env, tmp_path / "w")
    target = {"repositoryName": name, "sourceReference": "feature", "destinationReference": "main"}
    pr = cc.create_pull_request(title="T", targets=[target])["pullRequest"]
    reviewer = make_git_user(on=pr_server)
    theirs = pr_server.client("codecommit", key=reviewer.access_key, secret=reviewer.secret)
    theirs.update_pull_request_approval_state(
        pullRequestId=pr["pullRequestId"], revisionId=pr["revisionId"], approvalState="APPROVE"
    )
    assert wait_idle(pr_server.url)["idle"]
    events = [e["detail"] for e in _pr_events(hook, name)]
    approvals = [d for d in events if d["event"] == "pullRequestApprovalStateChanged"]
    assert len(approvals) == 1
    assert approvals[0]["approvalStatus"] == "APPROVE"
    assert approvals[0]["callerUserArn"].endswith(f":user/{reviewer.name}")
