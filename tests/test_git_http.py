"""The real git CLI against a real ccemu over smart HTTP: clone, push, fetch, branches, tags,
force and atomic pushes, races, parallel clones, restarts and authentication."""

from __future__ import annotations

import gzip
import hashlib
import struct
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Server, git, make_commits, start_server
from maintenance import run_maintenance

ZERO = "0" * 40
EMPTY_PACK = b"PACK" + struct.pack(">II", 2, 0)
EMPTY_PACK += hashlib.sha1(EMPTY_PACK).digest()  # noqa: S324 - git's pack checksum


# -- helpers shared with test_git_bad_input.py ----------------------------------------------


def create_repo(server: Server, name: str) -> None:
    server.client().create_repository(repositoryName=name)


def repo_dir(server: Server, name: str) -> Path:
    meta = server.client().get_repository(repositoryName=name)["repositoryMetadata"]
    return server.data_dir / "repos" / meta["repositoryId"]


def stored_files(server: Server, name: str) -> list[str]:
    """Every file of the repository: packs and whatever is left in the scratch dir."""
    root = repo_dir(server, name)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def default_branch(server: Server, name: str) -> str | None:
    meta = server.client().get_repository(repositoryName=name)["repositoryMetadata"]
    return meta.get("defaultBranch")


def remote_refs(env: dict[str, str], url: str) -> dict[str, str]:
    out = git(env, "ls-remote", url).stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


def pkt(data: bytes | None) -> bytes:
    return b"0000" if data is None else f"{len(data) + 4:04x}".encode() + data


def parse_pkts(data: bytes) -> list[bytes | None]:
    out: list[bytes | None] = []
    while data:
        size = int(data[:4], 16)
        if size in (0, 1):
            out.append(None)
            data = data[4:]
            continue
        out.append(data[4:size])
        data = data[size:]
    return out


def report_lines(body: bytes) -> list[str]:
    """The report-status lines of a receive-pack answer (side-band demultiplexed)."""
    packets = parse_pkts(body)
    if packets and packets[0] is not None and packets[0][:1] == b"\x01":
        inner = b"".join(p[1:] for p in packets if p is not None and p[:1] == b"\x01")
        packets = parse_pkts(inner)
    return [p.decode().rstrip("\n") for p in packets if p is not None]


def http_auth(server: Server, name: str, **kw: Any) -> tuple[str, str]:
    return ("test", server.git_password(name, **kw))


def raw_receive(
    server: Server,
    name: str,
    commands: list[tuple[str, str, str]],
    pack: bytes | None = EMPTY_PACK,
    caps: str = "report-status side-band-64k",
    body: bytes | None = None,
) -> httpx.Response:
    """POST one receive-pack request built by hand."""
    if body is None:
        lines = []
        for i, (old, new, ref) in enumerate(commands):
            line = f"{old} {new} {ref}".encode()
            if i == 0:
                line += b"\x00" + caps.encode()
            lines.append(pkt(line + b"\n"))
        body = b"".join(lines) + pkt(None) + (pack or b"")
    return httpx.post(
        f"{server.plain_url(name)}/git-receive-pack",
        content=body,
        headers={"Content-Type": "application/x-git-receive-pack-request"},
        auth=http_auth(server, name),
        timeout=60,
    )


def assert_serving(server: Server, env: dict[str, str]) -> None:
    """The server still answers git after whatever the test did to it."""
    probe = f"probe-{uuid.uuid4().hex[:12]}"
    create_repo(server, probe)
    assert git(env, "ls-remote", server.git_url(probe)).returncode == 0
    assert server.alive()


# -- scenarios --------------------------------------------------------------------------------


def test_clone_empty_push_clone_fetch(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    create_repo(server, repo_name)
    url = server.git_url(repo_name)
    first = tmp_path / "first"
    out = git(git_env, "clone", url, str(first))
    assert "empty repository" in out.stderr
    shas = make_commits(git_env, first, 3)
    git(git_env, "push", "origin", "main", cwd=first)
    # The first push sets the default branch, so HEAD is a symref to it.
    symref = git(git_env, "ls-remote", "--symref", url, "HEAD").stdout
    assert "ref: refs/heads/main\tHEAD" in symref
    assert default_branch(server, repo_name) == "main"
    assert remote_refs(git_env, url)["refs/heads/main"] == shas[-1]

    second = tmp_path / "second"
    git(git_env, "clone", url, str(second))
    assert git(git_env, "rev-parse", "HEAD", cwd=second).stdout.strip() == shas[-1]
    assert (git(git_env, "rev-list", "--count", "HEAD", cwd=second).stdout.strip()) == "3"
    git(git_env, "fsck", "--strict", cwd=second)

    # Push more (a thin pack on top of what the server has), then fetch it elsewhere.
    more = make_commits(git_env, first, 5)
    git(git_env, "push", "origin", "main", cwd=first)
    git(git_env, "fetch", "origin", cwd=second)
    assert git(git_env, "rev-parse", "origin/main", cwd=second).stdout.strip() == more[-1]
    git(git_env, "merge", "--ff-only", "origin/main", cwd=second)
    git(git_env, "fsck", "--strict", cwd=second)
    assert not [f for f in stored_files(server, repo_name) if f.startswith("incoming/")]


def test_branches_and_tags(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    create_repo(server, repo_name)
    url = server.git_url(repo_name)
    work = tmp_path / "w"
    shas = make_commits(git_env, work, 2)
    git(git_env, "remote", "add", "origin", url, cwd=work)
    git(git_env, "push", "origin", "main", cwd=work)
    run_maintenance(server)  # settle what earlier pushes scheduled
    packs_before = stored_files(server, repo_name)

    git(git_env, "branch", "feature", shas[0], cwd=work)
    git(git_env, "tag", "light", shas[0], cwd=work)
    git(git_env, "tag", "-a", "-m", "release one", "v1", shas[1], cwd=work)
    git(git_env, "push", "origin", "feature", "light", cwd=work)
    # Pointing refs at objects the server has sends an empty pack: nothing may be stored.
    assert stored_files(server, repo_name) == packs_before
    git(git_env, "push", "origin", "v1", cwd=work)

    out = git(git_env, "ls-remote", url).stdout
    refs = {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}
    assert refs["refs/heads/feature"] == shas[0]
    assert refs["refs/tags/light"] == shas[0]
    tag_sha = git(git_env, "rev-parse", "v1", cwd=work).stdout.strip()
    assert refs["refs/tags/v1"] == tag_sha != shas[1]
    assert refs["refs/tags/v1^{}"] == shas[1]

    clone = tmp_path / "c"
    git(git_env, "clone", url, str(clone))
    assert git(git_env, "cat-file", "-t", "v1", cwd=clone).stdout.strip() == "tag"

    git(git_env, "push", "origin", "--delete", "feature", "light", cwd=work)
    refs = remote_refs(git_env, url)
    assert "refs/heads/feature" not in refs and "refs/tags/light" not in refs
    assert refs["refs/tags/v1"] == tag_sha

    # Deleting the default branch is allowed; the default branch setting stays.
    git(git_env, "push", "origin", "--delete", "main", cwd=work)
    refs = remote_refs(git_env, url)
    assert "refs/heads/main" not in refs and "HEAD" not in refs
    assert default_branch(server, repo_name) == "main"


def test_atomic_is_all_or_nothing_on_the_server(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    """The client cannot see a stale ref the server has: the server's own check must hold."""
    create_repo(server, repo_name)
    work = tmp_path / "w"
    shas = make_commits(git_env, work, 2)
    url = server.git_url(repo_name)
    git(git_env, "remote", "add", "origin", url, cwd=work)
    git(git_env, "push", "origin", "main", cwd=work)
    before = remote_refs(git_env, url)
    commands = [(ZERO, shas[0], "refs/heads/new"), (shas[0], shas[0], "refs/heads/main")]

    resp = raw_receive(server, repo_name, commands, caps="report-status side-band-64k atomic")
    lines = report_lines(resp.content)
    assert lines[0] == "unpack ok"
    assert lines[1].startswith("ng refs/heads/new ")
    assert lines[2].startswith("ng refs/heads/main ")
    assert remote_refs(git_env, url) == before

    # Without atomic, each ref gets its own true outcome.
    resp = raw_receive(server, repo_name, commands)
    lines = report_lines(resp.content)
    assert lines == [
        "unpack ok",
        "ok refs/heads/new",
        "ng refs/heads/main failed to update ref: it changed during the push",
    ]
    assert remote_refs(git_env, url)["refs/heads/new"] == shas[0]
    assert remote_refs(git_env, url)["refs/heads/main"] == shas[1]


def test_racing_updates_of_one_ref_have_exactly_one_winner(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    create_repo(server, repo_name)
    work = tmp_path / "w"
    shas = make_commits(git_env, work, 9)
    git(git_env, "remote", "add", "origin", server.git_url(repo_name), cwd=work)
    git(git_env, "push", "origin", "main", f"{shas[0]}:refs/heads/race", cwd=work)
    results: list[list[str]] = []

    def push(target: str) -> None:
        resp = raw_receive(server, repo_name, [(shas[0], target, "refs/heads/race")])
        results.append(report_lines(resp.content))

    threads = [threading.Thread(target=push, args=(sha,)) for sha in shas[1:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    oks = [r for r in results if r[1] == "ok refs/heads/race"]
    losers = [r for r in results if r[1].startswith("ng refs/heads/race")]
    assert len(oks) == 1 and len(losers) == len(shas) - 2
    final = remote_refs(git_env, server.git_url(repo_name))["refs/heads/race"]
    assert final in shas[1:]


def test_state_survives_restart(
    fresh_server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    create_repo(fresh_server, "keep")
    work = tmp_path / "w"
    shas = make_commits(git_env, work, 3)
    git(git_env, "remote", "add", "origin", fresh_server.git_url("keep"), cwd=work)
    git(git_env, "push", "origin", "main", "HEAD:refs/heads/other", cwd=work)
    fresh_server.stop()
    again = start_server(fresh_server.data_dir)
    try:
        clone = tmp_path / "c"
        git(git_env, "clone", again.git_url("keep"), str(clone))
        assert git(git_env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == shas[-1]
        assert remote_refs(git_env, again.git_url("keep"))["refs/heads/other"] == shas[-1]
    finally:
        again.stop()


def test_gzip_encoded_upload_pack_request(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    create_repo(server, repo_name)
    work = tmp_path / "w"
    shas = make_commits(git_env, work, 2)
    git(git_env, "remote", "add", "origin", server.git_url(repo_name), cwd=work)
    git(git_env, "push", "origin", "main", cwd=work)
    request = pkt(f"want {shas[-1]} side-band-64k ofs-delta thin-pack\n".encode()) + pkt(None)
    request += pkt(b"done\n")
    resp = httpx.post(
        f"{server.plain_url(repo_name)}/git-upload-pack",
        content=gzip.compress(request),
        headers={
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
        auth=http_auth(server, repo_name),
        timeout=60,
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-git-upload-pack-result"
    assert b"NAK" in resp.content[:16] and b"PACK" in resp.content
    # A body that is not valid gzip is refused with a clear status.
    bad = httpx.post(
        f"{server.plain_url(repo_name)}/git-upload-pack",
        content=b"\x1f\x8bnot really gzip",
        headers={
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
        auth=http_auth(server, repo_name),
        timeout=60,
    )
    assert bad.status_code == 400 and "gzip" in bad.text


def test_info_refs_headers_and_preamble(server: Server, repo_name: str) -> None:
    create_repo(server, repo_name)
    for service in ("git-upload-pack", "git-receive-pack"):
        resp = httpx.get(
            f"{server.plain_url(repo_name)}/info/refs",
            params={"service": service},
            auth=http_auth(server, repo_name),
        )
        assert resp.status_code == 200
        assert resp.headers["content-type"] == f"application/x-{service}-advertisement"
        assert "no-cache" in resp.headers["cache-control"]
        assert parse_pkts(resp.content)[:2] == [f"# service={service}\n".encode(), None]
    dumb = httpx.get(f"{server.plain_url(repo_name)}/info/refs", auth=http_auth(server, repo_name))
    assert dumb.status_code == 403 and "dumb" in dumb.text
    for path in ("HEAD", "objects/info/packs", ""):
        resp = httpx.get(f"{server.plain_url(repo_name)}/{path}", auth=http_auth(server, repo_name))
        assert resp.status_code == 404


# -- authentication ---------------------------------------------------------------------------


def test_anonymous_gets_401_with_basic_challenge(
    server: Server, git_env: dict[str, str], repo_name: str
) -> None:
    create_repo(server, repo_name)
    resp = httpx.get(
        f"{server.plain_url(repo_name)}/info/refs", params={"service": "git-upload-pack"}
    )
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Basic realm="ccemu"'
    out = git(git_env, "ls-remote", server.plain_url(repo_name), check=False)
    assert out.returncode != 0
    assert "could not read Username" in out.stderr or "Authentication failed" in out.stderr


def test_wrong_or_expired_password_gets_403(
    server: Server, git_env: dict[str, str], repo_name: str
) -> None:
    create_repo(server, repo_name)
    url = f"{server.plain_url(repo_name)}/info/refs"
    params = {"service": "git-upload-pack"}
    assert httpx.get(url, params=params, auth=http_auth(server, repo_name)).status_code == 200
    bad_secret = http_auth(server, repo_name, secret="wrong")
    assert httpx.get(url, params=params, auth=bad_secret).status_code == 403
    old = datetime.now(UTC) - timedelta(minutes=20)
    expired = http_auth(server, repo_name, when=old)
    assert httpx.get(url, params=params, auth=expired).status_code == 403
    other_repo = ("test", server.git_password(repo_name + "x"))
    assert httpx.get(url, params=params, auth=other_repo).status_code == 403
    # Signed for another region: a good signature, for a region where no such repository is.
    wrong_region = http_auth(server, repo_name, region="eu-west-1")
    assert httpx.get(url, params=params, auth=wrong_region).status_code == 404
    # Signed for the host with its port also verifies.
    with_port = ("test", server.git_password(repo_name, host=server.host_port))
    assert httpx.get(url, params=params, auth=with_port).status_code == 200

    out = git(git_env, "ls-remote", server.git_url(repo_name, secret="wrong"), check=False)
    assert out.returncode != 0 and "403" in out.stderr


def test_unknown_repository_is_404(server: Server, git_env: dict[str, str], repo_name: str) -> None:
    out = git(git_env, "clone", server.git_url(repo_name), check=False)
    assert out.returncode != 0
    assert "not found" in out.stderr
    resp = httpx.get(
        f"{server.plain_url(repo_name)}/info/refs",
        params={"service": "git-receive-pack"},
        auth=http_auth(server, repo_name),
    )
    assert resp.status_code == 404 and "not found" in resp.text


def test_other_account_cannot_see_repository(
    server: Server, git_env: dict[str, str], repo_name: str
) -> None:
    create_repo(server, repo_name)
    # Root of another account (a 12-digit key id signed with the root secret).
    other = ("210987654321", server.git_password(repo_name, key="210987654321"))
    resp = httpx.get(
        f"{server.plain_url(repo_name)}/info/refs",
        params={"service": "git-upload-pack"},
        auth=other,
    )
    assert resp.status_code == 404


@pytest.mark.parametrize("service", ["git-upload-pack", "git-receive-pack"])
def test_post_requires_git_content_type(server: Server, repo_name: str, service: str) -> None:
    create_repo(server, repo_name)
    resp = httpx.post(
        f"{server.plain_url(repo_name)}/{service}",
        content=b"0000",
        headers={"Content-Type": "text/plain"},
        auth=http_auth(server, repo_name),
    )
    assert resp.status_code == 415


def test_restart_discards_an_interrupted_push_quarantine(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    srv = start_server(tmp_path / "data")
    try:
        name = "quarantine-left"
        create_repo(srv, name)
        scratch = repo_dir(srv, name) / "incoming"
        scratch.mkdir(parents=True, exist_ok=True)
        (scratch / "tmpabc.pack").write_bytes(b"PACK half written")
    finally:
        srv.stop()
    srv = start_server(tmp_path / "data")
    try:
        assert not (scratch / "tmpabc.pack").exists()
        work = tmp_path / "work"
        make_commits(git_env, work, 1)
        git(git_env, "push", srv.git_url(name), "main", cwd=work)
        assert remote_refs(git_env, srv.git_url(name))["refs/heads/main"]
    finally:
        srv.stop()


def test_repository_in_another_region_is_served_by_its_signature(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    name = f"eu-{uuid.uuid4().hex[:8]}"
    eu = server.client(region="eu-west-1")
    url = eu.create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]
    assert url == server.plain_url(name)
    work = tmp_path / "work"
    [sha] = make_commits(git_env, work, 1)
    git(git_env, "push", server.git_url(name, region="eu-west-1"), "main", cwd=work)
    assert remote_refs(git_env, server.git_url(name, region="eu-west-1"))["refs/heads/main"] == sha
    assert eu.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == sha
    # Signed for the endpoint's region, where no such repository exists: not found.
    proc = git(git_env, "ls-remote", server.git_url(name), check=False)
    assert proc.returncode != 0 and "not found" in proc.stderr
    # Signed for a third region: not found there either (whether a signature verifies does
    # not depend on where repositories exist).
    proc = git(git_env, "ls-remote", server.git_url(name, region="ap-south-1"), check=False)
    assert proc.returncode != 0 and "not found" in proc.stderr
