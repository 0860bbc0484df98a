"""Bad pushes over smart HTTP: each gets a clear error, changes nothing (refs and stored files),
and the server goes on serving."""

from __future__ import annotations

import gzip
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, git, make_commits, start_server
from maintenance import run_maintenance
from test_git_http import (
    EMPTY_PACK,
    ZERO,
    assert_serving,
    create_repo,
    pkt,
    raw_receive,
    remote_refs,
    repo_dir,
    report_lines,
    stored_files,
)


def pack_of(env: dict[str, str], work: Path, *shas: str, revs: bool = False) -> bytes:
    """A pack holding exactly these objects (git does not walk from them unless `revs`)."""
    return subprocess.run(
        ["git", "pack-objects", "--stdout", *(["--revs"] if revs else [])],
        cwd=work,
        env=env,
        check=True,
        input="\n".join(shas).encode() + b"\n",
        capture_output=True,
    ).stdout


def write_object(env: dict[str, str], work: Path, kind: str, data: bytes) -> str:
    return (
        subprocess.run(
            ["git", "hash-object", "-t", kind, "--literally", "-w", "--stdin"],
            cwd=work,
            env=env,
            check=True,
            input=data,
            capture_output=True,
        )
        .stdout.decode()
        .strip()
    )


class Pushed:
    def __init__(self, server: Server, env: dict[str, str], name: str, work: Path) -> None:
        self.server, self.env, self.name, self.work = server, env, name, work
        self.shas = make_commits(env, work, 2)
        self.url = server.git_url(name)
        git(env, "remote", "add", "origin", self.url, cwd=work)
        git(env, "push", "origin", "main", cwd=work)
        self.refs = remote_refs(env, self.url)
        run_maintenance(server)  # settle what earlier pushes scheduled
        self.files = stored_files(server, name)

    def assert_unchanged(self) -> None:
        assert remote_refs(self.env, self.url) == self.refs
        assert stored_files(self.server, self.name) == self.files
        assert_serving(self.server, self.env)


@pytest.fixture
def pushed(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> Iterator[Pushed]:
    create_repo(server, repo_name)
    yield Pushed(server, git_env, repo_name, tmp_path / "w")


@pytest.mark.parametrize(
    "body",
    [
        b"zzzz",
        b"0002",
        b"00ffshort",
        pkt(b"not a command\n") + pkt(None),
        pkt(f"{ZERO} {'g' * 40} refs/heads/x\x00report-status\n".encode()) + pkt(None),
    ],
    ids=["non-hex-length", "bad-length", "truncated", "not-a-command", "bad-sha"],
)
def test_malformed_pkt_lines(pushed: Pushed, body: bytes) -> None:
    resp = raw_receive(pushed.server, pushed.name, [], body=body)
    assert resp.status_code == 200
    assert resp.content.startswith(b"00") and b"ERR " in resp.content
    pushed.assert_unchanged()


@pytest.mark.parametrize("kind", ["truncated", "garbage", "bad-checksum"])
def test_broken_pack(pushed: Pushed, kind: str) -> None:
    new = make_commits(pushed.env, pushed.work, 1, prefix="more")[0]
    good = pack_of(pushed.env, pushed.work, new)
    pack = {
        "truncated": good[: len(good) // 2],
        "garbage": b"NOTAPACK" * 64,
        "bad-checksum": good[:-1] + bytes([good[-1] ^ 1]),
    }[kind]
    resp = raw_receive(
        pushed.server, pushed.name, [(pushed.shas[-1], new, "refs/heads/main")], pack=pack
    )
    lines = report_lines(resp.content)
    assert lines[0].startswith("unpack ") and lines[0] != "unpack ok"
    assert lines[1] == "ng refs/heads/main unpacker error"
    pushed.assert_unchanged()


def test_commit_pointing_to_missing_object(pushed: Pushed) -> None:
    missing = "1234567890abcdef1234567890abcdef12345678"
    commit = write_object(
        pushed.env,
        pushed.work,
        "commit",
        f"tree {missing}\nparent {pushed.shas[-1]}\n"
        "author A <a@b> 1700000000 +0000\ncommitter A <a@b> 1700000000 +0000\n\nbroken\n".encode(),
    )
    resp = raw_receive(
        pushed.server,
        pushed.name,
        [(pushed.shas[-1], commit, "refs/heads/main")],
        pack=pack_of(pushed.env, pushed.work, commit),
    )
    lines = report_lines(resp.content)
    assert lines[0].startswith("unpack ") and f"missing object {missing}" in lines[0]
    assert lines[1].startswith("ng refs/heads/main")
    pushed.assert_unchanged()
    # A tip the server does not have, with no pack at all.
    resp = raw_receive(pushed.server, pushed.name, [(ZERO, missing, "refs/heads/ghost")])
    assert report_lines(resp.content)[1] == "ng refs/heads/ghost missing necessary objects"
    pushed.assert_unchanged()


@pytest.mark.parametrize(
    "name",
    [
        b".git",
        b".GIT",
        b".Git.",
        b".git ",
        b"git~1",
        b"GIT~1",
        b".g\xe2\x80\x8cit",
        b".git::$INDEX_ALLOCATION",
        b"a\\.git",
    ],
)
def test_tree_with_dotgit_entry_is_refused(pushed: Pushed, name: bytes) -> None:
    env, work = pushed.env, pushed.work
    blob = write_object(env, work, "blob", b"[core]\n\tfsmonitor = evil\n")
    tree = write_object(env, work, "tree", b"100644 " + name + b"\x00" + bytes.fromhex(blob))
    commit = git(env, "commit-tree", tree, "-p", pushed.shas[-1], "-m", "x", cwd=work)
    sha = commit.stdout.strip()
    out = git(env, "push", "origin", f"{sha}:refs/heads/main", cwd=work, check=False)
    assert out.returncode != 0
    assert "remote unpack failed" in out.stderr and "(unpacker error)" in out.stderr
    assert "not allowed" in out.stderr or "invalid name .git" in out.stderr
    pushed.assert_unchanged()


def test_bad_ref_names_are_refused(pushed: Pushed) -> None:
    sha = pushed.shas[-1]
    blob = write_object(pushed.env, pushed.work, "blob", b"data\n")
    bad = [
        "refs/heads/a..b",
        "refs/heads/x.lock",
        "refs/heads/end/",
        "HEAD",
        "refs/notes/x",
        "refs/heads/a@{1}",
        "refs/heads/a\\b",
        "refs/heads/.hidden",
        "refs/tags/x^",
    ]
    commands = [(ZERO, sha, ref) for ref in bad]
    resp = raw_receive(pushed.server, pushed.name, commands)
    lines = report_lines(resp.content)
    assert lines[0] == "unpack ok"
    assert all(line.startswith("ng ") for line in lines[1:])
    assert len(lines) == 1 + len(bad)
    # A branch must point to a commit.
    resp = raw_receive(
        pushed.server,
        pushed.name,
        [(ZERO, blob, "refs/heads/blob")],
        pack=pack_of(pushed.env, pushed.work, blob),
    )
    assert report_lines(resp.content)[1] == "ng refs/heads/blob branches must point to commits"
    pushed.assert_unchanged()
    # And git shows the reason for a ref the server refuses.
    out = git(pushed.env, "push", "origin", "HEAD:refs/notes/mine", cwd=pushed.work, check=False)
    assert out.returncode != 0 and "refs/heads/* and refs/tags/*" in out.stderr


def test_rejected_update_leaves_nothing_reachable(pushed: Pushed, tmp_path: Path) -> None:
    new = make_commits(pushed.env, pushed.work, 1, prefix="lost")[0]
    stale = pushed.shas[0]
    resp = raw_receive(
        pushed.server,
        pushed.name,
        [(stale, new, "refs/heads/main")],
        pack=pack_of(pushed.env, pushed.work, new, f"^{stale}", revs=True),
    )
    assert report_lines(resp.content) == [
        "unpack ok",
        "ng refs/heads/main failed to update ref: it changed during the push",
    ]
    # Its pack stays published (an identical concurrent push may rely on it): no clone gets
    # it, and the background collector drops it.
    assert remote_refs(pushed.env, pushed.url) == pushed.refs
    run_maintenance(pushed.server)
    packs = repo_dir(pushed.server, pushed.name) / "objects" / "pack"
    visible = {p.stem for p in packs.glob("*.idx")} - {p.stem for p in packs.glob("*.retired")}
    assert len(visible) == 1  # one pack: exactly what main reaches
    clone = tmp_path / "clone"
    git(pushed.env, "clone", "-q", "--mirror", pushed.url, str(clone))
    assert git(pushed.env, "cat-file", "-e", new, cwd=clone, check=False).returncode != 0
    assert_serving(pushed.server, pushed.env)


def test_oversized_push(git_env: dict[str, str], tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", "--max-push-bytes", "100000")
    try:
        create_repo(srv, "small")
        p = Pushed(srv, git_env, "small", tmp_path / "w")
        for size in (300_000, 3_000_000):  # sent with Content-Length, then chunked
            (p.work / f"big-{size}.bin").write_bytes(os.urandom(size))
            git(git_env, "add", ".", cwd=p.work)
            git(git_env, "commit", "-q", "-m", "big", cwd=p.work)
            out = git(git_env, "push", "origin", "main", cwd=p.work, check=False)
            assert out.returncode != 0
            assert "413" in out.stderr or "exceeds" in out.stderr, out.stderr
            p.assert_unchanged()
        # A gzip body that inflates beyond the cap.
        line = f"{p.shas[-1]} {p.shas[0]} refs/heads/main".encode()
        body = pkt(line + b"\x00report-status\n") + pkt(line + b"\n") * 10_000
        resp = __import__("httpx").post(
            f"{srv.plain_url('small')}/git-receive-pack",
            content=gzip.compress(body),
            headers={
                "Content-Type": "application/x-git-receive-pack-request",
                "Content-Encoding": "gzip",
            },
            auth=("test", srv.git_password("small")),
            timeout=60,
        )
        assert resp.status_code == 413 or "exceeds" in " ".join(report_lines(resp.content))
        p.assert_unchanged()
    finally:
        srv.stop()


def test_empty_pack_with_only_deletes_and_creates(pushed: Pushed) -> None:
    """Creating refs to known objects stores nothing new."""
    resp = raw_receive(
        pushed.server, pushed.name, [(ZERO, pushed.shas[0], "refs/tags/t1")], pack=EMPTY_PACK
    )
    assert report_lines(resp.content) == ["unpack ok", "ok refs/tags/t1"]
    assert stored_files(pushed.server, pushed.name) == pushed.files
    resp = raw_receive(
        pushed.server,
        pushed.name,
        [(pushed.shas[0], ZERO, "refs/tags/t1")],
        pack=None,
        caps="report-status delete-refs",
    )
    assert report_lines(resp.content) == ["unpack ok", "ok refs/tags/t1"]
    pushed.assert_unchanged()
