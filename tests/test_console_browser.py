"""The console in a real browser: the system's headless Chromium driven by Playwright."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNT, Server, git, make_commits

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
    page.click("a:has-text('Repositories')")
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


def _follow_credential_step(step: str, env: dict[str, str]) -> dict[str, Any]:
    """Run the page's "create HTTPS Git credentials" commands as a user pastes them: `export`
    lines set the environment, the rest runs (the aws CLI, else the same call through boto3)."""
    run_env = dict(env)
    argv: list[str] = []
    for line in step.strip().splitlines():
        words = shlex.split(line)
        if words[0] == "export":
            key, _, value = words[1].partition("=")
            run_env[key] = value
        else:
            argv = words
    assert argv[:3] == ["aws", "iam", "create-service-specific-credential"], argv
    if shutil.which("aws"):
        out = subprocess.run(argv, env=run_env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return dict(json.loads(out.stdout)["ServiceSpecificCredential"])
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=run_env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=run_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=run_env["AWS_SECRET_ACCESS_KEY"],
    )
    user = argv[argv.index("--user-name") + 1]
    got = iam.create_service_specific_credential(
        UserName=user, ServiceName=argv[argv.index("--service-name") + 1]
    )
    return dict(got["ServiceSpecificCredential"])


def test_clone_from_the_connection_steps_then_edit_in_the_console_and_pull(
    browser: Any, server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    own = {
        "Effect": "Allow",
        "Action": ["iam:CreateServiceSpecificCredential", "iam:ListSSHPublicKeys"],
        "Resource": "arn:aws:iam::*:user/${aws:username}",
    }
    name = _user(server, [{"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}, own])
    keys = server.client("iam").create_access_key(UserName=name)["AccessKey"]
    repo = f"web-{uuid.uuid4().hex[:8]}"
    page = _sign_in(browser, server, name)
    page.fill("input[name=name]", repo)
    page.click("button:has-text('Create')")
    # Created: on to the connection steps, as CodeCommit's console does.
    page.wait_for_url(f"**/console/repositories/{repo}/connect")
    assert page.locator("p.notice").inner_text() == f"Created repository {repo}."
    page.click("a[href='#https']")
    clone = page.locator("#https pre.clone").inner_text().strip()
    step = page.locator("#https pre.credential").inner_text()
    git_user = page.locator("#https code.git-user").inner_text()

    # Step 1 as the page says, with the user's own access keys.
    env = {**git_env, "AWS_ACCESS_KEY_ID": keys["AccessKeyId"]}
    env["AWS_SECRET_ACCESS_KEY"] = keys["SecretAccessKey"]
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    cred = _follow_credential_step(step, env)
    assert cred["ServiceUserName"] == git_user
    # git asks for them; a credential helper keeps them (here: git's own store).
    home = Path(git_env["HOME"])
    store = home / ".git-credentials"
    secret = urllib.parse.quote(cred["ServicePassword"], safe="")
    store.write_text(f"http://{git_user}:{secret}@{server.host_port}\n")
    git(git_env, "config", "--global", "credential.helper", f"store --file={store}")

    # Step 2: the clone command, copied from the page and run with the real git.
    argv = shlex.split(clone)
    assert argv[:2] == ["git", "clone"]
    git(git_env, *argv[1:], cwd=tmp_path)
    work = tmp_path / repo
    make_commits(git_env, work, 1)
    git(git_env, "push", "-q", "-u", "origin", "main", cwd=work)

    # Add a file in the console: a commit on main through the one write path.
    page.goto(f"{server.url}/console/repositories/{repo}")
    page.click("a:has-text('Add file')")
    page.fill("input[name=path]", "docs/from-console.txt")
    page.fill("textarea[name=content]", "hello from the console\n")
    page.fill("input[name=message]", "Add a file in the console")
    page.click("button:has-text('Commit changes')")
    page.wait_for_selector("code.commit-id")
    # Its commit view shows the diff the core computed.
    assert "+hello from the console" in page.locator("pre.diff").inner_text()
    assert "docs/from-console.txt" in page.locator("ul.changes").inner_text()

    git(git_env, "pull", "-q", cwd=work)
    assert (work / "docs" / "from-console.txt").read_text() == "hello from the console\n"
    log = git(git_env, "log", "-1", "--format=%s", cwd=work).stdout.strip()
    assert log == "Add a file in the console"
