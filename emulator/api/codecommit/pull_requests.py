"""CodeCommit's pull requests: CreatePullRequest, GetPullRequest, ListPullRequests,
UpdatePullRequestTitle / Description / Status, DescribePullRequestEvents and
MergePullRequestByFastForward / BySquash / ByThreeWay. The rules are
`emulator.repos.pull_requests`'s; this module renders its pull requests as the model names them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from emulator.api.codecommit.approvals import approval_rules_of
from emulator.api.codecommit.common import Output, entry_error, repository
from emulator.api.pagination import offset_of, token_at
from emulator.api.service import RequestContext
from emulator.api.shapes import Invalid
from emulator.codecommit_errors import error
from emulator.errors import ServiceError
from emulator.repos.branch_merges import FAST_FORWARD, SQUASH, THREE_WAY, MergeCommit
from emulator.repos.pull_request_model import Event, PullRequest

PAGE = 100  # the model documents no default page size
MAX_PAGE = 1000
_ARN = re.compile(r"arn:[a-z-]+:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+")

MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "pullRequestId": ("PullRequestIdRequiredException", "InvalidPullRequestIdException"),
    "title": ("TitleRequiredException", "InvalidTitleException"),
    "description": (None, "InvalidDescriptionException"),
    "targets": ("TargetsRequiredException", "InvalidTargetsException"),
    "clientRequestToken": (
        "ClientRequestTokenRequiredException",
        "InvalidClientRequestTokenException",
    ),
    "pullRequestStatus": (
        "PullRequestStatusRequiredException",
        "InvalidPullRequestStatusException",
    ),
    "authorArn": (None, "InvalidAuthorArnException"),
    "actorArn": (None, "InvalidActorArnException"),
    "pullRequestEventType": (None, "InvalidPullRequestEventTypeException"),
    "maxResults": (None, "InvalidMaxResultsException"),
    "sourceCommitId": (None, "InvalidCommitIdException"),
}


_TARGET_ERRORS: dict[str, tuple[str, str]] = {
    "repositoryName": ("RepositoryNameRequiredException", "InvalidRepositoryNameException"),
    "sourceReference": ("ReferenceNameRequiredException", "InvalidReferenceNameException"),
    "destinationReference": ("ReferenceNameRequiredException", "InvalidReferenceNameException"),
}


def _targets_error(failures: list[Invalid]) -> ServiceError:
    """A constraint broken inside `targets`: the error of the target's member."""
    first = failures[0]
    if first.path == first.member:
        return error(
            "TargetsRequiredException" if first.reason == "required" else "InvalidTargetsException"
        )
    return entry_error(failures, _TARGET_ERRORS, error("InvalidTargetException"))


MEMBER_VALIDATION: dict[str, Callable[[list[Invalid]], ServiceError]] = {
    "targets": _targets_error,
}


def _pull_request(ctx: RequestContext, pr: PullRequest) -> Output:
    merge: Output = {"isMerged": pr.merge.merged}
    if pr.merge.merged_by is not None:
        merge["mergedBy"] = pr.merge.merged_by
    if pr.merge.merge_commit is not None:
        merge["mergeCommitId"] = pr.merge.merge_commit
    if pr.merge.merge_option is not None:
        merge["mergeOption"] = pr.merge.merge_option
    target: Output = {
        "repositoryName": pr.repository_name,
        "sourceReference": pr.source_ref,
        "destinationReference": pr.destination_ref,
        "destinationCommit": pr.revision.destination_commit,
        "sourceCommit": pr.revision.source_commit,
        "mergeMetadata": merge,
    }
    if pr.revision.merge_base is not None:
        target["mergeBase"] = pr.revision.merge_base
    out: Output = {
        "pullRequestId": pr.id,
        "title": pr.title,
        "lastActivityDate": pr.last_activity,
        "creationDate": pr.created,
        "pullRequestStatus": pr.status,
        "authorArn": pr.author,
        "pullRequestTargets": [target],
        "revisionId": pr.revision.id,
        "approvalRules": approval_rules_of(ctx, pr),
    }
    if pr.description is not None:
        out["description"] = pr.description
    if pr.client_token is not None:
        out["clientRequestToken"] = pr.client_token
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _metadata(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(k): _metadata(v) for k, v in value.items()}
    return value


_METADATA_MEMBER = {
    "PULL_REQUEST_CREATED": "pullRequestCreatedEventMetadata",
    "PULL_REQUEST_STATUS_CHANGED": "pullRequestStatusChangedEventMetadata",
    "PULL_REQUEST_SOURCE_REFERENCE_UPDATED": "pullRequestSourceReferenceUpdatedEventMetadata",
    "PULL_REQUEST_MERGE_STATE_CHANGED": "pullRequestMergedStateChangedEventMetadata",
    "PULL_REQUEST_APPROVAL_RULE_CREATED": "approvalRuleEventMetadata",
    "PULL_REQUEST_APPROVAL_RULE_UPDATED": "approvalRuleEventMetadata",
    "PULL_REQUEST_APPROVAL_RULE_DELETED": "approvalRuleEventMetadata",
    "PULL_REQUEST_APPROVAL_RULE_OVERRIDDEN": "approvalRuleOverriddenEventMetadata",
    "PULL_REQUEST_APPROVAL_STATE_CHANGED": "approvalStateChangedEventMetadata",
}


def _event(event: Event) -> Output:
    out: Output = {
        "pullRequestId": event.pull_request_id,
        "eventDate": event.date,
        "pullRequestEventType": event.kind,
        "actorArn": event.actor,
    }
    member = _METADATA_MEMBER.get(event.kind)
    if member is not None:
        out[member] = _metadata(dict(event.metadata))
    return out


def _page_size(value: int | None) -> int:
    if value is None:
        return PAGE
    if value < 1 or value > MAX_PAGE:
        raise error("InvalidMaxResultsException")
    return value


def _arn(value: str | None, invalid: str) -> str | None:
    if value is not None and not _ARN.fullmatch(value):
        raise error(invalid)
    return value


# -- operations -----------------------------------------------------------------------------------


def create_pull_request(
    ctx: RequestContext,
    title: str,
    targets: list[dict[str, Any]],
    description: str | None = None,
    client_request_token: str | None = None,
) -> Output:
    if not targets:
        raise error("TargetsRequiredException")
    if len(targets) > 1:
        raise error("MultipleRepositoriesInPullRequestException")
    target = targets[0]
    repo = repository(ctx, target.get("repositoryName"))
    pr = ctx.emu.pull_requests.create(
        repo,
        title=title,
        description=description,
        source=target.get("sourceReference"),
        destination=target.get("destinationReference"),
        client_token=client_request_token,
        author=ctx.principal.arn,
    )
    return {"pullRequest": _pull_request(ctx, pr)}


def get_pull_request(ctx: RequestContext, pull_request_id: str) -> Output:
    pr = ctx.emu.pull_requests.find(ctx.account, ctx.region, pull_request_id)
    return {"pullRequest": _pull_request(ctx, pr)}


def list_pull_requests(
    ctx: RequestContext,
    repository_name: str,
    author_arn: str | None = None,
    pull_request_status: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Output:
    size = _page_size(max_results)
    _arn(author_arn, "InvalidAuthorArnException")
    if author_arn is not None and not ctx.emu.iam.identity_exists(author_arn):
        raise error("AuthorDoesNotExistException")
    repo = repository(ctx, repository_name)
    # Keyset paging: the token holds the last number of the page before (0 never is one).
    listing = f"pull-requests:{repo.id}:{author_arn}:{pull_request_status}"
    below = offset_of(next_token, listing) or None
    numbers = ctx.emu.pull_requests.list_ids(
        repo, author_arn, pull_request_status, below=below, limit=size + 1
    )
    token = token_at(numbers[size - 1], listing) if len(numbers) > size else None
    return {"pullRequestIds": [str(n) for n in numbers[:size]], "nextToken": token}


def update_pull_request_title(ctx: RequestContext, pull_request_id: str, title: str) -> Output:
    prs = ctx.emu.pull_requests
    pr = prs.update_title(
        prs.find(ctx.account, ctx.region, pull_request_id), title, ctx.principal.arn
    )
    return {"pullRequest": _pull_request(ctx, pr)}


def update_pull_request_description(
    ctx: RequestContext, pull_request_id: str, description: str
) -> Output:
    prs = ctx.emu.pull_requests
    pr = prs.update_description(
        prs.find(ctx.account, ctx.region, pull_request_id), description, ctx.principal.arn
    )
    return {"pullRequest": _pull_request(ctx, pr)}


def update_pull_request_status(
    ctx: RequestContext, pull_request_id: str, pull_request_status: str
) -> Output:
    prs = ctx.emu.pull_requests
    pr = prs.update_status(
        prs.find(ctx.account, ctx.region, pull_request_id), pull_request_status, ctx.principal.arn
    )
    return {"pullRequest": _pull_request(ctx, pr)}


def describe_pull_request_events(
    ctx: RequestContext,
    pull_request_id: str,
    pull_request_event_type: str | None = None,
    actor_arn: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Output:
    size = _page_size(max_results)
    _arn(actor_arn, "InvalidActorArnException")
    if actor_arn is not None and not ctx.emu.iam.identity_exists(actor_arn):
        raise error("ActorDoesNotExistException")
    prs = ctx.emu.pull_requests
    pr = prs.find(ctx.account, ctx.region, pull_request_id)
    # Keyset paging: the token holds the sequence number of the last event of the page before.
    listing = f"pull-request-events:{pr.key}:{pull_request_event_type}:{actor_arn}"
    after = offset_of(next_token, listing)
    found = prs.events(pr, pull_request_event_type, actor_arn, after=after, limit=size + 1)
    token = token_at(found[size - 1][0], listing) if len(found) > size else None
    return {"pullRequestEvents": [_event(e) for _, e in found[:size]], "nextToken": token}


def _merge(
    ctx: RequestContext,
    option: str,
    pull_request_id: str,
    repository_name: str,
    source_commit_id: str | None,
    **more: Any,
) -> Output:
    prs = ctx.emu.pull_requests
    pr = prs.find(ctx.account, ctx.region, pull_request_id)
    repo = repository(ctx, repository_name)
    merged = prs.merge(
        pr, repo, option, actor=ctx.principal.arn, source_commit=source_commit_id, **more
    )
    return {"pullRequest": _pull_request(ctx, merged)}


def merge_pull_request_by_fast_forward(
    ctx: RequestContext,
    pull_request_id: str,
    repository_name: str,
    source_commit_id: str | None = None,
) -> Output:
    return _merge(ctx, FAST_FORWARD, pull_request_id, repository_name, source_commit_id)


def _merge_writing(
    ctx: RequestContext,
    option: str,
    pull_request_id: str,
    repository_name: str,
    source_commit_id: str | None,
    conflict_detail_level: str | None,
    conflict_resolution_strategy: str | None,
    commit_message: str | None,
    author_name: str | None,
    email: str | None,
    keep_empty_folders: bool,
    conflict_resolution: dict[str, Any] | None,
) -> Output:
    return _merge(
        ctx,
        option,
        pull_request_id,
        repository_name,
        source_commit_id,
        level=conflict_detail_level,
        strategy=conflict_resolution_strategy,
        resolution=conflict_resolution,
        author=MergeCommit(author_name, email, commit_message, keep_empty_folders),
    )


def merge_pull_request_by_squash(
    ctx: RequestContext,
    pull_request_id: str,
    repository_name: str,
    source_commit_id: str | None = None,
    conflict_detail_level: str | None = None,
    conflict_resolution_strategy: str | None = None,
    commit_message: str | None = None,
    author_name: str | None = None,
    email: str | None = None,
    keep_empty_folders: bool = False,
    conflict_resolution: dict[str, Any] | None = None,
) -> Output:
    return _merge_writing(
        ctx,
        SQUASH,
        pull_request_id,
        repository_name,
        source_commit_id,
        conflict_detail_level,
        conflict_resolution_strategy,
        commit_message,
        author_name,
        email,
        keep_empty_folders,
        conflict_resolution,
    )


def merge_pull_request_by_three_way(
    ctx: RequestContext,
    pull_request_id: str,
    repository_name: str,
    source_commit_id: str | None = None,
    conflict_detail_level: str | None = None,
    conflict_resolution_strategy: str | None = None,
    commit_message: str | None = None,
    author_name: str | None = None,
    email: str | None = None,
    keep_empty_folders: bool = False,
    conflict_resolution: dict[str, Any] | None = None,
) -> Output:
    return _merge_writing(
        ctx,
        THREE_WAY,
        pull_request_id,
        repository_name,
        source_commit_id,
        conflict_detail_level,
        conflict_resolution_strategy,
        commit_message,
        author_name,
        email,
        keep_empty_folders,
        conflict_resolution,
    )
