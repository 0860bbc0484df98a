"""upload-pack against the real git client, over two test transports: a minimal smart-HTTP
server (stateless RPC, as the HTTP door uses it) and `--upload-pack` running a script on
stdin/stdout (the stateful conversation SSH will use)."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emulator.config import Limits
from emulator.repos.files import PACK_DIR, LocalRepoFiles
from emulator.repos.object_store import RepoObjectStore
from emulator.repos.pack_reader import (
    OFS_DELTA,
    REF_DELTA,
    PackCache,
    parse_entry_header,
    parse_index,
)
from emulator.repos.upload_pack import UploadPack, advertise, cached_peel, open_reader

ZERO = "0" * 40


def run(
    env: dict[str, str],
    *args: str,
    cwd: Path | None = None,
    check: bool = True,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, input=input, timeout=120
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout.decode()}\n"
            f"{proc.stderr.decode()}"
        )
    return proc


def git(env: dict[str, str], *args: str, cwd: Path | None = None, check: bool = True) -> str:
    return run(env, "git", *args, cwd=cwd, check=check).stdout.decode()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="T",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="T",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[protocol]\n\tversion = 0\n"
        "[advice]\n\tdetachedHead = false\n"
    )
    return e


class Origin:
    """A work tree whose history is "pushed" into a ccemu pack store as packs."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env = env
        self.work = root / "work"
        self.store_root = root / "store"
        (self.store_root / PACK_DIR).mkdir(parents=True)
        self.work.mkdir()
        git(env, "init", "-q", "-b", "main", cwd=self.work)
        self.pushed: list[str] = []  # tips already in the store
        self.n = 0

    def commit(
        self, count: int = 1, *, files: int = 3, big: bool = False, name: str = "file"
    ) -> str:
        for _ in range(count):
            self.n += 1
            for f in range(files):
                d = self.work / f"dir{f % 3}" / f"sub{f % 2}"
                d.mkdir(parents=True, exist_ok=True)
                path = d / f"{name}{f}.txt"
                old = path.read_text() if path.exists() else ""
                body = "".join(f"line {i} of file {f}\n" for i in range(200 if big else 20))
                path.write_text(old[-4000:] + body + f"change {self.n}\n")
            git(self.env, "add", "-A", cwd=self.work)
            git(self.env, "commit", "-q", "-m", f"commit {self.n}", cwd=self.work)
        return self.rev("HEAD")

    def rev(self, spec: str) -> str:
        return git(self.env, "rev-parse", spec, cwd=self.work).strip()

    def push(self, *, thin: bool = False) -> None:
        """Store the objects of all refs not yet stored as one new pack (completed with its
        bases, like a received thin pack, when `thin`)."""
        tips = git(self.env, "for-each-ref", "--format=%(objectname)", cwd=self.work).split()
        revs = "\n".join(tips + [f"^{t}" for t in self.pushed]) + "\n"
        args = ["pack-objects", "--revs", "--stdout", "--delta-base-offset"]
        args += ["--thin"] if thin else []
        data = run(self.env, "git", *args, cwd=self.work, input=revs.encode()).stdout
        tmp = self.store_root / "incoming.pack"
        fix = ["--fix-thin"] if thin else []
        out = run(
            self.env, "git", "index-pack", "--stdin", *fix, str(tmp), cwd=self.work, input=data
        ).stdout
        name = "pack-" + out.decode().split()[-1]
        shutil.move(tmp, self.store_root / PACK_DIR / f"{name}.pack")
        shutil.move(tmp.with_suffix(".idx"), self.store_root / PACK_DIR / f"{name}.idx")
        self.pushed = tips

    def refs(self) -> dict[bytes, bytes]:
        out = git(self.env, "for-each-ref", "--format=%(objectname) %(refname)", cwd=self.work)
        return {n.encode(): s.encode() for s, n in (line.split() for line in out.splitlines())}

    def store(self) -> RepoObjectStore:
        return RepoObjectStore(LocalRepoFiles(self.store_root))


@pytest.fixture
def origin(env: dict[str, str], tmp_path: Path) -> Origin:
    return Origin(env, tmp_path)


class HttpDoor:
    """Just enough smart HTTP to put the real git client in front of UploadPack."""

    def __init__(self, origin: Origin, cache: PackCache) -> None:
        self.origin = origin
        self.cache = cache
        self.posts = 0
        door = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if "service=git-upload-pack" not in self.path:
                    self.send_error(403)
                    return
                up = door.upload_pack()
                body = b"001e# service=git-upload-pack\n0000" + b"".join(
                    up.advertisement(b"refs/heads/main")
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                door.posts += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-git-upload-pack-result")
                self.end_headers()
                pos = 0

                def read(n: int) -> bytes:
                    nonlocal pos
                    out = body[pos : pos + n]
                    pos += len(out)
                    return out

                door.upload_pack().serve(read, self.wfile.write, stateless=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/repo"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def upload_pack(self) -> UploadPack:
        return UploadPack(self.origin.store(), self.origin.refs(), Limits(), cache=self.cache)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


STDIO_SCRIPT = """
import sys
from pathlib import Path
from emulator.config import Limits
from emulator.repos.files import LocalRepoFiles
from emulator.repos.object_store import RepoObjectStore
from emulator.repos.upload_pack import UploadPack
root, refs_file = Path(sys.argv[1]), Path(sys.argv[2])
refs = {}
for line in refs_file.read_text().splitlines():
    sha, name = line.split()
    refs[name.encode()] = sha.encode()
up = UploadPack(RepoObjectStore(LocalRepoFiles(root)), refs, Limits())
out = sys.stdout.buffer
for frame in up.advertisement(b"refs/heads/main"):
    out.write(frame)
out.flush()
def write(data):
    out.write(data)
    out.flush()
up = UploadPack(RepoObjectStore(LocalRepoFiles(root)), refs, Limits())
up.serve(sys.stdin.buffer.read1, write, stateless=False)
"""


class StdioDoor:
    """`git clone --upload-pack=<our script>`: the stateful v0 conversation."""

    def __init__(self, origin: Origin, tmp: Path) -> None:
        self.origin = origin
        self.script = tmp / "serve_upload_pack.py"
        self.script.write_text(STDIO_SCRIPT)
        self.refs_file = tmp / "refs.txt"
        self.url = f"file://{tmp / 'nonexistent.git'}"

    def args(self) -> list[str]:
        self.refs_file.write_text(
            "".join(f"{s.decode()} {n.decode()}\n" for n, s in self.origin.refs().items())
        )
        cmd = f"{sys.executable} {self.script} {self.origin.store_root} {self.refs_file} #"
        return ["-c", f"remote.origin.uploadpack={cmd}", "--upload-pack", cmd]


@pytest.fixture(params=["http", "stdio"])
def door(
    request: pytest.FixtureRequest, origin: Origin, tmp_path: Path
) -> Iterator[HttpDoor | StdioDoor]:
    if request.param == "http":
        d = HttpDoor(origin, PackCache())
        yield d
        d.close()
    else:
        yield StdioDoor(origin, tmp_path)


def clone(
    env: dict[str, str], door: HttpDoor | StdioDoor, dest: Path, *extra: str, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    if isinstance(door, HttpDoor):
        return run(env, "git", "clone", *extra, door.url, str(dest), check=check)
    a = door.args()
    return run(
        env, "git", "clone", a[0], a[1], a[2], a[3], *extra, door.url, str(dest), check=check
    )


def fetch(
    env: dict[str, str], door: HttpDoor | StdioDoor, dest: Path, *extra: str, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    if isinstance(door, HttpDoor):
        return run(env, "git", "fetch", *extra, "origin", cwd=dest, check=check)
    a = door.args()
    return run(env, "git", "-c", a[1], "fetch", *extra, "origin", cwd=dest, check=check)


def assert_same_refs(env: dict[str, str], origin: Origin, clone_dir: Path) -> None:
    git(env, "fsck", "--strict", "--no-dangling", cwd=clone_dir)
    for name, sha in origin.refs().items():
        short = name.decode().removeprefix("refs/heads/")
        if name.startswith(b"refs/heads/"):
            theirs = git(env, "rev-parse", f"refs/remotes/origin/{short}", cwd=clone_dir)
        else:
            theirs = git(env, "rev-parse", name.decode(), cwd=clone_dir)
        assert theirs.strip() == sha.decode(), name


# -- scenarios -----------------------------------------------------------------------------


def test_full_clone(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    origin.commit(30)
    git(env, "tag", "-a", "-m", "v1", "v1", cwd=origin.work)
    git(env, "tag", "light", "HEAD~3", cwd=origin.work)
    git(env, "branch", "side", "HEAD~10", cwd=origin.work)
    origin.push()
    dest = tmp_path / "clone"
    clone(env, door, dest)
    assert_same_refs(env, origin, dest)
    assert git(env, "log", "--format=%H", cwd=dest) == git(
        env, "log", "--format=%H", cwd=origin.work
    )


def test_clone_and_fetch_across_several_packs(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    origin.commit(20, big=True)
    origin.push()
    dest = tmp_path / "clone"
    clone(env, door, dest)
    for i in range(3):
        origin.commit(5 + i, big=True)
        git(env, "tag", "-a", "-m", f"t{i}", f"t{i}", cwd=origin.work)
        origin.push(thin=True)  # completed thin packs: deltas across packs, duplicates
        fetch(env, door, dest)
        assert_same_refs(env, origin, dest)
    # and a fresh clone of the multi-pack store
    dest2 = tmp_path / "clone2"
    clone(env, door, dest2)
    assert_same_refs(env, origin, dest2)


def test_fetch_negotiates_past_local_commits(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    """The client has many commits the server does not: several rounds of haves, most of
    them unknown, before a common commit is found."""
    origin.commit(10)
    origin.push()
    dest = tmp_path / "clone"
    clone(env, door, dest)
    later = dict(env, GIT_COMMITTER_DATE="2030-01-01T00:00:00Z")  # walked first by the client
    for i in range(60):
        (dest / f"local{i}.txt").write_text(f"{i}\n")
        git(later, "add", ".", cwd=dest)
        git(later, "commit", "-q", "-m", f"local {i}", cwd=dest)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(700_000))
    shutil.copy(big, origin.work / "big.bin")
    origin.commit(3)
    origin.push(thin=True)
    fetch(env, door, dest)
    assert_same_refs(env, origin, dest)
    if isinstance(door, HttpDoor):
        assert door.posts >= 3  # clone, then at least two negotiation rounds


def test_fetch_up_to_date(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    origin.commit(5)
    origin.push()
    dest = tmp_path / "clone"
    clone(env, door, dest)
    proc = fetch(env, door, dest)
    assert proc.returncode == 0
    assert_same_refs(env, origin, dest)


def test_fetch_branch_merge_and_rewind(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    origin.commit(10)
    origin.push()
    dest = tmp_path / "clone"
    clone(env, door, dest)
    git(env, "checkout", "-q", "-b", "topic", "HEAD~4", cwd=origin.work)
    origin.commit(3, name="topic")
    git(env, "checkout", "-q", "main", cwd=origin.work)
    origin.commit(2)
    git(env, "merge", "-q", "--no-edit", "topic", cwd=origin.work)
    origin.push()
    fetch(env, door, dest)
    assert_same_refs(env, origin, dest)


def test_shallow_clone_then_deepen_and_unshallow(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    origin.commit(12)
    origin.push()
    dest = tmp_path / "clone"
    url_clone = clone(env, door, dest, "--depth", "1")
    assert url_clone.returncode == 0
    git(env, "fsck", cwd=dest)
    assert git(env, "rev-list", "--count", "HEAD", cwd=dest).strip() == "1"
    assert (dest / ".git" / "shallow").read_text().strip() == origin.rev("HEAD")
    origin.commit(2)
    origin.push()
    fetch(env, door, dest, "--depth", "3")
    git(env, "fsck", cwd=dest)
    assert git(env, "rev-list", "--count", "origin/main", cwd=dest).strip() == "3"
    fetch(env, door, dest, "--unshallow")
    git(env, "fsck", cwd=dest)
    assert not (dest / ".git" / "shallow").exists()
    assert_same_refs(env, origin, dest)
    assert git(env, "rev-list", "--count", "origin/main", cwd=dest).strip() == "14"


def test_shallow_since(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    for day in range(6):
        env2 = dict(env, GIT_COMMITTER_DATE=f"2020-01-0{day + 1}T12:00:00Z")
        origin.env = env2
        origin.commit(1)
    origin.env = env
    origin.push()
    dest = tmp_path / "clone"
    clone(env, door, dest, "--shallow-since=2020-01-04 00:00:00 +0000")  # not the time of day
    git(env, "fsck", cwd=dest)
    assert git(env, "rev-list", "--count", "HEAD", cwd=dest).strip() == "3"


def test_tags_to_tags_trees_and_blobs(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    origin.commit(3)
    w = origin.work
    git(env, "tag", "-a", "-m", "inner", "inner", cwd=w)
    git(env, "tag", "-a", "-m", "outer", "outer", "inner", cwd=w)
    tree = origin.rev("HEAD^{tree}")
    blob = origin.rev("HEAD:dir0/sub0/file0.txt")
    git(env, "tag", "-a", "-m", "a tree", "treetag", tree, cwd=w)
    git(env, "tag", "-a", "-m", "a blob", "blobtag", blob, cwd=w)
    origin.push()
    dest = tmp_path / "clone"
    clone(env, door, dest)
    assert_same_refs(env, origin, dest)
    origin.commit(2)
    git(env, "tag", "-a", "-m", "later", "later", cwd=w)
    origin.push()
    fetch(env, door, dest)  # include-tag follows "later"
    assert_same_refs(env, origin, dest)


def test_single_branch_clone(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    origin.commit(4)
    git(env, "checkout", "-q", "-b", "other", cwd=origin.work)
    origin.commit(3)
    git(env, "checkout", "-q", "main", cwd=origin.work)
    origin.push()
    dest = tmp_path / "clone"
    clone(env, door, dest, "--single-branch", "--branch", "main")
    git(env, "fsck", "--strict", cwd=dest)
    assert git(env, "rev-parse", "HEAD", cwd=dest).strip() == origin.rev("main")


def test_empty_repository(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    dest = tmp_path / "clone"
    proc = clone(env, door, dest)
    assert b"empty repository" in proc.stderr


def test_many_refs(
    env: dict[str, str], origin: Origin, door: HttpDoor | StdioDoor, tmp_path: Path
) -> None:
    origin.commit(3)
    refs = "".join(f"create refs/heads/b{i:04d} HEAD\n" for i in range(300))
    run(env, "git", "update-ref", "--stdin", cwd=origin.work, input=refs.encode())
    origin.push()
    dest = tmp_path / "clone"
    clone(env, door, dest)
    assert_same_refs(env, origin, dest)


# -- protocol-level checks -----------------------------------------------------------------


def _pkt(s: bytes) -> bytes:
    return b"%04x" % (len(s) + 4) + s


def _serve(origin: Origin, body: bytes, stateless: bool = True) -> bytes:
    out: list[bytes] = []
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        data = body[pos : pos + n]
        pos += len(data)
        return data

    def write(data: bytes | bytearray | memoryview) -> None:
        out.append(bytes(data))  # a write may be a view valid only during the call

    UploadPack(origin.store(), origin.refs(), Limits()).serve(read, write, stateless=stateless)
    return b"".join(out)


def test_unknown_want_is_not_our_ref(origin: Origin) -> None:
    origin.commit(2)
    origin.push()
    bogus = "1" * 40
    out = _serve(origin, _pkt(f"want {bogus} side-band-64k\n".encode()) + b"0000" + _pkt(b"done\n"))
    assert out == _pkt(f"ERR upload-pack: not our ref {bogus}".encode())


def test_non_tip_want_reachable_is_allowed_stateless(origin: Origin) -> None:
    origin.commit(3)
    origin.push()
    old = origin.rev("HEAD~1")
    out = _serve(origin, _pkt(f"want {old} side-band-64k\n".encode()) + b"0000" + _pkt(b"done\n"))
    assert out.startswith(_pkt(b"NAK\n"))
    assert b"PACK" in out
    stateful = _serve(
        origin,
        _pkt(f"want {old} side-band-64k\n".encode()) + b"0000" + _pkt(b"done\n"),
        stateless=False,
    )
    assert stateful.startswith(b"0")
    assert b"ERR upload-pack: not our ref" in stateful


@pytest.mark.parametrize(
    "body",
    [
        b"zzzz",
        b"0009want\n",
        _pkt(b"want 123\n"),
        _pkt(b"have " + b"a" * 40 + b"\n"),
        _pkt(b"deepen -1\n"),
        b"0004",
        b"00",
    ],
)
def test_malformed_requests_get_an_err_line(origin: Origin, body: bytes) -> None:
    origin.commit(1)
    origin.push()
    out = _serve(origin, body)
    assert out.startswith(b"00") and b"ERR " in out, out


def test_wants_twice_and_duplicate_haves(origin: Origin) -> None:
    origin.commit(4)
    origin.push()
    head = origin.rev("HEAD")
    old = origin.rev("HEAD~2")
    body = (
        _pkt(f"want {head} multi_ack_detailed side-band-64k ofs-delta\n".encode())
        + _pkt(f"want {head}\n".encode())
        + b"0000"
        + _pkt(f"have {old}\n".encode())
        + _pkt(f"have {old}\n".encode())
        + _pkt(b"done\n")
    )
    out = _serve(origin, body)
    assert out.startswith(_pkt(f"ACK {old} common\n".encode()))
    assert _pkt(f"ACK {old}\n".encode()) in out


def test_advertisement(origin: Origin) -> None:
    assert list(advertise({}, None))[-1] == b"0000"
    first = next(iter(advertise({}, b"main")))
    assert first[4:].startswith(ZERO.encode() + b" capabilities^{}\0")
    origin.commit(1)
    git(origin.env, "tag", "-a", "-m", "x", "v1", cwd=origin.work)
    origin.push()
    refs = origin.refs()
    with open_reader(origin.store(), PackCache()) as reader:
        frames = list(advertise(refs, b"main", cached_peel(reader)))
    text = b"".join(f[4:] for f in frames[:-1])
    assert b"symref=HEAD:refs/heads/main" in text
    assert f"{origin.rev('v1^{}')} refs/tags/v1^{{}}\n".encode() in text
    assert frames[0][4:].startswith(origin.rev("HEAD").encode() + b" HEAD\0")


def _demux(out: bytes) -> tuple[list[bytes], bytes]:
    """Split a side-band response into its leading pkt-lines and the pack on band 1."""
    lines: list[bytes] = []
    pack = bytearray()
    pos = 0
    while pos < len(out):
        n = int(out[pos : pos + 4], 16)
        if n == 0:
            pos += 4
            continue
        payload = out[pos + 4 : pos + n]
        pos += n
        if payload[:1] == b"\x01":
            pack += payload[1:]
        elif payload[:1] in (b"\x02", b"\x03"):
            continue
        else:
            lines.append(payload)
    return lines, bytes(pack)


@pytest.mark.parametrize("caps", ["", "side-band", "side-band-64k ofs-delta"])
def test_clone_pack_without_ofs_delta_or_side_band(
    env: dict[str, str], origin: Origin, tmp_path: Path, caps: str
) -> None:
    origin.commit(8, big=True)
    origin.push()
    origin.commit(3, big=True)
    origin.push(thin=True)
    head = origin.rev("HEAD")
    out = _serve(origin, _pkt(f"want {head} {caps}\n".encode()) + b"0000" + _pkt(b"done\n"))
    assert out.startswith(_pkt(b"NAK\n"))
    if "side-band" in caps:
        lines, pack = _demux(out[len(_pkt(b"NAK\n")) :])
        assert lines == []
    else:
        pack = out[len(_pkt(b"NAK\n")) :]
    repo = tmp_path / "check"
    git(env, "init", "-q", "--bare", str(repo))
    run(env, "git", "index-pack", "--strict", "--stdin", cwd=repo, input=pack)
    git(env, "update-ref", "refs/heads/main", head, cwd=repo)
    git(env, "fsck", "--strict", "--no-dangling", cwd=repo)
    (idx,) = (repo / "objects/pack").glob("*.idx")
    index = parse_index("check", idx.read_bytes(), len(pack))
    types = {parse_entry_header(pack, off, off).type for off in index.offsets}
    assert (OFS_DELTA in types) == ("ofs-delta" in caps)
    assert REF_DELTA in types  # the second pack's entries, or every delta without ofs-delta
