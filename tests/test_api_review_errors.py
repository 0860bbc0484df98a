"""The errors the service model declares for the code-review operations (pull requests, approval
rules, approval rule templates, comments), each met where AWS meets it: a missing or empty
member, a value out of its set, a conflict resolution that does not fit. Sent by a boto3 client
that does not validate, so the server's own checks answer; every refusal changes nothing and
the server serves the next request."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import Server, git
from test_api_protocol import unvalidated_client

RULE = (
    '{"Version": "2018-11-08", "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 1}]}'
)


def _env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AWS_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    return env


def _commit(env: dict[str, str], work: Path, name: str, text: str) -> None:
    (work / name).write_text(text)
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", text, cwd=work)


class Review:
    """A repository with an open pull request (feature -> main), a comment on it and an
    approval rule template; a second pull request (clash -> main) whose merge conflicts."""

    def __init__(self, server: Server, work: Path) -> None:
        self.server = server
        self.cc = server.client()
        self.raw = unvalidated_client(server)
        self.repo = f"review-{uuid.uuid4().hex[:10]}"
        self.template = f"tpl-{uuid.uuid4().hex[:10]}"
        env = _env(work / "home")
        self.cc.create_repository(repositoryName=self.repo)
        git(env, "init", "-q", "-b", "main", str(work / "w"))
        w = work / "w"
        _commit(env, w, "a.txt", "a\n")
        git(env, "checkout", "-q", "-b", "feature", cwd=w)
        _commit(env, w, "b.txt", "b\n")
        git(env, "checkout", "-q", "-b", "clash", "main", cwd=w)
        _commit(env, w, "a.txt", "clash\n")
        git(env, "checkout", "-q", "main", cwd=w)
        _commit(env, w, "a.txt", "main\n")
        git(env, "push", "-q", server.git_url(self.repo), "main", "feature", "clash", cwd=w)
        pr = self.create("feature")
        self.pr, self.rev = pr["pullRequestId"], pr["revisionId"]
        target = pr["pullRequestTargets"][0]
        self.src, self.dst = target["sourceCommit"], target["destinationCommit"]
        self.clash = self.create("clash")["pullRequestId"]
        self.comment = self.cc.post_comment_for_pull_request(
            pullRequestId=self.pr,
            repositoryName=self.repo,
            beforeCommitId=self.dst,
            afterCommitId=self.src,
            content="first",
        )["comment"]["commentId"]
        self.cc.create_approval_rule_template(
            approvalRuleTemplateName=self.template, approvalRuleTemplateContent=RULE
        )

    def create(self, source: str) -> dict[str, Any]:
        target = {"repositoryName": self.repo, "sourceReference": source}
        pr = self.cc.create_pull_request(title=source, targets=[target])["pullRequest"]
        return dict(pr)

    def state(self) -> tuple[Any, ...]:
        """What a refused call must leave as it was."""
        cc = self.cc
        prs = [cc.get_pull_request(pullRequestId=p)["pullRequest"] for p in (self.pr, self.clash)]
        events = [
            len(cc.describe_pull_request_events(pullRequestId=p)["pullRequestEvents"])
            for p in (self.pr, self.clash)
        ]
        comments = cc.get_comments_for_pull_request(pullRequestId=self.pr)
        reactions = cc.get_comment_reactions(commentId=self.comment)["reactionsForComment"]
        templates = cc.list_approval_rule_templates()["approvalRuleTemplateNames"]
        template = cc.get_approval_rule_template(approvalRuleTemplateName=self.template)
        associated = cc.list_associated_approval_rule_templates_for_repository(
            repositoryName=self.repo
        )["approvalRuleTemplateNames"]
        branches = {
            b: cc.get_branch(repositoryName=self.repo, branchName=b)["branch"]["commitId"]
            for b in ("main", "feature", "clash")
        }
        return (
            prs,
            events,
            comments["commentsForPullRequestData"],
            reactions,
            sorted(templates),
            template["approvalRuleTemplate"],
            associated,
            branches,
        )


@pytest.fixture(scope="module")
def review(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Review]:
    yield Review(server, tmp_path_factory.mktemp("review"))


Kw = Callable[[Review], dict[str, Any]]

# (operation, the request without the member, the code AWS answers)
_PR = "PullRequestIdRequiredException"
_CID = "CommentIdRequiredException"
_TPL = "ApprovalRuleTemplateNameRequiredException"
_TOKEN = "ClientRequestTokenRequiredException"
_CONTENT = "CommentContentRequiredException"


def _post_for_pr(r: Review, **kw: Any) -> dict[str, Any]:
    base = {
        "pullRequestId": r.pr,
        "repositoryName": r.repo,
        "beforeCommitId": r.dst,
        "afterCommitId": r.src,
        "content": "x",
    }
    return {**base, **kw}


def _without(kw: dict[str, Any], member: str) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if k != member}


CASES: list[tuple[str, Kw, str]] = [
    # a pull request ID is required by every operation that names one
    ("get_pull_request", lambda r: {}, _PR),
    ("update_pull_request_title", lambda r: {"title": "t"}, _PR),
    ("update_pull_request_description", lambda r: {"description": "d"}, _PR),
    ("update_pull_request_status", lambda r: {"pullRequestStatus": "CLOSED"}, _PR),
    ("describe_pull_request_events", lambda r: {}, _PR),
    ("merge_pull_request_by_fast_forward", lambda r: {"repositoryName": r.repo}, _PR),
    ("merge_pull_request_by_squash", lambda r: {"repositoryName": r.repo}, _PR),
    ("merge_pull_request_by_three_way", lambda r: {"repositoryName": r.repo}, _PR),
    (
        "create_pull_request_approval_rule",
        lambda r: {"approvalRuleName": "n", "approvalRuleContent": RULE},
        _PR,
    ),
    (
        "update_pull_request_approval_rule_content",
        lambda r: {"approvalRuleName": "n", "newRuleContent": RULE},
        _PR,
    ),
    ("delete_pull_request_approval_rule", lambda r: {"approvalRuleName": "n"}, _PR),
    (
        "update_pull_request_approval_state",
        lambda r: {"revisionId": r.rev, "approvalState": "APPROVE"},
        _PR,
    ),
    ("get_pull_request_approval_states", lambda r: {"revisionId": r.rev}, _PR),
    ("evaluate_pull_request_approval_rules", lambda r: {"revisionId": r.rev}, _PR),
    (
        "override_pull_request_approval_rules",
        lambda r: {"revisionId": r.rev, "overrideStatus": "OVERRIDE"},
        _PR,
    ),
    ("get_pull_request_override_state", lambda r: {"revisionId": r.rev}, _PR),
    ("post_comment_for_pull_request", lambda r: _without(_post_for_pr(r), "pullRequestId"), _PR),
    ("get_comments_for_pull_request", lambda r: {}, _PR),
    ("get_pull_request", lambda r: {"pullRequestId": ""}, _PR),
    # a comment ID, likewise
    ("post_comment_reply", lambda r: {"content": "x"}, _CID),
    ("get_comment", lambda r: {}, _CID),
    ("get_comment", lambda r: {"commentId": ""}, _CID),
    ("update_comment", lambda r: {"content": "x"}, _CID),
    ("delete_comment_content", lambda r: {}, _CID),
    ("put_comment_reaction", lambda r: {"reactionValue": ":thumbsup:"}, _CID),
    ("get_comment_reactions", lambda r: {}, _CID),
    # an approval rule template name, likewise
    ("get_approval_rule_template", lambda r: {}, _TPL),
    ("get_approval_rule_template", lambda r: {"approvalRuleTemplateName": ""}, _TPL),
    ("delete_approval_rule_template", lambda r: {}, _TPL),
    ("update_approval_rule_template_name", lambda r: {"newApprovalRuleTemplateName": "n"}, _TPL),
    (
        "update_approval_rule_template_description",
        lambda r: {"approvalRuleTemplateDescription": "d"},
        _TPL,
    ),
    ("update_approval_rule_template_content", lambda r: {"newRuleContent": RULE}, _TPL),
    (
        "associate_approval_rule_template_with_repository",
        lambda r: {"repositoryName": r.repo},
        _TPL,
    ),
    (
        "disassociate_approval_rule_template_from_repository",
        lambda r: {"repositoryName": r.repo},
        _TPL,
    ),
    (
        "batch_associate_approval_rule_template_with_repositories",
        lambda r: {"repositoryNames": [r.repo]},
        _TPL,
    ),
    (
        "batch_disassociate_approval_rule_template_from_repositories",
        lambda r: {"repositoryNames": [r.repo]},
        _TPL,
    ),
    ("list_repositories_for_approval_rule_template", lambda r: {}, _TPL),
    # an empty idempotency token (none at all is fine: the SDKs make one)
    (
        "create_pull_request",
        lambda r: {
            "title": "t",
            "targets": [{"repositoryName": r.repo, "sourceReference": "feature"}],
            "clientRequestToken": "",
        },
        _TOKEN,
    ),
    ("post_comment_for_pull_request", lambda r: _post_for_pr(r, clientRequestToken=""), _TOKEN),
    (
        "post_comment_for_compared_commit",
        lambda r: _without(_post_for_pr(r, clientRequestToken=""), "pullRequestId"),
        _TOKEN,
    ),
    (
        "post_comment_reply",
        lambda r: {"inReplyTo": r.comment, "content": "x", "clientRequestToken": ""},
        _TOKEN,
    ),
    # a target's branch
    (
        "create_pull_request",
        lambda r: {"title": "t", "targets": [{"repositoryName": r.repo}]},
        "ReferenceNameRequiredException",
    ),
    # statuses, event types, approval states and override statuses out of their sets
    (
        "list_pull_requests",
        lambda r: {"repositoryName": r.repo, "pullRequestStatus": "MERGED"},
        "InvalidPullRequestStatusException",
    ),
    (
        "update_pull_request_status",
        lambda r: {"pullRequestId": r.pr, "pullRequestStatus": "MERGED"},
        "InvalidPullRequestStatusException",
    ),
    (
        "update_pull_request_status",
        lambda r: {"pullRequestId": r.pr},
        "PullRequestStatusRequiredException",
    ),
    (
        "describe_pull_request_events",
        lambda r: {"pullRequestId": r.pr, "pullRequestEventType": "PULL_REQUEST_REOPENED"},
        "InvalidPullRequestEventTypeException",
    ),
    (
        "update_pull_request_approval_state",
        lambda r: {"pullRequestId": r.pr, "revisionId": r.rev},
        "ApprovalStateRequiredException",
    ),
    (
        "update_pull_request_approval_state",
        lambda r: {"pullRequestId": r.pr, "revisionId": r.rev, "approvalState": "MAYBE"},
        "InvalidApprovalStateException",
    ),
    (
        "override_pull_request_approval_rules",
        lambda r: {"pullRequestId": r.pr, "revisionId": r.rev},
        "OverrideStatusRequiredException",
    ),
    (
        "override_pull_request_approval_rules",
        lambda r: {"pullRequestId": r.pr, "revisionId": r.rev, "overrideStatus": "MAYBE"},
        "InvalidOverrideStatusException",
    ),
    # rules and templates
    (
        "update_pull_request_approval_rule_content",
        lambda r: {"pullRequestId": r.pr, "approvalRuleName": "none", "newRuleContent": RULE},
        "ApprovalRuleDoesNotExistException",
    ),
    (
        "create_approval_rule_template",
        lambda r: {"approvalRuleTemplateContent": RULE},
        _TPL,
    ),
    (
        "create_approval_rule_template",
        lambda r: {"approvalRuleTemplateName": f"{r.template}-2"},
        "ApprovalRuleTemplateContentRequiredException",
    ),
    (
        "update_approval_rule_template_content",
        lambda r: {"approvalRuleTemplateName": r.template},
        "ApprovalRuleTemplateContentRequiredException",
    ),
    (
        "create_approval_rule_template",
        lambda r: {
            "approvalRuleTemplateName": f"{r.template}-2",
            "approvalRuleTemplateContent": RULE,
            "approvalRuleTemplateDescription": "d" * 1001,
        },
        "InvalidApprovalRuleTemplateDescriptionException",
    ),
    (
        "update_approval_rule_template_description",
        lambda r: {
            "approvalRuleTemplateName": r.template,
            "approvalRuleTemplateDescription": "d" * 1001,
        },
        "InvalidApprovalRuleTemplateDescriptionException",
    ),
    # comment content and reactions
    ("post_comment_for_pull_request", lambda r: _without(_post_for_pr(r), "content"), _CONTENT),
    (
        "post_comment_for_compared_commit",
        lambda r: _without(_without(_post_for_pr(r), "content"), "pullRequestId"),
        _CONTENT,
    ),
    ("post_comment_reply", lambda r: {"inReplyTo": r.comment}, _CONTENT),
    ("update_comment", lambda r: {"commentId": r.comment}, _CONTENT),
    (
        "put_comment_reaction",
        lambda r: {"commentId": r.comment},
        "ReactionValueRequiredException",
    ),
    # the merge commit's author and message, as for any commit
    *(
        (
            op,
            lambda r, member=member, value=value: {
                "pullRequestId": r.pr,
                "repositoryName": r.repo,
                member: value,
            },
            code,
        )
        for op in ("merge_pull_request_by_squash", "merge_pull_request_by_three_way")
        for member, value, code in (
            ("authorName", "n" * 1025, "NameLengthExceededException"),
            ("email", "a<b>@example.com", "InvalidEmailException"),
            ("commitMessage", "m" * (256 * 1024 + 1), "CommitMessageLengthExceededException"),
        )
    ),
]


def _case_id(case: tuple[str, Kw, str]) -> str:
    return f"{case[0]}-{case[2]}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_request_missing_or_out_of_range_gets_the_models_error_and_changes_nothing(
    review: Review, case: tuple[str, Kw, str]
) -> None:
    operation, kw, code = case
    before = review.state()
    with pytest.raises(ClientError) as info:
        getattr(review.raw, operation)(**kw(review))
    assert info.value.response["Error"]["Code"] == code
    assert review.state() == before


_RESOLUTIONS: list[tuple[dict[str, Any], str]] = [
    ({"replaceContents": [{"filePath": "a.txt"}]}, "ReplacementTypeRequiredException"),
    (
        {"replaceContents": [{"filePath": "a.txt", "replacementType": "KEEP_ALL"}]},
        "InvalidReplacementTypeException",
    ),
    (
        {"replaceContents": [{"filePath": "a.txt", "replacementType": "USE_NEW_CONTENT"}]},
        "ReplacementContentRequiredException",
    ),
    (
        {
            "replaceContents": [
                {"filePath": "a.txt", "replacementType": "KEEP_SOURCE", "content": b"x"}
            ]
        },
        "InvalidReplacementContentException",
    ),
    (
        {
            "replaceContents": [{"filePath": "a.txt", "replacementType": "KEEP_SOURCE"}],
            "deleteFiles": [{"filePath": "a.txt"}],
        },
        "MultipleConflictResolutionEntriesException",
    ),
    (
        {"deleteFiles": [{"filePath": f"f{i}.txt"} for i in range(1001)]},
        "MaximumConflictResolutionEntriesExceededException",
    ),
    ({"deleteFiles": [{"filePath": "b.txt"}]}, "InvalidConflictResolutionException"),
]


@pytest.mark.parametrize("option", ["squash", "three_way"])
@pytest.mark.parametrize("resolution,code", _RESOLUTIONS, ids=[code for _, code in _RESOLUTIONS])
def test_conflict_resolution_that_does_not_fit_the_conflicts_is_refused_and_merges_nothing(
    review: Review, option: str, resolution: dict[str, Any], code: str
) -> None:
    before = review.state()
    with pytest.raises(ClientError) as info:
        getattr(review.raw, f"merge_pull_request_by_{option}")(
            pullRequestId=review.clash,
            repositoryName=review.repo,
            conflictResolutionStrategy="NONE",
            conflictResolution=resolution,
        )
    assert info.value.response["Error"]["Code"] == code
    assert review.state() == before


def test_a_repository_holds_at_most_25_associated_templates(server: Server, review: Review) -> None:
    cc = server.client()
    repo = f"many-{uuid.uuid4().hex[:10]}"
    cc.create_repository(repositoryName=repo)
    names = [f"cap-{uuid.uuid4().hex[:10]}" for _ in range(26)]
    for name in names:
        cc.create_approval_rule_template(
            approvalRuleTemplateName=name, approvalRuleTemplateContent=RULE
        )
    try:
        for name in names[:25]:
            cc.associate_approval_rule_template_with_repository(
                approvalRuleTemplateName=name, repositoryName=repo
            )
        with pytest.raises(ClientError) as info:
            cc.associate_approval_rule_template_with_repository(
                approvalRuleTemplateName=names[25], repositoryName=repo
            )
        code = info.value.response["Error"]["Code"]
        assert code == "MaximumRuleTemplatesAssociatedWithRepositoryException"
        associated = cc.list_associated_approval_rule_templates_for_repository(repositoryName=repo)[
            "approvalRuleTemplateNames"
        ]
        assert sorted(associated) == sorted(names[:25])
        assert not cc.list_repositories_for_approval_rule_template(
            approvalRuleTemplateName=names[25]
        )["repositoryNames"]
    finally:
        cc.delete_repository(repositoryName=repo)
        for name in names:
            cc.delete_approval_rule_template(approvalRuleTemplateName=name)
