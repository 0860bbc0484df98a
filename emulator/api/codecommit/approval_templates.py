"""CodeCommit's approval rule templates: Create / Get / List / Delete ApprovalRuleTemplate,
UpdateApprovalRuleTemplateName / Description / Content, Associate / Disassociate (single and
batch), ListAssociatedApprovalRuleTemplatesForRepository and
ListRepositoriesForApprovalRuleTemplate. The rules are `emulator.repos.approval_templates`'s.
"""

from __future__ import annotations

from emulator.api.codecommit.common import Output, repository
from emulator.api.pagination import page
from emulator.api.service import RequestContext
from emulator.codecommit_errors import error
from emulator.errors import ClientError
from emulator.repos.approval_templates import Template

PAGE = 100
MAX_PAGE = 100
MAX_BATCH = 100

MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "approvalRuleTemplateName": (
        "ApprovalRuleTemplateNameRequiredException",
        "InvalidApprovalRuleTemplateNameException",
    ),
    "oldApprovalRuleTemplateName": (
        "ApprovalRuleTemplateNameRequiredException",
        "InvalidApprovalRuleTemplateNameException",
    ),
    "newApprovalRuleTemplateName": (
        "ApprovalRuleTemplateNameRequiredException",
        "InvalidApprovalRuleTemplateNameException",
    ),
    "approvalRuleTemplateContent": (
        "ApprovalRuleTemplateContentRequiredException",
        "InvalidApprovalRuleTemplateContentException",
    ),
    "approvalRuleTemplateDescription": (None, "InvalidApprovalRuleTemplateDescriptionException"),
    "newRuleContent": (
        "ApprovalRuleTemplateContentRequiredException",
        "InvalidApprovalRuleTemplateContentException",
    ),
}


def _template(t: Template) -> Output:
    return {
        "approvalRuleTemplateId": t.id,
        "approvalRuleTemplateName": t.name,
        "approvalRuleTemplateDescription": t.description,
        "approvalRuleTemplateContent": t.content,
        "ruleContentSha256": t.sha256,
        "lastModifiedDate": t.modified,
        "creationDate": t.created,
        "lastModifiedUser": t.modified_by,
    }


def _size(value: int | None) -> int:
    if value is None:
        return PAGE
    if value < 1 or value > MAX_PAGE:
        raise error("InvalidMaxResultsException")
    return value


def create_approval_rule_template(
    ctx: RequestContext,
    approval_rule_template_name: str,
    approval_rule_template_content: str,
    approval_rule_template_description: str | None = None,
) -> Output:
    t = ctx.emu.approval_templates.create(
        ctx.account,
        ctx.region,
        approval_rule_template_name,
        approval_rule_template_content,
        approval_rule_template_description,
        ctx.principal.arn,
    )
    return {"approvalRuleTemplate": _template(t)}


def get_approval_rule_template(ctx: RequestContext, approval_rule_template_name: str) -> Output:
    t = ctx.emu.approval_templates.get(ctx.account, ctx.region, approval_rule_template_name)
    return {"approvalRuleTemplate": _template(t)}


def list_approval_rule_templates(
    ctx: RequestContext, next_token: str | None = None, max_results: int | None = None
) -> Output:
    size = _size(max_results)
    names = ctx.emu.approval_templates.names(ctx.account, ctx.region)
    items, token = page(names, next_token, size, f"templates:{ctx.account}:{ctx.region}")
    return {"approvalRuleTemplateNames": list(items), "nextToken": token}


def delete_approval_rule_template(ctx: RequestContext, approval_rule_template_name: str) -> Output:
    key = ctx.emu.approval_templates.delete(ctx.account, ctx.region, approval_rule_template_name)
    return {"approvalRuleTemplateId": key}


def update_approval_rule_template_name(
    ctx: RequestContext, old_approval_rule_template_name: str, new_approval_rule_template_name: str
) -> Output:
    t = ctx.emu.approval_templates.rename(
        ctx.account,
        ctx.region,
        old_approval_rule_template_name,
        new_approval_rule_template_name,
        ctx.principal.arn,
    )
    return {"approvalRuleTemplate": _template(t)}


def update_approval_rule_template_description(
    ctx: RequestContext, approval_rule_template_name: str, approval_rule_template_description: str
) -> Output:
    t = ctx.emu.approval_templates.describe(
        ctx.account,
        ctx.region,
        approval_rule_template_name,
        approval_rule_template_description,
        ctx.principal.arn,
    )
    return {"approvalRuleTemplate": _template(t)}


def update_approval_rule_template_content(
    ctx: RequestContext,
    approval_rule_template_name: str,
    new_rule_content: str,
    existing_rule_content_sha256: str | None = None,
) -> Output:
    t = ctx.emu.approval_templates.update_content(
        ctx.account,
        ctx.region,
        approval_rule_template_name,
        new_rule_content,
        existing_rule_content_sha256,
        ctx.principal.arn,
    )
    return {"approvalRuleTemplate": _template(t)}


def associate_approval_rule_template_with_repository(
    ctx: RequestContext, approval_rule_template_name: str, repository_name: str
) -> Output:
    templates = ctx.emu.approval_templates
    t = templates.get(ctx.account, ctx.region, approval_rule_template_name)
    templates.associate(t, repository(ctx, repository_name))
    return {}


def disassociate_approval_rule_template_from_repository(
    ctx: RequestContext, approval_rule_template_name: str, repository_name: str
) -> Output:
    templates = ctx.emu.approval_templates
    t = templates.get(ctx.account, ctx.region, approval_rule_template_name)
    templates.disassociate(t, repository(ctx, repository_name))
    return {}


def _batch(
    ctx: RequestContext, name: str, repository_names: list[str], associate: bool
) -> tuple[list[str], list[Output]]:
    if not repository_names:
        raise error("RepositoryNamesRequiredException")
    if len(repository_names) > MAX_BATCH:
        raise error("MaximumRepositoryNamesExceededException")
    templates = ctx.emu.approval_templates
    t = templates.get(ctx.account, ctx.region, name)
    done: list[str] = []
    errors: list[Output] = []
    for repo_name in repository_names:
        try:
            repo = repository(ctx, repo_name)
            if associate:
                templates.associate(t, repo)
            else:
                templates.disassociate(t, repo)
        except ClientError as exc:
            errors.append(
                {"repositoryName": repo_name, "errorCode": exc.code, "errorMessage": exc.message}
            )
        else:
            done.append(repo_name)
    return done, errors


def batch_associate_approval_rule_template_with_repositories(
    ctx: RequestContext, approval_rule_template_name: str, repository_names: list[str]
) -> Output:
    done, errors = _batch(ctx, approval_rule_template_name, repository_names, True)
    return {"associatedRepositoryNames": done, "errors": errors}


def batch_disassociate_approval_rule_template_from_repositories(
    ctx: RequestContext, approval_rule_template_name: str, repository_names: list[str]
) -> Output:
    done, errors = _batch(ctx, approval_rule_template_name, repository_names, False)
    return {"disassociatedRepositoryNames": done, "errors": errors}


def list_associated_approval_rule_templates_for_repository(
    ctx: RequestContext,
    repository_name: str,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Output:
    size = _size(max_results)
    repo = repository(ctx, repository_name)
    names = ctx.emu.approval_templates.for_repository(repo)
    items, token = page(names, next_token, size, f"repo-templates:{repo.id}")
    return {"approvalRuleTemplateNames": list(items), "nextToken": token}


def list_repositories_for_approval_rule_template(
    ctx: RequestContext,
    approval_rule_template_name: str,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Output:
    size = _size(max_results)
    templates = ctx.emu.approval_templates
    t = templates.get(ctx.account, ctx.region, approval_rule_template_name)
    names = templates.repositories(t)
    items, token = page(names, next_token, size, f"template-repos:{t.id}")
    return {"repositoryNames": list(items), "nextToken": token}
