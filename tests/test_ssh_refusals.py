"""Everything but the three git commands is refused over SSH, with a clear message and a non-zero
exit status, and the server goes on serving. Each refusal is a named regression test."""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from conftest import GitUser, MakeGitUser, Server, git, needs_openssh
from paramiko.common import cMSG_CHANNEL_REQUEST

pytestmark = needs_openssh


@pytest.fixture
def user(make_git_user: MakeGitUser) -> GitUser:
    return make_git_user()


@pytest.fixture
def repo(server: Server) -> str:
    name = f"r-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    return name


@pytest.fixture(autouse=True)
def still_serving(
    server: Server, user: GitUser, repo: str, git_env: dict[str, str]
) -> Iterator[None]:
    """After each refusal, git over SSH still works and the server is alive."""
    yield
    assert git(user.ssh_env(git_env), "ls-remote", user.ssh_url(repo)).returncode == 0
    assert server.alive()


def ssh(
    server: Server, user: GitUser, *args: str, options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*server.ssh_command(user.identity, *options), f"{user.ssh_key_id}@127.0.0.1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def client(server: Server, user: GitUser) -> Iterator[paramiko.Transport]:
    """A signed-in paramiko client, for requests OpenSSH cannot be made to send."""
    sock = socket.create_connection(("127.0.0.1", server.ssh_port), timeout=30)
    transport = paramiko.Transport(sock)
    transport.start_client(timeout=30)
    transport.auth_publickey(
        user.ssh_key_id, paramiko.Ed25519Key.from_private_key_file(str(user.identity))
    )
    yield transport
    transport.close()


def exec_raw(transport: paramiko.Transport, command: bytes) -> tuple[int, str, bytes]:
    """Run `command` exactly as given; exit status, stderr and stdout."""
    channel = transport.open_session(timeout=30)
    channel.settimeout(30)
    channel.exec_command(command)
    channel.shutdown_write()  # a git service that did start reads the end of its input
    status = channel.recv_exit_status()
    err = b""
    while chunk := channel.recv_stderr(65536):
        err += chunk
    out = b""
    while chunk := channel.recv(65536):
        out += chunk
    channel.close()
    return status, err.decode(), out


def request_with_reply(channel: paramiko.Channel, kind: str, *fields: bytes | int | bool) -> bool:
    """Send a channel request that asks for a reply; True if the server accepted it.
    (paramiko's client sends env and agent requests without asking for a reply, and closes
    the channel when a request it asked about fails.)"""
    m = paramiko.Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(channel.remote_chanid)
    m.add_string(kind)
    m.add_boolean(True)
    for f in fields:
        if isinstance(f, bool):
            m.add_boolean(f)
        elif isinstance(f, int):
            m.add_int(f)
        else:
            m.add_string(f)
    channel._event_pending()  # type: ignore[attr-defined]
    transport = channel.get_transport()
    transport._send_user_message(m)  # type: ignore[attr-defined]
    try:
        channel._wait_for_event()  # type: ignore[attr-defined]
    except paramiko.SSHException:
        return False
    return True


# -- OpenSSH -----------------------------------------------------------------------------------


def test_shell_is_refused_with_codecommits_message(server: Server, user: GitUser) -> None:
    proc = ssh(server, user, options=("-T",))
    assert proc.returncode == 1
    assert "Interactive shells are not supported" in proc.stderr


def test_pty_is_refused(server: Server, user: GitUser, repo: str) -> None:
    proc = ssh(server, user, f"git-upload-pack '/v1/repos/{repo}'", options=("-tt",))
    assert proc.returncode != 0
    assert "PTY allocation request failed" in proc.stderr


def test_sftp_subsystem_is_refused(server: Server, user: GitUser) -> None:
    proc = ssh(server, user, "sftp", options=("-s",))
    assert proc.returncode == 1
    assert "subsystem 'sftp' is not supported" in proc.stderr


def test_local_port_forwarding_is_refused(server: Server, user: GitUser) -> None:
    proc = ssh(server, user, options=("-W", f"127.0.0.1:{server.ssh_port}"))
    assert proc.returncode == 255
    assert "forwarding failed" in proc.stderr


def test_remote_port_forwarding_is_refused(server: Server, user: GitUser, repo: str) -> None:
    proc = ssh(
        server,
        user,
        f"git-upload-pack '/v1/repos/{repo}'",
        options=("-R", "0:127.0.0.1:9", "-o", "ExitOnForwardFailure=yes"),
    )
    assert proc.returncode == 255
    assert "forwarding failed" in proc.stderr


def test_plain_commands_are_refused(server: Server, user: GitUser, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for command in ("id", f"touch {marker}", "git upload-pack /v1/repos/x", "sh -c id"):
        proc = ssh(server, user, command)
        assert proc.returncode == 128, command
        assert proc.stderr.startswith("fatal: no shell access"), command
    assert not marker.exists()


# -- exact commands (paramiko sends them byte for byte) ---------------------------------------

REFUSED = {
    "extra argument": b"git-upload-pack '/v1/repos/REPO' extra",
    "help option": b"git-upload-pack --help",
    "option instead of path": b"git-receive-pack --version",
    "bare dash name": b"git-upload-pack /v1/repos/--upload-pack=touch",
    "semicolon": b"git-upload-pack '/v1/repos/REPO'; touch MARKER",
    "semicolon inside quotes": b"git-upload-pack '/v1/repos/REPO;touch MARKER'",
    "pipe": b"git-upload-pack '/v1/repos/REPO' | touch MARKER",
    "backticks": b"git-upload-pack '/v1/repos/`touch MARKER`'",
    "dollar paren": b"git-upload-pack '/v1/repos/$(touch MARKER)'",
    "ampersand": b"git-upload-pack '/v1/repos/REPO' && touch MARKER",
    "redirect": b"git-upload-pack '/v1/repos/REPO' > MARKER",
    "newline": b"git-upload-pack '/v1/repos/REPO'\ntouch MARKER",
    "trailing newline": b"git-upload-pack '/v1/repos/REPO'\n",
    "nul": b"git-upload-pack '/v1/repos/REPO'\x00touch MARKER",
    "tab": b"git-upload-pack\t'/v1/repos/REPO'",
    "two spaces": b"git-upload-pack  '/v1/repos/REPO'",
    "path traversal": b"git-upload-pack '/v1/repos/../REPO'",
    "dot dot name": b"git-upload-pack '/v1/repos/..'",
    "other path": b"git-upload-pack '/srv/git/REPO'",
    "unbalanced quote": b"git-upload-pack '/v1/repos/REPO",
    "double quotes": b'git-upload-pack "/v1/repos/REPO"',
    "not ascii": "git-upload-pack '/v1/repos/rÉpo'".encode(),
    "over 4 KiB": b"git-upload-pack '/v1/repos/REPO'" + b" " * 4096,
    "name over 100": b"git-upload-pack '/v1/repos/" + b"a" * 101 + b"'",
    "empty": b"",
}


@pytest.mark.parametrize("command", REFUSED.values(), ids=REFUSED.keys())
def test_command_is_refused(
    client: paramiko.Transport, repo: str, tmp_path: Path, command: bytes
) -> None:
    marker = tmp_path / "ran"
    raw = command.replace(b"REPO", repo.encode()).replace(b"MARKER", str(marker).encode())
    status, err, out = exec_raw(client, raw)
    assert status == 128
    assert err.startswith("fatal: ") and "git-upload-pack" in err
    assert out == b""
    assert not marker.exists()


@pytest.mark.parametrize(
    "command",
    [
        "git-upload-pack '/v1/repos/REPO'",
        "git-upload-pack /v1/repos/REPO",
        "git-upload-pack 'v1/repos/REPO'",
        "git-upload-pack v1/repos/REPO",
        "git-receive-pack '/v1/repos/REPO'",
    ],
)
def test_accepted_forms(client: paramiko.Transport, repo: str, command: str) -> None:
    channel = client.open_session(timeout=30)
    channel.settimeout(30)
    channel.exec_command(command.replace("REPO", repo))
    int(channel.recv(4), 16)  # a pkt-line of the advertisement
    channel.sendall(b"0000")
    channel.shutdown_write()
    assert channel.recv_exit_status() == 0
    channel.close()


# -- channel requests other than exec ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("env", (b"GIT_PROTOCOL", b"version=2")),
        ("env", (b"LD_PRELOAD", b"/tmp/x.so")),
        ("pty-req", (b"xterm", 80, 24, 0, 0, b"")),
        ("x11-req", (False, b"MIT-MAGIC-COOKIE-1", b"00" * 16, 0)),
        ("auth-agent-req@openssh.com", ()),
        ("window-change", (80, 24, 0, 0)),
        ("no-such-request", ()),
    ],
)
def test_channel_request_is_refused(
    client: paramiko.Transport, repo: str, kind: str, fields: tuple[bytes | int | bool, ...]
) -> None:
    channel = client.open_session(timeout=30)
    assert not request_with_reply(channel, kind, *fields)
    # The connection is fine: the next session runs git.
    status, err, _ = exec_raw(client, f"git-upload-pack '/v1/repos/{repo}'".encode())
    assert (status, err) == (0, "")


def test_a_channel_runs_one_command(client: paramiko.Transport, repo: str) -> None:
    channel = client.open_session(timeout=30)
    channel.settimeout(30)
    channel.exec_command(f"git-upload-pack '/v1/repos/{repo}'")
    assert not request_with_reply(channel, "exec", f"git-receive-pack '/v1/repos/{repo}'".encode())


def test_sessions_per_connection_are_capped(client: paramiko.Transport) -> None:
    channels = []
    with pytest.raises(paramiko.ChannelException) as exc:
        for _ in range(50):
            channels.append(client.open_session(timeout=30))
    assert exc.value.code == paramiko.common.OPEN_FAILED_RESOURCE_SHORTAGE
    assert len(channels) == 10
    for c in channels:
        c.close()


def test_direct_tcpip_and_global_requests_are_refused(client: paramiko.Transport) -> None:
    with pytest.raises(paramiko.ChannelException) as exc:
        client.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 0), timeout=30)
    assert exc.value.code == paramiko.common.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
    with pytest.raises(paramiko.ChannelException):
        client.open_channel("x11", src_addr=("127.0.0.1", 6000), timeout=30)
    assert client.global_request("tcpip-forward", wait=True) is None
    assert client.global_request("no-more-sessions@openssh.com", wait=True) is None
