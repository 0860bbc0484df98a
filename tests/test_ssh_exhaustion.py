"""Exhausting git over SSH with connections that never authenticate: raw TCP connections that
send nothing, or only the SSH version line, re-opened as soon as the server drops them. A real
OpenSSH user must still get in: past the cap connections wait their turn in arrival order, and
a staller's turn is short."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MakeGitUser, Server, git, make_commits, needs_openssh, start_server

pytestmark = needs_openssh


class Staller:
    """Keeps `count` connections open that stall before authenticating, re-opening each one
    the server closes (as someone locking users out would)."""

    def __init__(self, port: int, count: int, banner: bytes) -> None:
        self.port, self.count, self.banner = port, count, banner
        self.stop = threading.Event()
        self.reopened = 0
        self._threads = [threading.Thread(target=self._hold, daemon=True) for _ in range(count)]

    def __enter__(self) -> Staller:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(timeout=10)

    def _hold(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    if self.banner:
                        sock.sendall(self.banner)
                    sock.settimeout(0.2)
                    while not self.stop.is_set():
                        try:
                            if sock.recv(4096) == b"":
                                break  # dropped by the server: connect again
                        except TimeoutError:
                            continue
            except OSError:
                pass
            self.reopened += 1


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("sshx") / "data",
        "--max-ssh-unauthenticated",
        "8",
        "--ssh-hello-timeout",
        "1",
    )
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    "banner",
    [b"", b"SSH-2.0-OpenSSH_9.6\r\n"],
    ids=["silent", "after-version-line"],
)
def test_stalled_ssh_handshakes_do_not_lock_out_a_real_ssh_user(
    ssh_server: Server,
    make_git_user: MakeGitUser,
    git_env: dict[str, str],
    tmp_path: Path,
    banner: bytes,
) -> None:
    server = ssh_server
    user = make_git_user(on=server)
    name = f"r-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    [sha] = make_commits(git_env, tmp_path / "work", 1)
    env = user.ssh_env(git_env)
    git(env, "push", "-q", user.ssh_url(name), "main", cwd=tmp_path / "work")
    with Staller(server.ssh_port, 24, banner) as staller:  # three times the cap
        # every unauthenticated slot is held by the stallers, and stays so
        threading.Event().wait(3)
        assert sha in git(env, "ls-remote", user.ssh_url(name)).stdout
        git(env, "clone", "-q", user.ssh_url(name), str(tmp_path / "clone"))
        [new] = make_commits(git_env, tmp_path / "clone", 1)
        git(env, "push", "-q", user.ssh_url(name), "main", cwd=tmp_path / "clone")
        assert staller.reopened > 0  # the server did drop them, and they came back
    assert new in git(env, "ls-remote", user.ssh_url(name)).stdout
    assert server.alive()
