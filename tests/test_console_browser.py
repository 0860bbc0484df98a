"""The console in a real browser: the system's headless Chromium driven by Playwright."""

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

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _user(srv: Server, statements: list[dict[str, Any]]) -> str:
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
    iam.put_user_policy(UserName=name, PolicyName="console", PolicyDocument=doc)
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


def test_user_creates_lists_and_deletes_a_repository(browser: Any, server: Server) -> None:
    name = _user(server, [{"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}])
    repo = f"web-{uuid.uuid4().hex[:8]}"
    page = _sign_in(browser, server, name)
    page.fill("input[name=name]", repo)
    page.fill("textarea[name=description]", "made in the console")
    page.click("button:has-text('Create')")
    page.wait_for_selector(f"text=Created repository {repo}.")
    page.fill("input[name=q]", repo)
    page.click("button:has-text('Search')")
    assert page.locator("td.name", has_text=repo).count() == 1
    got = server.client("codecommit").get_repository(repositoryName=repo)
    assert got["repositoryMetadata"]["repositoryDescription"] == "made in the console"

    page.click(f"a[href$='/repositories/{repo}/delete']")
    page.fill("input[name=confirm]", repo)
    page.click("button:has-text('Delete')")
    page.wait_for_selector(f"text=Deleted repository {repo}.")
    names = server.client("codecommit").list_repositories()["repositories"]
    assert repo not in [r["repositoryName"] for r in names]


def test_denied_create_names_the_action_and_the_statement(browser: Any, server: Server) -> None:
    name = _user(
        server,
        [
            {"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"},
            {
                "Sid": "NoNewRepos",
                "Effect": "Deny",
                "Action": "codecommit:CreateRepository",
                "Resource": "*",
            },
        ],
    )
    repo = f"web-{uuid.uuid4().hex[:8]}"
    page = _sign_in(browser, server, name)
    page.fill("input[name=name]", repo)
    page.click("button:has-text('Create')")
    page.wait_for_selector("h1:has-text('Access denied')")
    assert page.locator("code.action").inner_text() == "codecommit:CreateRepository"
    assert page.locator("code.resource").inner_text().endswith(f":{repo}")
    assert "NoNewRepos" in page.locator("ul.statements").inner_text()
    names = server.client("codecommit").list_repositories()["repositories"]
    assert repo not in [r["repositoryName"] for r in names]
