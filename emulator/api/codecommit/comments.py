"""CodeCommit's comments and reactions: PostCommentForPullRequest, PostCommentForComparedCommit,
PostCommentReply, GetComment, GetCommentsForPullRequest, GetCommentsForComparedCommit,
UpdateComment, DeleteCommentContent, PutCommentReaction and GetCommentReactions. The rules are
`emulator.repos.comments`'s; this module renders comments as the model names them, and groups
a page of comments as CodeCommit does: one entry per comparison and place (before and after
commit, blobs, location), holding its comments in the order they were posted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from emulator.api.codecommit.common import Output, entry_error, repository
from emulator.api.pagination import offset_of, page, token_at
from emulator.api.service import RequestContext
from emulator.api.shapes import Invalid
from emulator.codecommit_errors import error
from emulator.errors import ServiceError
from emulator.repos.code import CodeReader, check_object_id
from emulator.repos.comment_model import Comment, Comparison
from emulator.repos.comments import group_reactions
from emulator.repos.reactions import by_short_code

COMMENTS_PAGE, COMMENTS_MAX = 100, 500  # the model's documented default and maximum
REACTIONS_PAGE = REACTIONS_MAX = 1000
_ARN = re.compile(r"arn:[a-z-]+:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+")

MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "commentId": ("CommentIdRequiredException", "InvalidCommentIdException"),
    "inReplyTo": ("CommentIdRequiredException", "InvalidCommentIdException"),
    "beforeCommitId": ("CommitIdRequiredException", "InvalidCommitIdException"),
    "afterCommitId": ("CommitIdRequiredException", "InvalidCommitIdException"),
    "reactionValue": ("ReactionValueRequiredException", "InvalidReactionValueException"),
    "reactionUserArn": (None, "InvalidReactionUserArnException"),
    "content": ("CommentContentRequiredException", "CommentContentSizeLimitExceededException"),
}


def _location_error(failures: list[Invalid]) -> ServiceError:
    """A constraint broken inside `location`: the error of the member that broke it."""
    first = failures[0]
    leaf = first.path.rsplit(".", 1)[-1]
    invalid = {
        "filePosition": "InvalidFilePositionException",
        "relativeFileVersion": "InvalidRelativeFileVersionEnumException",
    }.get(leaf, "InvalidFileLocationException")
    return entry_error(
        failures, {"filePath": ("PathRequiredException", "InvalidPathException")}, error(invalid)
    )


MEMBER_VALIDATION: dict[str, Callable[[list[Invalid]], ServiceError]] = {
    "location": _location_error,
}


# -- rendering ------------------------------------------------------------------------------------


def _comment(c: Comment) -> Output:
    out: Output = {
        "commentId": c.id,
        "creationDate": c.created,
        "lastModifiedDate": c.modified,
        "authorArn": c.author,
        "deleted": c.deleted,
        "callerReactions": [by_short_code(code).emoji for code in c.caller_reactions],
        "reactionCounts": {by_short_code(k).emoji: n for k, n in c.reaction_counts.items()},
    }
    if c.content is not None:
        out["content"] = c.content
    if c.in_reply_to is not None:
        out["inReplyTo"] = c.in_reply_to
    if c.client_token is not None:
        out["clientRequestToken"] = c.client_token
    return out


def _comparison(on: Comparison) -> Output:
    out: Output = {"repositoryName": on.repository_name, "afterCommitId": on.after_commit}
    if on.pull_request_id is not None:
        out["pullRequestId"] = on.pull_request_id
    if on.before_commit is not None:
        out["beforeCommitId"] = on.before_commit
    if on.before_blob is not None:
        out["beforeBlobId"] = on.before_blob
    if on.after_blob is not None:
        out["afterBlobId"] = on.after_blob
    if on.location is not None:
        place: Output = {
            "filePath": on.location.file_path,
            "relativeFileVersion": on.location.relative_version,
        }
        if on.location.file_position is not None:
            place["filePosition"] = on.location.file_position
        out["location"] = place
    return out


def _posted(c: Comment) -> Output:
    return {**_comparison(c.on), "comment": _comment(c)}


def _grouped(comments: list[Comment]) -> list[Output]:
    groups: dict[Comparison, list[Comment]] = {}
    for c in comments:
        groups.setdefault(c.on, []).append(c)
    return [
        {**_comparison(on), "comments": [_comment(c) for c in members]}
        for on, members in groups.items()
    ]


def _size(value: int | None, default: int, most: int) -> int:
    if value is None:
        return default
    if value < 1 or value > most:
        raise error("InvalidMaxResultsException")
    return value


def _commit(reader: CodeReader, sha: str | None) -> str:
    sha = check_object_id(sha, "CommitIdRequiredException", "InvalidCommitIdException")
    found = reader.peel(sha)
    if found is None:
        raise error("CommitDoesNotExistException")
    return sha


# -- posting --------------------------------------------------------------------------------------


def post_comment_for_pull_request(
    ctx: RequestContext,
    pull_request_id: str,
    repository_name: str,
    before_commit_id: str,
    after_commit_id: str,
    content: str,
    location: dict[str, Any] | None = None,
    client_request_token: str | None = None,
) -> Output:
    pr = ctx.emu.pull_requests.find(ctx.account, ctx.region, pull_request_id)
    repo = repository(ctx, repository_name)
    posted = ctx.emu.comments.post(
        repo,
        pull_request=pr,
        before=before_commit_id,
        after=after_commit_id,
        location=location,
        content=content,
        client_token=client_request_token,
        author=ctx.principal.arn,
    )
    return _posted(posted)


def post_comment_for_compared_commit(
    ctx: RequestContext,
    repository_name: str,
    after_commit_id: str,
    content: str,
    before_commit_id: str | None = None,
    location: dict[str, Any] | None = None,
    client_request_token: str | None = None,
) -> Output:
    repo = repository(ctx, repository_name)
    posted = ctx.emu.comments.post(
        repo,
        pull_request=None,
        before=before_commit_id,
        after=after_commit_id,
        location=location,
        content=content,
        client_token=client_request_token,
        author=ctx.principal.arn,
    )
    return _posted(posted)


def post_comment_reply(
    ctx: RequestContext, in_reply_to: str, content: str, client_request_token: str | None = None
) -> Output:
    comments = ctx.emu.comments
    parent = comments.find(ctx.account, ctx.region, in_reply_to)
    reply = comments.reply(parent, content, client_request_token, ctx.principal.arn)
    return {"comment": _comment(reply)}


# -- reading --------------------------------------------------------------------------------------


def get_comment(ctx: RequestContext, comment_id: str) -> Output:
    found = ctx.emu.comments.find(ctx.account, ctx.region, comment_id, ctx.principal.arn)
    return {"comment": _comment(found)}


def get_comments_for_pull_request(
    ctx: RequestContext,
    pull_request_id: str,
    repository_name: str | None = None,
    before_commit_id: str | None = None,
    after_commit_id: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Output:
    size = _size(max_results, COMMENTS_PAGE, COMMENTS_MAX)
    pr = ctx.emu.pull_requests.find(ctx.account, ctx.region, pull_request_id)
    commits: tuple[str, str] | None = None
    if repository_name is None:
        # The commits narrow the listing only together with the repository they are in.
        if before_commit_id is not None or after_commit_id is not None:
            raise error("RepositoryNameRequiredException")
    else:
        repo = repository(ctx, repository_name)
        if repo.id != pr.repo_id:
            raise error("RepositoryNotAssociatedWithPullRequestException")
        with CodeReader(ctx.emu.repos, repo, ctx.emu.pack_cache) as reader:
            before = _commit(reader, before_commit_id)
            after = _commit(reader, after_commit_id)
        commits = (before, after)
    listing = f"pr-comments:{pr.key}:{commits}"
    start = offset_of(next_token, listing)
    found, more = ctx.emu.comments.for_pull_request(pr, commits, start, size, ctx.principal.arn)
    token = token_at(found[-1].seq, listing) if more and found else None
    return {"commentsForPullRequestData": _grouped(found), "nextToken": token}


def get_comments_for_compared_commit(
    ctx: RequestContext,
    repository_name: str,
    after_commit_id: str,
    before_commit_id: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Output:
    size = _size(max_results, COMMENTS_PAGE, COMMENTS_MAX)
    repo = repository(ctx, repository_name)
    with CodeReader(ctx.emu.repos, repo, ctx.emu.pack_cache) as reader:
        after = _commit(reader, after_commit_id)
        before = None if before_commit_id is None else _commit(reader, before_commit_id)
    listing = f"compared-comments:{repo.id}:{before}:{after}"
    start = offset_of(next_token, listing)
    found, more = ctx.emu.comments.for_compared_commit(
        repo, before, after, start, size, ctx.principal.arn
    )
    token = token_at(found[-1].seq, listing) if more and found else None
    return {"commentsForComparedCommitData": _grouped(found), "nextToken": token}


# -- changing -------------------------------------------------------------------------------------


def update_comment(ctx: RequestContext, comment_id: str, content: str) -> Output:
    comments = ctx.emu.comments
    found = comments.find(ctx.account, ctx.region, comment_id)
    return {"comment": _comment(comments.update(found, content, ctx.principal.arn))}


def delete_comment_content(ctx: RequestContext, comment_id: str) -> Output:
    comments = ctx.emu.comments
    found = comments.find(ctx.account, ctx.region, comment_id)
    return {"comment": _comment(comments.delete_content(found, ctx.principal.arn))}


def put_comment_reaction(ctx: RequestContext, comment_id: str, reaction_value: str) -> Output:
    comments = ctx.emu.comments
    found = comments.find(ctx.account, ctx.region, comment_id)
    comments.put_reaction(found, reaction_value, ctx.principal.arn)
    return {}


def get_comment_reactions(
    ctx: RequestContext,
    comment_id: str,
    reaction_user_arn: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Output:
    size = _size(max_results, REACTIONS_PAGE, REACTIONS_MAX)
    if reaction_user_arn is not None and not _ARN.fullmatch(reaction_user_arn):
        raise error("InvalidReactionUserArnException")
    comments = ctx.emu.comments
    found = comments.find(ctx.account, ctx.region, comment_id)
    pairs = comments.reactions(found, reaction_user_arn)
    listing = f"reactions:{found.id}:{reaction_user_arn}"
    items, token = page(pairs, next_token, size, listing)
    out = []
    for group in group_reactions(items):
        r = by_short_code(group.short_code)
        out.append(
            {
                "reaction": {"emoji": r.emoji, "shortCode": r.short_code, "unicode": r.unicode},
                "reactionUsers": list(group.users),
                "reactionsFromDeletedUsersCount": 0,
            }
        )
    return {"reactionsForComment": out, "nextToken": token}
