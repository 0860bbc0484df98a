"""Shallow clones, fetches and pushes with the real git CLI over both doors, with git itself as
the oracle: every operation is done twice, against ccemu and against a bare repository with
the same history served by git's own upload-pack/receive-pack (`file://`), and what the client
ends up with (its history, `.git/shallow`, its refs, the push outcome) must be the same.

The history has merges, a tag, a branch of its own and a second root, with one commit a day, so
`--shallow-since` has dates to cut at."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import GitUser, MakeGitUser, Server, git
from maintenance import run_maintenance
from test_git_http import ZERO, raw_receive, report_lines, stored_files
from test_git_scenarios import TRANSPORTS

DAY = 86400
EPOCH = 1_600_000_000


class Side:
    """One remote that the same operations are applied to: ccemu, or git's own (the oracle)."""

    def __init__(
        self, label: str, url_for: Callable[[str], str], name: str, env: dict[str, str], root: Path
    ) -> None:
        self.label, self.url_for, self.env, self.root = label, url_for, env, root
        self.url = url_for(name)

    def clone(self, name: str, *args: str) -> Path:
        dest = self.root / f"{self.label}-{name}"
        git(self.env, "clone", "-q", *args, self.url, str(dest))
        return dest


def _at(env: dict[str, str], when: int) -> dict[str, str]:
    stamp = f"@{when} +0000"
    return {**env, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}


class History:
    """The work tree that builds the history, one commit a day (so every SHA is reproducible)."""

    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env, self.work, self.day = env, work, 0
        work.mkdir(parents=True)
        git(env, "init", "-q", "-b", "main", cwd=work)

    def commit(self, label: str) -> str:
        self.day += 1
        (self.work / f"{label}.txt").write_text(f"{label}\n")
        env = _at(self.env, EPOCH + self.day * DAY)
        git(env, "add", "-A", cwd=self.work)
        git(env, "commit", "-q", "-m", label, cwd=self.work)
        return git(self.env, "rev-parse", "HEAD", cwd=self.work).stdout.strip()

    def run(self, *args: str) -> None:
        git(_at(self.env, EPOCH + self.day * DAY), *args, cwd=self.work)

    def build(self) -> None:
        for i in range(4):
            self.commit(f"m{i}")
        self.run("tag", "-a", "-m", "first release", "v1")
        self.run("checkout", "-q", "-b", "feature", "HEAD~2")
        for i in range(3):
            self.commit(f"f{i}")
        self.run("checkout", "-q", "main")
        for i in range(4, 6):
            self.commit(f"m{i}")
        self.day += 1
        self.run("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
        for i in range(6, 9):
            self.commit(f"m{i}")
        self.run("branch", "old", "main~6")
        self.run("checkout", "-q", "--orphan", "lonely")
        self.run("rm", "-rfq", ".")
        for i in range(3):
            self.commit(f"l{i}")
        self.run("checkout", "-q", "main")


class _GitHttpBackend(BaseHTTPRequestHandler):
    """git's own smart HTTP: each request runs `git http-backend` (CGI) over `root`."""

    root: Path

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _run(self) -> None:
        path, _, query = self.path.partition("?")
        body = self._body() if self.command == "POST" else b""
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "REMOTE_ADDR": "127.0.0.1",
        }
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120
        ).stdout
        head, _, content = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.split(b"\r\n"):
            key, _, value = line.decode().partition(": ")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = _run

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def git_http_backend(tmp_path: Path) -> Iterator[str]:
    """The base URL of git's own smart HTTP over the repositories under tmp_path."""
    handler = type("Handler", (_GitHttpBackend,), {"root": tmp_path})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def init_bare(env: dict[str, str], path: Path) -> None:
    git(env, "init", "-q", "--bare", "-b", "main", str(path))
    git(env, "config", "http.receivepack", "true", cwd=path)  # http-backend: allow pushes


def observed(env: dict[str, str], clone: Path) -> dict[str, object]:
    """What a clone holds: its refs, the commits it has (rev-list stops at its shallow
    boundary) and its boundary."""
    refs = git(env, "for-each-ref", "--format=%(objectname) %(refname)", cwd=clone).stdout
    commits = git(env, "rev-list", "--all", cwd=clone).stdout.split()
    shallow_file = clone / ".git" / "shallow"
    shallow = sorted(shallow_file.read_text().split()) if shallow_file.exists() else []
    git(env, "fsck", "--connectivity-only", cwd=clone)
    return {"refs": refs, "commits": sorted(commits), "shallow": shallow}


def assert_same(ours: dict[str, object], git_s: dict[str, object], what: object) -> None:
    """Equal observations; on failure, say what differs (SHAs with their commit subjects would
    be nicer, but the sets are short)."""
    if ours == git_s:
        return
    diff = {}
    for key in ours:
        a, b = ours[key], git_s[key]
        if a != b:
            if isinstance(a, list) and isinstance(b, list):
                diff[key] = {
                    "ccemu only": sorted(set(a) - set(b)),
                    "git only": sorted(set(b) - set(a)),
                }
            else:
                diff[key] = {"ccemu": a, "git": b}
    raise AssertionError(f"{what}: ccemu and git differ: {diff}")


@pytest.fixture(scope="module")
def built_history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """The history, built once (every test only pushes it); its SHAs never change."""
    root = tmp_path_factory.mktemp("history")
    (root / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AWS_"))}
    env.update(
        HOME=str(root / "home"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    history = History(env, root / "work")
    history.build()
    return history


@pytest.fixture
def user(make_git_user: MakeGitUser) -> GitUser:
    return make_git_user()


@pytest.fixture
def sides(
    server: Server,
    user: GitUser,
    git_env: dict[str, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> tuple[Side, Side, str]:
    """(ccemu over the transport, git's own over file://, ccemu's repository name), both
    holding the same history."""
    transport = request.param
    # ccemu speaks protocol v0; the oracle does too, so the same client code runs on both
    git_env = {
        **git_env,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "protocol.version",
        "GIT_CONFIG_VALUE_0": "0",
    }
    history = request.getfixturevalue("built_history")
    name = f"shallow-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    env = user.ssh_env(git_env) if transport == "ssh" else git_env
    url_for = user.ssh_url if transport == "ssh" else user.http_url
    init_bare(git_env, tmp_path / "oracle.git")
    ours = Side("ccemu", url_for, name, env, tmp_path)
    # The oracle is reached the same way: git's http-backend for HTTP, git's upload-pack and
    # receive-pack over a pipe (file://, the conversation SSH carries) for SSH.
    if transport == "http":
        base = request.getfixturevalue("git_http_backend")
        oracle_url: Callable[[str], str] = lambda n: f"{base}/{n}.git"  # noqa: E731
    else:
        oracle_url = lambda n: (tmp_path / f"{n}.git").as_uri()  # noqa: E731
    oracle = Side("git", oracle_url, "oracle", git_env, tmp_path)
    for target in (ours.url, oracle.url):
        git(env, "push", "-q", target, "--all", cwd=history.work)
        git(env, "push", "-q", target, "--tags", cwd=history.work)
    server.client().update_default_branch(repositoryName=name, defaultBranchName="main")
    return ours, oracle, name


parametrize_sides = pytest.mark.parametrize("sides", TRANSPORTS, indirect=True)

Step = Callable[[Side], Path]

CLONES: dict[str, Step] = {
    "depth 1": lambda s: s.clone("d1", "--depth", "1"),
    "depth 3 of every branch": lambda s: s.clone("d3", "--depth", "3", "--no-single-branch"),
    "depth reaching a root": lambda s: s.clone("root", "--depth", "3", "--branch", "lonely"),
    "depth past the root": lambda s: s.clone("past", "--depth", "9", "--branch", "lonely"),
    "shallow-since": lambda s: s.clone("since", f"--shallow-since=@{EPOCH + 8 * DAY}"),
    "shallow-since every branch": lambda s: s.clone(
        "since-all", f"--shallow-since=@{EPOCH + 5 * DAY}", "--no-single-branch"
    ),
    "shallow-exclude a tag": lambda s: s.clone("ex-tag", "--shallow-exclude=v1"),
    "shallow-exclude a branch": lambda s: s.clone("ex-branch", "--shallow-exclude=old"),
    "shallow-exclude and since": lambda s: s.clone(
        "ex-since", "--shallow-exclude=old", f"--shallow-since=@{EPOCH + 9 * DAY}"
    ),
}


@parametrize_sides
def test_shallow_clones_match_git(sides: tuple[Side, Side, str]) -> None:
    ours, oracle, _ = sides
    for what, clone in CLONES.items():  # one history for all: each clone only reads it
        got, want = clone(ours), clone(oracle)
        assert_same(observed(ours.env, got), observed(oracle.env, want), what)


@parametrize_sides
def test_shallow_fetches_deepen_and_unshallow_like_git(sides: tuple[Side, Side, str]) -> None:
    ours, oracle, _ = sides
    steps: list[tuple[str, ...]] = [
        ("fetch", "-q", "--deepen", "2"),
        ("fetch", "-q", "--depth", "5"),
        ("fetch", "-q", "--deepen", "1", "origin", "feature:feature"),
        ("fetch", "-q", f"--shallow-since=@{EPOCH + 4 * DAY}"),
        ("fetch", "-q", "--shallow-exclude=v1", "origin", "old:old"),
        ("fetch", "-q", "--unshallow"),
    ]
    got, want = ours.clone("f", "--depth", "1"), oracle.clone("f", "--depth", "1")
    assert_same(observed(ours.env, got), observed(oracle.env, want), "clone")
    for step in steps:
        ran = [git(s.env, *step, cwd=c, check=False) for s, c in ((ours, got), (oracle, want))]
        assert ran[0].returncode == ran[1].returncode, (step, ran)
        assert_same(observed(ours.env, got), observed(oracle.env, want), step)
    assert not (got / ".git" / "shallow").exists()


def _push(side: Side, clone: Path, *refspecs: str) -> subprocess.CompletedProcess[str]:
    return git(side.env, "push", "--porcelain", "origin", *refspecs, cwd=clone, check=False)


def _outcome(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The porcelain status lines, without the URL line and the summary."""
    return [line for line in proc.stdout.splitlines() if line[:1] in ("=", "*", "!", " ", "+")]


def _same_commit(side: Side, clone: Path, label: str) -> None:
    (clone / f"{label}.txt").write_text(label)
    env = _at(side.env, EPOCH + 100 * DAY)
    git(env, "add", "-A", cwd=clone)
    git(env, "commit", "-q", "-m", label, cwd=clone)


@parametrize_sides
def test_push_from_shallow_clone(server: Server, sides: tuple[Side, Side, str]) -> None:
    ours, oracle, name = sides
    results = []
    for side in (ours, oracle):
        clone = side.clone("push", "--depth", "1")
        _same_commit(side, clone, "on-top")
        results.append(_push(side, clone, "main", "HEAD:refs/heads/new"))
    assert results[0].returncode == results[1].returncode == 0, results
    assert _outcome(results[0]) == _outcome(results[1])
    tip = git(ours.env, "ls-remote", ours.url, "refs/heads/main").stdout.split()[0]
    assert tip == git(oracle.env, "ls-remote", oracle.url, "refs/heads/main").stdout.split()[0]
    assert (
        server.client().get_branch(repositoryName=name, branchName="new")["branch"]["commitId"]
        == tip
    )
    full = ours.clone("full")
    git(ours.env, "fsck", "--strict", cwd=full)


@parametrize_sides
def test_push_needing_a_shallow_commit_the_repository_lacks_is_refused_like_git(
    server: Server, sides: tuple[Side, Side, str]
) -> None:
    """The branch a shallow clone started from was deleted: its boundary commit is no longer
    part of the repository's history, so accepting the push would make the repository shallow.
    git refuses it ("shallow update not allowed"), and so does ccemu; nothing is stored."""
    ours, oracle, name = sides
    clones = []
    for side in (ours, oracle):
        clone = side.clone("lonely", "--depth", "1", "--branch", "lonely")
        git(side.env, "push", "-q", side.url, "--delete", "lonely")
        _same_commit(side, clone, "after-delete")
        clones.append(clone)
    run_maintenance(server)  # settle what the deletes scheduled
    before = stored_files(server, name)
    results = [_push(ours, clones[0], "lonely"), _push(oracle, clones[1], "lonely")]
    assert results[0].returncode == results[1].returncode != 0
    assert _outcome(results[0]) == _outcome(results[1])
    assert "shallow update not allowed" in results[0].stdout
    assert git(ours.env, "ls-remote", ours.url, "refs/heads/lonely").stdout == ""
    assert stored_files(server, name) == before
    assert ours.clone("still-served")  # the server goes on serving


@parametrize_sides
def test_push_carrying_shallow_history_into_a_new_repository_is_refused_like_git(
    server: Server, sides: tuple[Side, Side, str], tmp_path: Path
) -> None:
    """A shallow clone pushed to a repository that has none of its history: the pack carries a
    commit whose parents nobody has. git refuses every ref; ccemu too, and stores nothing."""
    ours, oracle, _ = sides
    clone = oracle.clone("source", "--depth", "2")
    empty = f"empty-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=empty)
    target = ours.url_for(empty)
    init_bare(oracle.env, tmp_path / "empty.git")
    results = []
    for env, url in ((ours.env, target), (oracle.env, oracle.url_for("empty"))):
        results.append(
            git(
                env,
                "push",
                "--porcelain",
                url,
                "main",
                "HEAD:refs/heads/other",
                cwd=clone,
                check=False,
            )
        )
    assert results[0].returncode == results[1].returncode != 0, results
    assert _outcome(results[0]) == [
        line.replace(oracle.url_for("empty"), target) for line in _outcome(results[1])
    ]
    assert results[0].stdout.count("shallow update not allowed") == 2
    assert server.client().list_branches(repositoryName=empty)["branches"] == []
    assert not [f for f in stored_files(server, empty) if f.endswith(".pack")]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_refused_push_tells_a_side_band_client_why(
    server: Server, user: GitUser, git_env: dict[str, str], tmp_path: Path, transport: str
) -> None:
    """A request refused as a whole (`ERR`) reaches a client that asked for side-band inside
    band 1; sent bare, git reads the 'E' as band 69 and shows nothing useful."""
    name = f"err-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    env = user.ssh_env(git_env) if transport == "ssh" else git_env
    url = user.ssh_url(name) if transport == "ssh" else user.http_url(name)
    history = History(git_env, tmp_path / "w")
    history.commit("one")
    options = [arg for i in range(1001) for arg in ("-o", f"option-{i}")]
    proc = git(env, "push", *options, url, "main", cwd=history.work, check=False)
    assert proc.returncode != 0
    assert "remote error: too many push options" in proc.stderr, proc.stderr
    assert "bad band" not in proc.stderr
    assert server.client().list_branches(repositoryName=name)["branches"] == []
    git(env, "push", "-q", url, "main", cwd=history.work)  # and the next push is served


@parametrize_sides
def test_ref_pushed_beside_shallow_history_is_refused_and_nothing_dangling_is_stored(
    server: Server, sides: tuple[Side, Side, str]
) -> None:
    """One push: a shallow branch (refused, as git does) and an unrelated branch whose objects
    travel in the same pack. git would take the second and keep the whole pack, shallow
    commit and all; ccemu refuses it too, so no commit without its history is ever stored
    (a later push could otherwise point a ref at it without sending the missing parents)."""
    ours, oracle, _ = sides
    clone = oracle.clone("source", "--depth", "1")
    boundary = (clone / ".git" / "shallow").read_text().strip()
    git(oracle.env, "checkout", "-q", "--orphan", "solo", cwd=clone)
    _same_commit(oracle, clone, "solo")
    empty = f"empty-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=empty)
    url = ours.url_for(empty)
    proc = git(ours.env, "push", "--porcelain", url, "main", "solo", cwd=clone, check=False)
    assert proc.returncode != 0
    assert "refs/heads/main\t[remote rejected] (shallow update not allowed)" in proc.stdout
    assert "refs/heads/solo\t[remote rejected] (shallow update not allowed: " in proc.stdout
    assert server.client().list_branches(repositoryName=empty)["branches"] == []
    assert not [f for f in stored_files(server, empty) if f.endswith(".pack")]
    # The boundary commit was never stored: a ref cannot be pointed at it.
    resp = raw_receive(server, empty, [(ZERO, boundary, "refs/heads/evil")])
    assert report_lines(resp.content)[1] == "ng refs/heads/evil missing necessary objects"
    proc = git(ours.env, "push", "--porcelain", url, "solo", cwd=clone, check=False)
    assert proc.returncode == 0, proc.stderr  # alone, the unrelated branch is taken
    assert server.client().list_branches(repositoryName=empty)["branches"] == ["solo"]
    # Beside a delete, which needs no pack, the pack is not stored either.
    git(ours.env, "push", "-q", url, "solo:other", cwd=clone)
    proc = git(ours.env, "push", "--porcelain", url, "main", ":other", cwd=clone, check=False)
    assert "refs/heads/main\t[remote rejected] (shallow update not allowed)" in proc.stdout
    assert "-\t:refs/heads/other\t[deleted]" in proc.stdout
    resp = raw_receive(server, empty, [(ZERO, boundary, "refs/heads/evil")])
    assert report_lines(resp.content)[1] == "ng refs/heads/evil missing necessary objects"
    assert server.client().list_branches(repositoryName=empty)["branches"] == ["solo"]
