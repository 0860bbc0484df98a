"""Git over SSH beyond the shared scenarios: cloneUrlSsh with an ~/.ssh/config block, errors as
git prints them, a push cut off mid-pack, many sessions at once, and the timeouts and
connection limits (on an in-process server with small limits)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest
from conftest import (
    ACCOUNT,
    MakeGitUser,
    Server,
    git,
    make_commits,
    needs_openssh,
    ssh_keygen,
)
from maintenance import run_maintenance

from emulator.config import Config
from emulator.core import Emulator
from emulator.server import bind
from ssh_server.host_keys import load_or_create
from ssh_server.server import SSHLimits, SSHServer

pytestmark = needs_openssh

ZERO = "0" * 40


def _pkt(data: bytes | None) -> bytes:
    return b"0000" if data is None else f"{len(data) + 4:04x}".encode() + data


def _stored_files(server: Server, name: str) -> list[str]:
    meta = server.client().get_repository(repositoryName=name)["repositoryMetadata"]
    root = server.data_dir / "repos" / meta["repositoryId"]
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_clone_url_ssh_with_the_documented_ssh_config(
    server: Server, make_git_user: MakeGitUser, git_env: dict[str, str], tmp_path: Path
) -> None:
    """cloneUrlSsh names no user: ~/.ssh/config supplies the key id, as CodeCommit documents."""
    user = make_git_user()
    name = f"r-{uuid.uuid4().hex[:10]}"
    meta = server.client().create_repository(repositoryName=name)["repositoryMetadata"]
    assert meta["cloneUrlSsh"] == f"ssh://127.0.0.1:{server.ssh_port}/v1/repos/{name}"
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host 127.0.0.1\n"
        f"  User {user.ssh_key_id}\n"
        f"  IdentityFile {user.identity}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {server.known_hosts()}\n"
        "  StrictHostKeyChecking yes\n"
        "  BatchMode yes\n"
    )
    env = {**git_env, "GIT_SSH_COMMAND": f"ssh -F {config}"}
    work = tmp_path / "w"
    [sha] = make_commits(env, work, 1)
    git(env, "push", "-q", meta["cloneUrlSsh"], "main", cwd=work)
    git(env, "clone", "-q", meta["cloneUrlSsh"], str(tmp_path / "c"))
    assert git(env, "rev-parse", "HEAD", cwd=tmp_path / "c").stdout.strip() == sha


def test_errors_reach_git_as_fatal_lines(
    server: Server, make_git_user: MakeGitUser, git_env: dict[str, str], tmp_path: Path
) -> None:
    user = make_git_user(managed=None)
    name = f"r-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    proc = git(user.ssh_env(git_env), "clone", user.ssh_url(name), str(tmp_path / "c"), check=False)
    assert proc.returncode == 128
    assert (
        f"fatal: User: arn:aws:iam::{ACCOUNT}:user/{user.name} is not authorized to perform:"
        " codecommit:GitPull" in proc.stderr
    )
    assert "fatal: Could not read from remote repository." in proc.stderr


def test_protocol_v2_request_falls_back_to_v0(
    server: Server, make_git_user: MakeGitUser, git_env: dict[str, str], tmp_path: Path
) -> None:
    """git sends GIT_PROTOCOL=version=2 as an env request; it is refused, v0 is served."""
    user = make_git_user()
    name = f"r-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    env = {**user.ssh_env(git_env), "GIT_TRACE_PACKET": "1"}
    work = tmp_path / "w"
    make_commits(env, work, 1)
    git(env, "push", "-q", user.ssh_url(name), "main", cwd=work)
    proc = git(env, "-c", "protocol.version=2", "ls-remote", user.ssh_url(name))
    assert "refs/heads/main" in proc.stdout
    assert "version 2" not in proc.stderr


def test_push_cut_off_mid_pack_changes_nothing(
    server: Server, make_git_user: MakeGitUser, git_env: dict[str, str], tmp_path: Path
) -> None:
    user = make_git_user()
    env = user.ssh_env(git_env)
    name = f"r-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    work = tmp_path / "w"
    [base] = make_commits(env, work, 1)
    git(env, "push", "-q", user.ssh_url(name), "main", cwd=work)
    run_maintenance(server)  # settle what the first push scheduled
    before = _stored_files(server, name)
    # A big new commit, so the pack is cut well before its end.
    (work / "big.bin").write_bytes(os.urandom(2_000_000))
    git(env, "add", "big.bin", cwd=work)
    git(env, "commit", "-q", "-m", "big", cwd=work)
    new = git(env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    pack = subprocess.run(
        ["git", "pack-objects", "--stdout", "--revs"],
        input=f"{new}\n^{base}\n".encode(),
        cwd=work,
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    assert len(pack) > 1_000_000

    sock = socket.create_connection(("127.0.0.1", server.ssh_port), timeout=30)
    transport = paramiko.Transport(sock)
    transport.start_client(timeout=30)
    transport.auth_publickey(
        user.ssh_key_id, paramiko.Ed25519Key.from_private_key_file(str(user.identity))
    )
    channel = transport.open_session()
    channel.exec_command(f"git-receive-pack '/v1/repos/{name}'")
    advert = b""
    while not advert.endswith(b"0000"):
        advert += channel.recv(65536)
    command = f"{base} {new} refs/heads/main\x00report-status side-band-64k".encode()
    channel.sendall(_pkt(command) + _pkt(None) + pack[: len(pack) // 2])
    time.sleep(0.5)
    transport.close()  # the client is gone mid-pack

    cc = server.client()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _stored_files(server, name) == before:
            break
        time.sleep(0.2)
    assert _stored_files(server, name) == before
    assert cc.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == base
    # and the same push, whole, goes through
    git(env, "push", "-q", user.ssh_url(name), "main", cwd=work)
    assert cc.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == new


def test_many_sessions_at_once(
    server: Server, make_git_user: MakeGitUser, git_env: dict[str, str], tmp_path: Path
) -> None:
    users = [make_git_user(), make_git_user(key_type="rsa")]
    name = f"r-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    work = tmp_path / "w"
    [sha] = make_commits(git_env, work, 1)
    git(users[0].ssh_env(git_env), "push", "-q", users[0].ssh_url(name), "main", cwd=work)
    procs = []
    for i in range(16):
        u = users[i % 2]
        args = ["ls-remote", u.ssh_url(name)] if i % 4 else ["clone", "-q", u.ssh_url(name)]
        procs.append(
            subprocess.Popen(
                ["git", *args] + ([str(tmp_path / f"c{i}")] if args[0] == "clone" else []),
                env=u.ssh_env(git_env),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 16, [o[1] for o in outs]
    assert all(sha.encode() in out for i, (out, _) in enumerate(outs) if i % 4)


# -- limits, on a server of the test's own -----------------------------------------------------


class Local:
    def __init__(self, tmp: Path, limits: SSHLimits) -> None:
        self.emu = Emulator(Config(data_dir=tmp / "data"))
        self.sock = bind("127.0.0.1", 0)
        self.server = SSHServer(self.emu, self.sock, load_or_create(tmp / "data"), limits)
        self.server.start()
        self.port = self.server.port
        user = self.emu.iam.entities.create_user(ACCOUNT, "local")
        self.emu.iam.policies.put_inline(
            "user",
            user.id,
            user.name,
            "p",
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",'
            ' "Action": "codecommit:*", "Resource": "*"}]}',
        )
        self.identity = ssh_keygen(tmp / "key" / "id_ed25519")
        pub = self.identity.with_name("id_ed25519.pub").read_text()
        self.key_id = self.emu.keys.ssh.upload(ACCOUNT, "local", pub).key_id
        self.emu.repos.create(ACCOUNT, self.emu.config.region, "repo")

    def client(self, authenticate: bool = True) -> paramiko.Transport:
        transport = paramiko.Transport(socket.create_connection(("127.0.0.1", self.port)))
        transport.start_client(timeout=30)
        if authenticate:
            key = paramiko.Ed25519Key.from_private_key_file(str(self.identity))
            transport.auth_publickey(self.key_id, key)
        return transport

    def close(self) -> None:
        self.server.close()
        self.sock.close()
        self.emu.close()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    srv = Local(
        tmp_path,
        SSHLimits(
            # short, but with room for a loaded machine to finish a real handshake in time
            handshake_timeout=2.0,
            hello_timeout=2.0,
            auth_timeout=3.0,
            idle_timeout=1.0,
            max_unauthenticated=2,
            max_auth_attempts=3,
        ),
    )
    yield srv
    srv.close()


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes `sock` within `seconds` (whatever it sent first)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if sock.recv(65536) == b"":
                return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return False


def test_silent_client_is_dropped_after_the_handshake_timeout(local: Local) -> None:
    sock = socket.create_connection(("127.0.0.1", local.port))
    assert _closed_within(sock, 5)
    sock.close()


def test_unauthenticated_connections_are_capped_and_the_next_waits_its_turn(local: Local) -> None:
    waiting = [socket.create_connection(("127.0.0.1", local.port)) for _ in range(2)]
    _wait_for(lambda: local.server.unauthenticated == 2)
    extra = socket.create_connection(("127.0.0.1", local.port))
    extra.settimeout(0.5)
    with pytest.raises(TimeoutError):
        extra.recv(100)  # not taken (nor refused) while the two hold the slots
    waiting[0].close()
    extra.settimeout(5)
    assert extra.recv(100).startswith(b"SSH-2.0-ccemu")  # taken once there is room
    extra.close()
    waiting[1].close()
    _wait_for(lambda: local.server.unauthenticated == 0)
    transport = local.client()  # slots are free again
    assert transport.is_authenticated()
    transport.close()


def test_client_that_does_not_authenticate_is_dropped(local: Local) -> None:
    transport = local.client(authenticate=False)
    deadline = time.monotonic() + 5
    while transport.is_active() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not transport.is_active()


def test_authentication_attempts_are_capped(local: Local, tmp_path: Path) -> None:
    transport = local.client(authenticate=False)
    wrong = paramiko.Ed25519Key.from_private_key_file(
        str(ssh_keygen(tmp_path / "wrong" / "id_ed25519"))
    )
    for _ in range(3):
        with pytest.raises(paramiko.AuthenticationException):
            transport.auth_publickey(local.key_id, wrong)
    # past the cap even the right key is refused on this connection
    right = paramiko.Ed25519Key.from_private_key_file(str(local.identity))
    with pytest.raises(paramiko.AuthenticationException):
        transport.auth_publickey(local.key_id, right)
    transport.close()
    fresh = local.client()
    assert fresh.is_authenticated()
    fresh.close()


def test_idle_session_is_closed_with_a_message(local: Local) -> None:
    transport = local.client()
    channel = transport.open_session()
    channel.exec_command("git-upload-pack '/v1/repos/repo'")
    advert = b""
    while not advert.endswith(b"0000"):  # the advertisement; then the client sends nothing
        advert += channel.recv(65536)
    assert channel.recv_exit_status() == 128
    err = channel.recv_stderr(1000).decode()
    assert err.startswith("fatal: no data for 1 seconds")
    transport.close()
    # the server goes on
    again = local.client()
    channel = again.open_session()
    channel.exec_command("git-upload-pack '/v1/repos/repo'")
    channel.shutdown_write()
    assert channel.recv_exit_status() == 0
    again.close()


def test_keys_deactivated_after_sign_in_stop_the_next_command(local: Local) -> None:
    transport = local.client()
    local.emu.keys.ssh.update(ACCOUNT, "local", local.key_id, "Inactive")
    channel = transport.open_session()
    channel.exec_command("git-upload-pack '/v1/repos/repo'")
    assert channel.recv_exit_status() == 128
    assert b"is no longer active" in channel.recv_stderr(1000)
    transport.close()
