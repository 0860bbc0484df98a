"""Malformed protocol input and names no client should be able to store: each is refused with a
clear client error in the door's own shape (git's `ERR` / `ng` lines, AWS's JSON error), nothing
changes, and the server serves the next request."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import paramiko
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, GitUser, MakeGitUser, Server, git, make_commits
from maintenance import run_maintenance
from test_git_http import EMPTY_PACK, ZERO, create_repo, http_auth, parse_pkts, pkt, stored_files
from test_git_scenarios import TRANSPORTS

EMPTY_PKT = b"0004"


@pytest.fixture
def user(make_git_user: MakeGitUser) -> GitUser:
    return make_git_user()


class Pushed:
    """A repository with two commits on main, and what the server holds for it."""

    def __init__(self, server: Server, user: GitUser, env: dict[str, str], work: Path) -> None:
        self.server, self.user = server, user
        self.name = f"bad-{uuid.uuid4().hex[:10]}"
        create_repo(server, self.name)
        self.env = env
        self.work = work
        self.shas = make_commits(env, work, 2)
        git(env, "push", "-q", server.git_url(self.name), "main", cwd=work)
        run_maintenance(server)  # settle what earlier pushes scheduled
        self.files = stored_files(server, self.name)

    def refs(self) -> dict[str, str]:
        out = git(self.env, "ls-remote", self.server.git_url(self.name)).stdout
        return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}

    def assert_unchanged(self) -> None:
        """Refs and stored files as before, and git is still served."""
        assert self.refs() == {"HEAD": self.shas[-1], "refs/heads/main": self.shas[-1]}
        assert stored_files(self.server, self.name) == self.files
        assert self.server.alive()


@pytest.fixture
def pushed(server: Server, user: GitUser, git_env: dict[str, str], tmp_path: Path) -> Pushed:
    return Pushed(server, user, git_env, tmp_path / "w")


# -- the empty pkt-line 0004 -------------------------------------------------------------------


def _http_service(pushed: Pushed, service: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{pushed.server.plain_url(pushed.name)}/{service}",
        content=body,
        headers={"Content-Type": f"application/x-{service}-request"},
        auth=http_auth(pushed.server, pushed.name),
        timeout=60,
    )


def _ssh_service(pushed: Pushed, service: str, body: bytes) -> tuple[int, bytes]:
    """Run `service` over SSH, skip its advertisement, send `body`; (exit status, output)."""
    sock = __import__("socket").create_connection(("127.0.0.1", pushed.server.ssh_port), timeout=30)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=30)
        transport.auth_publickey(
            pushed.user.ssh_key_id,
            paramiko.Ed25519Key.from_private_key_file(str(pushed.user.identity)),
        )
        channel = transport.open_session(timeout=30)
        channel.settimeout(30)
        channel.exec_command(f"{service} '/v1/repos/{pushed.name}'")
        advertisement = b""
        while not advertisement.endswith(b"0000"):
            chunk = channel.recv(65536)
            assert chunk, advertisement
            advertisement += chunk
        channel.sendall(body)
        channel.shutdown_write()
        status = channel.recv_exit_status()
        out = b""
        while chunk := channel.recv(65536):
            out += chunk
        return status, out
    finally:
        transport.close()


def _requests(pushed: Pushed, service: str) -> list[bytes]:
    """Requests that are well formed up to an empty pkt-line (git never sends 0004): first,
    after a line, and after the flush (in the negotiation; among push options)."""
    head = pushed.shas[-1].encode()
    if service == "git-upload-pack":
        first = pkt(b"want " + head + b" side-band-64k ofs-delta\n")
        return [EMPTY_PKT, first + EMPTY_PKT, first + pkt(None) + EMPTY_PKT + pkt(None)]
    command = head + b" " + pushed.shas[0].encode() + b" refs/heads/main"
    first = pkt(command + b"\0report-status\n")
    options = pkt(command + b"\0report-status push-options\n") + pkt(None)
    return [EMPTY_PKT, first + EMPTY_PKT, options + EMPTY_PKT + pkt(None)]


@pytest.mark.parametrize("service", ["git-upload-pack", "git-receive-pack"])
def test_empty_pkt_line_is_refused_over_http(pushed: Pushed, service: str) -> None:
    for body in _requests(pushed, service):
        resp = _http_service(pushed, service, body)
        # git's shape: an `ERR` pkt-line, which git prints as "remote error: ..."
        assert resp.status_code == 200, (body, resp.status_code, resp.text)
        assert b"ERR " in resp.content and b"empty pkt-line" in resp.content, (body, resp.content)
        pushed.assert_unchanged()


@pytest.mark.parametrize("service", ["git-upload-pack", "git-receive-pack"])
def test_empty_pkt_line_is_refused_over_ssh(pushed: Pushed, service: str) -> None:
    for body in _requests(pushed, service):
        _, out = _ssh_service(pushed, service, body)
        assert b"ERR " in out and b"empty pkt-line" in out, (body, out)
        pushed.assert_unchanged()
        ssh_env = pushed.user.ssh_env(pushed.env)
        assert git(ssh_env, "ls-remote", pushed.user.ssh_url(pushed.name)).returncode == 0


# -- non-UTF-8 ref names -----------------------------------------------------------------------


def test_non_utf8_ref_name_is_refused_at_push(pushed: Pushed) -> None:
    """git itself accepts any byte >= 0x80 in a ref name; the API could then never name it."""
    bad = b"refs/heads/caf\xe9"  # Latin-1, not UTF-8
    out = subprocess.run(
        [
            b"git",
            b"push",
            b"--porcelain",
            pushed.server.git_url(pushed.name).encode(),
            b"HEAD:" + bad,
        ],
        cwd=pushed.work,
        env=pushed.env,
        capture_output=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert b"!\tHEAD:" + bad in out.stdout and b"must be valid UTF-8" in out.stdout, out
    pushed.assert_unchanged()
    # Hand-made: with other refs in the same push, only the bad one is refused.
    resp = httpx.post(
        f"{pushed.server.plain_url(pushed.name)}/git-receive-pack",
        content=pkt(f"{ZERO} {pushed.shas[0]} ".encode() + bad + b"\0report-status\n")
        + pkt(f"{ZERO} {pushed.shas[0]} refs/heads/fine\n".encode())
        + pkt(f"{ZERO} {pushed.shas[0]} refs/heads/{'é' * 256}\n".encode())
        + pkt(f"{ZERO} {pushed.shas[0]} refs/heads/{'a' * 257}\n".encode())
        + pkt(None)
        + EMPTY_PACK,
        headers={"Content-Type": "application/x-git-receive-pack-request"},
        auth=http_auth(pushed.server, pushed.name),
        timeout=60,
    )
    lines = [p for p in parse_pkts(resp.content) if p is not None]
    too_long = f"refs/heads/{'a' * 257}"  # the API could not name it (BranchName: 1 to 256)
    assert lines == [
        b"unpack ok\n",
        b"ng " + bad + b" funny refname: ref names must be valid UTF-8\n",
        b"ok refs/heads/fine\n",
        f"ok refs/heads/{'é' * 256}\n".encode(),  # 256 characters (512 bytes) is a branch
        f"ng {too_long} funny refname: branch names are at most 256 characters\n".encode(),
    ]
    branches = pushed.server.client().list_branches(repositoryName=pushed.name)["branches"]
    assert sorted(branches) == ["fine", "main", "é" * 256]


# -- lone surrogates through the API -----------------------------------------------------------


def _raw_json(server: Server, target: str, body: bytes) -> httpx.Response:
    """A SigV4-signed JSON 1.1 request with `body` sent byte for byte."""
    service = "kms" if target.startswith("TrentService") else "codecommit"
    req = AWSRequest(
        method="POST",
        url=f"{server.url}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": target,
        },
    )
    SigV4Auth(Credentials("test", "test"), service, REGION).add_auth(req)
    return httpx.post(req.url, content=body, headers=dict(req.headers.items()), timeout=30)


SURROGATE = "\ud800"


def test_lone_surrogate_in_branch_name_is_an_invalid_branch_name(pushed: Pushed) -> None:
    cc = pushed.server.client()
    calls: list[tuple[str, dict[str, Any]]] = [
        ("create_branch", {"branchName": f"x{SURROGATE}", "commitId": pushed.shas[0]}),
        ("get_branch", {"branchName": SURROGATE}),
        ("delete_branch", {"branchName": SURROGATE}),
        ("update_default_branch", {"defaultBranchName": SURROGATE}),
    ]
    for op, params in calls:
        with pytest.raises(ClientError) as info:  # boto3 sends it JSON-escaped: "\ud800"
            getattr(cc, op)(repositoryName=pushed.name, **params)
        err = info.value.response
        assert err["Error"]["Code"] == "InvalidBranchNameException", (op, err)
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    # The same escape written by hand, and one inside a longer name.
    for escaped in (b'"\\ud800"', b'"main\\udfff"', b'"\\udc00\\ud800"'):
        resp = _raw_json(
            pushed.server,
            "CodeCommit_20150413.GetBranch",
            b'{"repositoryName": "' + pushed.name.encode() + b'", "branchName": ' + escaped + b"}",
        )
        assert resp.status_code == 400, resp.text
        assert resp.json()["__type"] == "InvalidBranchNameException"
    # A surrogate pair is a real character, and just a branch that does not exist.
    resp = _raw_json(
        pushed.server,
        "CodeCommit_20150413.GetBranch",
        b'{"repositoryName": "' + pushed.name.encode() + b'", "branchName": "\\ud83d\\ude00"}',
    )
    assert resp.json()["__type"] == "BranchDoesNotExistException", resp.text
    pushed.assert_unchanged()


def test_lone_surrogate_in_other_strings_is_a_validation_error(pushed: Pushed) -> None:
    cc = pushed.server.client()
    with pytest.raises(ClientError) as info:
        cc.update_repository_description(
            repositoryName=pushed.name, repositoryDescription=f"d{SURROGATE}"
        )
    assert info.value.response["Error"]["Code"] == "InvalidRepositoryDescriptionException"
    with pytest.raises(ClientError) as info:
        cc.tag_resource(
            resourceArn=f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{pushed.name}",
            tags={"k": SURROGATE},
        )
    assert info.value.response["Error"]["Code"] == "InvalidTagsMapException"
    # A service whose model has no member-specific error: the generic validation error.
    resp = _raw_json(
        pushed.server, "TrentService.CreateKey", json.dumps({"Description": SURROGATE}).encode()
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["__type"] == "ValidationException"
    meta = cc.get_repository(repositoryName=pushed.name)["repositoryMetadata"]
    assert "repositoryDescription" not in meta
    assert cc.list_tags_for_resource(resourceArn=meta["Arn"])["tags"] == {}
    pushed.assert_unchanged()


# -- a repository named "-lead" ----------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_repository_with_leading_dash_is_served_over_git(
    server: Server, user: GitUser, git_env: dict[str, str], tmp_path: Path, transport: str
) -> None:
    """git quotes the path ('/v1/repos/-lead'); the name is never an option, to ccemu or to
    anything it runs."""
    env = user.ssh_env(git_env) if transport == "ssh" else git_env
    work = tmp_path / "w"
    shas = make_commits(env, work, 2)
    # "--upload-pack=x" is no valid name ("="), but "--upload-pack" is one, and only a name
    for name in (f"-lead-{uuid.uuid4().hex[:8]}", f"--upload-pack-{uuid.uuid4().hex[:8]}"):
        create_repo(server, name)
        url = user.ssh_url(name) if transport == "ssh" else user.http_url(name)
        git(env, "push", "-q", url, "main", cwd=work)
        clone = tmp_path / name
        git(env, "clone", "-q", url, str(clone))
        assert git(env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == shas[-1]
        branch = server.client().get_branch(repositoryName=name, branchName="main")["branch"]
        assert branch["commitId"] == shas[-1]
