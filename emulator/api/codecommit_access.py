"""Who may call each CodeCommit operation, declared once: `ACCESS[operation]`.

Each declaration names the IAM action, the resources the call acts on and the condition keys it
fills in; `emulator.api.service.authorize_call` applies it through the one gate before the
handler runs. Every operation of the model has one, the ones ccemu does not serve yet too, so a
handler written later is authorized as declared here (a test keeps the table complete).

The actions and resources follow the Service Authorization Reference for AWS CodeCommit
("Actions, resources, and condition keys for AWS CodeCommit"): most act on the repository's
ARN; the approval rule template actions, `ListRepositories`, and
`ListRepositoriesForApprovalRuleTemplate` on `*`. The actions it lists with the
`codecommit:References` key carry the Git reference the call changes or reads, as a push does
per ref (`refs/heads/<branch>`), so AWS's documented branch protection ("Limit pushes and merges
to branches": Deny with `StringEqualsIfExists` and `Null` on `codecommit:References`) holds at
the API as at the git doors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emulator.api.service import Access, ContextRule, Params, RequestContext, ResourceRule
from emulator.arns import partition_for
from emulator.codecommit_errors import error
from emulator.repos.names import validate_repository_name

REFERENCES = "codecommit:References"
_HEADS = "refs/heads/"
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")


def repository_arn(ctx: RequestContext, name: str) -> str:
    return f"arn:{partition_for(ctx.region)}:codecommit:{ctx.region}:{ctx.account}:{name}"


def parse_repository_arn(arn: str | None) -> tuple[str, str, str]:
    """(region, account, name) of a CodeCommit repository ARN, or CodeCommit's error for it."""
    if not arn:
        raise error("ResourceArnRequiredException")
    invalid = error("InvalidResourceArnException")
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "codecommit":
        raise invalid
    _, partition, _, region, account, name = parts
    if partition != partition_for(region) or not region:
        raise invalid
    if len(account) != 12 or not account.isdigit():
        raise invalid
    return region, account, validate_repository_name(name)


# -- resources --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    """The repository named by one input member, in the caller's account and region."""

    member: str = "repositoryName"

    @property
    def members(self) -> tuple[str, ...]:
        return (self.member,)

    def arns(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        return [repository_arn(ctx, validate_repository_name(params.get(self.member)))]


@dataclass(frozen=True)
class Repositories:
    """Each repository named in a list member (batch operations authorize every one)."""

    member: str = "repositoryNames"

    @property
    def members(self) -> tuple[str, ...]:
        return (self.member,)

    def arns(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        names = dict.fromkeys(validate_repository_name(n) for n in params.get(self.member) or ())
        return [repository_arn(ctx, name) for name in names]


@dataclass(frozen=True)
class PullRequestTargets:
    """The repository of each target of a new pull request (`targets[].repositoryName`)."""

    member: str = "targets"

    @property
    def members(self) -> tuple[str, ...]:
        return (self.member,)

    def arns(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        targets: list[dict[str, Any]] = params.get(self.member) or []
        names = dict.fromkeys(validate_repository_name(t.get("repositoryName")) for t in targets)
        return [repository_arn(ctx, name) for name in names]


@dataclass(frozen=True)
class ResourceArn:
    """The repository ARN the caller passes (tagging); authorized as given."""

    member: str = "resourceArn"

    @property
    def members(self) -> tuple[str, ...]:
        return (self.member,)

    def arns(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        arn = params.get(self.member)
        parse_repository_arn(arn)
        return [str(arn)]


@dataclass(frozen=True)
class AnyResource:
    """An action that takes no resource ARN: the Service Authorization Reference lists it with
    no resource type, so a policy names it with `"Resource": "*"`."""

    @property
    def members(self) -> tuple[str, ...]:
        return ()

    def arns(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        return ["*"]


@dataclass(frozen=True)
class PullRequestRepository:
    """The repository a pull request belongs to, found by the pull request's id in the
    caller's account and region (an id that names none is answered as not found)."""

    member: str = "pullRequestId"

    @property
    def members(self) -> tuple[str, ...]:
        return (self.member,)

    def arns(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        pr = ctx.emu.pull_requests.find(ctx.account, ctx.region, params.get(self.member))
        return [repository_arn(ctx, pr.repository_name)]


@dataclass(frozen=True)
class CommentRepository:
    """The repository a comment belongs to, found by the comment's id (`commentId`, or
    `inReplyTo` for a reply) in the caller's account and region (an id that names none is
    answered as not found)."""

    member: str = "commentId"

    @property
    def members(self) -> tuple[str, ...]:
        return (self.member,)

    def arns(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        comment = ctx.emu.comments.find(ctx.account, ctx.region, params.get(self.member))
        return [repository_arn(ctx, comment.on.repository_name)]


# -- condition keys ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Branch:
    """`codecommit:References` = `refs/heads/<member>`: the branch the call creates, deletes or
    commits to. With `otherwise`, a commit specifier used when the branch member is absent
    (a merge without `targetBranch` applies to the destination)."""

    member: str
    otherwise: str | None = None
    key: str = REFERENCES

    @property
    def members(self) -> tuple[str, ...]:
        return (self.member,) if self.otherwise is None else (self.member, self.otherwise)

    def values(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        branch = params.get(self.member)
        if branch:
            return [_HEADS + str(branch)]
        if self.otherwise is not None:
            return CommitSpecifier(self.otherwise).values(ctx, params)
        return []


@dataclass(frozen=True)
class CommitSpecifier:
    """`codecommit:References` from a commit specifier: a full reference as given, a branch
    name as `refs/heads/<name>`, nothing for a commit ID (it names no reference)."""

    member: str
    key: str = REFERENCES

    @property
    def members(self) -> tuple[str, ...]:
        return (self.member,)

    def values(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        spec = params.get(self.member)
        if not spec or _FULL_SHA.fullmatch(str(spec)):
            return []
        spec = str(spec)
        return [spec if spec.startswith("refs/") else _HEADS + spec]


@dataclass(frozen=True)
class PullRequestDestination:
    """`codecommit:References` = the destination reference of the pull request being merged
    (`refs/heads/<branch>`), as AWS's branch protection for merges of pull requests expects."""

    member: str = "pullRequestId"
    key: str = REFERENCES

    @property
    def members(self) -> tuple[str, ...]:
        return (self.member,)

    def values(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        pr = ctx.emu.pull_requests.find(ctx.account, ctx.region, params.get(self.member))
        return [pr.destination_ref]


# -- the table --------------------------------------------------------------------------------

_REPO = Repository()
_ANY = AnyResource()
_PULL_REQUEST = PullRequestRepository()
_COMMENT = CommentRepository()
_REPLY = CommentRepository("inReplyTo")


def _on(resource: ResourceRule, *context: ContextRule, ops: Sequence[str]) -> dict[str, Access]:
    return {op: Access(f"codecommit:{op}", resource, tuple(context)) for op in ops}


ACCESS: dict[str, Access] = {
    # Repositories, branches, triggers, files, commits, differences, merges, comments on
    # commits: the repository named in the request.
    **_on(
        _REPO,
        ops=(
            "AssociateApprovalRuleTemplateWithRepository",
            "BatchDescribeMergeConflicts",
            "BatchGetCommits",
            "CreateRepository",
            "DeleteRepository",
            "DescribeMergeConflicts",
            "DisassociateApprovalRuleTemplateFromRepository",
            "GetBlob",
            "GetBlobDifferences",
            "GetBranch",
            "GetCommentsForComparedCommit",
            "GetCommit",
            "GetDifferences",
            "GetFile",
            "GetFolder",
            "GetMergeConflicts",
            "GetMergeOptions",
            "GetRepository",
            "GetRepositoryTriggers",
            "ListAssociatedApprovalRuleTemplatesForRepository",
            "ListBranches",
            "ListFileCommitHistory",
            "ListPullRequests",
            "PostCommentForComparedCommit",
            "PostCommentForPullRequest",
            "PutRepositoryTriggers",
            "TestRepositoryTriggers",
            "UpdateDefaultBranch",
            "UpdateRepositoryDescription",
            "UpdateRepositoryEncryptionKey",
        ),
    ),
    **_on(Repository("oldName"), ops=("UpdateRepositoryName",)),
    **_on(
        Repositories(),
        ops=(
            "BatchAssociateApprovalRuleTemplateWithRepositories",
            "BatchDisassociateApprovalRuleTemplateFromRepositories",
            "BatchGetRepositories",
        ),
    ),
    **_on(ResourceArn(), ops=("ListTagsForResource", "TagResource", "UntagResource")),
    # The actions with `codecommit:References`: the branch they change.
    **_on(
        _REPO,
        Branch("branchName"),
        ops=("CreateBranch", "CreateCommit", "DeleteBranch", "DeleteFile", "PutFile"),
    ),
    **_on(
        _REPO,
        Branch("targetBranch", otherwise="destinationCommitSpecifier"),
        ops=("MergeBranchesByFastForward", "MergeBranchesBySquash", "MergeBranchesByThreeWay"),
    ),
    **_on(
        _REPO,
        CommitSpecifier("destinationCommitSpecifier"),
        ops=("CreateUnreferencedMergeCommit", "GetMergeCommit"),
    ),
    # The request names the repository; the branch is the pull request's destination.
    **_on(
        _REPO,
        PullRequestDestination(),
        ops=(
            "MergePullRequestByFastForward",
            "MergePullRequestBySquash",
            "MergePullRequestByThreeWay",
        ),
    ),
    # Pull requests and comments: the repository they belong to.
    **_on(PullRequestTargets(), ops=("CreatePullRequest",)),
    **_on(
        _PULL_REQUEST,
        ops=(
            "CreatePullRequestApprovalRule",
            "DeletePullRequestApprovalRule",
            "DescribePullRequestEvents",
            "EvaluatePullRequestApprovalRules",
            "GetCommentsForPullRequest",
            "GetPullRequest",
            "GetPullRequestApprovalStates",
            "GetPullRequestOverrideState",
            "OverridePullRequestApprovalRules",
            "UpdatePullRequestApprovalRuleContent",
            "UpdatePullRequestApprovalState",
            "UpdatePullRequestDescription",
            "UpdatePullRequestStatus",
            "UpdatePullRequestTitle",
        ),
    ),
    **_on(
        _COMMENT,
        ops=(
            "DeleteCommentContent",
            "GetComment",
            "GetCommentReactions",
            "PutCommentReaction",
            "UpdateComment",
        ),
    ),
    **_on(_REPLY, ops=("PostCommentReply",)),
    # No resource type in the reference: `*`.
    **_on(
        _ANY,
        ops=(
            "CreateApprovalRuleTemplate",
            "DeleteApprovalRuleTemplate",
            "GetApprovalRuleTemplate",
            "ListApprovalRuleTemplates",
            "ListRepositories",
            "ListRepositoriesForApprovalRuleTemplate",
            "UpdateApprovalRuleTemplateContent",
            "UpdateApprovalRuleTemplateDescription",
            "UpdateApprovalRuleTemplateName",
        ),
    ),
}
