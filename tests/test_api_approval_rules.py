"""Approval rules of pull requests through boto3 and git against a real server: rules created,
updated and deleted, approvals by IAM users and an assumed role matched against approval pools,
approvals reset by a push, the author refused, overrides, and merges refused until the rules are
satisfied or overridden — every refusal leaving the pull request as it was."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, Server, git

from emulator.repos.approval_rules import member_matches

POWER_USER = "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return str(info.value.response["Error"]["Code"])


def _user(server: Server, name: str | None = None) -> tuple[str, Any]:
    """A new IAM user with CodeCommit power-user rights: its ARN and its CodeCommit client."""
    iam = server.client("iam")
    name = name or f"u-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=POWER_USER)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, server.client(key=key["AccessKeyId"], secret=key["SecretAccessKey"])


def _role_session(server: Server, role: str, session: str) -> tuple[str, Any]:
    """A session of a new role (CodeCommit power user), assumed by a user allowed to."""
    iam = server.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName=role, PolicyArn=POWER_USER)
    name = f"a-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    allow = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    sts = server.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
    client = server.client(
        key=creds["AccessKeyId"],
        secret=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}", client


def _content(needed: int, *pool: str, **more: Any) -> str:
    statement: dict[str, Any] = {"Type": "Approvers", "NumberOfApprovalsNeeded": needed}
    if pool:
        statement["ApprovalPoolMembers"] = list(pool)
    return json.dumps({"Version": "2018-11-08", "Statements": [statement], **more})


def _repo(server: Server, env: dict[str, str], name: str, work: Path) -> None:
    """main with one commit; `feature` adds b.txt."""
    server.client().create_repository(repositoryName=name)
    git(env, "init", "-q", "-b", "main", str(work))
    (work / "a.txt").write_text("a\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "base", cwd=work)
    git(env, "checkout", "-q", "-b", "feature", cwd=work)
    (work / "b.txt").write_text("b\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "feature", cwd=work)
    git(env, "push", "-q", server.git_url(name), "main", "feature", cwd=work)


def _push_feature(server: Server, env: dict[str, str], name: str, work: Path, text: str) -> None:
    (work / "c.txt").write_text(text)
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", text, cwd=work)
    git(env, "push", "-q", server.git_url(name), "feature", cwd=work)


def _create_pr(cc: Any, name: str) -> dict[str, Any]:
    target = {"repositoryName": name, "sourceReference": "feature", "destinationReference": "main"}
    return dict(cc.create_pull_request(title="Add b", targets=[target])["pullRequest"])


def _state(cc: Any, pr_id: str) -> tuple[Any, ...]:
    """What a refused call must leave as it was: the pull request (its rules included), its
    events, the approvals and the override of its current revision, the branch it merges to."""
    pr = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
    rev = pr["revisionId"]
    events = cc.describe_pull_request_events(pullRequestId=pr_id)["pullRequestEvents"]
    approvals = cc.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=rev)
    override = cc.get_pull_request_override_state(pullRequestId=pr_id, revisionId=rev)
    repo = pr["pullRequestTargets"][0]["repositoryName"]
    main = cc.get_branch(repositoryName=repo, branchName="main")["branch"]["commitId"]
    return pr, len(events), approvals["approvals"], override["overridden"], main


def _evaluation(cc: Any, pr_id: str) -> dict[str, Any]:
    rev = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]["revisionId"]
    return dict(
        cc.evaluate_pull_request_approval_rules(pullRequestId=pr_id, revisionId=rev)["evaluation"]
    )


def test_merge_waits_for_the_approval_pool_and_a_push_resets_approvals(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    _repo(server, git_env, repo_name, work)
    reviewer_name = f"rev-{uuid.uuid4().hex[:6]}"
    author_arn, author = _user(server)
    reviewer_arn, reviewer = _user(server, reviewer_name)
    outsider_arn, outsider = _user(server)
    role = f"CodeCommitReview-{uuid.uuid4().hex[:6]}"
    session_arn, session = _role_session(server, role, "Mary_Major")

    pr = _create_pr(author, repo_name)
    pr_id, rev1 = pr["pullRequestId"], pr["revisionId"]
    content = _content(
        2,
        f"CodeCommitApprovers:{ACCOUNT}:{reviewer_name}",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/*",
    )
    rule = author.create_pull_request_approval_rule(
        pullRequestId=pr_id, approvalRuleName="Two reviewers", approvalRuleContent=content
    )["approvalRule"]
    assert rule["approvalRuleContent"] == content and rule["lastModifiedUser"] == author_arn
    listed = author.get_pull_request(pullRequestId=pr_id)["pullRequest"]["approvalRules"]
    assert listed == [rule]

    # the author cannot approve; a merge is refused while the rule is not satisfied
    before = _state(author, pr_id)
    code = _code(
        author.update_pull_request_approval_state,
        pullRequestId=pr_id,
        revisionId=rev1,
        approvalState="APPROVE",
    )
    assert code == "PullRequestCannotBeApprovedByAuthorException"
    code = _code(
        author.merge_pull_request_by_fast_forward, pullRequestId=pr_id, repositoryName=repo_name
    )
    assert code == "PullRequestApprovalRulesNotSatisfiedException"
    assert _state(author, pr_id) == before

    # an approval from outside the pool does not count; one from the pool is one of two
    for client in (reviewer, outsider):
        client.update_pull_request_approval_state(
            pullRequestId=pr_id, revisionId=rev1, approvalState="APPROVE"
        )
    # approving again changes nothing and records nothing
    before = _state(author, pr_id)
    reviewer.update_pull_request_approval_state(
        pullRequestId=pr_id, revisionId=rev1, approvalState="APPROVE"
    )
    assert _state(author, pr_id) == before
    states = author.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=rev1)
    assert states["approvals"] == [
        {"userArn": reviewer_arn, "approvalState": "APPROVE"},
        {"userArn": outsider_arn, "approvalState": "APPROVE"},
    ]
    assert _evaluation(author, pr_id) == {
        "approved": False,
        "overridden": False,
        "approvalRulesSatisfied": [],
        "approvalRulesNotSatisfied": ["Two reviewers"],
    }

    # the assumed role approves: satisfied on this revision ...
    session.update_pull_request_approval_state(
        pullRequestId=pr_id, revisionId=rev1, approvalState="APPROVE"
    )
    assert _evaluation(author, pr_id)["approvalRulesSatisfied"] == ["Two reviewers"]

    # ... until a git push to the source branch makes a new revision: approvals reset
    _push_feature(server, git_env, repo_name, work, "more\n")
    rev2 = author.get_pull_request(pullRequestId=pr_id)["pullRequest"]["revisionId"]
    assert rev2 != rev1
    assert _evaluation(author, pr_id)["approved"] is False
    assert (
        author.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=rev2)["approvals"]
        == []
    )
    # the old revision keeps its approvals, but can no longer be approved or evaluated
    old = author.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=rev1)
    assert len(old["approvals"]) == 3
    before = _state(author, pr_id)
    code = _code(
        reviewer.update_pull_request_approval_state,
        pullRequestId=pr_id,
        revisionId=rev1,
        approvalState="APPROVE",
    )
    assert code == "RevisionNotCurrentException"
    code = _code(author.evaluate_pull_request_approval_rules, pullRequestId=pr_id, revisionId=rev1)
    assert code == "RevisionNotCurrentException"
    code = _code(author.merge_pull_request_by_squash, pullRequestId=pr_id, repositoryName=repo_name)
    assert code == "PullRequestApprovalRulesNotSatisfiedException"
    assert _state(author, pr_id) == before

    # approvals of the new revision; a revoked one stops counting
    for client in (reviewer, session):
        client.update_pull_request_approval_state(
            pullRequestId=pr_id, revisionId=rev2, approvalState="APPROVE"
        )
    reviewer.update_pull_request_approval_state(
        pullRequestId=pr_id, revisionId=rev2, approvalState="REVOKE"
    )
    assert _evaluation(author, pr_id)["approved"] is False
    reviewer.update_pull_request_approval_state(
        pullRequestId=pr_id, revisionId=rev2, approvalState="APPROVE"
    )
    assert _evaluation(author, pr_id)["approved"] is True
    merged = author.merge_pull_request_by_three_way(pullRequestId=pr_id, repositoryName=repo_name)[
        "pullRequest"
    ]
    assert merged["pullRequestTargets"][0]["mergeMetadata"]["isMerged"] is True
    assert merged["approvalRules"] == [rule]

    changes = author.describe_pull_request_events(
        pullRequestId=pr_id, pullRequestEventType="PULL_REQUEST_APPROVAL_STATE_CHANGED"
    )["pullRequestEvents"]
    assert [(e["actorArn"], e["approvalStateChangedEventMetadata"]) for e in changes] == [
        (reviewer_arn, {"revisionId": rev1, "approvalStatus": "APPROVE"}),
        (outsider_arn, {"revisionId": rev1, "approvalStatus": "APPROVE"}),
        (session_arn, {"revisionId": rev1, "approvalStatus": "APPROVE"}),
        (reviewer_arn, {"revisionId": rev2, "approvalStatus": "APPROVE"}),
        (session_arn, {"revisionId": rev2, "approvalStatus": "APPROVE"}),
        (reviewer_arn, {"revisionId": rev2, "approvalStatus": "REVOKE"}),
        (reviewer_arn, {"revisionId": rev2, "approvalStatus": "APPROVE"}),
    ]
    # a closed pull request takes no more approvals
    code = _code(
        reviewer.update_pull_request_approval_state,
        pullRequestId=pr_id,
        revisionId=rev2,
        approvalState="REVOKE",
    )
    assert code == "PullRequestAlreadyClosedException"


def test_rules_are_created_updated_and_deleted_with_their_events(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    _repo(server, git_env, repo_name, tmp_path / "w")
    cc = server.client()
    pr_id = _create_pr(cc, repo_name)["pullRequestId"]
    first = _content(1)
    rule = cc.create_pull_request_approval_rule(
        pullRequestId=pr_id, approvalRuleName="One", approvalRuleContent=first
    )["approvalRule"]
    assert rule["ruleContentSha256"] == hashlib.sha256(first.encode()).hexdigest()
    assert "originApprovalRuleTemplate" not in rule

    # an update naming a stale hash is refused; with the current hash it applies
    second = _content(2, "arn:aws:iam::123456789012:user/*")
    before = _state(cc, pr_id)
    code = _code(
        cc.update_pull_request_approval_rule_content,
        pullRequestId=pr_id,
        approvalRuleName="One",
        existingRuleContentSha256="0" * 64,
        newRuleContent=second,
    )
    assert code == "InvalidRuleContentSha256Exception"
    assert _state(cc, pr_id) == before
    updated = cc.update_pull_request_approval_rule_content(
        pullRequestId=pr_id,
        approvalRuleName="One",
        existingRuleContentSha256=rule["ruleContentSha256"],
        newRuleContent=second,
    )["approvalRule"]
    assert updated["approvalRuleId"] == rule["approvalRuleId"]
    assert updated["approvalRuleContent"] == second
    assert updated["creationDate"] == rule["creationDate"]

    deleted = cc.delete_pull_request_approval_rule(pullRequestId=pr_id, approvalRuleName="One")
    assert deleted["approvalRuleId"] == rule["approvalRuleId"]
    # deleting again answers 200 with an empty id, as AWS documents
    again = cc.delete_pull_request_approval_rule(pullRequestId=pr_id, approvalRuleName="One")
    assert again["approvalRuleId"] == ""
    assert cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]["approvalRules"] == []
    events = cc.describe_pull_request_events(pullRequestId=pr_id)["pullRequestEvents"]
    assert [(e["pullRequestEventType"], e["approvalRuleEventMetadata"]) for e in events[1:]] == [
        (
            "PULL_REQUEST_APPROVAL_RULE_CREATED",
            {
                "approvalRuleName": "One",
                "approvalRuleId": rule["approvalRuleId"],
                "approvalRuleContent": first,
            },
        ),
        (
            "PULL_REQUEST_APPROVAL_RULE_UPDATED",
            {
                "approvalRuleName": "One",
                "approvalRuleId": rule["approvalRuleId"],
                "approvalRuleContent": second,
            },
        ),
        (
            "PULL_REQUEST_APPROVAL_RULE_DELETED",
            {
                "approvalRuleName": "One",
                "approvalRuleId": rule["approvalRuleId"],
                "approvalRuleContent": second,
            },
        ),
    ]
    # with no rules left, the pull request is approved
    assert _evaluation(cc, pr_id)["approved"] is True


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("ok", '{"Version": "2018-11-08"', "InvalidApprovalRuleContentException"),
        (
            "ok",
            json.dumps({"Version": "2019-01-01", "Statements": []}),
            "InvalidApprovalRuleContentException",
        ),
        (
            "ok",
            json.dumps({"Version": "2018-11-08", "Statements": []}),
            "InvalidApprovalRuleContentException",
        ),
        (
            "ok",
            json.dumps(
                {
                    "Version": "2018-11-08",
                    "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 0}],
                }
            ),
            "InvalidApprovalRuleContentException",
        ),
        (
            "ok",
            json.dumps(
                {
                    "Version": "2018-11-08",
                    "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": "2"}],
                }
            ),
            "InvalidApprovalRuleContentException",
        ),
        (
            "ok",
            json.dumps(
                {
                    "Version": "2018-11-08",
                    "Statements": [{"Type": "Reviewers", "NumberOfApprovalsNeeded": 1}],
                }
            ),
            "InvalidApprovalRuleContentException",
        ),
        ("ok", _content(1, "Mary_Major"), "InvalidApprovalRuleContentException"),
        (
            "ok",
            _content(1, *[f"CodeCommitApprovers:{ACCOUNT}:u{i}" for i in range(51)]),
            "InvalidApprovalRuleContentException",
        ),
        ("ok", _content(1, DestinationReferences=["main"]), "InvalidApprovalRuleContentException"),
        ("bad/name", _content(1), "InvalidApprovalRuleNameException"),
        ("x.git", _content(1), "InvalidApprovalRuleNameException"),
        ("", _content(1), "ApprovalRuleNameRequiredException"),
        ("ok", "", "ApprovalRuleContentRequiredException"),
        ("taken", _content(1), "ApprovalRuleNameAlreadyExistsException"),
    ],
)
def test_bad_rule_is_refused_and_changes_nothing(
    server: Server,
    git_env: dict[str, str],
    repo_name: str,
    tmp_path: Path,
    name: str,
    content: str,
    expected: str,
) -> None:
    _repo(server, git_env, repo_name, tmp_path / "w")
    cc = server.client()
    pr_id = _create_pr(cc, repo_name)["pullRequestId"]
    cc.create_pull_request_approval_rule(
        pullRequestId=pr_id, approvalRuleName="taken", approvalRuleContent=_content(1)
    )
    before = _state(cc, pr_id)
    code = _code(
        _raw(server).create_pull_request_approval_rule,
        pullRequestId=pr_id,
        approvalRuleName=name,
        approvalRuleContent=content,
    )
    assert code == expected
    assert _state(cc, pr_id) == before
    # the server still serves the next request
    assert cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]["pullRequestId"] == pr_id


def _raw(server: Server) -> Any:
    """A client that sends what it is given, so the server's own checks answer."""
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "codecommit",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=BotoConfig(parameter_validation=False, retries={"max_attempts": 1}),
    )


def test_override_lets_the_merge_through_and_a_push_ends_it(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    _repo(server, git_env, repo_name, work)
    author_arn, author = _user(server)
    lead_arn, lead = _user(server)
    pr = _create_pr(author, repo_name)
    pr_id, rev1 = pr["pullRequestId"], pr["revisionId"]
    author.create_pull_request_approval_rule(
        pullRequestId=pr_id, approvalRuleName="Nobody", approvalRuleContent=_content(3)
    )
    got = lead.get_pull_request_override_state(pullRequestId=pr_id, revisionId=rev1)
    assert got["overridden"] is False and "overrider" not in got
    lead.override_pull_request_approval_rules(
        pullRequestId=pr_id, revisionId=rev1, overrideStatus="OVERRIDE"
    )
    got = lead.get_pull_request_override_state(pullRequestId=pr_id, revisionId=rev1)
    assert (got["overridden"], got["overrider"]) == (True, lead_arn)
    before = _state(author, pr_id)
    code = _code(
        lead.override_pull_request_approval_rules,
        pullRequestId=pr_id,
        revisionId=rev1,
        overrideStatus="OVERRIDE",
    )
    assert code == "OverrideAlreadySetException"
    assert _state(author, pr_id) == before
    evaluation = _evaluation(author, pr_id)
    assert (evaluation["approved"], evaluation["overridden"]) == (False, True)

    # a push makes a new revision, which is not overridden
    _push_feature(server, git_env, repo_name, work, "push\n")
    rev2 = author.get_pull_request(pullRequestId=pr_id)["pullRequest"]["revisionId"]
    assert (
        author.get_pull_request_override_state(pullRequestId=pr_id, revisionId=rev2)["overridden"]
        is False
    )
    code = _code(
        author.merge_pull_request_by_fast_forward, pullRequestId=pr_id, repositoryName=repo_name
    )
    assert code == "PullRequestApprovalRulesNotSatisfiedException"
    # overriding an old revision is refused
    code = _code(
        lead.override_pull_request_approval_rules,
        pullRequestId=pr_id,
        revisionId=rev1,
        overrideStatus="OVERRIDE",
    )
    assert code == "RevisionNotCurrentException"

    # override, revoke, override again: the merge goes through
    for status in ("OVERRIDE", "REVOKE"):
        lead.override_pull_request_approval_rules(
            pullRequestId=pr_id, revisionId=rev2, overrideStatus=status
        )
    assert _evaluation(author, pr_id)["overridden"] is False
    lead.override_pull_request_approval_rules(
        pullRequestId=pr_id, revisionId=rev2, overrideStatus="OVERRIDE"
    )
    merged = author.merge_pull_request_by_fast_forward(
        pullRequestId=pr_id, repositoryName=repo_name
    )["pullRequest"]
    assert merged["pullRequestStatus"] == "CLOSED"
    events = author.describe_pull_request_events(
        pullRequestId=pr_id, pullRequestEventType="PULL_REQUEST_APPROVAL_RULE_OVERRIDDEN"
    )["pullRequestEvents"]
    assert [(e["actorArn"], e["approvalRuleOverriddenEventMetadata"]) for e in events] == [
        (lead_arn, {"revisionId": rev1, "overrideStatus": "OVERRIDE"}),
        (lead_arn, {"revisionId": rev2, "overrideStatus": "OVERRIDE"}),
        (lead_arn, {"revisionId": rev2, "overrideStatus": "REVOKE"}),
        (lead_arn, {"revisionId": rev2, "overrideStatus": "OVERRIDE"}),
    ]
    # a closed pull request's rules do not change
    code = _code(
        author.create_pull_request_approval_rule,
        pullRequestId=pr_id,
        approvalRuleName="Late",
        approvalRuleContent=_content(1),
    )
    assert code == "PullRequestAlreadyClosedException"
    assert author_arn != lead_arn


def test_revision_ids_of_another_pull_request_are_refused(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    _repo(server, git_env, repo_name, tmp_path / "w")
    cc = server.client()
    one = _create_pr(cc, repo_name)
    cc.update_pull_request_status(pullRequestId=one["pullRequestId"], pullRequestStatus="CLOSED")
    two = _create_pr(cc, repo_name)
    for call in (
        cc.get_pull_request_approval_states,
        cc.evaluate_pull_request_approval_rules,
        cc.get_pull_request_override_state,
    ):
        code = _code(call, pullRequestId=two["pullRequestId"], revisionId=one["revisionId"])
        assert code == "InvalidRevisionIdException"
    raw = _raw(server)
    code = _code(
        raw.update_pull_request_approval_state,
        pullRequestId=two["pullRequestId"],
        revisionId=two["revisionId"],
        approvalState="MAYBE",
    )
    assert code == "InvalidApprovalStateException"
    code = _code(
        raw.override_pull_request_approval_rules,
        pullRequestId=two["pullRequestId"],
        revisionId="",
        overrideStatus="OVERRIDE",
    )
    assert code == "RevisionIdRequiredException"


def test_a_pull_request_holds_at_most_thirty_rules(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    _repo(server, git_env, repo_name, tmp_path / "w")
    cc = server.client()
    pr_id = _create_pr(cc, repo_name)["pullRequestId"]
    for i in range(30):
        cc.create_pull_request_approval_rule(
            pullRequestId=pr_id, approvalRuleName=f"r{i}", approvalRuleContent=_content(1)
        )
    before = _state(cc, pr_id)
    code = _code(
        cc.create_pull_request_approval_rule,
        pullRequestId=pr_id,
        approvalRuleName="one too many",
        approvalRuleContent=_content(1),
    )
    assert code == "NumberOfRulesExceededException"
    assert _state(cc, pr_id) == before


@pytest.mark.parametrize(
    ("member", "approver", "counts"),
    [
        (
            "CodeCommitApprovers:123456789012:Mary_Major",
            "arn:aws:iam::123456789012:user/Mary_Major",
            True,
        ),
        (
            "CodeCommitApprovers:123456789012:Mary_Major",
            "arn:aws:iam::123456789012:user/team/Mary_Major",
            True,
        ),
        (
            "CodeCommitApprovers:123456789012:Mary_Major",
            "arn:aws:sts::123456789012:federated-user/Mary_Major",
            True,
        ),
        # a session counts only through a wildcard, as AWS documents
        (
            "CodeCommitApprovers:123456789012:Mary_Major",
            "arn:aws:sts::123456789012:assumed-role/CodeCommitReview/Mary_Major",
            False,
        ),
        (
            "CodeCommitApprovers:123456789012:*Mary_Major",
            "arn:aws:sts::123456789012:assumed-role/CodeCommitReview/Mary_Major",
            True,
        ),
        (
            "CodeCommitApprovers:123456789012:Mary_Major",
            "arn:aws:iam::210987654321:user/Mary_Major",
            False,
        ),
        (
            "CodeCommitApprovers:123456789012:Mary_Major",
            "arn:aws:iam::123456789012:user/Mary_Majors",
            False,
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/CodeCommitReview/*",
            "arn:aws:sts::123456789012:assumed-role/CodeCommitReview/anyone",
            True,
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/CodeCommitReview/*",
            "arn:aws:sts::123456789012:assumed-role/Other/anyone",
            False,
        ),
        ("arn:aws:iam::123456789012:user/?ob", "arn:aws:iam::123456789012:user/Bob", True),
        ("arn:aws:iam::123456789012:user/[ab]ob", "arn:aws:iam::123456789012:user/aob", False),
    ],
)
def test_approval_pool_members_match_as_aws_documents(
    member: str, approver: str, counts: bool
) -> None:
    assert member_matches(member, approver) is counts
