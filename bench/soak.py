"""A long run of mixed work by many clients: does ccemu stay correct, and does its memory come back?

    python bench/soak.py [--minutes 30] [--clients 16] [--idle 60] [--repo bench/data/flask.git]
                         [--out bench/RESULTS.md] [--server-arg=--cache-mib=256 ...]

Starts `ccemu serve` on a new data dir, seeds `--repos` repositories by `git push --mirror` of
`--repo` (or, where that is missing, of the repository bench/git_http.py generates), then runs
`--clients` threads for `--minutes`, each looping over a weighted mix of work: full and
single-branch clones, fetches of what other clients pushed, pushes to its own branch (now and then
a force-push or a branch delete), pushes to a branch every client shares (refused as
non-fast-forward when another client moved it first: counted as expected, not as errors),
ls-remote, API calls with boto3 and a repository created, pushed to and deleted. Every git
command is the real git CLI over HTTP with a SigV4 git password.

The server's VmRSS and its cache accounting (`GET /_ccemu/stats`) are sampled every 10 s, through
the work and through `--idle` seconds after it. Prints a Markdown section: operations per kind
with median and p95 latency, every error (operation, exit status or exception, first lines of
stderr), the RSS over time; `--out FILE` writes it as the `<!-- bench:soak -->` section.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from git_http import (  # a sibling script, not a package
    ROOT,
    BenchError,
    Ccemu,
    X,
    _redact,
    _stop_all,
    git_env,
    git_out,
    machine,
    make_commits,
    prepare_repo,
    read_status,
    run,
    run_bench,
    write_section,
)

GIT_TIMEOUT = 600.0
SHARED = "shared"  # the branch every client pushes to without force

# (operation, weight): how often each client picks each kind of work
MIX: list[tuple[str, float]] = [
    ("clone", 2),
    ("clone --single-branch", 1),
    ("fetch", 3),
    ("push", 3),
    ("push shared branch", 1),
    ("force-push", 0.5),
    ("delete branch", 0.3),
    ("ls-remote", 2),
    ("api", 4),
    ("create, push, delete repository", 0.4),
]
API_OPS = [
    "GetRepository",
    "ListBranches",
    "GetBranch",
    "GetFile",
    "GetFolder",
    "GetDifferences",
    "PutFile",
    "CreatePullRequest",
    "ListPullRequests",
]
# Refusals that are the right answer under concurrent clients, by operation.
EXPECTED_API = {"PutFile": {"ParentCommitIdOutdatedException"}}


# ---------------------------------------------------------------------------------------------
# what the run records


@dataclass
class Record:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    expected: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[float, str, str]] = field(default_factory=list)  # (t, op, message)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def done(self, op: str, seconds: float) -> None:
        with self.lock:
            self.latencies[op].append(seconds)

    def refused(self, op: str) -> None:
        with self.lock:
            self.expected[op] += 1

    def error(self, t: float, op: str, message: str) -> None:
        with self.lock:
            self.errors.append((t, op, message))
        print(f"{t:7.1f} s  ERROR {op}: {message.splitlines()[0] if message else ''}", flush=True)


class GitFailed(Exception):
    def __init__(self, code: int, stderr: str) -> None:
        super().__init__(stderr)
        self.code = code
        self.stderr = stderr


def first_lines(text: str, n: int = 4) -> str:
    lines = [line for line in _redact(text).splitlines() if line.strip()]
    return "\n".join(lines[:n])


class Procs:
    """The git processes running now, each in its own process group so that stopping one stops
    what it started (git-remote-http, index-pack, pack-objects)."""

    def __init__(self) -> None:
        self.live: set[subprocess.Popen[bytes]] = set()
        self.lock = threading.Lock()
        self.closed = False

    def run(self, cmd: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> str:
        with self.lock:
            if self.closed:
                raise GitFailed(-1, "stopped")
            proc = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            self.live.add(proc)
        try:
            out, err = proc.communicate(timeout=GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            proc.communicate()
            raise GitFailed(-1, f"timed out after {GIT_TIMEOUT:.0f} s") from None
        finally:
            with self.lock:
                self.live.discard(proc)
        if proc.returncode != 0:
            raise GitFailed(proc.returncode, err.decode(errors="replace"))
        return out.decode(errors="replace")

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            live = list(self.live)
        for proc in live:
            self._kill(proc)


# ---------------------------------------------------------------------------------------------
# one client


class Client:
    def __init__(self, k: int, soak: Soak) -> None:
        self.k = k
        self.soak = soak
        self.rng = random.Random(1000 + k)
        self.repo = soak.repos[k % len(soak.repos)]
        self.branch = f"client-{k}"
        self.api_branch = f"api-{k}"
        self.dir = soak.tmp / f"client-{k}"
        self.dir.mkdir()
        self.work = self.dir / "work.git"
        self.api = soak.server.client()
        self.pushed = False  # whether `branch` exists on the server
        self.api_changed = False  # whether `api_branch` differs from the default branch
        self.serial = 0

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return self.soak.procs.run(["git", *args], self.soak.env, cwd=cwd)

    def url(self, name: str | None = None) -> str:
        return self.soak.server.url(name or self.repo)

    def fetch(self) -> None:
        self.git(
            "fetch",
            "-q",
            "--prune",
            self.url(),
            "+refs/heads/*:refs/remotes/origin/*",
            cwd=self.work,
        )

    def setup(self) -> None:
        self.git("clone", "-q", "--bare", self.url(), str(self.work))
        self.fetch()
        main = f"refs/remotes/origin/{self.soak.head}"
        self.git("update-ref", f"refs/heads/{self.branch}", main, cwd=self.work)
        tip = self.api.get_branch(repositoryName=self.repo, branchName=self.soak.head)
        self.api.create_branch(
            repositoryName=self.repo,
            branchName=self.api_branch,
            commitId=tip["branch"]["commitId"],
        )

    def next_seed(self) -> int:
        self.serial += 1
        return self.k * 1_000_000 + self.serial

    def loop(self, deadline: float) -> None:
        ops, weights = zip(*MIX, strict=True)
        while time.monotonic() < deadline and not self.soak.stopping.is_set():
            op = self.rng.choices(ops, weights)[0]
            if op == "api":
                op = self.rng.choice(API_OPS)
            t0 = time.monotonic()
            try:
                refused = self.do(op)
            except GitFailed as exc:
                if self.soak.stopping.is_set():
                    return
                if self.lost_to_rewrite(op, exc.stderr, t0):
                    self.soak.record.refused(op)
                    continue
                self.soak.record.error(
                    t0 - self.soak.started, op, f"exit {exc.code}: {first_lines(exc.stderr)}"
                )
            except BenchError as exc:  # a local git step (make_commits) failed
                self.soak.record.error(t0 - self.soak.started, op, first_lines(str(exc)))
            except Exception as exc:  # botocore's ClientError and anything unforeseen
                self.soak.record.error(t0 - self.soak.started, op, describe(exc))
            else:
                if refused:
                    self.soak.record.refused(op)
                else:
                    self.soak.record.done(op, time.monotonic() - t0)
            if self.soak.pause:
                self.soak.stopping.wait(self.rng.uniform(0, 2 * self.soak.pause))

    def do(self, op: str) -> bool:
        """Run one operation; True when it was refused as expected."""
        head = self.soak.head
        if op == "clone":
            dest = self.dir / "clone.git"
            try:
                self.git("clone", "-q", "--bare", self.url(), str(dest))
                self.check_clone(dest)
            finally:
                shutil.rmtree(dest, ignore_errors=True)
        elif op == "clone --single-branch":
            dest = self.dir / "clone.git"
            which = self.rng.choice([head, SHARED])
            try:
                self.git(
                    "clone",
                    "-q",
                    "--bare",
                    "--single-branch",
                    "--branch",
                    which,
                    self.url(),
                    str(dest),
                )
                self.check_clone(dest)
            finally:
                shutil.rmtree(dest, ignore_errors=True)
        elif op == "fetch":
            self.fetch()
        elif op == "push":
            make_commits(
                self.soak.env, self.work, self.branch, self.rng.randint(1, 5), self.next_seed()
            )
            self.git("push", "-q", self.url(), f"{self.branch}:{self.branch}", cwd=self.work)
            self.pushed = True
        elif op == "push shared branch":
            self.fetch()
            self.git(
                "update-ref", f"refs/heads/{SHARED}", f"refs/remotes/origin/{SHARED}", cwd=self.work
            )
            make_commits(self.soak.env, self.work, SHARED, self.rng.randint(1, 3), self.next_seed())
            try:
                self.git("push", "-q", self.url(), f"{SHARED}:{SHARED}", cwd=self.work)
            except GitFailed as exc:
                if non_fast_forward(exc.stderr):
                    return True
                raise
        elif op == "force-push":
            self.git(
                "update-ref",
                f"refs/heads/{self.branch}",
                f"refs/remotes/origin/{head}",
                cwd=self.work,
            )
            make_commits(self.soak.env, self.work, self.branch, 2, self.next_seed())
            with self.soak.rewriting(self.repo):
                self.git(
                    "push",
                    "-q",
                    "--force",
                    self.url(),
                    f"{self.branch}:{self.branch}",
                    cwd=self.work,
                )
            self.pushed = True
        elif op == "delete branch":
            if not self.pushed:
                return self.do("push")
            with self.soak.rewriting(self.repo):
                self.git("push", "-q", self.url(), f":refs/heads/{self.branch}", cwd=self.work)
            self.pushed = False
        elif op == "ls-remote":
            out = self.git("ls-remote", self.url())
            if f"\trefs/heads/{head}\n" not in out:
                raise GitFailed(0, f"ls-remote does not list {head}:\n{out[:500]}")
        elif op == "create, push, delete repository":
            name = f"soak-tmp-{self.k}-{self.next_seed()}"
            self.api.create_repository(repositoryName=name)
            try:
                self.git(
                    "push",
                    "-q",
                    self.url(name),
                    f"refs/remotes/origin/{head}:refs/heads/{head}",
                    cwd=self.work,
                )
                out = self.git("ls-remote", self.url(name))
                if f"\trefs/heads/{head}\n" not in out:
                    raise GitFailed(0, f"ls-remote after the push does not list {head}")
            finally:
                self.api.delete_repository(repositoryName=name)
        else:
            return self.api_call(op)
        return False

    def lost_to_rewrite(self, op: str, stderr: str, t0: float) -> bool:
        """A clone or fetch whose ref advertisement named a tip that another client then
        force-pushed away or deleted: the fetch request that follows (a separate HTTP request)
        wants a commit no current ref reaches, and is refused with "not our ref" (as C git's
        `check_non_tip` refuses it in protocol v0; C git's protocol v2 serves any object it
        has). Expected only when such a rewrite of this repository overlapped the operation."""
        # a single-branch clone wants the default or the shared branch, never rewritten
        if op not in ("clone", "fetch", "push shared branch"):
            return False
        if "not our ref" not in stderr:
            return False
        return self.soak.rewritten_during(self.repo, t0, time.monotonic())

    def check_clone(self, dest: Path) -> None:
        # `git clone` checks connectivity itself; this catches a pack that lies about its refs
        self.git("rev-parse", "--verify", "-q", "HEAD^{commit}", cwd=dest)

    def api_call(self, op: str) -> bool:
        api, repo, head = self.api, self.repo, self.soak.head
        try:
            if op == "GetRepository":
                api.get_repository(repositoryName=repo)
            elif op == "ListBranches":
                api.list_branches(repositoryName=repo)
            elif op == "GetBranch":
                api.get_branch(repositoryName=repo, branchName=SHARED)
            elif op == "GetFile":
                path = self.rng.choice(self.soak.files)
                api.get_file(repositoryName=repo, commitSpecifier=head, filePath=path)
            elif op == "GetFolder":
                folder = self.rng.choice(self.soak.folders)
                api.get_folder(repositoryName=repo, commitSpecifier=head, folderPath=folder)
            elif op == "GetDifferences":
                api.get_differences(
                    repositoryName=repo,
                    beforeCommitSpecifier=head,
                    afterCommitSpecifier=SHARED,
                    MaxResults=100,
                )
            elif op == "PutFile":
                tip = api.get_branch(repositoryName=repo, branchName=self.api_branch)
                api.put_file(
                    repositoryName=repo,
                    branchName=self.api_branch,
                    parentCommitId=tip["branch"]["commitId"],
                    filePath=f"soak/{self.api_branch}.txt",
                    fileContent=f"client {self.k}, change {self.next_seed()}\n".encode(),
                    commitMessage="soak: a file changed through the API",
                    name="Soak",
                    email="soak@example.com",
                )
                self.api_changed = True
            elif op == "CreatePullRequest":
                if not self.api_changed:
                    return self.api_call("PutFile")
                pr = api.create_pull_request(
                    title=f"soak {self.next_seed()}",
                    targets=[
                        {
                            "repositoryName": repo,
                            "sourceReference": self.api_branch,
                            "destinationReference": head,
                        }
                    ],
                )
                # closed at once: a real team does not leave thousands open
                api.update_pull_request_status(
                    pullRequestId=pr["pullRequest"]["pullRequestId"],
                    pullRequestStatus="CLOSED",
                )
            elif op == "ListPullRequests":
                api.list_pull_requests(repositoryName=repo, maxResults=25)
            else:
                raise AssertionError(op)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in EXPECTED_API.get(op, set()):
                return True
            raise
        return False


def non_fast_forward(stderr: str) -> bool:
    """The branch moved since this client fetched it: git refused the push itself, or the
    server's compare-and-swap of the ref lost to another client's push that landed first
    (C git's receive-pack says "failed to update ref" / "cannot lock ref" then)."""
    if "[rejected]" in stderr and ("fetch first" in stderr or "non-fast-forward" in stderr):
        return True
    return "[remote rejected]" in stderr and "it changed during the push" in stderr


def describe(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{err.get('Code')} (HTTP {status}): {_redact(str(err.get('Message')))[:300]}"
    return f"{type(exc).__name__}: {_redact(str(exc))[:300]}"


# ---------------------------------------------------------------------------------------------
# the run


@dataclass
class Sample:
    t: float
    rss_mib: float
    cache_mib: float | None
    phase: str
    # What requests held of resolved objects, and the most they ever held at once
    # (`resolved` of the stats; absent from servers that have no shared account).
    resolved_mib: float | None = None
    resolved_peak_mib: float | None = None


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pause = args.pause
        self.tmp = Path(tempfile.mkdtemp(prefix="ccemu-soak-"))
        self.env = git_env(self.tmp / "home")
        self.procs = Procs()
        self.record = Record()
        self.stopping = threading.Event()
        self.samples: list[Sample] = []
        self.threads: list[threading.Thread] = []
        self.rewrites: dict[str, list[list[float]]] = defaultdict(list)
        self.phase = "setup"
        self.started = time.monotonic()
        self.server: Ccemu
        self.repos: list[str] = []
        self.head = "main"
        self.files: list[str] = []
        self.folders: list[str] = []

    # -- force-pushes and branch deletes, to tell a lost race from an error

    @contextlib.contextmanager
    def rewriting(self, repo: str) -> Iterator[None]:
        span = [time.monotonic(), float("inf")]
        with self.record.lock:
            self.rewrites[repo].append(span)
        try:
            yield
        finally:
            span[1] = time.monotonic()

    def rewritten_during(self, repo: str, start: float, end: float) -> bool:
        with self.record.lock:
            return any(a < end and b > start for a, b in self.rewrites[repo])

    # -- RSS

    def sample(self) -> Sample:
        rss = read_status(self.server.pid, "VmRSS") / 1024
        cache = resolved = peak = None
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(self.server.base + "/_ccemu/stats", timeout=30) as resp:
                stats = json.loads(resp.read())
            cache = stats["cache"]["bytes"] / 2**20
            if "resolved" in stats:
                resolved = stats["resolved"]["bytes"] / 2**20
                peak = stats["resolved"]["peakBytes"] / 2**20
        s = Sample(time.monotonic() - self.started, rss, cache, self.phase, resolved, peak)
        self.samples.append(s)
        return s

    def sampler(self) -> None:
        every = self.args.sample_every
        while not self.stopping.wait(every - (time.monotonic() - self.started) % every):
            with contextlib.suppress(OSError):
                s = self.sample()
                print(f"{s.t:7.1f} s  {s.rss_mib:7.1f} MiB  {s.phase}", flush=True)

    # -- seeding

    def source(self) -> Path:
        repo = Path(self.args.repo).resolve()
        if (repo / "HEAD").exists():
            return repo
        print(f"{repo} is missing: using the generated repository instead", flush=True)
        info = prepare_repo(
            argparse.Namespace(repo=None, commits=self.args.commits, seed=1), self.env
        )
        return info.path

    def seed(self, src: Path) -> None:
        self.head = git_out(self.env, "symbolic-ref", "--short", "HEAD", cwd=src)
        for line in git_out(self.env, "ls-tree", "-r", "-t", self.head, cwd=src).splitlines():
            meta, path = line.split("\t", 1)
            kind = meta.split()[1]
            if kind == "tree":
                self.folders.append(path)
            elif kind == "blob" and not path.startswith('"'):  # quoted: unusual characters
                self.files.append(path)
        self.folders.append("/")
        for i in range(self.args.repos):
            name = f"soak-{i}"
            self.server.create(name)
            run(["git", "push", "-q", "--mirror", self.server.url(name)], self.env, cwd=src)
            run(
                ["git", "push", "-q", self.server.url(name), f"{self.head}:refs/heads/{SHARED}"],
                self.env,
                cwd=src,
            )
            self.repos.append(name)

    # -- the whole run

    def bench(self) -> int:
        args = self.args
        try:
            src = self.source()
            load_start = os.getloadavg()
            self.server = Ccemu(self.tmp, self.env, *args.server_arg)
            self.started = time.monotonic()
            time.sleep(2)
            self.phase = "idle after start"
            self.sample()
            self.phase = "seeding"
            self.seed(src)
            sampler = threading.Thread(target=self.sampler, daemon=True)
            sampler.start()
            clients = [Client(k, self) for k in range(args.clients)]
            self.parallel([c.setup for c in clients])
            self.phase = "seeded"
            self.sample()
            self.phase = "work"
            work_start = time.monotonic()
            deadline = work_start + args.minutes * 60
            self.parallel([partial(c.loop, deadline) for c in clients])
            work_end = time.monotonic()
            self.phase = "end of work"
            self.sample()
            self.phase = "idle"
            time.sleep(args.idle)
            self.phase = "after idle"
            end = self.sample()
            load_end = os.getloadavg()
            self.stopping.set()
            sampler.join()
            log = self.server.log.read_text(errors="replace")
            server_alive = self.server.proc.poll() is None
            report = self.render(
                src, load_start, load_end, work_start, work_end, end, log, server_alive
            )
        finally:
            self.stopping.set()
            self.procs.close()
            # the clients notice and stop; then the server, before its data dir goes
            until = time.monotonic() + 30
            for t in self.threads:
                t.join(max(0.0, until - time.monotonic()))
            _stop_all()
            shutil.rmtree(self.tmp, ignore_errors=True)
        print(report)
        if args.out:
            write_section(Path(args.out), "soak", report)
            print(f"wrote {args.out}")
        return 1 if self.record.errors or not server_alive else 0

    def parallel(self, jobs: list[Any]) -> None:
        failures: list[str] = []

        def wrap(job: Any) -> None:
            try:
                job()
            except Exception as exc:  # setup failures end the run
                failures.append(
                    f"exit {exc.code}: {first_lines(exc.stderr)}"
                    if isinstance(exc, GitFailed)
                    else describe(exc)
                )

        threads = [threading.Thread(target=wrap, args=(j,), daemon=True) for j in jobs]
        self.threads += threads
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise BenchError(f"{len(failures)} clients failed to start: {failures[0]}")

    # -- the report

    def render(
        self,
        src: Path,
        load_start: tuple[float, float, float],
        load_end: tuple[float, float, float],
        work_start: float,
        work_end: float,
        end: Sample,
        log: str,
        server_alive: bool,
    ) -> str:
        args, rec = self.args, self.record
        objects = git_out(self.env, "count-objects", "-v", cwd=src)
        in_pack = dict(line.split(": ", 1) for line in objects.splitlines()).get("in-pack", "?")
        cmd = "python bench/soak.py " + " ".join(sys.argv[1:])
        lines = [
            f"## Soak: {args.clients} clients for {args.minutes:g} min "
            f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
            "",
            *machine(),
            f"- command: `{cmd.strip()}`",
            f"- repository: `{display(src)}` ({in_pack} objects), mirrored into {args.repos} "
            f"repositories; each client works on one of them",
            f"- load average (1, 5, 15 min) at the start {fmt_load(load_start)}, "
            f"at the end {fmt_load(load_end)}",
            f"- work: {(work_end - work_start) / 60:.1f} min; a pause of up to "
            f"{2 * args.pause:g} s between a client's operations",
            f"- server {'still running' if server_alive else '**exited**'} at the end; "
            f"tracebacks in its log: {log.count('Traceback')}",
            "",
            "| operation | done | expected refusals | errors | median | p95 |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        errors_by_op = Counter(op for _, op, _ in rec.errors)
        kinds = [op for op, _ in MIX if op != "api"] + API_OPS
        total = 0
        for op in kinds:
            xs = sorted(rec.latencies.get(op, []))
            total += len(xs)
            if not xs and not rec.expected[op] and not errors_by_op[op]:
                continue
            lines.append(
                f"| {op} | {len(xs)} | {rec.expected[op]} | {errors_by_op[op]} | "
                f"{fmt_s(pct(xs, 50))} | {fmt_s(pct(xs, 95))} |"
            )
        lines += [
            "",
            f"{total} operations done, {len(rec.errors)} errors. Expected refusals: a push to the"
            " shared branch that git refuses as non-fast-forward, or whose ref update the server"
            " refuses because the branch changed during the push (another client pushed first);"
            ' a clone or fetch refused with "not our ref" while another client force-pushed or'
            " deleted a branch of the same repository (the advertised tip is gone by the time the"
            " pack is asked for; C git refuses it too in protocol v0, its protocol v2 serves any"
            " object it still has).",
            "",
        ]
        if rec.errors:
            distinct = Counter((op, normalize(msg)) for _, op, msg in rec.errors)
            lines += ["Errors (distinct messages, with their count and first time):", ""]
            first: dict[tuple[str, str], tuple[float, str]] = {}
            for t, op, msg in rec.errors:
                first.setdefault((op, normalize(msg)), (t, msg))
            for key, n in distinct.most_common():
                t, msg = first[key]
                lines += [f"- {n}{X} {key[0]} (first at {t:.0f} s):", "", "  ```"]
                lines += [f"  {line}" for line in msg.splitlines()]
                lines += ["  ```"]
            lines.append("")
        if "Traceback" in log:
            tb = log[log.index("Traceback") :].splitlines()[:30]
            lines += ["The server's first traceback:", "", "```", *tb, "```", ""]
        lines += rss_table(self.samples, work_start - self.started, work_end - self.started, end)
        return "\n".join(lines) + "\n"


def rss_table(samples: list[Sample], work_start: float, work_end: float, end: Sample) -> list[str]:
    """Start, min, max, each 5-minute mark of the work, its end and after idle."""
    work = [s for s in samples if work_start <= s.t <= work_end]
    rows: list[tuple[str, Sample]] = []
    first = next((s for s in samples if s.phase == "idle after start"), None)
    if first:
        rows.append(("idle after start", first))
    seeded = next((s for s in samples if s.phase == "seeded"), None)
    if seeded:
        rows.append(("after seeding and client setup", seeded))
    if work:
        rows.append(("minimum during the work", min(work, key=lambda s: s.rss_mib)))
        rows.append(("maximum during the work", max(work, key=lambda s: s.rss_mib)))
        mark = 300.0
        while work_start + mark <= work_end:
            at = min(work, key=lambda s: abs(s.t - work_start - mark))
            rows.append((f"{mark / 60:.0f} min into the work", at))
            mark += 300
    ended = next((s for s in samples if s.phase == "end of work"), None)
    if ended:
        rows.append(("end of work", ended))
    rows.append((f"after {end.t - work_end:.0f} s idle", end))
    lines = [
        f"Server RSS ({len(samples)} samples, every 10 s):",
        "",
        "| when | time | VmRSS MiB | pack cache MiB | resolved objects MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, s in rows:
        cache = "—" if s.cache_mib is None else f"{s.cache_mib:.1f}"
        resolved = "—" if s.resolved_mib is None else f"{s.resolved_mib:.1f}"
        lines.append(f"| {label} | {s.t:.0f} s | {s.rss_mib:.0f} | {cache} | {resolved} |")
    peaks = [s.resolved_peak_mib for s in samples if s.resolved_peak_mib is not None]
    peak = max(peaks, default=None)
    if peak is not None:
        lines += ["", f"Resolved objects held by all requests at once, at most: {peak:.1f} MiB."]
    lines += [
        "",
        "All samples (s: MiB): " + ", ".join(f"{s.t:.0f}: {s.rss_mib:.0f}" for s in samples),
    ]
    return lines


def normalize(msg: str) -> str:
    """One message per kind of error: object ids, numbers and names of temporary things out."""
    msg = re.sub(r"\b[0-9a-f]{7,40}\b", "<id>", msg)
    msg = re.sub(r"soak-tmp-\d+-\d+", "soak-tmp-<n>", msg)
    msg = re.sub(r"(client|api)-\d+", r"\1-<n>", msg)
    return re.sub(r"\d+", "<n>", msg)


def pct(xs: list[float], p: int) -> float:
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def fmt_s(x: float) -> str:
    if x != x:
        return "—"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def fmt_load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{x:.2f}" for x in load)


def display(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", default=str(ROOT / "bench" / "data" / "flask.git"))
    parser.add_argument(
        "--commits",
        type=int,
        default=3000,
        help="commits of the generated repository used when --repo is missing",
    )
    parser.add_argument("--repos", type=int, default=2, help="repositories the clients share")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--idle", type=int, default=60, help="seconds of idle after the work")
    parser.add_argument(
        "--pause", type=float, default=0.25, help="mean seconds a client waits between operations"
    )
    parser.add_argument("--sample-every", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("--server-arg", action="append", default=[])
    parser.add_argument("--out", help="write the section `soak` of this file (bench/RESULTS.md)")
    args = parser.parse_args(argv)
    return run_bench(Soak(args).bench)


if __name__ == "__main__":
    sys.exit(main())
