"""A merge of a pull request against a change of its approvals made while the merge is under
way: the approval rules are checked in the transaction that moves the destination branch, so
an approval revoked or an override withdrawn before that transaction is never merged past; a
destination moved meanwhile fails the merge's compare-and-swap.

The window is held open deterministically: the test takes the database's write lock with a
connection of its own (SQLite `BEGIN IMMEDIATE`, as every writer of ccemu does), starts a
three-way merge through boto3, and waits until the merge has published its pack — the last
step before the ref transaction, which then waits for the lock. Inside its own transaction the
test then commits what `UpdatePullRequestApprovalState` / `OverridePullRequestApprovalRules`
or a push would commit (no client can send a request into that window: the server's writers
wait for the same lock), and releases the lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import Server
from maintenance import run_maintenance
from test_api_approval_rules import _content, _create_pr, _repo, _state, _user

# What the second connection commits inside the window, by the revision it changes.
_CHANGES = {
    "approval_revoked": "UPDATE approvals SET state = 'REVOKE' WHERE revision = ?",
    "override_withdrawn": "DELETE FROM approval_overrides WHERE revision = ?",
}


def _packs(server: Server, repo_id: str) -> set[str]:
    return {p.name for p in (server.data_dir / "repos" / repo_id / "objects" / "pack").iterdir()}


def _merge_with_window(
    server: Server,
    client: Any,
    pr_id: str,
    repo_name: str,
    inside: Callable[[sqlite3.Connection], sqlite3.Cursor],
) -> dict[str, Any]:
    """Merge the pull request three-way while a second connection holds the database's write
    lock; once the merge has published its pack (its ref transaction now waits for the lock),
    run `inside` in that connection's transaction (it must change one row) and commit.
    Returns what the merge answered."""
    repo_id = client.get_repository(repositoryName=repo_name)["repositoryMetadata"]["repositoryId"]
    run_maintenance(server)  # nothing else adds packs to the repository from here on
    packs = _packs(server, repo_id)
    outcome: dict[str, Any] = {}

    def merge() -> None:
        try:
            outcome["merged"] = client.merge_pull_request_by_three_way(
                pullRequestId=pr_id, repositoryName=repo_name
            )
        except ClientError as exc:
            outcome["error"] = exc.response["Error"]["Code"]

    db = sqlite3.connect(server.data_dir / "state.db", isolation_level=None, timeout=30)
    db.execute("BEGIN IMMEDIATE")
    thread = threading.Thread(target=merge)
    try:
        thread.start()
        # The merge passed its early check and built its commit; its ref transaction waits.
        while _packs(server, repo_id) == packs:
            assert thread.is_alive(), outcome
            time.sleep(0.01)
        assert inside(db).rowcount == 1
        db.execute("COMMIT")
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()
        thread.join(60)
    return outcome


@pytest.mark.parametrize("change", sorted(_CHANGES))
def test_approval_withdrawn_while_a_merge_is_made_does_not_let_it_through(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path, change: str
) -> None:
    work = tmp_path / "w"
    _repo(server, git_env, repo_name, work)
    _author_arn, author = _user(server)
    _reviewer_arn, reviewer = _user(server)
    pr = _create_pr(author, repo_name)
    pr_id, rev = pr["pullRequestId"], pr["revisionId"]
    author.create_pull_request_approval_rule(
        pullRequestId=pr_id, approvalRuleName="One", approvalRuleContent=_content(1)
    )
    if change == "approval_revoked":
        reviewer.update_pull_request_approval_state(
            pullRequestId=pr_id, revisionId=rev, approvalState="APPROVE"
        )
    else:
        reviewer.override_pull_request_approval_rules(
            pullRequestId=pr_id, revisionId=rev, overrideStatus="OVERRIDE"
        )
    outcome = _merge_with_window(
        server, author, pr_id, repo_name, lambda db: db.execute(_CHANGES[change], (rev,))
    )
    assert outcome == {"error": "PullRequestApprovalRulesNotSatisfiedException"}

    # nothing merged, and the server serves the next request
    before = _state(author, pr_id)
    assert before[0]["pullRequestStatus"] == "OPEN"
    assert before[0]["pullRequestTargets"][0]["mergeMetadata"]["isMerged"] is False
    assert before[4] == pr["pullRequestTargets"][0]["destinationCommit"]
    evaluation = author.evaluate_pull_request_approval_rules(pullRequestId=pr_id, revisionId=rev)
    assert evaluation["evaluation"]["approved"] is False
    assert evaluation["evaluation"]["overridden"] is False


def test_destination_moved_while_a_merge_is_made_is_a_concurrent_update(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    """The merge's compare-and-swap of the destination fails: nothing is merged and the pull
    request stays open (ConcurrentReferenceUpdateException), as AWS answers."""
    work = tmp_path / "w"
    _repo(server, git_env, repo_name, work)
    _author_arn, author = _user(server)
    pr = _create_pr(author, repo_name)
    pr_id = pr["pullRequestId"]
    moved_to = pr["pullRequestTargets"][0]["sourceCommit"]  # a commit the store holds
    outcome = _merge_with_window(
        server,
        author,
        pr_id,
        repo_name,
        lambda db: db.execute(
            "UPDATE refs SET sha = ? WHERE name = ? AND repo_id ="
            " (SELECT id FROM repositories WHERE name = ?)",
            (moved_to.encode(), b"refs/heads/main", repo_name),
        ),
    )
    assert outcome == {"error": "ConcurrentReferenceUpdateException"}
    got = author.get_pull_request(pullRequestId=pr_id)["pullRequest"]
    assert got["pullRequestStatus"] == "OPEN"
    assert got["pullRequestTargets"][0]["mergeMetadata"]["isMerged"] is False
    main = author.get_branch(repositoryName=repo_name, branchName="main")["branch"]["commitId"]
    assert main == moved_to
