"""CodeCommit's approval rules of pull requests: CreatePullRequestApprovalRule,
UpdatePullRequestApprovalRuleContent, DeletePullRequestApprovalRule,
UpdatePullRequestApprovalState, GetPullRequestApprovalStates, EvaluatePullRequestApprovalRules,
OverridePullRequestApprovalRules and GetPullRequestOverrideState. The rules are
`emulator.repos.approval_rules`'s; this module renders them as the model names them.
"""

from __future__ import annotations

from emulator.api.codecommit.common import Output
from emulator.api.service import RequestContext
from emulator.repos.approval_rules import ApprovalRule
from emulator.repos.pull_request_model import PullRequest

MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "approvalRuleName": ("ApprovalRuleNameRequiredException", "InvalidApprovalRuleNameException"),
    "approvalRuleContent": (
        "ApprovalRuleContentRequiredException",
        "InvalidApprovalRuleContentException",
    ),
    "newRuleContent": (
        "ApprovalRuleContentRequiredException",
        "InvalidApprovalRuleContentException",
    ),
    "existingRuleContentSha256": (None, "InvalidRuleContentSha256Exception"),
    "revisionId": ("RevisionIdRequiredException", "InvalidRevisionIdException"),
    "approvalState": ("ApprovalStateRequiredException", "InvalidApprovalStateException"),
    "overrideStatus": ("OverrideStatusRequiredException", "InvalidOverrideStatusException"),
}


def approval_rule(rule: ApprovalRule) -> Output:
    out: Output = {
        "approvalRuleId": rule.id,
        "approvalRuleName": rule.name,
        "approvalRuleContent": rule.content,
        "ruleContentSha256": rule.sha256,
        "lastModifiedDate": rule.modified,
        "creationDate": rule.created,
        "lastModifiedUser": rule.modified_by,
    }
    if rule.template_id is not None:
        out["originApprovalRuleTemplate"] = {
            "approvalRuleTemplateId": rule.template_id,
            "approvalRuleTemplateName": rule.template_name,
        }
    return out


def approval_rules_of(ctx: RequestContext, pr: PullRequest) -> list[Output]:
    """The `approvalRules` member of a pull request."""
    return [approval_rule(r) for r in ctx.emu.approval_rules.rules(pr)]


def _pr(ctx: RequestContext, pull_request_id: str) -> PullRequest:
    return ctx.emu.pull_requests.find(ctx.account, ctx.region, pull_request_id)


def create_pull_request_approval_rule(
    ctx: RequestContext, pull_request_id: str, approval_rule_name: str, approval_rule_content: str
) -> Output:
    rule = ctx.emu.approval_rules.create_rule(
        _pr(ctx, pull_request_id), approval_rule_name, approval_rule_content, ctx.principal.arn
    )
    return {"approvalRule": approval_rule(rule)}


def update_pull_request_approval_rule_content(
    ctx: RequestContext,
    pull_request_id: str,
    approval_rule_name: str,
    new_rule_content: str,
    existing_rule_content_sha256: str | None = None,
) -> Output:
    rule = ctx.emu.approval_rules.update_rule(
        _pr(ctx, pull_request_id),
        approval_rule_name,
        existing_rule_content_sha256,
        new_rule_content,
        ctx.principal.arn,
    )
    return {"approvalRule": approval_rule(rule)}


def delete_pull_request_approval_rule(
    ctx: RequestContext, pull_request_id: str, approval_rule_name: str
) -> Output:
    key = ctx.emu.approval_rules.delete_rule(
        _pr(ctx, pull_request_id), approval_rule_name, ctx.principal.arn
    )
    return {"approvalRuleId": key}


def update_pull_request_approval_state(
    ctx: RequestContext, pull_request_id: str, revision_id: str, approval_state: str
) -> Output:
    ctx.emu.approval_rules.set_approval(
        _pr(ctx, pull_request_id), revision_id, approval_state, ctx.principal.arn
    )
    return {}


def get_pull_request_approval_states(
    ctx: RequestContext, pull_request_id: str, revision_id: str
) -> Output:
    found = ctx.emu.approval_rules.approvals(_pr(ctx, pull_request_id), revision_id)
    return {"approvals": [{"userArn": a.approver, "approvalState": a.state} for a in found]}


def evaluate_pull_request_approval_rules(
    ctx: RequestContext, pull_request_id: str, revision_id: str
) -> Output:
    result = ctx.emu.approval_rules.evaluate(_pr(ctx, pull_request_id), revision_id)
    return {
        "evaluation": {
            "approved": result.approved,
            "overridden": result.overridden,
            "approvalRulesSatisfied": list(result.satisfied),
            "approvalRulesNotSatisfied": list(result.not_satisfied),
        }
    }


def override_pull_request_approval_rules(
    ctx: RequestContext, pull_request_id: str, revision_id: str, override_status: str
) -> Output:
    ctx.emu.approval_rules.set_override(
        _pr(ctx, pull_request_id), revision_id, override_status, ctx.principal.arn
    )
    return {}


def get_pull_request_override_state(
    ctx: RequestContext, pull_request_id: str, revision_id: str
) -> Output:
    overrider = ctx.emu.approval_rules.override_state(_pr(ctx, pull_request_id), revision_id)
    if overrider is None:
        return {"overridden": False}
    return {"overridden": True, "overrider": overrider}
