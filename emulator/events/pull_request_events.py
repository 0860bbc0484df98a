"""Pull request events as CodeCommit sends them: "CodeCommit Pull Request State Change".

Each event a pull request records (`PullRequestService.record`, inside the transaction of the
change) that has an entry in `PULL_REQUEST_EVENTS` becomes one EventBridge-style event, and fires
the notification rules that name its event type. The shape follows AWS's documented examples
and captured events (CodeCommit user guide, "Monitoring CodeCommit events in Amazon EventBridge"):

    detail: {author, callerUserArn, creationDate, [description], destinationCommit,
             destinationReference, event, isMerged ("True"/"False"), lastModifiedDate,
             [mergeOption], notificationBody, pullRequestId, pullRequestStatus ("Open"/"Closed"),
             repositoryNames, revisionId, sourceCommit, sourceReference, title}

Dates are written as AWS writes them there (Java's `Date.toString()` in UTC, e.g.
"Sat Dec 05 15:07:04 UTC 2020"). AWS's examples carry no `mergeBase`, so neither does ccemu.

A merge records two events, as `DescribePullRequestEvents` shows them: the merge state change
(`pullRequestMergeStatusUpdated`, event type `...-pull-request-merged`) and the status change to
CLOSED (`pullRequestStatusChanged` with `isMerged` "True").

Approval events have their entries too (`pullRequestApprovalStateChanged` with `approvalStatus`,
event type `...-approvals-status-changed`; `pullRequestApprovalRuleOverridden` with
`overrideStatus`, `...-approvals-rule-override`): they are sent once their producer records
them through `PullRequestService.record` with the metadata `approval_status` /
`override_status`. Another kind is one more entry in `PULL_REQUEST_EVENTS`. Events that are not
pull request events (comments) go through `EventService.publish` with their own detail type.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator.repos.pull_request_model import (
    CREATED,
    MERGE_STATE_CHANGED,
    SOURCE_UPDATED,
    STATUS_CHANGED,
    PullRequestChange,
)

DETAIL_TYPE = "CodeCommit Pull Request State Change"
# PullRequestEventType values written by the approval rules' code.
APPROVAL_STATE_CHANGED = "PULL_REQUEST_APPROVAL_STATE_CHANGED"
APPROVAL_RULE_OVERRIDDEN = "PULL_REQUEST_APPROVAL_RULE_OVERRIDDEN"
SOURCE = "aws.codecommit"


@dataclass(frozen=True)
class Kind:
    event: str  # the detail's `event`
    event_type_id: str  # the notification rule event type it fires
    body: Callable[[PullRequestChange, str], str]  # the notificationBody's own sentences
    members: Callable[[PullRequestChange], Mapping[str, object]] = lambda _change: {}


def _head(change: PullRequestChange) -> str:
    return (
        "A pull request event occurred in the following AWS CodeCommit repository:"
        f" {change.repository.name}."
    )


def _created(change: PullRequestChange, link: str) -> str:
    pr = change.pull_request
    return (
        f"{_head(change)} User: {change.actor}. Event: Created. Pull request name: {pr.id}."
        f" Additional information: A pull request was created with the following ID: {pr.id}."
        f" The title of the pull request is: {pr.title}. For more information, go to the AWS"
        f" CodeCommit console {link}."
    )


def _source_updated(change: PullRequestChange, link: str) -> str:
    pr = change.pull_request
    branch = pr.source_ref.removeprefix("refs/heads/")
    return (
        f"{_head(change)} User: {change.actor}. Event: Updated.  The user updated the following"
        f" pull request: {pr.id}. The pull request was updated with one or more commits to the"
        f" source branch: {branch}. For more information, go to the AWS CodeCommit console"
        f" {link}"
    )


def _status_changed(change: PullRequestChange, link: str) -> str:
    pr = change.pull_request
    return (
        f"{_head(change)} {change.actor} updated the following PullRequest {pr.id}. The pull"
        f" request status has been updated. The status is {pr.status.lower()}. For more"
        f" information, go to the AWS CodeCommit console {link}"
    )


def _merged(change: PullRequestChange, link: str) -> str:
    pr = change.pull_request
    return (
        f"{_head(change)} {change.actor} updated the following PullRequest {pr.id}. The pull"
        " request merge status has been updated. The status is merged. For more information,"
        f" go to the AWS CodeCommit console {link}"
    )


def _approval(change: PullRequestChange, link: str) -> str:
    return (
        f"{_head(change)} User: {change.actor}. Event: Updated. Pull request name:"
        f" {change.pull_request.id}. Additional information: A user has changed their approval"
        f" state for the pull request. State change: {change.metadata.get('approval_status')}."
        f" For more information, go to the AWS CodeCommit console {link}"
    )


def _override(change: PullRequestChange, link: str) -> str:
    return (
        f"{_head(change)} User: {change.actor}. Event: Updated. Pull request name:"
        f" {change.pull_request.id}. Additional information: An override event has occurred for"
        " the approval rules for this pull request. Override status:"
        f" {change.metadata.get('override_status')}. For more information, go to the AWS"
        f" CodeCommit console {link}"
    )


def _merge_option(change: PullRequestChange) -> Mapping[str, object]:
    option = change.pull_request.merge.merge_option
    return {} if option is None else {"mergeOption": option}


PULL_REQUEST_EVENTS: dict[str, Kind] = {
    CREATED: Kind("pullRequestCreated", "codecommit-repository-pull-request-created", _created),
    SOURCE_UPDATED: Kind(
        "pullRequestSourceBranchUpdated",
        "codecommit-repository-pull-request-source-updated",
        _source_updated,
    ),
    STATUS_CHANGED: Kind(
        "pullRequestStatusChanged",
        "codecommit-repository-pull-request-status-changed",
        _status_changed,
    ),
    MERGE_STATE_CHANGED: Kind(
        "pullRequestMergeStatusUpdated",
        "codecommit-repository-pull-request-merged",
        _merged,
        _merge_option,
    ),
    APPROVAL_STATE_CHANGED: Kind(
        "pullRequestApprovalStateChanged",
        "codecommit-repository-approvals-status-changed",
        _approval,
        lambda change: {"approvalStatus": change.metadata.get("approval_status")},
    ),
    APPROVAL_RULE_OVERRIDDEN: Kind(
        "pullRequestApprovalRuleOverridden",
        "codecommit-repository-approvals-rule-override",
        _override,
        lambda change: {"overrideStatus": change.metadata.get("override_status")},
    ),
}


def aws_date(when: datetime) -> str:
    """A date as CodeCommit's events write it: "Sat Dec 05 15:07:04 UTC 2020"."""
    return when.astimezone(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def console_link(region: str, repository: str, pull_request_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codecommit/repositories/"
        f"{repository}/pull-requests/{pull_request_id}?region={region}"
    )


def event_type_id(change: PullRequestChange) -> str | None:
    kind = PULL_REQUEST_EVENTS.get(change.kind)
    return None if kind is None else kind.event_type_id


def state_change(change: PullRequestChange) -> dict[str, object] | None:
    """The EventBridge-style event of one pull request event, or None for a kind that sends
    none (yet)."""
    kind = PULL_REQUEST_EVENTS.get(change.kind)
    if kind is None:
        return None
    pr, repo = change.pull_request, change.repository
    detail: dict[str, object] = {
        "author": pr.author,
        "callerUserArn": change.actor,
        "creationDate": aws_date(pr.created),
    }
    if pr.description:
        detail["description"] = pr.description
    detail.update(
        {
            "destinationCommit": pr.revision.destination_commit,
            "destinationReference": pr.destination_ref,
            "event": kind.event,
            "isMerged": "True" if pr.merge.merged else "False",
            "lastModifiedDate": aws_date(pr.last_activity),
        }
    )
    detail.update(kind.members(change))
    detail["notificationBody"] = kind.body(change, console_link(repo.region, repo.name, pr.id))
    detail.update(
        {
            "pullRequestId": pr.id,
            "pullRequestStatus": pr.status.capitalize(),
            "repositoryNames": [repo.name],
            "revisionId": pr.revision.id,
            "sourceCommit": pr.revision.source_commit,
            "sourceReference": pr.source_ref,
            "title": pr.title,
        }
    )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": repo.account,
        "time": change.date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": repo.region,
        "resources": [repo.arn],
        "detail": dict(sorted(detail.items())),
    }
