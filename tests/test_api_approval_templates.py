"""Approval rule templates through boto3 against a real server: created, renamed, described,
changed, associated with repositories (single and batch), listed both ways, deleted only once
no repository uses them, and turned into rules of every new pull request whose destination they
name — which the pull request cannot edit or delete."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import Server, git


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return str(info.value.response["Error"]["Code"])


def _content(needed: int, destinations: list[str] | None = None) -> str:
    doc: dict[str, Any] = {
        "Version": "2018-11-08",
        "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": needed}],
    }
    if destinations is not None:
        doc["DestinationReferences"] = destinations
    return json.dumps(doc)


def _repo(server: Server, env: dict[str, str], name: str, work: Path) -> None:
    """main, `feature` (adds b.txt) and `dev` (a copy of main)."""
    server.client().create_repository(repositoryName=name)
    git(env, "init", "-q", "-b", "main", str(work))
    (work / "a.txt").write_text("a\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "base", cwd=work)
    git(env, "branch", "dev", cwd=work)
    git(env, "checkout", "-q", "-b", "feature", cwd=work)
    (work / "b.txt").write_text("b\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "feature", cwd=work)
    git(env, "push", "-q", server.git_url(name), "main", "dev", "feature", cwd=work)


def _pr(cc: Any, name: str, dest: str) -> dict[str, Any]:
    target = {"repositoryName": name, "sourceReference": "feature", "destinationReference": dest}
    return dict(cc.create_pull_request(title="t", targets=[target])["pullRequest"])


def _templates(cc: Any, repo: str, template: str) -> tuple[Any, ...]:
    got = cc.get_approval_rule_template(approvalRuleTemplateName=template)
    mine = cc.list_associated_approval_rule_templates_for_repository(repositoryName=repo)
    return got["approvalRuleTemplate"], mine["approvalRuleTemplateNames"]


def test_template_rules_land_on_new_pull_requests_to_its_branches(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    _repo(server, git_env, repo_name, tmp_path / "w")
    cc = server.client()
    name = f"tpl-{uuid.uuid4().hex[:6]}"
    other = f"all-{uuid.uuid4().hex[:6]}"
    content = _content(2, ["refs/heads/main"])
    created = cc.create_approval_rule_template(
        approvalRuleTemplateName=name,
        approvalRuleTemplateContent=content,
        approvalRuleTemplateDescription="two for main",
    )["approvalRuleTemplate"]
    assert created["approvalRuleTemplateContent"] == content
    assert created["approvalRuleTemplateDescription"] == "two for main"
    cc.create_approval_rule_template(
        approvalRuleTemplateName=other, approvalRuleTemplateContent=_content(1)
    )
    assert {name, other} <= set(cc.list_approval_rule_templates()["approvalRuleTemplateNames"])

    # a pull request made before the association gets no rule
    before = _pr(cc, repo_name, "main")
    assert before["approvalRules"] == []
    cc.associate_approval_rule_template_with_repository(
        approvalRuleTemplateName=name, repositoryName=repo_name
    )
    missing = f"nope-{uuid.uuid4().hex[:6]}"
    batch = cc.batch_associate_approval_rule_template_with_repositories(
        approvalRuleTemplateName=other, repositoryNames=[repo_name, missing]
    )
    assert batch["associatedRepositoryNames"] == [repo_name]
    assert [(e["repositoryName"], e["errorCode"]) for e in batch["errors"]] == [
        (missing, "RepositoryDoesNotExistException")
    ]
    listed = cc.list_associated_approval_rule_templates_for_repository(repositoryName=repo_name)
    assert listed["approvalRuleTemplateNames"] == sorted([name, other])
    assert cc.list_repositories_for_approval_rule_template(approvalRuleTemplateName=name)[
        "repositoryNames"
    ] == [repo_name]
    assert (
        cc.get_pull_request(pullRequestId=before["pullRequestId"])["pullRequest"]["approvalRules"]
        == []
    )

    # a pull request into main gets both rules; one into dev only the one for every branch
    to_main = _pr(cc, repo_name, "main")
    rules = {r["approvalRuleName"]: r for r in to_main["approvalRules"]}
    assert set(rules) == {name, other}
    assert rules[name]["originApprovalRuleTemplate"] == {
        "approvalRuleTemplateId": created["approvalRuleTemplateId"],
        "approvalRuleTemplateName": name,
    }
    assert rules[name]["approvalRuleContent"] == content
    cc.update_pull_request_status(pullRequestId=before["pullRequestId"], pullRequestStatus="CLOSED")
    to_dev = _pr(cc, repo_name, "dev")
    assert [r["approvalRuleName"] for r in to_dev["approvalRules"]] == [other]
    events = cc.describe_pull_request_events(
        pullRequestId=to_main["pullRequestId"],
        pullRequestEventType="PULL_REQUEST_APPROVAL_RULE_CREATED",
    )["pullRequestEvents"]
    assert sorted(e["approvalRuleEventMetadata"]["approvalRuleName"] for e in events) == sorted(
        [name, other]
    )

    # the pull request cannot edit or delete a rule from a template; the merge waits for it
    pr_id = to_main["pullRequestId"]
    snapshot = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
    code = _code(
        cc.update_pull_request_approval_rule_content,
        pullRequestId=pr_id,
        approvalRuleName=name,
        newRuleContent=_content(1),
    )
    assert code == "CannotModifyApprovalRuleFromTemplateException"
    code = _code(cc.delete_pull_request_approval_rule, pullRequestId=pr_id, approvalRuleName=name)
    assert code == "CannotDeleteApprovalRuleFromTemplateException"
    code = _code(
        cc.merge_pull_request_by_fast_forward, pullRequestId=pr_id, repositoryName=repo_name
    )
    assert code == "PullRequestApprovalRulesNotSatisfiedException"
    assert cc.get_pull_request(pullRequestId=pr_id)["pullRequest"] == snapshot

    # renaming, describing and changing the template; a stale hash is refused
    state = _templates(cc, repo_name, name)
    code = _code(
        cc.update_approval_rule_template_content,
        approvalRuleTemplateName=name,
        newRuleContent=_content(3),
        existingRuleContentSha256="0" * 64,
    )
    assert code == "InvalidRuleContentSha256Exception"
    code = _code(
        cc.update_approval_rule_template_name,
        oldApprovalRuleTemplateName=name,
        newApprovalRuleTemplateName=other,
    )
    assert code == "ApprovalRuleTemplateNameAlreadyExistsException"
    code = _code(cc.delete_approval_rule_template, approvalRuleTemplateName=name)
    assert code == "ApprovalRuleTemplateInUseException"
    assert _templates(cc, repo_name, name) == state
    cc.update_approval_rule_template_content(
        approvalRuleTemplateName=name,
        newRuleContent=_content(3),
        existingRuleContentSha256=created["ruleContentSha256"],
    )
    cc.update_approval_rule_template_description(
        approvalRuleTemplateName=name, approvalRuleTemplateDescription="three"
    )
    renamed = f"{name}-x"
    got = cc.update_approval_rule_template_name(
        oldApprovalRuleTemplateName=name, newApprovalRuleTemplateName=renamed
    )["approvalRuleTemplate"]
    assert got["approvalRuleTemplateId"] == created["approvalRuleTemplateId"]
    assert got["approvalRuleTemplateDescription"] == "three"
    assert got["approvalRuleTemplateContent"] == _content(3)
    # the existing pull request keeps the rule it was given
    kept = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]["approvalRules"]
    assert {r["approvalRuleContent"] for r in kept if r["approvalRuleName"] == name} == {content}

    # dissociated, a template no longer applies, and can be deleted
    cc.disassociate_approval_rule_template_from_repository(
        approvalRuleTemplateName=renamed, repositoryName=repo_name
    )
    cc.batch_disassociate_approval_rule_template_from_repositories(
        approvalRuleTemplateName=other, repositoryNames=[repo_name]
    )
    cc.update_pull_request_status(pullRequestId=to_dev["pullRequestId"], pullRequestStatus="CLOSED")
    cc.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="CLOSED")
    assert _pr(cc, repo_name, "main")["approvalRules"] == []
    deleted = cc.delete_approval_rule_template(approvalRuleTemplateName=renamed)
    assert deleted["approvalRuleTemplateId"] == created["approvalRuleTemplateId"]
    assert (
        cc.delete_approval_rule_template(approvalRuleTemplateName=renamed)["approvalRuleTemplateId"]
        == ""
    )
    code = _code(cc.get_approval_rule_template, approvalRuleTemplateName=renamed)
    assert code == "ApprovalRuleTemplateDoesNotExistException"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad:name", _content(1), "InvalidApprovalRuleTemplateNameException"),
        (
            "ok",
            '{"Version": "2018-11-08", "Statements": []}',
            "InvalidApprovalRuleTemplateContentException",
        ),
        ("ok", _content(1, ["main"]), "InvalidApprovalRuleTemplateContentException"),
    ],
)
def test_bad_template_is_refused_and_nothing_is_created(
    server: Server, name: str, content: str, expected: str
) -> None:
    cc = server.client()
    before = cc.list_approval_rule_templates(maxResults=100)["approvalRuleTemplateNames"]
    code = _code(
        cc.create_approval_rule_template,
        approvalRuleTemplateName=name,
        approvalRuleTemplateContent=content,
    )
    assert code == expected
    assert cc.list_approval_rule_templates(maxResults=100)["approvalRuleTemplateNames"] == before
