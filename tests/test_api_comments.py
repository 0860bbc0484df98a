"""Comments and reactions through boto3 against a real server, on commits made with git: posted
on compared commits and on pull requests (with locations checked against both sides), replied
to, listed in AWS's groups page by page, updated by their author only, deleted, reacted to; every
refusal answers CodeCommit's error and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import GitUser, MakeGitUser, Server, git

OUTSIDE = "../a.txt"  # request data, not a path read here


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return str(info.value.response["Error"]["Code"])


def _as(server: Server, user: GitUser) -> Any:
    return server.client("codecommit", key=user.access_key, secret=user.secret)


def _repo(server: Server, env: dict[str, str], name: str, work: Path) -> dict[str, str]:
    """main: `base` (a.txt, docs/) then `main` (edits a.txt); `feature` from base adds b.txt."""
    server.client().create_repository(repositoryName=name)
    git(env, "init", "-q", "-b", "main", str(work))
    (work / "a.txt").write_text("one\ntwo\nthree\n")
    (work / "docs").mkdir()
    (work / "docs" / "x.md").write_text("x\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "base", cwd=work)
    base = git(env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    git(env, "checkout", "-q", "-b", "feature", cwd=work)
    (work / "b.txt").write_text("b1\nb2\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "feature", cwd=work)
    git(env, "checkout", "-q", "main", cwd=work)
    (work / "a.txt").write_text("ONE\ntwo\nthree\nfour\n")
    git(env, "commit", "-q", "-am", "main", cwd=work)
    git(env, "push", "-q", server.git_url(name), "main", "feature", cwd=work)

    def rev(spec: str) -> str:
        return git(env, "rev-parse", spec, cwd=work).stdout.strip()

    return {
        "base": base,
        "main": rev("main"),
        "feature": rev("feature"),
        "a@base": rev(f"{base}:a.txt"),
        "a@main": rev("main:a.txt"),
        "b@feature": rev("feature:b.txt"),
    }


def _compared(cc: Any, name: str, c: dict[str, str]) -> list[dict[str, Any]]:
    out = cc.get_comments_for_compared_commit(
        repositoryName=name, beforeCommitId=c["base"], afterCommitId=c["main"]
    )
    return list(out["commentsForComparedCommitData"])


def test_comments_on_compared_commits_post_reply_update_and_delete(
    server: Server,
    git_env: dict[str, str],
    make_git_user: MakeGitUser,
    repo_name: str,
    tmp_path: Path,
) -> None:
    c = _repo(server, git_env, repo_name, tmp_path / "w")
    # AWSCodeCommitPowerUser does not allow DeleteCommentContent; full access does
    alice = make_git_user(managed="arn:aws:iam::aws:policy/AWSCodeCommitFullAccess")
    bob = make_git_user()
    ca, cb = _as(server, alice), _as(server, bob)
    alice_arn = server.client(
        "sts", key=alice.access_key, secret=alice.secret
    ).get_caller_identity()["Arn"]
    where = {"filePath": "a.txt", "filePosition": 4, "relativeFileVersion": "AFTER"}
    posted = ca.post_comment_for_compared_commit(
        repositoryName=repo_name,
        beforeCommitId=c["base"],
        afterCommitId=c["main"],
        location=where,
        content="a fourth line?",
    )
    assert posted["repositoryName"] == repo_name
    assert (posted["beforeCommitId"], posted["afterCommitId"]) == (c["base"], c["main"])
    assert (posted["beforeBlobId"], posted["afterBlobId"]) == (c["a@base"], c["a@main"])
    assert posted["location"] == where and "pullRequestId" not in posted
    first = posted["comment"]
    assert first["authorArn"] == alice_arn and first["content"] == "a fourth line?"
    assert first["deleted"] is False and first["reactionCounts"] == {}
    assert ca.get_comment(commentId=first["commentId"])["comment"] == first

    general = cb.post_comment_for_compared_commit(
        repositoryName=repo_name, beforeCommitId=c["base"], afterCommitId=c["main"], content="ok"
    )["comment"]
    reply = cb.post_comment_reply(inReplyTo=first["commentId"], content="yes")["comment"]
    assert reply["inReplyTo"] == first["commentId"]
    groups = _compared(ca, repo_name, c)
    # the reply sits in its parent's thread (same location); the general comment in its own
    assert [[x["commentId"] for x in g["comments"]] for g in groups] == [
        [first["commentId"], reply["commentId"]],
        [general["commentId"]],
    ]
    assert groups[0]["location"] == where and "location" not in groups[1]
    assert "beforeBlobId" not in groups[1]

    # only the author may update; refusals change nothing
    before = _compared(ca, repo_name, c)
    assert (
        _code(cb.update_comment, commentId=first["commentId"], content="mine now")
        == "CommentNotCreatedByCallerException"
    )
    assert _code(ca.update_comment, commentId=first["commentId"], content="") in (
        "CommentContentRequiredException"
    )
    assert (
        _code(ca.update_comment, commentId=first["commentId"], content="x" * 10_241)
        == "CommentContentSizeLimitExceededException"
    )
    assert _compared(ca, repo_name, c) == before
    updated = ca.update_comment(commentId=first["commentId"], content="edited")["comment"]
    assert updated["content"] == "edited"
    assert updated["lastModifiedDate"] >= first["lastModifiedDate"]

    deleted = ca.delete_comment_content(commentId=first["commentId"])["comment"]
    assert deleted["deleted"] is True and "content" not in deleted
    assert ca.get_comment(commentId=first["commentId"])["comment"]["deleted"] is True
    after_delete = _compared(ca, repo_name, c)
    assert after_delete[0]["comments"][0]["deleted"] is True  # still in its thread
    for call, kw in (
        (ca.update_comment, {"commentId": first["commentId"], "content": "again"}),
        (ca.delete_comment_content, {"commentId": first["commentId"]}),
        (ca.put_comment_reaction, {"commentId": first["commentId"], "reactionValue": ":tada:"}),
    ):
        assert _code(call, **kw) == "CommentDeletedException"
    assert _compared(ca, repo_name, c) == after_delete

    # bad ids
    assert _code(ca.get_comment, commentId="nope") == "InvalidCommentIdException"
    missing = "00000000-0000-4000-8000-000000000000"
    assert _code(ca.get_comment, commentId=missing) == "CommentDoesNotExistException"
    assert _code(ca.post_comment_reply, inReplyTo=missing, content="x") == (
        "CommentDoesNotExistException"
    )
    # an initial commit may be commented on alone; any other needs its before commit
    root = ca.post_comment_for_compared_commit(
        repositoryName=repo_name, afterCommitId=c["base"], content="first!"
    )
    assert "beforeCommitId" not in root
    assert (
        _code(
            ca.post_comment_for_compared_commit,
            repositoryName=repo_name,
            afterCommitId=c["main"],
            content="x",
        )
        == "CommitIdRequiredException"
    )
    assert _compared(ca, repo_name, c) == after_delete


def _pr(server: Server, cc: Any, name: str) -> dict[str, Any]:
    target = {"repositoryName": name, "sourceReference": "feature", "destinationReference": "main"}
    return dict(cc.create_pull_request(title="Add b", targets=[target])["pullRequest"])


def test_pull_request_comments_check_commits_and_locations_and_refusals_change_nothing(
    server: Server,
    git_env: dict[str, str],
    make_git_user: MakeGitUser,
    repo_name: str,
    tmp_path: Path,
) -> None:
    c = _repo(server, git_env, repo_name, tmp_path / "w")
    alice = make_git_user()
    ca = _as(server, alice)
    pr = _pr(server, ca, repo_name)
    pr_id = pr["pullRequestId"]
    events = ca.describe_pull_request_events(pullRequestId=pr_id)["pullRequestEvents"]
    base = {
        "pullRequestId": pr_id,
        "repositoryName": repo_name,
        "beforeCommitId": c["main"],
        "afterCommitId": c["feature"],
    }
    where = {"filePath": "b.txt", "filePosition": 2, "relativeFileVersion": "AFTER"}
    posted = ca.post_comment_for_pull_request(
        **base, location=where, content="why b?", clientRequestToken="tok-1"
    )
    assert posted["pullRequestId"] == pr_id and posted["afterBlobId"] == c["b@feature"]
    assert "beforeBlobId" not in posted  # b.txt is not on main
    comment = posted["comment"]
    assert comment["clientRequestToken"] == "tok-1"
    # the same token and request: the same comment; another request: refused
    again = ca.post_comment_for_pull_request(
        **base, location=where, content="why b?", clientRequestToken="tok-1"
    )
    assert again["comment"]["commentId"] == comment["commentId"]
    assert (
        _code(ca.post_comment_for_pull_request, **base, content="other", clientRequestToken="tok-1")
        == "IdempotencyParameterMismatchException"
    )
    later = ca.get_pull_request(pullRequestId=pr_id)["pullRequest"]
    assert later["lastActivityDate"] > pr["lastActivityDate"]
    # DescribePullRequestEvents has no comment event type: nothing recorded there
    assert ca.describe_pull_request_events(pullRequestId=pr_id)["pullRequestEvents"] == events

    def listing() -> list[Any]:
        return list(
            ca.get_comments_for_pull_request(pullRequestId=pr_id)["commentsForPullRequestData"]
        )

    before = listing()
    assert [[x["commentId"] for x in g["comments"]] for g in before] == [[comment["commentId"]]]
    assert before[0]["pullRequestId"] == pr_id and before[0]["location"] == where

    other = "other-" + repo_name
    server.client().create_repository(repositoryName=other)
    refusals = [
        ({"repositoryName": other}, "RepositoryNotAssociatedWithPullRequestException"),
        ({"afterCommitId": c["main"]}, "BeforeCommitIdAndAfterCommitIdAreSameException"),
        ({"afterCommitId": "f" * 40}, "CommitDoesNotExistException"),
        ({"afterCommitId": "xyz"}, "InvalidCommitIdException"),
        ({"beforeCommitId": ""}, "CommitIdRequiredException"),
        ({"content": ""}, "CommentContentRequiredException"),
        ({"content": "x" * 10_241}, "CommentContentSizeLimitExceededException"),
        (
            {"location": {"filePath": "nope.txt", "relativeFileVersion": "AFTER"}},
            "PathDoesNotExistException",
        ),
        (
            {"location": {"filePath": "b.txt", "relativeFileVersion": "BEFORE"}},
            "InvalidRelativeFileVersionEnumException",
        ),
        (
            {"location": {"filePath": "b.txt", "relativeFileVersion": "SIDEWAYS"}},
            "InvalidRelativeFileVersionEnumException",
        ),
        (
            {"location": {"filePath": "b.txt", "filePosition": 3, "relativeFileVersion": "AFTER"}},
            "InvalidFilePositionException",
        ),
        (
            {"location": {"filePath": "b.txt", "filePosition": 0, "relativeFileVersion": "AFTER"}},
            "InvalidFilePositionException",
        ),
        (
            {"location": {"filePath": "docs", "relativeFileVersion": "AFTER"}},
            "InvalidFileLocationException",
        ),
        (
            {"location": {"filePath": OUTSIDE, "relativeFileVersion": "AFTER"}},
            "InvalidPathException",
        ),
        ({"location": {"filePath": "", "relativeFileVersion": "AFTER"}}, "PathRequiredException"),
        ({"pullRequestId": "999999"}, "PullRequestDoesNotExistException"),
    ]
    for change, code in refusals:
        kw = {**base, "content": "bad", **change}
        assert _code(ca.post_comment_for_pull_request, **kw) == code, change
    assert listing() == before

    # a line of the destination's version: BEFORE, with both blobs
    on_a = ca.post_comment_for_pull_request(
        **base,
        location={"filePath": "a.txt", "filePosition": 4, "relativeFileVersion": "BEFORE"},
        content="four",
    )
    assert (on_a["beforeBlobId"], on_a["afterBlobId"]) == (c["a@main"], c["a@base"])
    # narrowing by commits needs the repository, and the repository needs both commits
    assert (
        _code(ca.get_comments_for_pull_request, pullRequestId=pr_id, afterCommitId=c["feature"])
        == "RepositoryNameRequiredException"
    )
    assert (
        _code(ca.get_comments_for_pull_request, pullRequestId=pr_id, repositoryName=repo_name)
        == "CommitIdRequiredException"
    )
    narrowed = ca.get_comments_for_pull_request(
        pullRequestId=pr_id,
        repositoryName=repo_name,
        beforeCommitId=c["base"],
        afterCommitId=c["feature"],
    )
    assert narrowed["commentsForPullRequestData"] == []
    assert ca.get_comment(commentId=comment["commentId"])["comment"]["content"] == "why b?"


def test_comments_page_across_many_and_tokens_belong_to_their_listing(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    c = _repo(server, git_env, repo_name, tmp_path / "w")
    cc = server.client()
    pr_id = _pr(server, cc, repo_name)["pullRequestId"]
    base = {
        "pullRequestId": pr_id,
        "repositoryName": repo_name,
        "beforeCommitId": c["main"],
        "afterCommitId": c["feature"],
    }
    lines = [
        {"filePath": "b.txt", "filePosition": p, "relativeFileVersion": "AFTER"} for p in (1, 2)
    ]
    posted = []
    for i in range(23):
        kw = {"location": lines[i % 3]} if i % 3 < 2 else {}
        posted.append(
            cc.post_comment_for_pull_request(**base, content=f"c{i}", **kw)["comment"]["commentId"]
        )
    seen: list[str] = []
    pages = 0
    token = None
    while True:
        more = {"nextToken": token} if token else {}
        out = cc.get_comments_for_pull_request(pullRequestId=pr_id, maxResults=5, **more)
        pages += 1
        page_ids = [
            x["commentId"] for g in out["commentsForPullRequestData"] for x in g["comments"]
        ]
        assert len(page_ids) <= 5
        for g in out["commentsForPullRequestData"]:  # each group holds one place only
            assert all(x["content"][1:].isdigit() for x in g["comments"])
            assert len({int(x["content"][1:]) % 3 for x in g["comments"]}) == 1
        seen += page_ids
        token = out.get("nextToken")
        if not token:
            break
    # every comment once; groups reorder a page's comments, never across pages
    assert len(seen) == len(set(seen)) and sorted(seen, key=posted.index) == posted
    assert pages == 5 and set(seen[:5]) == set(posted[:5])
    whole = cc.get_comments_for_pull_request(pullRequestId=pr_id)["commentsForPullRequestData"]
    assert len(whole) == 3 and "nextToken" not in cc.get_comments_for_pull_request(
        pullRequestId=pr_id
    )
    first = cc.get_comments_for_pull_request(pullRequestId=pr_id, maxResults=5)
    for kw, code in (
        ({"maxResults": 0}, "InvalidMaxResultsException"),
        ({"maxResults": 501}, "InvalidMaxResultsException"),
        ({"nextToken": "bogus"}, "InvalidContinuationTokenException"),
    ):
        assert _code(cc.get_comments_for_pull_request, pullRequestId=pr_id, **kw) == code
    # a token of one listing is refused by another
    assert (
        _code(
            cc.get_comments_for_compared_commit,
            repositoryName=repo_name,
            afterCommitId=c["feature"],
            nextToken=first["nextToken"],
        )
        == "InvalidContinuationTokenException"
    )
    # pull request comments are not comments on the compared commits
    compared = cc.get_comments_for_compared_commit(
        repositoryName=repo_name, beforeCommitId=c["main"], afterCommitId=c["feature"]
    )
    assert compared["commentsForComparedCommitData"] == []


def test_reactions_one_per_user_replaced_and_removed(
    server: Server,
    git_env: dict[str, str],
    make_git_user: MakeGitUser,
    repo_name: str,
    tmp_path: Path,
) -> None:
    c = _repo(server, git_env, repo_name, tmp_path / "w")
    alice, bob = make_git_user(), make_git_user()
    ca, cb = _as(server, alice), _as(server, bob)
    arns = [
        server.client("sts", key=u.access_key, secret=u.secret).get_caller_identity()["Arn"]
        for u in (alice, bob)
    ]
    cid = ca.post_comment_for_compared_commit(
        repositoryName=repo_name, beforeCommitId=c["base"], afterCommitId=c["main"], content="hi"
    )["comment"]["commentId"]
    ca.put_comment_reaction(commentId=cid, reactionValue=":thumbsup:")
    cb.put_comment_reaction(commentId=cid, reactionValue="\U0001f44e")
    cb.put_comment_reaction(commentId=cid, reactionValue="U+1F44D")  # replaces bob's 👎
    got = ca.get_comment_reactions(commentId=cid)["reactionsForComment"]
    assert got == [
        {
            "reaction": {"emoji": "\U0001f44d", "shortCode": "thumbsup", "unicode": "U+1F44D"},
            "reactionUsers": arns,
            "reactionsFromDeletedUsersCount": 0,
        }
    ]
    comment = cb.get_comment(commentId=cid)["comment"]
    assert comment["reactionCounts"] == {"\U0001f44d": 2}
    assert comment["callerReactions"] == ["\U0001f44d"]
    only_bob = ca.get_comment_reactions(commentId=cid, reactionUserArn=arns[1])
    assert only_bob["reactionsForComment"][0]["reactionUsers"] == [arns[1]]
    for value in (":nope:", "U+1F4A9", "thumbs up"):
        assert _code(cb.put_comment_reaction, commentId=cid, reactionValue=value) == (
            "InvalidReactionValueException"
        )
    assert (
        _code(ca.get_comment_reactions, commentId=cid, reactionUserArn="bob")
        == "InvalidReactionUserArnException"
    )
    assert ca.get_comment_reactions(commentId=cid)["reactionsForComment"] == got
    cb.put_comment_reaction(commentId=cid, reactionValue="none")
    assert ca.get_comment(commentId=cid)["comment"]["reactionCounts"] == {"\U0001f44d": 1}
    ca.put_comment_reaction(commentId=cid, reactionValue="")
    assert ca.get_comment_reactions(commentId=cid)["reactionsForComment"] == []
    # one page per user: paging over reactions
    ca.put_comment_reaction(commentId=cid, reactionValue=":heart:")
    cb.put_comment_reaction(commentId=cid, reactionValue=":heart:")
    one = ca.get_comment_reactions(commentId=cid, maxResults=1)
    two = ca.get_comment_reactions(commentId=cid, maxResults=1, nextToken=one["nextToken"])
    assert [
        one["reactionsForComment"][0]["reactionUsers"],
        two["reactionsForComment"][0]["reactionUsers"],
    ] == [[a] for a in arns]
    assert "nextToken" not in two
    # groups follow CodeCommit's order of reactions, not the order users reacted in
    cb.put_comment_reaction(commentId=cid, reactionValue=":thumbsup:")
    groups = ca.get_comment_reactions(commentId=cid)["reactionsForComment"]
    assert [g["reaction"]["shortCode"] for g in groups] == ["thumbsup", "heart"]
    assert list(ca.get_comment(commentId=cid)["comment"]["reactionCounts"]) == [
        "\U0001f44d",
        "\u2764",
    ]


def test_comment_calls_are_authorized_on_the_comments_repository(
    server: Server,
    git_env: dict[str, str],
    make_git_user: MakeGitUser,
    repo_name: str,
    tmp_path: Path,
) -> None:
    import json

    c = _repo(server, git_env, repo_name, tmp_path / "w")
    cc = server.client()
    cid = cc.post_comment_for_compared_commit(
        repositoryName=repo_name, beforeCommitId=c["base"], afterCommitId=c["main"], content="hi"
    )["comment"]["commentId"]
    reader = make_git_user(
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["codecommit:GetComment"],
                        "Resource": f"arn:aws:codecommit:us-east-1:*:{repo_name}",
                    }
                ],
            }
        ),
        managed=None,
    )
    theirs = _as(server, reader)
    assert theirs.get_comment(commentId=cid)["comment"]["content"] == "hi"
    before = _compared(cc, repo_name, c)
    for call, kw in (
        (theirs.post_comment_reply, {"inReplyTo": cid, "content": "x"}),
        (theirs.put_comment_reaction, {"commentId": cid, "reactionValue": ":eyes:"}),
        (theirs.delete_comment_content, {"commentId": cid}),
        (theirs.get_comment_reactions, {"commentId": cid}),
        (
            theirs.post_comment_for_compared_commit,
            {"repositoryName": repo_name, "afterCommitId": c["base"], "content": "x"},
        ),
    ):
        assert _code(call, **kw) == "AccessDeniedException"
    assert _compared(cc, repo_name, c) == before
    # comments go with their repository
    cc.delete_repository(repositoryName=repo_name)
    assert _code(cc.get_comment, commentId=cid) == "CommentDoesNotExistException"
