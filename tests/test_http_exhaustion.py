"""Exhausting git over HTTP: request bodies that stall, connections that send nothing or half a
request head, and one principal taking every worker. Each server here has small limits (set
through `ccemu serve` flags) so that the attacks are cheap and the timeouts short."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MakeGitUser, Server, git, make_commits, start_server
from test_git_http import ZERO, pkt, remote_refs

# git must finish well within this; without the limits under test it would wait for ever.
GIT_DEADLINE = 60


def _repo_with_commit(server: Server, env: dict[str, str], work: Path) -> tuple[str, str]:
    name = f"r-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    [sha] = make_commits(env, work, 1)
    git(env, "push", "-q", server.git_url(name), "main", cwd=work)
    return name, sha


def _git_in_time(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=GIT_DEADLINE
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"git {args[0]} got no answer in {GIT_DEADLINE} s: the server is starved")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _stalled_push(server: Server, name: str, *, commands: bool = True) -> socket.socket:
    """A receive-pack request that sends its head (and its commands and the start of a
    pack), promises a large body, and then sends nothing more."""
    auth = base64.b64encode(f"test:{server.git_password(name)}".encode()).decode()
    [sha] = [uuid.uuid4().hex + "a" * 8]
    body = pkt(f"{ZERO} {sha} refs/heads/stalled\x00report-status\n".encode()) + pkt(None)
    head = (
        f"POST /v1/repos/{name}/git-receive-pack HTTP/1.1\r\n"
        f"Host: {server.host_port}\r\n"
        f"Authorization: Basic {auth}\r\n"
        "Content-Type: application/x-git-receive-pack-request\r\n"
        "Content-Length: 1000000\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", int(server.host_port.rsplit(":", 1)[1])))
    sock.sendall(head + (body + b"PACK\x00\x00\x00\x02" if commands else b""))
    return sock


def _answer(sock: socket.socket, seconds: float) -> bytes:
    """One whole HTTP response (or what came before the connection closed or `seconds`)."""
    sock.settimeout(seconds)
    data = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and not _complete(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionError):
        pass
    return data


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return body.endswith(b"\r\n0\r\n\r\n")  # chunked


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while True:
            if sock.recv(65536) == b"":
                return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def _http_port(server: Server) -> int:
    return int(server.host_port.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def stall_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("stall") / "data",
        "--max-git-workers",
        "4",
        "--max-git-per-principal",
        "100",
        "--git-stall-timeout",
        "2",
    )
    yield srv
    srv.stop()


def test_stalled_request_bodies_do_not_starve_other_clients(
    stall_server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    server = stall_server
    name, sha = _repo_with_commit(server, git_env, tmp_path / "work")
    # more than the 4 workers; half of them stall before their commands, half in the pack
    stalled = [_stalled_push(server, name, commands=i % 2 == 0) for i in range(6)]
    time.sleep(0.5)  # every worker is now waiting on a body that never comes
    # Other clients are still served, within the stall timeout or soon after it.
    assert sha in _git_in_time(git_env, "ls-remote", server.git_url(name))
    _git_in_time(git_env, "clone", "-q", server.git_url(name), str(tmp_path / "clone"))
    [new] = make_commits(git_env, tmp_path / "work", 1)
    _git_in_time(git_env, "push", "-q", server.git_url(name), "main", cwd=tmp_path / "work")
    # Each stalled request was abandoned with an error (in git's report once its commands
    # were read), and nothing it sent was stored.
    for i, sock in enumerate(stalled):
        answer = _answer(sock, 20)
        assert b"request body timed out: nothing received for 2 seconds" in answer, answer
        if i % 2 == 0:
            assert b"ng refs/heads/stalled unpacker error" in answer
        else:
            assert answer.startswith(b"HTTP/1.1 408 "), answer
        sock.close()
    refs = remote_refs(git_env, server.git_url(name))
    assert refs == {"HEAD": new, "refs/heads/main": new}
    assert server.alive()


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("idle") / "data",
        "--http-header-timeout",
        "1",
        "--http-idle-timeout",
        "1",
    )
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    "first, then",
    [
        (b"", b""),  # connects and sends nothing
        (b"", b"GET /_ccemu/health HTTP/1.1\r\nHost: x\r\n"),  # half a request head
        # a request, and once it is answered half of the next head (any byte it sends stops
        # uvicorn's own keep-alive timer)
        (b"GET /_ccemu/health HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /_ccemu/health HTTP/1.1\r\n"),
    ],
    ids=["nothing", "partial-head", "partial-second-head"],
)
def test_idle_connections_are_closed(idle_server: Server, first: bytes, then: bytes) -> None:
    sock = socket.create_connection(("127.0.0.1", _http_port(idle_server)))
    if first:
        sock.sendall(first)
        assert _answer(sock, 10).startswith(b"HTTP/1.1 200 ")
    sock.sendall(then)
    assert _closed_within(sock, 10), "the server kept an idle connection open"
    sock.close()
    assert idle_server.client().list_repositories()["repositories"] is not None
    assert idle_server.alive()


def test_keep_alive_connection_idle_after_an_answer_is_closed(idle_server: Server) -> None:
    sock = socket.create_connection(("127.0.0.1", _http_port(idle_server)))
    sock.sendall(b"GET /_ccemu/health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = _answer(sock, 10)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"status": "ok"}
    sock.close()


@pytest.mark.parametrize(
    "line", [b"X-Long: ", b"GET /", b"X-Many: 1\r\n"], ids=["value", "url", "lines"]
)
def test_endless_request_head_is_refused_not_buffered(capped_server: Server, line: bytes) -> None:
    # A request head that never ends (one endless header value, an endless URL, or header
    # lines for ever), sent faster than any deadline: refused once past the bound on a head.
    sock = socket.create_connection(("127.0.0.1", _http_port(capped_server)))
    head = b"" if line.startswith(b"GET") else b"GET /_ccemu/health HTTP/1.1\r\nHost: x\r\n"
    sock.sendall(head + line)
    chunk = (line if line.endswith(b"\n") else b"a") * 4096
    answer = b""
    sock.settimeout(10)
    try:
        for _ in range(64):  # 64 chunks of 4 KiB and more: far past any sane head
            sock.sendall(chunk[:4096])
    except OSError:
        pass  # the server closed the connection: what is asserted below
    try:
        while chunk_in := sock.recv(65536):
            answer += chunk_in
    except OSError:
        pass
    sock.close()
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert capped_server.client().list_repositories()["repositories"] is not None
    assert capped_server.alive()


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # a long head deadline: only the connection cap can close the idle connections here
    srv = start_server(
        tmp_path_factory.mktemp("capped") / "data",
        "--max-http-connections",
        "20",
        "--http-header-timeout",
        "60",
    )
    yield srv
    srv.stop()


def test_idle_connection_flood_is_capped_and_clients_are_still_served(
    capped_server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    server = capped_server
    flood = []
    for _ in range(60):
        sock = socket.create_connection(("127.0.0.1", _http_port(server)))
        sock.sendall(b"GET /_ccemu/health HTTP/1.1\r\n")  # and never the rest
        flood.append(sock)
    # The oldest idle connections were closed to make room, long before their deadline.
    closed = sum(_closed_within(sock, 0.2) for sock in flood[:40])
    assert closed == 40
    # Clients are served: each new connection closes an idle one, never a busy one.
    name, sha = _repo_with_commit(server, git_env, tmp_path / "work")
    assert server.client().get_repository(repositoryName=name)["repositoryMetadata"]
    assert sha in _git_in_time(git_env, "ls-remote", server.git_url(name))
    for sock in flood:
        sock.close()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("shared") / "data",
        "--max-git-workers",
        "4",
        "--max-git-per-principal",
        "2",
        "--git-stall-timeout",
        "120",  # the stalled requests hold their slots for the whole test
    )
    yield srv
    srv.stop()


def test_one_principal_cannot_take_every_slot(
    shared_server: Server,
    make_git_user: MakeGitUser,
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    server = shared_server
    name, sha = _repo_with_commit(server, git_env, tmp_path / "work")
    # The root user stalls as many requests as there are workers: two hold its share...
    stalled = [_stalled_push(server, name) for _ in range(2)]
    time.sleep(0.5)
    # ...and the others are refused at once, with a message saying why.
    for _ in range(2):
        refused = _stalled_push(server, name)
        answer = _answer(refused, 10)
        assert answer.startswith(b"HTTP/1.1 429 "), answer[:200]
        assert b"too many git requests at once for arn:aws:iam::123456789012:root" in answer
        refused.close()
    # The same principal over git: refused while its share is taken.
    proc = git(git_env, "ls-remote", server.git_url(name), check=False)
    assert proc.returncode != 0 and "429" in proc.stderr
    # Another principal is served while the first holds its maximum.
    other = make_git_user(on=server)
    assert sha in _git_in_time(git_env, "ls-remote", other.http_url(name))
    _git_in_time(git_env, "clone", "-q", other.http_url(name), str(tmp_path / "clone"))
    [new] = make_commits(git_env, tmp_path / "clone", 1)
    _git_in_time(git_env, "push", "-q", other.http_url(name), "main", cwd=tmp_path / "clone")
    # Once the stalled requests end, the first principal's slots are free again.
    for sock in stalled:
        sock.close()
    deadline = time.monotonic() + 30
    while True:
        proc = git(git_env, "ls-remote", server.git_url(name), check=False)
        if proc.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert proc.returncode == 0, proc.stderr
    assert remote_refs(git_env, server.git_url(name))["refs/heads/main"] == new
    assert "refs/heads/stalled" not in proc.stdout
