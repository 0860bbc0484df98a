"""The console's Security credentials page over plain HTTP: an SSH key uploaded there clones
with real `ssh`, an HTTPS Git credential and an access key are shown once and work, and what
the user's policies refuse, or root, gets nothing."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from botocore.exceptions import ClientError
from console_helpers import csrf as _csrf

from tests.conftest import ACCOUNT, Server, git, needs_openssh, ssh_keygen

PASSWORD = "Corr3ct-Horse!"
CODE = {"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}


def _self_service(user: str) -> dict[str, Any]:
    """What AWS's IAMUserSSHKeys and IAMSelfManageServiceSpecificCredentials allow, plus the
    user's own access keys, on the user itself."""
    return {
        "Sid": "OwnCredentials",
        "Effect": "Allow",
        "Action": [
            "iam:*SSHPublicKey*",
            "iam:*ServiceSpecificCredential*",
            "iam:*AccessKey*",
        ],
        "Resource": f"arn:aws:iam::{ACCOUNT}:user/{user}",
    }


def _user(srv: Server, statements: list[dict[str, Any]] | None = None) -> str:
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    chosen = [CODE, _self_service(name)] if statements is None else statements
    doc = json.dumps({"Version": "2012-10-17", "Statement": chosen})
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc)
    return name


@contextmanager
def _client(srv: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, headers={"Origin": srv.url}, timeout=30) as c:
        yield c


@contextmanager
def _signed_in(srv: Server, name: str) -> Iterator[httpx.Client]:
    with _client(srv) as c:
        r = c.post(
            "/console/signin",
            data={"kind": "iam", "account": ACCOUNT, "username": name, "password": PASSWORD},
        )
        assert r.status_code == 303
        yield c


def _shown(page: str, cls: str) -> str:
    m = re.search(rf'<pre class="cmd {cls}"><code>([^<]+)</code></pre>', page)
    assert m, page
    return html.unescape(m.group(1))


def _csv(page: str) -> tuple[str, str]:
    m = re.search(
        r'<a class="download" href="data:text/csv;charset=utf-8,([^"]+)" '
        r'download="([^"]+)"',
        page,
    )
    assert m, page
    return unquote(html.unescape(m.group(1))), m.group(2)


def _repo_with_file(srv: Server) -> str:
    cc = srv.client("codecommit")
    repo = f"cred-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=repo)
    cc.put_file(repositoryName=repo, branchName="main", fileContent=b"hi\n", filePath="a.txt")
    return repo


@needs_openssh
def test_ssh_key_uploaded_in_the_console_clones_with_the_key_id_shown(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo = _repo_with_file(server)
    identity = ssh_keygen(tmp_path / "id_console")
    body = identity.with_name(identity.name + ".pub").read_text()
    name = _user(server)
    with _signed_in(server, name) as c:
        token = _csrf(c.get("/console/credentials").text)
        r = c.post("/console/credentials/ssh", data={"csrf": token, "body": body})
        assert r.status_code == 200, r.text
        key_id = _shown(r.text, "ssh-key-id")
        assert key_id.startswith("APKA")
        (listed,) = server.client("iam").list_ssh_public_keys(UserName=name)["SSHPublicKeys"]
        assert listed["SSHPublicKeyId"] == key_id
        page = c.get("/console/credentials").text
        assert f'<code class="ssh-key">{key_id}</code>' in page
        assert '<td class="status">Active</td>' in page

        env = {**git_env, "GIT_SSH_COMMAND": " ".join(server.ssh_command(identity))}
        clone = tmp_path / "clone"
        git(env, "clone", "-q", server.ssh_git_url(repo, key_id), str(clone))
        assert (clone / "a.txt").read_text() == "hi\n"

        # Deactivated, the same key is refused; deleted, it is gone.
        form = {"csrf": token, "id": key_id, "status": "Inactive"}
        assert c.post("/console/credentials/ssh/status", data=form).status_code == 303
        page = c.get("/console/credentials").text
        assert f"SSH key {key_id} is inactive." in page
        got = git(env, "ls-remote", server.ssh_git_url(repo, key_id), check=False)
        assert got.returncode != 0
        r = c.post("/console/credentials/ssh/delete", data={"csrf": token, "id": key_id})
        assert r.status_code == 303
        assert server.client("iam").list_ssh_public_keys(UserName=name)["SSHPublicKeys"] == []


def test_https_git_credential_is_shown_once_and_clones(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo = _repo_with_file(server)
    name = _user(server)
    with _signed_in(server, name) as c:
        token = _csrf(c.get("/console/credentials").text)
        r = c.post("/console/credentials/https", data={"csrf": token})
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-store"
        user, password = _shown(r.text, "git-user"), _shown(r.text, "git-password")
        assert user == f"{name}-at-{ACCOUNT}"
        text, filename = _csv(r.text)
        assert text == f"User Name,Password\r\n{user},{password}\r\n"
        assert filename == f"{name}_codecommit_credentials.csv"

        url = f"http://{quote(user, safe='')}:{quote(password, safe='')}@{server.host_port}"
        git(git_env, "clone", "-q", f"{url}/v1/repos/{repo}", str(tmp_path / "clone"))
        assert (tmp_path / "clone" / "a.txt").exists()

        # Never again: not on the page, not in the list the API answers.
        page = c.get("/console/credentials").text
        assert password not in page and user in page
        (cred,) = server.client("iam").list_service_specific_credentials(UserName=name)[
            "ServiceSpecificCredentials"
        ]
        assert "ServicePassword" not in cred

        # Reset: a new password, shown once; the old one no longer clones.
        form = {"csrf": token, "id": cred["ServiceSpecificCredentialId"]}
        r = c.post("/console/credentials/https/reset", data=form)
        assert r.status_code == 200
        fresh = _shown(r.text, "git-password")
        assert fresh != password
        old = git(git_env, "ls-remote", f"{url}/v1/repos/{repo}", check=False)
        assert old.returncode != 0
        assert c.post("/console/credentials/https/delete", data=form).status_code == 303
        listed = server.client("iam").list_service_specific_credentials(UserName=name)
        assert listed["ServiceSpecificCredentials"] == []


def test_access_key_is_shown_once_and_deactivates(server: Server) -> None:
    name = _user(server)
    with _signed_in(server, name) as c:
        token = _csrf(c.get("/console/credentials").text)
        r = c.post("/console/credentials/keys", data={"csrf": token})
        assert r.status_code == 200
        key_id, secret = _shown(r.text, "access-key-id"), _shown(r.text, "secret-key")
        text, _ = _csv(r.text)
        assert text == f"Access key ID,Secret access key\r\n{key_id},{secret}\r\n"
        cc = server.client("codecommit", key=key_id, secret=secret)
        cc.list_repositories()
        page = c.get("/console/credentials").text
        assert key_id in page and secret not in page

        form = {"csrf": token, "id": key_id, "status": "Inactive"}
        assert c.post("/console/credentials/keys/status", data=form).status_code == 303
        with pytest.raises(ClientError):
            cc.list_repositories()
        assert c.post("/console/credentials/keys/delete", data=form).status_code == 303
        assert server.client("iam").list_access_keys(UserName=name)["AccessKeyMetadata"] == []


def test_root_has_no_credentials_page_and_creates_nothing(server: Server) -> None:
    with _client(server) as c:
        r = c.post(
            "/console/signin",
            data={"kind": "root", "account": ACCOUNT, "password": "test"},
        )
        assert r.status_code == 303
        page = c.get("/console/credentials")
        assert page.status_code == 200 and "which has no IAM user" in page.text
        before = server.client("iam").list_access_keys()["AccessKeyMetadata"]
        r = c.post("/console/credentials/keys", data={"csrf": _csrf(page.text)})
        assert r.status_code == 400 and "which has no IAM user" in r.text
        assert server.client("iam").list_access_keys()["AccessKeyMetadata"] == before


def test_user_without_iam_rights_sees_the_refusal_and_creates_nothing(server: Server) -> None:
    name = _user(server, [CODE])
    with _signed_in(server, name) as c:
        page = c.get("/console/credentials")
        assert page.status_code == 200
        assert '<code class="action">iam:ListSSHPublicKeys</code>' in page.text
        assert '<code class="action">iam:ListAccessKeys</code>' in page.text
        r = c.post("/console/credentials/keys", data={"csrf": _csrf(page.text)})
        assert r.status_code == 403
        assert '<code class="action">iam:CreateAccessKey</code>' in r.text
        assert server.client("iam").list_access_keys(UserName=name)["AccessKeyMetadata"] == []
        assert c.get("/console/credentials").status_code == 200


def test_cross_site_post_creates_no_access_key(server: Server) -> None:
    name = _user(server)
    with _signed_in(server, name) as c:
        token = _csrf(c.get("/console/credentials").text)
        assert c.post("/console/credentials/keys", data={}).status_code == 403
        forged = c.post(
            "/console/credentials/keys",
            data={"csrf": token},
            headers={"Origin": "http://evil.example"},
        )
        assert forged.status_code == 403
        assert server.client("iam").list_access_keys(UserName=name)["AccessKeyMetadata"] == []
        assert c.get("/console/credentials").status_code == 200
