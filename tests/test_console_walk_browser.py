"""The console's lab flow in one walk, in a real browser (the system's headless Chromium driven
by Playwright): sign in as an IAM user, create a repository, copy the HTTPS clone command with
the page's Copy button and run it with the real git, push, see the file in the code view, add a
file in the console and pull it, make a notification rule (its SNS topic created inline) whose
topic has a local HTTP subscriber that confirms as SNS subscribers do, push, and see the
delivery on the Events page; a read-only user sees the repository but is refused a change with
the deciding statement shown; a page from another origin posting a form to the console is
refused.

A screenshot of each page visited is kept: under `CCEMU_SCREENSHOTS` when set, else in the
test's temporary directory.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNT, REGION, Server, git, start_server
from tests.events_receiver import Received, Receiver, wait_idle

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "Corr3ct-Horse!"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
# What a lab's read-only user gets: everything but a change.
READ_ONLY = [
    {"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"},
    {
        "Sid": "LabReadOnly",
        "Effect": "Deny",
        "NotAction": [
            "codecommit:Get*",
            "codecommit:List*",
            "codecommit:BatchGet*",
            "codecommit:Describe*",
            "codecommit:GitPull",
        ],
        "Resource": "*",
    },
]
DEVELOPER = [
    {"Effect": "Allow", "Action": ["codecommit:*", "codestar-notifications:*"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["sns:*", "ccemu:*"], "Resource": "*"},
]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    s = start_server(tmp_path / "data", "--delivery-retry-scale", "0.01")
    yield s
    s.stop()


@pytest.fixture
def subscriber() -> Iterator[Receiver]:
    """A local HTTP endpoint that confirms its SNS subscription by visiting the SubscribeURL
    of the SubscriptionConfirmation message, as SNS subscribers do."""
    r = Receiver()

    def confirm(got: Received) -> None:
        if got.headers.get("x-amz-sns-message-type") == "SubscriptionConfirmation":
            with urllib.request.urlopen(got.json()["SubscribeURL"], timeout=10) as resp:
                resp.read()

    r.on_post = confirm
    yield r
    r.stop()


@pytest.fixture
def elsewhere() -> Iterator[dict[str, str]]:
    """Another origin (another port): serves the one page it is given at `/`."""
    served: dict[str, str] = {"html": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    served["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield served
    httpd.shutdown()
    httpd.server_close()


class Shots:
    """One PNG per page visited, numbered in the order of the walk."""

    def __init__(self, where: Path) -> None:
        self.dir = where
        self.dir.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def __call__(self, page: Any, name: str) -> None:
        path = self.dir / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path))
        self.taken.append(path)


def _user(srv: Server, statements: list[dict[str, Any]]) -> str:
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
    iam.put_user_policy(UserName=name, PolicyName="lab", PolicyDocument=doc)
    return name


def _sign_in(browser: Any, srv: Server, name: str, shot: Shots, **context: Any) -> Any:
    page = browser.new_context(viewport={"width": 1100, "height": 720}, **context).new_page()
    page.goto(f"{srv.url}/console/")
    page.fill("input[name=account]", ACCOUNT)
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    shot(page, "sign-in")
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/console/repositories")
    return page


def _head(srv: Server, repo: str) -> str:
    got = srv.client().get_branch(repositoryName=repo, branchName="main")
    return str(got["branch"]["commitId"])


def test_lab_walk_from_sign_in_to_the_delivered_notification(
    browser: Any,
    srv: Server,
    subscriber: Receiver,
    elsewhere: dict[str, str],
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    shot = Shots(Path(os.environ.get("CCEMU_SCREENSHOTS") or tmp_path / "screenshots"))
    name = _user(srv, DEVELOPER)
    # The lab's setup script: the user's HTTPS Git credentials, kept by git's credential store.
    cred = srv.client("iam").create_service_specific_credential(
        UserName=name, ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    store = Path(git_env["HOME"]) / ".git-credentials"
    secret = urllib.parse.quote(cred["ServicePassword"], safe="")
    store.write_text(f"http://{cred['ServiceUserName']}:{secret}@{srv.host_port}\n")
    git(git_env, "config", "--global", "credential.helper", f"store --file={store}")

    # Sign in, create a repository: the connection steps come next.
    repo = f"lab-{uuid.uuid4().hex[:6]}"
    page = _sign_in(browser, srv, name, shot, permissions=["clipboard-read", "clipboard-write"])
    shot(page, "repositories")
    page.fill("input[name=name]", repo)
    page.fill("textarea[name=description]", "the lab's repository")
    page.click("button:has-text('Create')")
    page.wait_for_url(f"**/console/repositories/{repo}/connect")
    page.click("a[href='#https']")
    shot(page, "connection-steps")

    # The clone command through the page's Copy button and the clipboard, run with git.
    page.click("#https button.copy[data-copy='.clone']")
    page.wait_for_selector("#https button.copy[data-copy='.clone']:has-text('Copied')")
    clone = page.evaluate("navigator.clipboard.readText()")
    argv = shlex.split(clone)
    assert argv[:2] == ["git", "clone"], clone
    git(git_env, *argv[1:], cwd=tmp_path)
    work = tmp_path / repo
    (work / "README.md").write_text("# Lab\n\nPushed with git.\n")
    git(git_env, "add", "README.md", cwd=work)
    git(git_env, "commit", "-q", "-m", "First commit", cwd=work)
    git(git_env, "push", "-q", "origin", "HEAD:main", cwd=work)
    git(git_env, "branch", "-q", "-u", "origin/main", cwd=work)

    # The pushed file in the code view, its README shown.
    page.goto(f"{srv.url}/console/repositories/{repo}")
    assert page.locator("td.file", has_text="README.md").count() == 1
    assert "Pushed with git." in page.locator("pre.readme").inner_text()
    shot(page, "code")

    # A file added in the console, pulled with git.
    page.click("a:has-text('Add file')")
    page.fill("input[name=path]", "notes/console.txt")
    page.fill("textarea[name=content]", "added in the console\n")
    page.fill("input[name=message]", "Add notes from the console")
    shot(page, "add-file")
    page.click("button:has-text('Commit changes')")
    page.wait_for_selector("code.commit-id")
    assert "+added in the console" in page.locator("pre.diff").inner_text()
    shot(page, "commit")
    git(git_env, "pull", "-q", cwd=work)
    assert (work / "notes" / "console.txt").read_text() == "added in the console\n"

    # Settings → Notifications: a rule on branch updates, its SNS topic made inline.
    topic_name = f"lab-{uuid.uuid4().hex[:6]}"
    page.goto(f"{srv.url}/console/repositories/{repo}/settings")
    page.fill("#notifications input[name=rule_name]", "lab-pushes")
    page.check("input[name='type_codecommit-repository-branches-and-tags-updated']")
    page.fill("#notifications input[name=new_topic]", topic_name)
    page.click("button:has-text('Create notification rule')")
    page.wait_for_selector("td.rule:has-text('lab-pushes')")
    shot(page, "settings")
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic_name}"
    # The lab's subscriber: an HTTP endpoint, confirmed by the handshake.
    sns = srv.client("sns")
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url)
    subscriber.wait_for(1)
    assert wait_idle(srv.url)["idle"] and not subscriber.errors
    (sub,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sub["SubscriptionArn"].startswith(topic + ":")  # confirmed

    (work / "README.md").write_text("# Lab\n\nPushed again.\n")
    git(git_env, "commit", "-q", "-am", "Second push", cwd=work)
    git(git_env, "push", "-q", cwd=work)
    assert wait_idle(srv.url)["idle"]
    notes = [
        json.loads(q.json()["Message"])
        for q in subscriber.requests
        if q.headers.get("x-amz-sns-message-type") == "Notification"
    ]
    assert [n["detail"]["event"] for n in notes] == ["referenceUpdated"]

    # The delivery on the Events page: to the topic, delivered, HTTP 200.
    page.goto(f"{srv.url}/console/events?repository={repo}")
    page.click(f"details.delivery:has(code.destination:has-text('{topic}')) summary")
    delivered = page.locator("details.delivery", has=page.locator("span.state-delivered"))
    assert delivered.filter(has_text=topic).count() == 1
    shot(page, "events")

    # A read-only user sees the repository and its files, and is refused a change with the
    # statement that decided it; the branch did not move.
    head = _head(srv, repo)
    reader = _sign_in(browser, srv, _user(srv, READ_ONLY), shot)
    reader.goto(f"{srv.url}/console/repositories/{repo}")
    assert reader.locator("td.file", has_text="README.md").count() == 1
    reader.click("a:has-text('Add file')")
    reader.fill("input[name=path]", "notes/reader.txt")
    reader.fill("textarea[name=content]", "not allowed\n")
    reader.fill("input[name=message]", "Should not land")
    reader.click("button:has-text('Commit changes')")
    reader.wait_for_selector("h1:has-text('Access denied')")
    assert reader.locator("code.action").inner_text() == "codecommit:PutFile"
    assert "LabReadOnly" in reader.locator("ul.statements").inner_text()
    shot(reader, "denied")
    assert _head(srv, repo) == head

    # A page on another origin submits a form to the console in the signed-in browser: the
    # browser sends the session cookie (same site, another port), the console refuses it.
    forged = f"forged-{uuid.uuid4().hex[:6]}"
    elsewhere["html"] = (
        f'<form id="f" method="post" action="{srv.url}/console/repositories">'
        f'<input name="name" value="{forged}"><input name="csrf" value="guessed"></form>'
        '<script>document.getElementById("f").submit()</script>'
    )
    page.goto(elsewhere["url"])
    page.wait_for_url(f"{srv.url}/console/repositories")
    assert "Cross-site request refused." in page.content()
    shot(page, "cross-site-refused")
    names = [r["repositoryName"] for r in srv.client().list_repositories()["repositories"]]
    assert forged not in names and repo in names
    # The console still serves the signed-in user.
    page.goto(f"{srv.url}/console/repositories")
    assert page.locator("td.name", has_text=repo).count() == 1

    assert len(shot.taken) == 11 and all(p.stat().st_size > 0 for p in shot.taken)
