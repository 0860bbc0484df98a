"""Comment events as CodeCommit sends them: "CodeCommit Comment on Pull Request" and
"CodeCommit Comment on Commit".

Each comment the comment service stores (posted, replied to, edited) becomes one
EventBridge-style event and fires the notification rules that name its event type
(`codecommit-repository-comments-on-pull-requests` or `...-comments-on-commits`). The shape
follows AWS's documented examples (CodeCommit user guide, "Monitoring CodeCommit events in
Amazon EventBridge": commentOnCommitCreated / Updated, commentOnPullRequestCreated / Updated):

    detail: {afterCommitId, [beforeCommitId], callerUserArn, commentId, event, [inReplyTo],
             notificationBody, [pullRequestId], repositoryId, repositoryName}

A new comment is `...Created`. AWS's `...Updated` events are sent when a user "updated a
comment or replied to a comment" (their notification body's words), so a reply is `...Updated`
too, with `inReplyTo` naming the comment it answers; an edit of a reply carries it as well.
For a comment on commits a reply is named `{inReplyTo}:{commentId}` in the body, as AWS's
example names it. AWS adds `displayName` and `emailAddress` from session tags; ccemu's sessions
carry none, so neither do its events. Deleting a comment's content sends nothing (AWS
documents no event for it).
"""

from __future__ import annotations

import uuid
from datetime import UTC

from emulator.repos.comment_model import EDITED, POSTED, Comment
from emulator.repos.model import Repository

SOURCE = "aws.codecommit"
ON_PULL_REQUEST = "CodeCommit Comment on Pull Request"
ON_COMMIT = "CodeCommit Comment on Commit"
PULL_REQUEST_EVENT_TYPE = "codecommit-repository-comments-on-pull-requests"
COMMIT_EVENT_TYPE = "codecommit-repository-comments-on-commits"


def _console(repo: Repository) -> str:
    return (
        f"https://{repo.region}.console.aws.amazon.com/codesuite/codecommit/repositories/"
        f"{repo.name}"
    )


def _body(repo: Repository, comment: Comment, what: str) -> str:
    verb = "made a comment" if what == POSTED else "updated a comment or replied to a comment"
    head = (
        "A comment event occurred in the following AWS CodeCommit repository:"
        f" {repo.name}. The user {comment.author} {verb}."
    )
    on = comment.on
    if on.pull_request_id is not None:
        link = f"{_console(repo)}/pull-requests/{on.pull_request_id}/activity#{comment.id}"
        return (
            f"{head} The comment was made on the following Pull Request: {on.pull_request_id}."
            f" For more information, go to the AWS CodeCommit console {link}"
        )
    named = comment.id if comment.in_reply_to is None else f"{comment.in_reply_to}:{comment.id}"
    if on.before_commit is None:  # a comment on a root commit: there is nothing to compare
        link = f"{_console(repo)}/commit/{on.after_commit}?region={repo.region}"
    else:
        link = (
            f"{_console(repo)}/compare/{on.before_commit}/.../{on.after_commit}"
            f"?region={repo.region}"
        )
    return (
        f"{head} The comment was made on the following comment ID: {named}."
        f" For more information, go to the AWS CodeCommit console {link}"
    )


def event_type_id(comment: Comment) -> str:
    """The notification rule event type a comment event fires."""
    if comment.on.pull_request_id is not None:
        return PULL_REQUEST_EVENT_TYPE
    return COMMIT_EVENT_TYPE


def comment_event(repo: Repository, comment: Comment, what: str) -> dict[str, object]:
    """The EventBridge-style event of one stored comment; `what` is POSTED, REPLIED or
    EDITED."""
    on = comment.on
    on_pr = on.pull_request_id is not None
    word = "Created" if what == POSTED else "Updated"
    detail: dict[str, object] = {
        "afterCommitId": on.after_commit,
        "callerUserArn": comment.author,
        "commentId": comment.id,
        "event": f"commentOn{'PullRequest' if on_pr else 'Commit'}{word}",
        "notificationBody": _body(repo, comment, what),
        "repositoryId": repo.id,
        "repositoryName": repo.name,
    }
    if on.before_commit is not None:
        detail["beforeCommitId"] = on.before_commit
    if comment.in_reply_to is not None:
        detail["inReplyTo"] = comment.in_reply_to
    if on_pr:
        detail["pullRequestId"] = on.pull_request_id
    when = comment.modified if what == EDITED else comment.created
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": ON_PULL_REQUEST if on_pr else ON_COMMIT,
        "source": SOURCE,
        "account": repo.account,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": repo.region,
        "resources": [repo.arn],
        "detail": dict(sorted(detail.items())),
    }
