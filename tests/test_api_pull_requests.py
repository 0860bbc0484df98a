"""Pull requests through boto3 and git against a real server: created on branches, following
pushes to their source (new revisions, events), updated, closed, merged by each strategy on the
merge engine, merged by a push, and refused with CodeCommit's errors, nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import MakeGitUser, Server, git


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return str(info.value.response["Error"]["Code"])


def _repo(server: Server, env: dict[str, str], name: str, work: Path) -> Any:
    """main with a base commit and a commit of its own; `feature` adds b.txt and edits a.txt's
    last line (merges cleanly); `clash` edits main's first line differently (conflicts)."""
    cc = server.client()
    cc.create_repository(repositoryName=name)
    git(env, "init", "-q", "-b", "main", str(work))
    (work / "a.txt").write_text("one\ntwo\nthree\nfour\nfive\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "base", cwd=work)
    git(env, "tag", "v1", cwd=work)
    git(env, "checkout", "-q", "-b", "feature", cwd=work)
    (work / "b.txt").write_text("feature\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "feature", cwd=work)
    git(env, "checkout", "-q", "-b", "clash", "main", cwd=work)
    (work / "a.txt").write_text("uno\ntwo\nthree\nfour\nfive\n")
    git(env, "commit", "-q", "-am", "clash", cwd=work)
    git(env, "checkout", "-q", "main", cwd=work)
    (work / "a.txt").write_text("ONE\ntwo\nthree\nfour\nfive\n")
    git(env, "commit", "-q", "-am", "main", cwd=work)
    git(env, "push", "-q", server.git_url(name), "main", "feature", "clash", "v1", cwd=work)
    return cc


def _tip(cc: Any, name: str, branch: str) -> str:
    return str(cc.get_branch(repositoryName=name, branchName=branch)["branch"]["commitId"])


def _create(cc: Any, name: str, source: str = "feature", dest: str = "main", **kw: Any) -> Any:
    target = {"repositoryName": name, "sourceReference": source, "destinationReference": dest}
    return cc.create_pull_request(title=kw.pop("title", "Add b"), targets=[target], **kw)[
        "pullRequest"
    ]


def _events(cc: Any, pr_id: str, **kw: Any) -> list[dict[str, Any]]:
    return list(cc.describe_pull_request_events(pullRequestId=pr_id, **kw)["pullRequestEvents"])


def _state(cc: Any, name: str, pr_id: str) -> tuple[Any, ...]:
    """What a refused call must leave as it was: the pull request, its events, the branches."""
    pr = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
    branches = tuple(_tip(cc, name, b) for b in ("main", "feature", "clash"))
    return pr, len(_events(cc, pr_id)), branches


def test_pull_request_lifecycle_follows_git_pushes_and_merges(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    cc = _repo(server, git_env, repo_name, work)
    main, feature = _tip(cc, repo_name, "main"), _tip(cc, repo_name, "feature")
    pr = _create(cc, repo_name, description="first take", dest="refs/heads/main")
    pr_id = pr["pullRequestId"]
    assert pr_id.isdigit() and pr["pullRequestStatus"] == "OPEN"
    me = server.client("sts").get_caller_identity()["Arn"]
    assert pr["authorArn"] == me and pr["description"] == "first take"
    (target,) = pr["pullRequestTargets"]
    assert target["sourceReference"] == "refs/heads/feature"
    assert target["destinationReference"] == "refs/heads/main"
    assert (target["sourceCommit"], target["destinationCommit"]) == (feature, main)
    base = git(git_env, "merge-base", "main", "feature", cwd=work).stdout.strip()
    assert target["mergeBase"] == base and target["mergeMetadata"] == {"isMerged": False}
    assert cc.get_pull_request(pullRequestId=pr_id)["pullRequest"] == pr
    assert cc.list_pull_requests(repositoryName=repo_name)["pullRequestIds"] == [pr_id]

    # a git push to the source branch makes a new revision and records the event
    git(git_env, "checkout", "-q", "feature", cwd=work)
    (work / "c.txt").write_text("more\n")
    git(git_env, "add", "-A", cwd=work)
    git(git_env, "commit", "-q", "-m", "more", cwd=work)
    git(git_env, "push", "-q", server.git_url(repo_name), "feature", cwd=work)
    newer = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    pushed = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]
    assert pushed["revisionId"] != pr["revisionId"]
    assert pushed["pullRequestTargets"][0]["sourceCommit"] == newer
    assert pushed["pullRequestTargets"][0]["mergeBase"] == base
    assert pushed["lastActivityDate"] >= pr["lastActivityDate"]
    updated = _events(cc, pr_id, pullRequestEventType="PULL_REQUEST_SOURCE_REFERENCE_UPDATED")
    assert [e["pullRequestSourceReferenceUpdatedEventMetadata"] for e in updated] == [
        {
            "repositoryName": repo_name,
            "beforeCommitId": feature,
            "afterCommitId": newer,
            "mergeBase": base,
        }
    ]
    assert updated[0]["actorArn"] == me

    # title and description
    titled = cc.update_pull_request_title(pullRequestId=pr_id, title="Add b and c")
    assert titled["pullRequest"]["title"] == "Add b and c"
    described = cc.update_pull_request_description(pullRequestId=pr_id, description="both")
    assert described["pullRequest"]["description"] == "both"

    # merged three-way: the destination moves to a merge commit of both tips
    merged = cc.merge_pull_request_by_three_way(
        pullRequestId=pr_id, repositoryName=repo_name, sourceCommitId=newer, commitMessage="m"
    )["pullRequest"]
    tip = _tip(cc, repo_name, "main")
    commit = cc.get_commit(repositoryName=repo_name, commitId=tip)["commit"]
    assert commit["parents"] == [main, newer]
    assert merged["pullRequestStatus"] == "CLOSED"
    assert merged["pullRequestTargets"][0]["mergeMetadata"] == {
        "isMerged": True,
        "mergedBy": me,
        "mergeCommitId": tip,
        "mergeOption": "THREE_WAY_MERGE",
    }
    kinds = [e["pullRequestEventType"] for e in _events(cc, pr_id)]
    assert kinds == [
        "PULL_REQUEST_CREATED",
        "PULL_REQUEST_SOURCE_REFERENCE_UPDATED",
        "PULL_REQUEST_MERGE_STATE_CHANGED",
        "PULL_REQUEST_STATUS_CHANGED",
    ]
    created = _events(cc, pr_id, pullRequestEventType="PULL_REQUEST_CREATED")[0]
    assert created["pullRequestCreatedEventMetadata"] == {
        "repositoryName": repo_name,
        "sourceCommitId": feature,
        "destinationCommitId": main,
        "mergeBase": base,
    }
    state = _events(cc, pr_id, pullRequestEventType="PULL_REQUEST_MERGE_STATE_CHANGED")[0]
    assert state["pullRequestMergedStateChangedEventMetadata"] == {
        "repositoryName": repo_name,
        "destinationReference": "refs/heads/main",
        "mergeMetadata": merged["pullRequestTargets"][0]["mergeMetadata"],
    }

    # a merged pull request is closed: nothing more changes it
    before = _state(cc, repo_name, pr_id)
    kw = {"pullRequestId": pr_id, "repositoryName": repo_name}
    assert _code(cc.merge_pull_request_by_squash, **kw) == "PullRequestAlreadyClosedException"
    assert (
        _code(cc.update_pull_request_title, pullRequestId=pr_id, title="x")
        == "PullRequestAlreadyClosedException"
    )
    assert (
        _code(cc.update_pull_request_status, pullRequestId=pr_id, pullRequestStatus="OPEN")
        == "InvalidPullRequestStatusUpdateException"
    )
    assert _state(cc, repo_name, pr_id) == before


@pytest.mark.parametrize(
    ("operation", "option"),
    [
        ("merge_pull_request_by_fast_forward", "FAST_FORWARD_MERGE"),
        ("merge_pull_request_by_squash", "SQUASH_MERGE"),
        ("merge_pull_request_by_three_way", "THREE_WAY_MERGE"),
    ],
)
def test_each_merge_strategy_moves_the_destination_and_closes_the_pull_request_as_merged(
    server: Server,
    git_env: dict[str, str],
    repo_name: str,
    tmp_path: Path,
    operation: str,
    option: str,
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    feature = _tip(cc, repo_name, "feature")
    # a destination the source can fast-forward: the base commit
    base = cc.get_commit(repositoryName=repo_name, commitId=feature)["commit"]["parents"][0]
    cc.create_branch(repositoryName=repo_name, branchName="release", commitId=base)
    pr = _create(cc, repo_name, dest="release")
    out = getattr(cc, operation)(pullRequestId=pr["pullRequestId"], repositoryName=repo_name)
    merged = out["pullRequest"]
    tip = _tip(cc, repo_name, "release")
    parents = cc.get_commit(repositoryName=repo_name, commitId=tip)["commit"]["parents"]
    expected = {
        "FAST_FORWARD_MERGE": (tip == feature, []),
        "SQUASH_MERGE": (tip != feature, [base]),
        "THREE_WAY_MERGE": (tip != feature, [base, feature]),
    }[option]
    assert expected[0] and (option == "FAST_FORWARD_MERGE" or parents == expected[1])
    assert merged["pullRequestStatus"] == "CLOSED"
    meta = merged["pullRequestTargets"][0]["mergeMetadata"]
    assert meta["isMerged"] and meta["mergeOption"] == option and meta["mergeCommitId"] == tip
    assert cc.get_pull_request(pullRequestId=pr["pullRequestId"])["pullRequest"] == merged


def test_a_push_that_merges_the_source_closes_the_pull_request_as_merged(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    cc = _repo(server, git_env, repo_name, work)
    pr = _create(cc, repo_name)
    other = _create(cc, repo_name, source="clash", title="clash")
    git(git_env, "checkout", "-q", "main", cwd=work)
    git(git_env, "merge", "-q", "--no-edit", "feature", cwd=work)
    git(git_env, "push", "-q", server.git_url(repo_name), "main", cwd=work)
    merge_commit = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    got = cc.get_pull_request(pullRequestId=pr["pullRequestId"])["pullRequest"]
    assert got["pullRequestStatus"] == "CLOSED"
    meta = got["pullRequestTargets"][0]["mergeMetadata"]
    assert meta["isMerged"] and meta["mergeCommitId"] == merge_commit
    assert "mergeOption" not in meta
    # the other pull request's source is not in main: it stays open
    still = cc.get_pull_request(pullRequestId=other["pullRequestId"])["pullRequest"]
    assert still["pullRequestStatus"] == "OPEN"
    assert cc.list_pull_requests(repositoryName=repo_name, pullRequestStatus="OPEN")[
        "pullRequestIds"
    ] == [other["pullRequestId"]]


def test_merge_refusals_leave_the_pull_request_and_the_branches_unchanged(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    clash = _create(cc, repo_name, source="clash", title="clash")
    pr_id = clash["pullRequestId"]
    cc.create_repository(repositoryName=f"{repo_name}-other")
    before = _state(cc, repo_name, pr_id)
    kw = {"pullRequestId": pr_id, "repositoryName": repo_name}
    # conflicting: main and clash both changed a.txt's first line
    assert (
        _code(cc.merge_pull_request_by_three_way, **kw, conflictDetailLevel="LINE_LEVEL")
        == "ManualMergeRequiredException"
    )
    assert _code(cc.merge_pull_request_by_fast_forward, **kw) == "ManualMergeRequiredException"
    stale = _tip(cc, repo_name, "main")
    assert (
        _code(cc.merge_pull_request_by_squash, **kw, sourceCommitId=stale)
        == "TipOfSourceReferenceIsDifferentException"
    )
    assert (
        _code(cc.merge_pull_request_by_squash, **kw, sourceCommitId="abc")
        == "InvalidCommitIdException"
    )
    assert (
        _code(
            cc.merge_pull_request_by_squash,
            pullRequestId=pr_id,
            repositoryName=f"{repo_name}-other",
        )
        == "RepositoryNotAssociatedWithPullRequestException"
    )
    assert (
        _code(cc.merge_pull_request_by_squash, pullRequestId="99999999", repositoryName=repo_name)
        == "PullRequestDoesNotExistException"
    )
    assert (
        _code(cc.merge_pull_request_by_squash, pullRequestId="x1", repositoryName=repo_name)
        == "InvalidPullRequestIdException"
    )
    assert _state(cc, repo_name, pr_id) == before
    # resolved, the same pull request merges
    merged = cc.merge_pull_request_by_three_way(
        **kw, conflictDetailLevel="LINE_LEVEL", conflictResolutionStrategy="ACCEPT_SOURCE"
    )["pullRequest"]
    assert merged["pullRequestTargets"][0]["mergeMetadata"]["isMerged"]
    # a closed pull request cannot be merged
    closed = _create(cc, repo_name, dest="clash", title="to clash")
    cc.update_pull_request_status(pullRequestId=closed["pullRequestId"], pullRequestStatus="CLOSED")
    kept = _tip(cc, repo_name, "clash")
    assert (
        _code(
            cc.merge_pull_request_by_fast_forward,
            pullRequestId=closed["pullRequestId"],
            repositoryName=repo_name,
        )
        == "PullRequestAlreadyClosedException"
    )
    assert _tip(cc, repo_name, "clash") == kept


def test_bad_targets_titles_and_reused_tokens_are_refused_and_create_nothing(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    main = _tip(cc, repo_name, "main")
    first = _create(cc, repo_name, clientRequestToken="token-1")
    # the same token with the same request: the same pull request
    again = _create(cc, repo_name, clientRequestToken="token-1")
    assert again["pullRequestId"] == first["pullRequestId"]
    assert again["revisionId"] == first["revisionId"]

    def refused(**kw: Any) -> str:
        return _code(_create, cc=cc, name=repo_name, **kw)

    cases = {
        "ReferenceDoesNotExistException": refused(source="nope"),
        "SourceAndDestinationAreSameException": refused(source="main"),
        "ReferenceTypeNotSupportedException": refused(source="v1"),
        "InvalidReferenceNameException": refused(source="bad..name"),
        "IdempotencyParameterMismatchException": refused(
            title="another", clientRequestToken="token-1"
        ),
        "TitleRequiredException": refused(title="  "),
        "InvalidTitleException": refused(title="t" * 151),
        "InvalidDescriptionException": refused(description="d" * 10241),
    }
    assert list(cases) == list(cases.values())
    assert _code(_create, cc=cc, name=repo_name, source=main) in (
        "ReferenceDoesNotExistException",
        "ReferenceTypeNotSupportedException",
    )
    assert _code(_create, cc=cc, name=repo_name, dest="refs/tags/v1") == (
        "ReferenceTypeNotSupportedException"
    )
    target = {"repositoryName": repo_name, "sourceReference": "feature"}
    assert (
        _code(cc.create_pull_request, title="t", targets=[target, target])
        == "MultipleRepositoriesInPullRequestException"
    )
    assert _code(cc.create_pull_request, title="t", targets=[]) == "TargetsRequiredException"
    missing = {"repositoryName": f"{repo_name}-none", "sourceReference": "feature"}
    assert (
        _code(cc.create_pull_request, title="t", targets=[missing])
        == "RepositoryDoesNotExistException"
    )
    # nothing was created; the server still answers
    assert cc.list_pull_requests(repositoryName=repo_name)["pullRequestIds"] == [
        first["pullRequestId"]
    ]
    # no destination: the default branch
    default = _create(cc, repo_name, source="clash", dest="")
    assert default["pullRequestTargets"][0]["destinationReference"] == "refs/heads/main"


def test_status_goes_only_from_open_to_closed(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    pr_id = _create(cc, repo_name)["pullRequestId"]
    before = _state(cc, repo_name, pr_id)
    assert (
        _code(cc.update_pull_request_status, pullRequestId=pr_id, pullRequestStatus="OPEN")
        == "InvalidPullRequestStatusUpdateException"
    )
    assert _state(cc, repo_name, pr_id) == before
    closed = cc.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="CLOSED")
    assert closed["pullRequest"]["pullRequestStatus"] == "CLOSED"
    assert closed["pullRequest"]["pullRequestTargets"][0]["mergeMetadata"]["isMerged"] is False
    status = _events(cc, pr_id, pullRequestEventType="PULL_REQUEST_STATUS_CHANGED")
    assert [e["pullRequestStatusChangedEventMetadata"] for e in status] == [
        {"pullRequestStatus": "CLOSED"}
    ]
    before = _state(cc, repo_name, pr_id)
    for status_value in ("OPEN", "CLOSED"):
        assert (
            _code(
                cc.update_pull_request_status, pullRequestId=pr_id, pullRequestStatus=status_value
            )
            == "InvalidPullRequestStatusUpdateException"
        )
    assert (
        _code(cc.update_pull_request_description, pullRequestId=pr_id, description="x")
        == "PullRequestAlreadyClosedException"
    )
    assert _state(cc, repo_name, pr_id) == before


def test_lists_and_events_filter_and_page(
    server: Server,
    git_env: dict[str, str],
    make_git_user: MakeGitUser,
    repo_name: str,
    tmp_path: Path,
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    mine = [_create(cc, repo_name, title=f"pr {i}")["pullRequestId"] for i in range(3)]
    user = make_git_user()
    theirs = server.client("codecommit", key=user.access_key, secret=user.secret)
    other = _create(theirs, repo_name, source="clash")
    cc.update_pull_request_status(pullRequestId=mine[0], pullRequestStatus="CLOSED")
    everything = cc.list_pull_requests(repositoryName=repo_name)["pullRequestIds"]
    assert everything == [other["pullRequestId"], *reversed(mine)]  # newest first
    by_them = cc.list_pull_requests(repositoryName=repo_name, authorArn=other["authorArn"])
    assert by_them["pullRequestIds"] == [other["pullRequestId"]]
    closed = cc.list_pull_requests(repositoryName=repo_name, pullRequestStatus="CLOSED")
    assert closed["pullRequestIds"] == [mine[0]]
    paged: list[str] = []
    token = None
    while True:
        kw = {"nextToken": token} if token else {}
        out = cc.list_pull_requests(repositoryName=repo_name, maxResults=3, **kw)
        paged += out["pullRequestIds"]
        token = out.get("nextToken")
        if not token:
            break
    assert paged == everything
    assert (
        _code(cc.list_pull_requests, repositoryName=repo_name, maxResults=0)
        == "InvalidMaxResultsException"
    )
    assert (
        _code(cc.list_pull_requests, repositoryName=repo_name, authorArn="alice")
        == "InvalidAuthorArnException"
    )
    # events: the actor filter and paging
    pr_id = other["pullRequestId"]
    cc.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="CLOSED")
    events = _events(cc, pr_id)
    assert [e["actorArn"] for e in events] == [other["authorArn"], events[1]["actorArn"]]
    assert _events(cc, pr_id, actorArn=other["authorArn"]) == events[:1]
    first = cc.describe_pull_request_events(pullRequestId=pr_id, maxResults=1)
    assert first["pullRequestEvents"] == events[:1]
    rest = cc.describe_pull_request_events(pullRequestId=pr_id, nextToken=first["nextToken"])
    assert rest["pullRequestEvents"] == events[1:] and "nextToken" not in rest
    assert (
        _code(cc.describe_pull_request_events, pullRequestId=pr_id, actorArn="bob")
        == "InvalidActorArnException"
    )
    assert (
        _code(cc.describe_pull_request_events, pullRequestId=pr_id, nextToken="bogus")
        == "InvalidContinuationTokenException"
    )


def test_pull_requests_created_or_closed_between_pages_neither_repeat_nor_skip_one(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    """A page token marks where the listing stopped (the last pull request listed), not how
    many were listed: what changes ahead of it does not shift the pages after it."""
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    ids = [_create(cc, repo_name, title=f"pr {i}")["pullRequestId"] for i in range(5)]
    newest_first = list(reversed(ids))
    first = cc.list_pull_requests(repositoryName=repo_name, maxResults=2)
    assert first["pullRequestIds"] == newest_first[:2]
    newer = _create(cc, repo_name, title="newer")["pullRequestId"]
    second = cc.list_pull_requests(
        repositoryName=repo_name, maxResults=2, nextToken=first["nextToken"]
    )
    assert second["pullRequestIds"] == newest_first[2:4]

    # listing the open ones, the first listed is closed before the next page is asked for
    opened = cc.list_pull_requests(repositoryName=repo_name, pullRequestStatus="OPEN", maxResults=2)
    assert opened["pullRequestIds"] == [newer, newest_first[0]]
    cc.update_pull_request_status(pullRequestId=newer, pullRequestStatus="CLOSED")
    rest = cc.list_pull_requests(
        repositoryName=repo_name,
        pullRequestStatus="OPEN",
        maxResults=2,
        nextToken=opened["nextToken"],
    )
    assert rest["pullRequestIds"] == newest_first[1:3]
    last = cc.list_pull_requests(
        repositoryName=repo_name,
        pullRequestStatus="OPEN",
        maxResults=2,
        nextToken=rest["nextToken"],
    )
    assert last["pullRequestIds"] == newest_first[3:] and "nextToken" not in last
    # a token of another listing is refused
    assert (
        _code(cc.list_pull_requests, repositoryName=repo_name, nextToken=rest["nextToken"])
        == "InvalidContinuationTokenException"
    )


def test_a_user_without_permission_is_denied_and_changes_nothing(
    server: Server,
    git_env: dict[str, str],
    make_git_user: MakeGitUser,
    repo_name: str,
    tmp_path: Path,
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    pr_id = _create(cc, repo_name)["pullRequestId"]
    reader = make_git_user(
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["codecommit:GetPullRequest"],
                        "Resource": f"arn:aws:codecommit:us-east-1:*:{repo_name}",
                    }
                ],
            }
        ),
        managed=None,
    )
    theirs = server.client("codecommit", key=reader.access_key, secret=reader.secret)
    assert theirs.get_pull_request(pullRequestId=pr_id)["pullRequest"]["title"] == "Add b"
    before = _state(cc, repo_name, pr_id)
    kw = {"pullRequestId": pr_id, "repositoryName": repo_name}
    for call, args in (
        (theirs.update_pull_request_title, {"pullRequestId": pr_id, "title": "mine"}),
        (theirs.describe_pull_request_events, {"pullRequestId": pr_id}),
        (theirs.merge_pull_request_by_fast_forward, kw),
        (theirs.list_pull_requests, {"repositoryName": repo_name}),
        (
            theirs.create_pull_request,
            {"title": "t", "targets": [{"repositoryName": repo_name, "sourceReference": "clash"}]},
        ),
    ):
        assert _code(call, **args) == "AccessDeniedException"
    assert _state(cc, repo_name, pr_id) == before
    assert len(cc.list_pull_requests(repositoryName=repo_name)["pullRequestIds"]) == 1

    # branch protection: merges into main denied by codecommit:References, as on AWS
    protected = make_git_user(
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": ["codecommit:Merge*"],
                        "Resource": "*",
                        "Condition": {
                            "StringEqualsIfExists": {"codecommit:References": ["refs/heads/main"]},
                            "Null": {"codecommit:References": "false"},
                        },
                    }
                ],
            }
        )
    )
    dev = server.client("codecommit", key=protected.access_key, secret=protected.secret)
    assert _code(dev.merge_pull_request_by_three_way, **kw) == "AccessDeniedException"
    assert _state(cc, repo_name, pr_id) == before
    into_clash = _create(dev, repo_name, dest="clash", title="into clash")["pullRequestId"]
    merged = dev.merge_pull_request_by_three_way(
        pullRequestId=into_clash, repositoryName=repo_name, conflictDetailLevel="LINE_LEVEL"
    )
    assert merged["pullRequest"]["pullRequestTargets"][0]["mergeMetadata"]["isMerged"]


def test_aws_cli_create_pull_request(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    cli = [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "--output", "json"]
    target = f"repositoryName={repo_name},sourceReference=feature,destinationReference=main"
    proc = subprocess.run(
        [*cli, "codecommit", "create-pull-request", "--title", "cli", "--targets", target],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["pullRequest"]
    got = cc.get_pull_request(pullRequestId=out["pullRequestId"])["pullRequest"]
    assert got["title"] == "cli" and got["revisionId"] == out["revisionId"]


def test_pull_requests_go_with_their_repository_and_their_ids_are_not_reused(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    gone = _create(cc, repo_name)["pullRequestId"]
    cc.delete_repository(repositoryName=repo_name)
    assert _code(cc.get_pull_request, pullRequestId=gone) == "PullRequestDoesNotExistException"
    assert (
        _code(cc.describe_pull_request_events, pullRequestId=gone)
        == "PullRequestDoesNotExistException"
    )
    cc = _repo(server, git_env, repo_name, tmp_path / "again")
    new = _create(cc, repo_name)["pullRequestId"]
    assert int(new) > int(gone)
    assert cc.list_pull_requests(repositoryName=repo_name)["pullRequestIds"] == [new]


def test_deleting_a_source_or_destination_branch_closes_the_pull_request(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    cc = _repo(server, git_env, repo_name, work)
    cc.create_branch(
        repositoryName=repo_name, branchName="target", commitId=_tip(cc, repo_name, "main")
    )
    by_source = _create(cc, repo_name, source="clash", title="source goes")
    by_destination = _create(cc, repo_name, dest="target", title="destination goes")
    untouched = _create(cc, repo_name, title="stays")
    git(git_env, "push", "-q", server.git_url(repo_name), "--delete", "clash", cwd=work)
    cc.delete_branch(repositoryName=repo_name, branchName="target")
    status = {
        pr["title"]: cc.get_pull_request(pullRequestId=pr["pullRequestId"])["pullRequest"]
        for pr in (by_source, by_destination, untouched)
    }
    assert status["source goes"]["pullRequestStatus"] == "CLOSED"
    assert status["destination goes"]["pullRequestStatus"] == "CLOSED"
    assert status["stays"]["pullRequestStatus"] == "OPEN"
    closed = status["source goes"]["pullRequestTargets"][0]["mergeMetadata"]
    assert not closed["isMerged"]
    kinds = [e["pullRequestEventType"] for e in _events(cc, by_source["pullRequestId"])]
    assert kinds[-1] == "PULL_REQUEST_STATUS_CHANGED"


def test_a_renamed_repositorys_pull_requests_name_it_by_its_new_name(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    pr = _create(cc, repo_name)
    cc.update_repository_name(oldName=repo_name, newName=f"{repo_name}-new")
    got = cc.get_pull_request(pullRequestId=pr["pullRequestId"])["pullRequest"]
    assert got["pullRequestTargets"][0]["repositoryName"] == f"{repo_name}-new"
    listed = cc.list_pull_requests(repositoryName=f"{repo_name}-new")["pullRequestIds"]
    assert listed == [pr["pullRequestId"]]


def test_filters_naming_an_identity_that_does_not_exist_are_refused(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    cc = _repo(server, git_env, repo_name, tmp_path / "w")
    pr = _create(cc, repo_name)
    root = "arn:aws:iam::123456789012:root"
    ghost = "arn:aws:iam::123456789012:user/nobody-here"
    assert cc.list_pull_requests(repositoryName=repo_name, authorArn=root)["pullRequestIds"] == [
        pr["pullRequestId"]
    ]
    code = _code(cc.list_pull_requests, repositoryName=repo_name, authorArn=ghost)
    assert code == "AuthorDoesNotExistException"
    code = _code(cc.describe_pull_request_events, pullRequestId=pr["pullRequestId"], actorArn=ghost)
    assert code == "ActorDoesNotExistException"
    assert _events(cc, pr["pullRequestId"], actorArn=root)
