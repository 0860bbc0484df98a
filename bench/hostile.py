"""ccemu under hostile load: server memory and a legitimate user's latency while each
exhaustion attack runs.

    python bench/hostile.py [--probes N] [--only NAME ...]

Starts one `ccemu serve` with its default limits, makes a repository with a commit and an IAM
user ("legit", AWSCodeCommitPowerUser, an access key), then runs each attack in turn:

- stalled-bodies: 70 git-receive-pack requests (the root user) that send their head and
  commands, promise a large pack and then send nothing;
- idle-http: 500 TCP connections to the HTTP port that send nothing;
- principal-flood: one IAM user with 48 threads each asking for the ref advertisement over and
  over (each request streams through a git worker);
- stalled-ssh: 40 TCP connections to the SSH port that send nothing, re-opened as soon as the
  server drops them;
- decompression-bomb: a pushed pack (about 1 MB) whose one blob says it is 10 bytes long and
  inflates to 1 GiB;
- delta-chain: a pushed pack (about 30 KB) of a 16 MiB blob and a chain of 320 deltas, each
  copying all of the one before: 5 GiB to rebuild, beyond what one push may inflate.

The packs are made by hand: no git client sends them; the server may refuse them (that is the
point), and how long it takes to do so is reported. While an attack runs the benchmark samples
the server's RSS (VmRSS in /proc/<pid>/status, every 50 ms; the peak is reported) and times
`--probes` legitimate requests as "legit": a boto3 `GetRepository` (a new client each time) and
a `git ls-remote` over HTTP. Targets: RSS under 300 MB, every legitimate request under 1 s.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from git_http import (  # a sibling script, not a package
    KEY,
    REGION,
    SECRET,
    BenchError,
    Ccemu,
    _stop_all,
    git_env,
    read_status,
    run,
    sigv4_git_password,
)

RSS_TARGET_MB = 300
LATENCY_TARGET_S = 1.0
ZERO = "0" * 40
POWER_USER = "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"


@dataclass
class Identity:
    key: str
    secret: str


@dataclass
class Result:
    attack: str
    peak_rss_mb: float = 0.0
    api: list[float] = field(default_factory=list)
    git: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    note: str = ""


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = git_env(tmp / "home")
        self.server = Ccemu(tmp, self.env)
        info = json.loads((tmp / "ccemu-ready.json").read_text())
        self.http_port = int(self.server.host_port.rsplit(":", 1)[1])
        self.ssh_port = int(info["ssh"].rsplit(":", 1)[1])
        self.repo = f"hostile-{uuid.uuid4().hex[:8]}"
        self.server.create(self.repo)
        work = tmp / "work"
        run(["git", "init", "-q", "-b", "main", str(work)], self.env)
        (work / "README").write_text("hello\n")
        run(["git", "add", "README"], self.env, cwd=work)
        run(["git", "commit", "-q", "-m", "first"], self.env, cwd=work)
        root = Identity(KEY, SECRET)
        run(["git", "push", "-q", self.git_url(root), "main"], self.env, cwd=work)
        self.root = root
        self.legit = self._user("legit")
        self.flooder = self._user("flooder")

    def _user(self, name: str) -> Identity:
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=self.server.base,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )
        iam.create_user(UserName=name)
        iam.attach_user_policy(UserName=name, PolicyArn=POWER_USER)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Identity(key["AccessKeyId"], key["SecretAccessKey"])

    def git_url(self, who: Identity) -> str:
        path = f"/v1/repos/{self.repo}"
        password = sigv4_git_password(who.key, who.secret, REGION, "127.0.0.1", path)
        return f"http://{quote(who.key, safe='')}:{password}@{self.server.host_port}{path}"

    def basic(self, who: Identity) -> str:
        path = f"/v1/repos/{self.repo}"
        password = sigv4_git_password(who.key, who.secret, REGION, "127.0.0.1", path)
        return base64.b64encode(f"{who.key}:{password}".encode()).decode()

    # -- the legitimate user -------------------------------------------------------------------

    def probe(self, result: Result, count: int) -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        for _ in range(count):
            t0 = time.perf_counter()
            try:
                boto3.client(
                    "codecommit",
                    endpoint_url=self.server.base,
                    region_name=REGION,
                    aws_access_key_id=self.legit.key,
                    aws_secret_access_key=self.legit.secret,
                    config=BotoConfig(
                        retries={"max_attempts": 1}, connect_timeout=30, read_timeout=60
                    ),
                ).get_repository(repositoryName=self.repo)
                result.api.append(time.perf_counter() - t0)
            except Exception as exc:  # the figure is what failed, not a crash of the bench
                result.failures.append(f"GetRepository: {type(exc).__name__}: {exc}"[:200])
            t0 = time.perf_counter()
            try:
                run(["git", "ls-remote", self.git_url(self.legit)], self.env, timeout=60)
                result.git.append(time.perf_counter() - t0)
            except BenchError as exc:
                result.failures.append(f"ls-remote: {exc}"[:200])

    # -- raw connections -----------------------------------------------------------------------

    def connect(self, port: int) -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout=30)

    def receive_pack_head(self, who: Identity, length: int) -> bytes:
        return (
            f"POST /v1/repos/{self.repo}/git-receive-pack HTTP/1.1\r\n"
            f"Host: {self.server.host_port}\r\n"
            f"Authorization: Basic {self.basic(who)}\r\n"
            "Content-Type: application/x-git-receive-pack-request\r\n"
            f"Content-Length: {length}\r\n\r\n"
        ).encode()


# -- packs made by hand ------------------------------------------------------------------------


def pkt(data: bytes | None) -> bytes:
    return b"0000" if data is None else f"{len(data) + 4:04x}".encode() + data


def _entry_header(kind: int, size: int) -> bytes:
    out = bytearray([(kind << 4) | (size & 0x0F)])
    size >>= 4
    while size:
        out[-1] |= 0x80
        out.append(size & 0x7F)
        size >>= 7
    return bytes(out)


def _varint(n: int) -> bytes:
    out = bytearray([n & 0x7F])
    n >>= 7
    while n:
        out[-1] |= 0x80
        out.append(n & 0x7F)
        n >>= 7
    return bytes(out)


def _ofs(distance: int) -> bytes:
    out = [distance & 0x7F]
    distance >>= 7
    while distance:
        distance -= 1
        out.insert(0, 0x80 | (distance & 0x7F))
        distance >>= 7
    return bytes(out)


def _pack(entries: list[bytes]) -> bytes:
    body = b"PACK" + struct.pack(">II", 2, len(entries)) + b"".join(entries)
    return body + hashlib.sha1(body).digest()  # git's pack checksum


def bomb_pack(inflated: int = 1 << 30) -> bytes:
    """One blob whose header says 10 bytes and whose zlib stream inflates to `inflated`."""
    z = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    data = b"".join(z.compress(chunk) for _ in range(inflated // len(chunk))) + z.flush()
    return _pack([_entry_header(3, 10) + data])


def delta_chain_pack(depth: int = 320, base_size: int = 16 << 20) -> bytes:
    """A blob of `base_size` bytes (a pattern: it compresses to little), then `depth`
    OFS_DELTA entries, each copying all of the one before and adding 16 bytes: resolving
    entry i naively re-applies the i deltas below it."""
    entries: list[bytes] = []
    offsets: list[int] = []
    offset = 12
    base = bytes(range(256)) * (base_size // 256)
    entry = _entry_header(3, len(base)) + zlib.compress(base)
    size = len(base)
    for i in range(depth + 1):
        if i:
            added = f"{i:015d}\n".encode()
            # copies from offset 0 of at most 2**24 - 1 bytes each, the size in three bytes
            copies, done = b"", 0
            while done < size:
                n = min(size - done, (1 << 24) - 1)
                where = bytes(b for b in done.to_bytes(4, "little"))
                flags = sum(1 << k for k in range(4) if where[k])
                copies += bytes([0x80 | flags | 0x70]) + bytes(b for b in where if b)
                copies += n.to_bytes(3, "little")
                done += n
            delta = _varint(size) + _varint(size + 16) + copies + bytes([16]) + added
            entry = _entry_header(6, len(delta)) + _ofs(offset - offsets[-1]) + zlib.compress(delta)
            size += 16
        offsets.append(offset)
        entries.append(entry)
        offset += len(entry)
    return _pack(entries)


# -- attacks -----------------------------------------------------------------------------------

Attack = Callable[[Bench], AbstractContextManager[str]]


@contextmanager
def stalled_bodies(b: Bench) -> Iterator[str]:
    socks = []
    commands = pkt(f"{ZERO} {'1' * 40} refs/heads/stalled\0report-status\n".encode()) + pkt(None)
    for _ in range(70):
        s = b.connect(b.http_port)
        s.sendall(b.receive_pack_head(b.root, 1 << 20) + commands + b"PACK")
        socks.append(s)
    time.sleep(1)
    try:
        yield "70 stalled receive-pack bodies (one principal)"
    finally:
        for s in socks:
            s.close()


@contextmanager
def idle_http(b: Bench) -> Iterator[str]:
    socks = [b.connect(b.http_port) for _ in range(500)]
    time.sleep(1)
    try:
        yield "500 idle HTTP connections"
    finally:
        for s in socks:
            s.close()


@contextmanager
def principal_flood(b: Bench) -> Iterator[str]:
    stop = threading.Event()
    counts = {"ok": 0, "429": 0, "other": 0}
    head = (
        f"GET /v1/repos/{b.repo}/info/refs?service=git-upload-pack HTTP/1.1\r\n"
        f"Host: {b.server.host_port}\r\nAuthorization: Basic {b.basic(b.flooder)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    def flood() -> None:
        while not stop.is_set():
            try:
                with b.connect(b.http_port) as s:
                    s.sendall(head)
                    status = s.recv(12)[9:12]
                    while s.recv(65536):
                        pass
                key = {b"200": "ok", b"429": "429"}.get(status, "other")
                counts[key] += 1
            except OSError:
                counts["other"] += 1

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(48)]
    for t in threads:
        t.start()
    time.sleep(1)
    try:
        yield "one principal, 48 threads of requests"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        print(f"    flooder's answers: {counts}", flush=True)


@contextmanager
def stalled_ssh(b: Bench) -> Iterator[str]:
    stop = threading.Event()

    def hold() -> None:
        while not stop.is_set():
            try:
                with b.connect(b.ssh_port) as s:
                    s.settimeout(0.2)
                    while not stop.is_set():
                        try:
                            if s.recv(4096) == b"":
                                break
                        except TimeoutError:
                            continue
            except OSError:
                time.sleep(0.01)

    threads = [threading.Thread(target=hold, daemon=True) for _ in range(40)]
    for t in threads:
        t.start()
    time.sleep(1)
    try:
        yield "40 silent SSH connections, re-opened when dropped"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)


def _push_pack(b: Bench, pack: bytes, label: str) -> Iterator[str]:
    commands = pkt(f"{ZERO} {'2' * 40} refs/heads/hostile\0report-status\n".encode()) + pkt(None)
    body = commands + pack
    answer: dict[str, Any] = {}

    def push() -> None:
        t0 = time.perf_counter()
        try:
            with b.connect(b.http_port) as s:
                s.settimeout(300)
                s.sendall(b.receive_pack_head(b.root, len(body)) + body)
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                    if data.endswith(b"0000") or data.endswith(b"\r\n0\r\n\r\n"):
                        break
            answer["text"] = data
        except OSError as exc:
            answer["text"] = str(exc).encode()
        answer["seconds"] = time.perf_counter() - t0

    t = threading.Thread(target=push, daemon=True)
    t.start()
    time.sleep(0.5)
    try:
        yield f"{label} ({len(pack) / 1024:.0f} KB pack)"
    finally:
        t.join(timeout=300)
        text = answer.get("text", b"(no answer in 300 s)")
        first = text.split(b"\r\n", 1)[0].decode(errors="replace")
        refused = [ln for ln in text.split(b"\n") if b"unpack" in ln or b" ng " in ln]
        print(
            f"    push answered in {answer.get('seconds', 300):.1f} s: {first}; {refused[:2]!r}",
            flush=True,
        )


@contextmanager
def decompression_bomb(b: Bench) -> Iterator[str]:
    yield from _push_pack(b, bomb_pack(), "blob declared 10 bytes, inflating to 1 GiB")


@contextmanager
def delta_chain(b: Bench) -> Iterator[str]:
    yield from _push_pack(b, delta_chain_pack(), "chain of 320 deltas")


ATTACKS: dict[str, Attack] = {
    "stalled-bodies": stalled_bodies,
    "idle-http": idle_http,
    "principal-flood": principal_flood,
    "stalled-ssh": stalled_ssh,
    "decompression-bomb": decompression_bomb,
    "delta-chain": delta_chain,
}


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_kb = max(self.peak_kb, read_status(self.pid, "VmRSS"))
            except OSError:
                return
            time.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(b: Bench, name: str, attack: Attack, probes: int) -> Result:
    result = Result(name)
    print(f"{name}: starting", flush=True)
    with RssSampler(b.server.pid) as rss:
        with attack(b) as note:
            result.note = note
            b.probe(result, probes)
        time.sleep(0.5)  # what the attack costs after it ends
    result.peak_rss_mb = rss.peak_kb / 1024
    print(
        f"    peak RSS {result.peak_rss_mb:.0f} MB; {len(result.failures)} failed probes",
        flush=True,
    )
    for failure in result.failures[:3]:
        print(f"    ! {failure}", flush=True)
    return result


def _ms(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"{statistics.median(xs) * 1000:.0f} / {max(xs) * 1000:.0f}"


def render(results: list[Result], baseline_mb: float, probes: int) -> str:
    lines = [
        f"ccemu under hostile load (baseline RSS {baseline_mb:.0f} MB; {probes} probes per"
        f" attack; targets: RSS < {RSS_TARGET_MB} MB, each request < {LATENCY_TARGET_S:g} s)",
        "",
        "| attack | peak RSS MB | GetRepository ms (median / max) | ls-remote ms (median / max)"
        " | failed | targets |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        slowest = max(r.api + r.git, default=float("inf"))
        met = (
            r.peak_rss_mb < RSS_TARGET_MB
            and not r.failures
            and len(r.api) == len(r.git) == probes
            and slowest < LATENCY_TARGET_S
        )
        lines.append(
            f"| {r.attack}: {r.note} | {r.peak_rss_mb:.0f} | {_ms(r.api)} | {_ms(r.git)}"
            f" | {len(r.failures)} | {'met' if met else 'MISSED'} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=5, help="legitimate requests per attack")
    parser.add_argument("--only", nargs="+", choices=sorted(ATTACKS), help="run only these attacks")
    parser.add_argument("--tmp", default=None, help="where the server's data dir goes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ccemu-hostile-", dir=args.tmp) as tmp:
        try:
            b = Bench(Path(tmp))
            baseline = Result("baseline")
            with RssSampler(b.server.pid) as rss:
                b.probe(baseline, args.probes)
            baseline_mb = rss.peak_kb / 1024
            print(
                f"no attack: GetRepository {_ms(baseline.api)} ms, ls-remote {_ms(baseline.git)} ms"
            )
            results = [
                measure(b, name, attack, args.probes)
                for name, attack in ATTACKS.items()
                if not args.only or name in args.only
            ]
        finally:
            _stop_all()
    print()
    print(render(results, baseline_mb, args.probes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
