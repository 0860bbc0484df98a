"""The Pull requests pages in a real browser (the system's headless Chromium, Playwright):
one user creates a pull request from two branches and comments on a line, a second approves,
the first merges."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNT, Server

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "Corr3ct-Horse!"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ONE_APPROVAL = json.dumps(
    {"Version": "2018-11-08", "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 1}]}
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _user(srv: Server) -> str:
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="console", PolicyDocument=json.dumps(doc))
    return name


def _sign_in(browser: Any, srv: Server, name: str) -> Any:
    page = browser.new_context().new_page()
    page.goto(f"{srv.url}/console/")
    page.fill("input[name=account]", ACCOUNT)
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/console/repositories")
    return page


def test_create_approve_by_a_second_user_and_merge(browser: Any, server: Server) -> None:
    cc = server.client("codecommit")
    repo = f"prweb-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=repo)
    head = cc.create_commit(
        repositoryName=repo,
        branchName="main",
        putFiles=[{"filePath": "a.txt", "fileContent": b"one\ntwo\nthree\n"}],
    )["commitId"]
    cc.create_branch(repositoryName=repo, branchName="feature", commitId=head)
    cc.put_file(
        repositoryName=repo,
        branchName="feature",
        filePath="a.txt",
        fileContent=b"one\nTWO\nthree\n",
        parentCommitId=head,
    )
    author, reviewer = _user(server), _user(server)

    page = _sign_in(browser, server, author)
    page.goto(f"{server.url}/console/repositories/{repo}")
    page.click("nav.tabs a:has-text('Pull requests')")
    page.click("a:has-text('Create pull request')")
    page.select_option("select[name=destination]", "main")
    page.select_option("select[name=source]", "feature")
    page.click("button:has-text('Compare')")
    assert page.locator("tr.add pre").first.inner_text() == "+TWO"
    page.fill("input[name=title]", "Shout two")
    page.fill("textarea[name=description]", "Because.")
    page.click("button:has-text('Create pull request')")
    page.wait_for_selector("text=Created pull request")
    pr_id = page.locator(".pr-id").inner_text()
    pr_url = page.url
    cc.create_pull_request_approval_rule(
        pullRequestId=pr_id, approvalRuleName="one", approvalRuleContent=ONE_APPROVAL
    )
    # A comment on the changed line, from the line's own link.
    page.click("tr.add a.comment-line")
    page.fill("form.line-comment textarea[name=content]", "Why so loud?")
    page.click("button:has-text('Save line comment')")
    page.wait_for_selector("text=Commented.")
    assert "Why so loud?" in page.locator("table.diff").inner_text()

    other = _sign_in(browser, server, reviewer)
    other.goto(pr_url)
    assert "Not approved" in other.locator(".approval-state").inner_text()
    other.click("button:has-text('Approve')")
    other.wait_for_selector("text=Approved.")
    assert other.locator(".approver").inner_text() == reviewer
    assert "every approval rule is satisfied" in other.locator(".approval-state").inner_text()

    page.reload()
    page.check("input[value=SQUASH_MERGE]")
    page.fill("form.merge textarea[name=message]", "Shout two (squashed)")
    page.click("button:has-text('Merge pull request')")
    page.wait_for_selector("text=Merged (squash).")
    assert page.locator(".pr-status").inner_text() == "Merged"
    meta = cc.get_pull_request(pullRequestId=pr_id)["pullRequest"]["pullRequestTargets"][0][
        "mergeMetadata"
    ]
    assert meta["isMerged"] and meta["mergeOption"] == "SQUASH_MERGE"
    assert meta["mergedBy"].endswith(f"user/{author}")
    merged = cc.get_commit(repositoryName=repo, commitId=meta["mergeCommitId"])["commit"]
    assert merged["message"].startswith("Shout two (squashed)")
