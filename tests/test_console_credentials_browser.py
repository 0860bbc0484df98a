"""The Security credentials page in a real browser: the system's headless Chromium driven by
Playwright generates HTTPS Git credentials, downloads their .csv, and never sees the password
again."""

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
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def test_git_credentials_are_downloaded_once_and_not_shown_again(
    browser: Any, server: Server
) -> None:
    iam = server.client("iam")
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    own = {
        "Effect": "Allow",
        "Action": "iam:*ServiceSpecificCredential*",
        "Resource": f"arn:aws:iam::{ACCOUNT}:user/{name}",
    }
    doc = json.dumps({"Version": "2012-10-17", "Statement": [own]})
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc)

    page = browser.new_context(accept_downloads=True).new_page()
    page.goto(f"{server.url}/console/signin")
    page.fill("input[name=account]", ACCOUNT)
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/console/repositories")
    page.click("a:has-text('Security credentials')")
    page.wait_for_url("**/console/credentials")
    page.click("button:has-text('Generate credentials')")
    page.wait_for_selector("text=This is the only time the password is shown")
    user = page.inner_text("pre.git-user code")
    password = page.inner_text("pre.git-password code")
    assert user == f"{name}-at-{ACCOUNT}" and len(password) > 20

    with page.expect_download() as info:
        page.click("a.download")
    download = info.value
    assert download.suggested_filename == f"{name}_codecommit_credentials.csv"
    text = Path(download.path()).read_bytes().decode()
    assert text == f"User Name,Password\r\n{user},{password}\r\n"

    page.goto(f"{server.url}/console/credentials")
    assert user in page.content() and password not in page.content()
    assert page.locator("pre.git-password").count() == 0
    (cred,) = iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"]
    assert cred["ServiceUserName"] == user
