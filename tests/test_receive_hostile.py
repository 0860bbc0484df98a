"""Pushed packs built to exhaust the server: entries whose headers lie about their size, delta
chains that rebuild large objects from a few bytes, chains deeper than git makes, and faults of
the server's own. Each is refused with a clear error, costs bounded memory and work, changes
nothing, and the server goes on serving."""

from __future__ import annotations

import base64
import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import paramiko
import pytest
from conftest import MakeGitUser, Server, needs_openssh, start_server
from hostile_packs import (
    BLOB,
    OFS_DELTA,
    copy_op,
    deflate_stream,
    delta_chain_pack,
    entry_header,
    lying_blob_pack,
    ofs_offset,
    pack,
    varint,
)
from test_git_bad_input import Pushed
from test_git_http import (
    ZERO,
    create_repo,
    http_auth,
    pkt,
    raw_receive,
    repo_dir,
    report_lines,
)

from emulator.repos.pack_indexer import (
    MAX_DELTA_DEPTH,
    ClientGone,
    PackWorkExceeded,
    StreamIndexer,
    WorkLimit,
)

MIB = 1 << 20


def peak_rss(server: Server) -> int:
    """The server's peak resident set so far, in bytes (VmHWM)."""
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def index(data: bytes, tmp_path: Path, **kw: object) -> list[bytes]:
    """Run the streaming indexer over `data`; the SHA-1s of the objects it resolved."""
    seen: list[bytes] = []
    with open(tmp_path / "q.pack", "w+b") as f:
        StreamIndexer(
            io.BytesIO(data).read,
            f,
            lambda sha: None,
            lambda t, sha, c: seen.append(sha),
            1 << 30,
            **kw,  # type: ignore[arg-type]
        ).run()
    return seen


@pytest.fixture
def pushed(
    server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> Iterator[Pushed]:
    create_repo(server, repo_name)
    yield Pushed(server, git_env, repo_name, tmp_path / "w")


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that lets a push inflate to 1 MiB beyond 1000 times its size."""
    srv = start_server(
        tmp_path_factory.mktemp("tight") / "data", "--push-inflate-allowance", str(MIB)
    )
    yield srv
    srv.stop()


def push_tag(pushed: Pushed, data: bytes, sha: bytes, tag: str = "refs/tags/t") -> list[str]:
    return report_lines(
        raw_receive(pushed.server, pushed.name, [(ZERO, sha.decode(), tag)], pack=data).content
    )


# -- sizes that lie ---------------------------------------------------------------------------


def test_entry_lying_about_its_size_inflates_no_further_than_declared(pushed: Pushed) -> None:
    # 10 bytes declared, 256 MiB of zeros behind it (a pack of 250 KiB).
    before = peak_rss(pushed.server)
    lines = push_tag(pushed, lying_blob_pack(10, 256 * MIB), b"1" * 40)
    assert lines[0] == "unpack invalid pack: object size does not match its header"
    assert lines[1] == "ng refs/tags/t unpacker error"
    assert peak_rss(pushed.server) - before < 64 * MIB
    pushed.assert_unchanged()


def test_short_entry_is_refused_too(pushed: Pushed) -> None:
    lines = push_tag(pushed, lying_blob_pack(4096, 100), b"1" * 40)
    assert lines[0] == "unpack invalid pack: object size does not match its header"
    pushed.assert_unchanged()


# -- work per push ----------------------------------------------------------------------------


def test_delta_chain_of_large_objects_costs_one_patch_per_link(tmp_path: Path) -> None:
    # 40 links of 2 MiB each with a base cache of 1 MiB: resolving each link from the one
    # before costs 80 MiB; walking back to the chain's start for each would cost 1.6 GiB.
    data, last = delta_chain_pack(40, 2 * MIB)
    seen = index(data, tmp_path, cache_bytes=MIB, work=WorkLimit(allowance=90 * MIB, ratio=0))
    assert len(seen) == 41 and seen[-1].hex().encode() == last


def test_interleaved_delta_chains_stop_at_the_work_limit(tmp_path: Path) -> None:
    # Two chains whose links alternate, each object larger than the whole base cache: every
    # link must be rebuilt from its chain's start. The work limit ends it.
    size, links = 2 * MIB, 60
    entries, offsets, position = [], [], 12
    for _ in range(2):
        e = entry_header(BLOB, size) + deflate_stream([bytes(size)])
        entries.append(e)
        offsets.append(position)
        position += len(e)
    ops = varint(size) + varint(size) + copy_op(0, size - 1) + b"\x01\x07"
    for _ in range(links):
        e = (
            entry_header(OFS_DELTA, len(ops))
            + ofs_offset(position - offsets[-2])
            + deflate_stream([ops])
        )
        entries.append(e)
        offsets.append(position)
        position += len(e)
    limit = WorkLimit(allowance=512 * MIB, ratio=0)
    with pytest.raises(PackWorkExceeded):
        index(pack(entries), tmp_path, cache_bytes=MIB, work=limit)


def test_delta_chain_inflating_past_the_push_allowance_is_refused(
    tight_server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    create_repo(tight_server, repo_name)
    pushed = Pushed(tight_server, git_env, repo_name, tmp_path / "w")
    data, last = delta_chain_pack(12, 4 * MIB)  # 52 MiB from a pack of 3 KiB
    lines = push_tag(pushed, data, last)
    assert lines[0].startswith("unpack the pack inflates to more than 1048576 bytes")
    assert lines[1] == "ng refs/tags/t unpacker error"
    pushed.assert_unchanged()


def test_delta_chain_within_the_allowance_is_stored(pushed: Pushed) -> None:
    data, last = delta_chain_pack(12, 4 * MIB)
    assert push_tag(pushed, data, last) == ["unpack ok", "ok refs/tags/t"]


def test_delta_chain_deeper_than_git_makes_is_refused(pushed: Pushed) -> None:
    data, last = delta_chain_pack(MAX_DELTA_DEPTH + 1, 64)
    lines = push_tag(pushed, data, last)
    assert lines[0] == f"unpack invalid pack: delta chain longer than {MAX_DELTA_DEPTH} links"
    pushed.assert_unchanged()
    data, last = delta_chain_pack(MAX_DELTA_DEPTH, 64)
    assert push_tag(pushed, data, last) == ["unpack ok", "ok refs/tags/t"]


def test_hung_up_client_stops_the_indexing(tmp_path: Path) -> None:
    data, _ = delta_chain_pack(40, MIB)
    calls = 0

    def gone() -> bool:
        nonlocal calls
        calls += 1
        return calls > 10

    seen: list[bytes] = []
    with open(tmp_path / "q.pack", "w+b") as f, pytest.raises(ClientGone):
        StreamIndexer(
            io.BytesIO(data).read,
            f,
            lambda sha: None,
            lambda t, sha, c: seen.append(sha),
            1 << 30,
            gone=gone,
        ).run()
    assert len(seen) < 10


# -- faults of the server ---------------------------------------------------------------------


def test_server_fault_is_logged_not_blamed_on_the_pack(pushed: Pushed) -> None:
    scratch = repo_dir(pushed.server, pushed.name) / "incoming"
    if scratch.exists():
        for p in scratch.iterdir():
            p.unlink()
        scratch.rmdir()
    scratch.write_bytes(b"")  # the scratch dir is now a file: storing any pack fails
    try:
        data, last = delta_chain_pack(1, 64)
        lines = push_tag(pushed, data, last)
    finally:
        scratch.unlink()
    assert lines[0] == "unpack internal error (logged by the server)"
    assert str(pushed.server.data_dir) not in " ".join(lines)
    log = pushed.server.log.read_text()
    assert f"push to {pushed.name} failed while its pack was stored" in log
    assert "Traceback" in log
    pushed.assert_unchanged()


# -- a client that hangs up -------------------------------------------------------------------


@pytest.fixture(scope="module")
def roomy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that lets a push inflate to 64 GiB, so a pack can cost seconds of work."""
    srv = start_server(
        tmp_path_factory.mktemp("roomy") / "data", "--push-inflate-allowance", str(64 << 30)
    )
    yield srv
    srv.stop()


def wait_for_log(server: Server, text: str, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in server.log.read_text():
            return True
        time.sleep(0.1)
    return False


@needs_openssh
def test_client_hanging_up_over_ssh_stops_the_work_on_its_pack(
    roomy_server: Server, make_git_user: MakeGitUser, repo_name: str
) -> None:
    server = roomy_server
    user = make_git_user(on=server)
    create_repo(server, repo_name)
    data, last = delta_chain_pack(300, 16 * MIB)  # 4.7 GiB to rebuild from 20 KiB
    sock = socket.create_connection(("127.0.0.1", server.ssh_port), timeout=30)
    transport = paramiko.Transport(sock)
    transport.start_client(timeout=30)
    transport.auth_publickey(
        user.ssh_key_id, paramiko.Ed25519Key.from_private_key_file(str(user.identity))
    )
    channel = transport.open_session()
    channel.exec_command(f"git-receive-pack '/v1/repos/{repo_name}'")
    advert = b""
    while not advert.endswith(b"0000"):
        advert += channel.recv(65536)
    command = f"{ZERO} {last.decode()} refs/tags/t\x00report-status side-band-64k".encode()
    channel.sendall(pkt(command) + pkt(None) + data)
    time.sleep(0.5)
    transport.close()
    assert wait_for_log(server, f"push to {repo_name} abandoned: the client hung up")
    assert server.client().list_branches(repositoryName=repo_name)["branches"] == []
    assert stored_packs(server, repo_name) == []


def stored_packs(server: Server, name: str) -> list[str]:
    return sorted(p.name for p in (repo_dir(server, name) / "objects" / "pack").glob("*.pack"))


def test_client_hanging_up_over_http_stops_the_work_on_its_pack(
    roomy_server: Server, repo_name: str
) -> None:
    server = roomy_server
    create_repo(server, repo_name)
    data, last = delta_chain_pack(300, 16 * MIB)
    command = f"{ZERO} {last.decode()} refs/tags/t\x00report-status side-band-64k".encode()
    body = pkt(command + b"\n") + pkt(None) + data
    url = urlsplit(f"{server.plain_url(repo_name)}/git-receive-pack")
    user, password = http_auth(server, repo_name)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    head = (
        f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Content-Type: application/x-git-receive-pack-request\r\n"
        f"Authorization: Basic {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        time.sleep(0.5)
    assert wait_for_log(server, f"push to {repo_name} abandoned: the client hung up")
    assert server.client().list_branches(repositoryName=repo_name)["branches"] == []
    assert stored_packs(server, repo_name) == []
    assert server.alive()
