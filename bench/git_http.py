"""ccemu's git smart-HTTP door against C git's `git http-backend`, same repository, same run.

    python bench/git_http.py [--repo PATH] [--runs N] [--ssh] [--out bench/RESULTS.md]

Builds (or reuses, cached under bench/data/) a repository, serves it with `git http-backend`
(behind lighttpd, or a small streaming CGI bridge) and with ccemu, and times the real git CLI
against both: ls-remote, full clone, single-branch clone, push of 50 commits, fetch of those 50
commits, and the initial mirror push. Also reports server CPU and peak memory.

With `--ssh` the same run also times git over SSH, interleaved with the HTTP targets in every
scenario: ccemu's SSH door (an IAM user whose SSH key is the client's) against OpenSSH's sshd
running git-upload-pack / git-receive-pack (/usr/sbin/sshd as a child of this script, on a free
127.0.0.1 port with its own temporary config, host key and authorized_keys). The table then has
four targets, "ccemu HTTP / http-backend" and "ccemu SSH / OpenSSH" ratios and the server CPU of
all four, and `--out` writes it to a section of its own. Without sshd, the run says so and
measures over HTTP only. See bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import getpass
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / "data"
REGION = "us-east-1"
KEY = SECRET = "test"
GEN_VERSION = 1  # bump when the generator changes, so a cached repository is rebuilt

TARGETS = {
    "ls-remote": 1.5,
    "full clone": 2.0,
    "single-branch clone": 2.0,
    "fetch 50 commits": 3.0,
    "push 50 commits": 1.5,
}
OPS = ["ls-remote", "full clone", "single-branch clone", "fetch 50 commits", "push 50 commits"]

GIT_TIMEOUT = 900.0
SSHD = "/usr/sbin/sshd"
# the labels of the four targets (the HTTP ones are those of the figures recorded so far)
BACKEND, CCEMU, OPENSSH, CCEMU_SSH = "git http-backend", "ccemu", "OpenSSH + git", "ccemu over SSH"
X = "\u00d7"  # the multiplication sign of "2.0x"


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# running git


def git_env(home: Path) -> dict[str, str]:
    """An environment where git reads no user or system config and never prompts."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AWS_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        LC_ALL="C",
    )
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    return env


def run(
    cmd: Sequence[str],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    input: bytes | None = None,
    timeout: float = GIT_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(
            list(cmd), cwd=cwd, env=env, input=input, capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"timed out after {timeout:.0f} s: {_redact(' '.join(cmd))}") from exc
    if check and proc.returncode != 0:
        raise BenchError(
            f"failed ({proc.returncode}): {_redact(' '.join(cmd))}\n"
            f"{_redact(_clip(proc.stdout.decode(errors='replace')))}"
            f"{_redact(_clip(proc.stderr.decode(errors='replace')))}"
        )
    return proc


def _clip(text: str, lines: int = 12) -> str:
    """The first and last lines of a long message (the cause is usually in the first ones)."""
    parts = text.splitlines(keepends=True)
    if len(parts) <= 2 * lines:
        return text
    return "".join([*parts[:lines], f"[... {len(parts) - 2 * lines} lines ...]\n", *parts[-lines:]])


def _redact(text: str) -> str:
    """Hide the password in http://user:password@host URLs."""
    import re

    return re.sub(r"(https?://[^:/@\s]+):[^@\s]+@", r"\1:***@", text)


def git_out(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    return run(["git", *args], env, cwd=cwd).stdout.decode().strip()


def timed(cmd: Sequence[str], env: dict[str, str], *, cwd: Path | None = None) -> float:
    t0 = time.perf_counter()
    run(cmd, env, cwd=cwd)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# the repository

WORDS = (
    "request response handler config store object commit tree blob pack index reader writer "
    "buffer stream socket header body token session user account region policy resource action "
    "context result value error retry timeout limit offset count name path branch tag ref entry "
    "cache state event queue worker task job batch chunk frame packet line sideband delta base "
    "client server proxy router route table column record schema migrate parse render format"
).split()
TYPES = ("int", "str", "bytes", "bool", "float", "dict[str, Any]", "list[str]", "None")


class SourceGen:
    """Deterministic source-like text: Python-ish modules of functions and classes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def ident(self) -> str:
        r = self.rng
        return "_".join(r.choice(WORDS) for _ in range(r.randint(1, 3)))

    def function(self, indent: str = "") -> list[str]:
        r = self.rng
        name = self.ident()
        args = ", ".join(f"{self.ident()}: {r.choice(TYPES)}" for _ in range(r.randint(0, 4)))
        lines = [
            f"{indent}def {name}({args}) -> {r.choice(TYPES)}:",
            f'{indent}    """{r.choice(WORDS).capitalize()} the {r.choice(WORDS)} of the '
            f'{r.choice(WORDS)}."""',
        ]
        for _ in range(r.randint(2, 12)):
            kind = r.random()
            a, b = self.ident(), self.ident()
            if kind < 0.4:
                lines.append(f"{indent}    {a} = {b}({r.randint(0, 999)}, {self.ident()!r})")
            elif kind < 0.6:
                lines.append(f"{indent}    if {a} is None or {a} > {r.randint(1, 64)}:")
                lines.append(f"{indent}        raise ValueError(f'bad {a}: {{{a}}}')")
            elif kind < 0.8:
                lines.append(f"{indent}    for {a} in {b}:")
                lines.append(f"{indent}        {self.ident()}.append({a})")
            else:
                lines.append(f"{indent}    # {' '.join(r.choice(WORDS) for _ in range(8))}")
        lines.append(f"{indent}    return {self.ident()}")
        lines.append("")
        return lines

    def module(self) -> list[str]:
        r = self.rng
        lines = [
            f'"""{" ".join(r.choice(WORDS) for _ in range(6)).capitalize()}."""',
            "",
            "from __future__ import annotations",
            "",
            "from typing import Any",
            "",
        ]
        for _ in range(r.randint(2, 8)):
            if r.random() < 0.3:
                lines.append(f"class {self.ident().title().replace('_', '')}:")
                for _ in range(r.randint(1, 4)):
                    lines.extend(self.function("    "))
            else:
                lines.extend(self.function())
        return lines

    def edit(self, lines: list[str]) -> list[str]:
        """A realistic small change: insert a function, tweak lines, or delete a few."""
        r = self.rng
        lines = list(lines)
        for _ in range(r.randint(1, 3)):
            kind = r.random()
            pos = r.randint(0, len(lines))
            if kind < 0.35 or len(lines) < 20:
                lines[pos:pos] = self.function()
            elif kind < 0.8:
                for _ in range(r.randint(1, 4)):
                    i = r.randrange(len(lines))
                    lines[i] = lines[i].replace(r.choice(WORDS), r.choice(WORDS)) + (
                        f"  # {r.choice(WORDS)}" if r.random() < 0.3 else ""
                    )
            else:
                n = r.randint(1, 8)
                del lines[pos : pos + n]
        return lines


def _data(content: bytes) -> bytes:
    return b"data %d\n" % len(content) + content + b"\n"


@dataclass
class _Branch:
    name: str
    files: dict[str, list[str]]
    mark: int
    dir: str
    left: int


def generate_fast_import(commits: int, seed: int) -> bytes:
    """A `git fast-import` stream: ~`commits` commits on main, feature branches merged back,
    release branches, annotated tags, renames and deletions, all deterministic."""
    rng = random.Random(seed)
    gen = SourceGen(rng)
    out: list[bytes] = []
    mark = 0
    t0 = 1_600_000_000
    clock = [t0]
    authors = [
        ("Ada Lovelace", "ada@example.com"),
        ("Alan Turing", "alan@example.com"),
        ("Grace Hopper", "grace@example.com"),
        ("Edsger Dijkstra", "ewd@example.com"),
        ("Barbara Liskov", "liskov@example.com"),
    ]
    top = ["core", "api", "storage", "net", "util", "cli", "plugins", "docs"]

    def new_path(prefix: str = "") -> str:
        depth = rng.randint(1, 4)
        parts = [prefix or rng.choice(top)] + [
            f"{rng.choice(WORDS)}{rng.randint(0, 3)}" for _ in range(depth - 1)
        ]
        return "/".join(["src", *parts, f"{gen.ident()}.py"])

    def commit(
        ref: str, files_changed: list[bytes], parent: int | None, msg: str, merge: int | None = None
    ) -> int:
        nonlocal mark
        mark += 1
        clock[0] += rng.randint(60, 7200)
        name, email = rng.choice(authors)
        who = f"{name} <{email}> {clock[0]} +0000".encode()
        out.append(
            b"commit %s\nmark :%d\nauthor %s\ncommitter %s\n" % (ref.encode(), mark, who, who)
        )
        out.append(_data(msg.encode()))
        if parent is not None:
            out.append(b"from :%d\n" % parent)
        if merge is not None:
            out.append(b"merge :%d\n" % merge)
        out.extend(files_changed)
        out.append(b"\n")
        return mark

    def m(path: str, lines: list[str]) -> bytes:
        return b"M 100644 inline %s\n" % path.encode() + _data("\n".join(lines).encode() + b"\n")

    main: dict[str, list[str]] = {}
    changes = []
    for _ in range(40):
        p = new_path()
        main[p] = gen.module()
        changes.append(m(p, main[p]))
    changes.append(m("README.md", ["# generated project", "", "A benchmark repository."]))
    main_mark = commit("refs/heads/main", changes, None, "Initial import")
    features: list[_Branch] = []
    n_feature = n_release = n_tag = 0
    made = 1
    while made < commits:
        # start a feature branch now and then; it touches only its own directory
        if rng.random() < 0.02 and len(features) < 3:
            n_feature += 1
            d = f"feature{n_feature}"
            features.append(
                _Branch(f"refs/heads/feature/{d}", {}, main_mark, d, rng.randint(5, 40))
            )
        # a commit on a feature branch, or on main
        if features and rng.random() < 0.3:
            br = rng.choice(features)
            changes = []
            if not br.files or rng.random() < 0.3:
                p = new_path(br.dir)
                br.files[p] = gen.module()
            else:
                p = rng.choice(sorted(br.files))
                br.files[p] = gen.edit(br.files[p])
            changes.append(m(p, br.files[p]))
            br.mark = commit(br.name, changes, br.mark, f"{br.dir}: work on {Path(p).stem}")
            made += 1
            br.left -= 1
            if br.left <= 0:
                features.remove(br)
                main.update(br.files)
                main_mark = commit(
                    "refs/heads/main",
                    [m(p, ls) for p, ls in sorted(br.files.items())],
                    main_mark,
                    f"Merge branch '{br.name[11:]}'",
                    merge=br.mark,
                )
                made += 1
            continue
        changes = []
        roll = rng.random()
        paths = sorted(main)
        if roll < 0.12:
            added = []
            for _ in range(rng.randint(1, 3)):
                p = new_path()
                main[p] = gen.module()
                changes.append(m(p, main[p]))
                added.append(Path(p).stem)
            msg = "Add " + ", ".join(added)
        elif roll < 0.16 and len(paths) > 50:
            src = rng.choice(paths)
            dst = new_path()
            main[dst] = main.pop(src)
            changes.append(b"R %s %s\n" % (src.encode(), dst.encode()))
            if rng.random() < 0.5:
                main[dst] = gen.edit(main[dst])
                changes.append(m(dst, main[dst]))
            msg = f"Move {Path(src).stem} to {Path(dst).parent}"
        elif roll < 0.18 and len(paths) > 80:
            p = rng.choice(paths)
            del main[p]
            changes.append(b"D %s\n" % p.encode())
            msg = f"Remove {Path(p).stem}"
        else:
            for p in rng.sample(paths, min(len(paths), rng.randint(1, 4))):
                main[p] = gen.edit(main[p])
                changes.append(m(p, main[p]))
            msg = f"Update {Path(p).stem}: {' '.join(rng.choice(WORDS) for _ in range(4))}"
        main_mark = commit("refs/heads/main", changes, main_mark, msg)
        made += 1
        if made % 250 == 0:
            n_tag += 1
            clock[0] += 60
            out.append(
                b"tag v1.%d\nfrom :%d\ntagger Release <rel@example.com> %d +0000\n"
                % (n_tag, main_mark, clock[0])
            )
            out.append(_data(b"Release 1.%d\n" % n_tag))
        if made % 700 == 0:
            # a release branch with a few fixes of its own, never merged back
            n_release += 1
            ref = f"refs/heads/release/1.{n_release}"
            rel = {p: list(ls) for p, ls in main.items()}
            rmark = main_mark
            for _ in range(rng.randint(3, 8)):
                p = rng.choice(sorted(rel))
                rel[p] = gen.edit(rel[p])
                rmark = commit(ref, [m(p, rel[p])], rmark, f"Backport fix to {Path(p).stem}")
                made += 1
    out.append(b"reset refs/heads/main\nfrom :%d\n\n" % main_mark)
    return b"".join(out)


@dataclass
class RepoInfo:
    path: Path  # a bare repository, packed
    branch: str
    description: str
    objects: int
    pack_bytes: int
    refs: int
    commits: int


def count_objects(env: dict[str, str], repo: Path) -> tuple[int, int]:
    out = git_out(env, "count-objects", "-v", cwd=repo)
    kv = dict(line.split(": ", 1) for line in out.splitlines())
    return int(kv["count"]) + int(kv["in-pack"]), int(kv["size-pack"]) * 1024 + int(
        kv["size"]
    ) * 1024


def prepare_repo(args: argparse.Namespace, env: dict[str, str]) -> RepoInfo:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if args.repo:
        src = Path(args.repo).resolve()
        name = src.name.removesuffix(".git")
        digest = hashlib.sha1(str(src).encode()).hexdigest()[:8]
        bare = WORK_DIR / f"repo-{name}-{digest}.git"
        stamp = bare / "bench-source"
        if not (stamp.exists() and stamp.read_text() == str(src)):
            shutil.rmtree(bare, ignore_errors=True)
            print(f"copying the branches and tags of {src} ...", flush=True)
            run(["git", "init", "-q", "--bare", str(bare)], env)
            # only branches and tags: that is what a hosted repository holds
            run(
                [
                    "git",
                    "fetch",
                    "--quiet",
                    str(src),
                    "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*",
                ],
                env,
                cwd=bare,
            )
            src_head = run(["git", "symbolic-ref", "HEAD"], env, cwd=src, check=False)
            head = src_head.stdout.decode().strip()
            if src_head.returncode == 0 and git_out(
                env, "for-each-ref", "--format=%(refname)", head, cwd=bare
            ):
                run(["git", "symbolic-ref", "HEAD", head], env, cwd=bare)
            else:
                first = git_out(
                    env, "for-each-ref", "--count=1", "--format=%(refname)", "refs/heads/", cwd=bare
                )
                if not first:
                    raise BenchError(f"{src} has no branches")
                run(["git", "symbolic-ref", "HEAD", first], env, cwd=bare)
            run(["git", "gc", "--quiet", "--prune=now"], env, cwd=bare)
            stamp.write_text(str(src))
        desc = f"branches and tags of `{args.repo}`"
    else:
        bare = WORK_DIR / f"generated-{args.commits}-s{args.seed}-v{GEN_VERSION}.git"
        if not (bare / "bench-ok").exists():
            shutil.rmtree(bare, ignore_errors=True)
            print(f"generating a repository of ~{args.commits} commits in {bare} ...", flush=True)
            t0 = time.perf_counter()
            run(["git", "init", "-q", "--bare", str(bare)], env)
            stream = generate_fast_import(args.commits, args.seed)
            run(["git", "fast-import", "--quiet"], env, cwd=bare, input=stream)
            run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], env, cwd=bare)
            run(["git", "gc", "--quiet", "--prune=now"], env, cwd=bare)
            (bare / "bench-ok").write_text("ok\n")
            print(f"  generated in {time.perf_counter() - t0:.1f} s", flush=True)
        desc = (
            f"generated (`--commits {args.commits} --seed {args.seed}`): source-like Python "
            "files in nested directories, edits, renames and deletions, feature branches "
            "merged back, release branches, annotated tags"
        )
    head = git_out(env, "symbolic-ref", "--short", "HEAD", cwd=bare)
    objects, size = count_objects(env, bare)
    refs = len(git_out(env, "for-each-ref", "--format=%(refname)", cwd=bare).splitlines())
    ncommits = int(git_out(env, "rev-list", "--all", "--count", cwd=bare))
    return RepoInfo(bare, head, desc, objects, size, refs, ncommits)


def make_commits(env: dict[str, str], work: Path, branch: str, count: int, seed: int) -> None:
    """`count` new commits on `branch` of the non-bare, no-checkout clone `work`, editing existing
    text files the way a developer would (deterministic: the same seed and tip give the same
    commits in every clone)."""
    rng = random.Random(seed)
    gen = SourceGen(rng)
    listing = git_out(env, "ls-tree", "-r", "-l", f"refs/heads/{branch}", cwd=work)
    candidates = []
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        mode, kind, sha, size = meta.split()
        if kind == "blob" and mode == "100644" and size.isdigit() and 200 < int(size) < 65536:
            candidates.append((path, sha))
    if not candidates:
        raise BenchError("the repository has no text files to edit")
    candidates.sort()
    chosen = rng.sample(candidates, min(len(candidates), 60))
    batch = run(
        ["git", "cat-file", "--batch"],
        env,
        cwd=work,
        input="".join(sha + "\n" for _, sha in chosen).encode(),
    ).stdout
    files: dict[str, list[str]] = {}
    pos = 0
    for path, _ in chosen:
        header_end = batch.index(b"\n", pos)
        size = int(batch[pos:header_end].split()[2])
        body = batch[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        files[path] = body.decode("utf-8", errors="replace").splitlines()
    stream: list[bytes] = []
    when = 1_700_000_000 + seed * 100_000
    for i in range(count):
        when += 300
        changes = []
        if i % 10 == 9:
            p = f"bench/added-{seed}-{i}.py"
            files[p] = gen.module()
            changes.append(p)
        for p in rng.sample(sorted(files), rng.randint(1, 3)):
            files[p] = gen.edit(files[p])
            changes.append(p)
        who = b"Bench <bench@example.com> %d +0000" % when
        stream.append(
            b"commit refs/heads/%s\nauthor %s\ncommitter %s\n" % (branch.encode(), who, who)
        )
        stream.append(_data(b"bench change %d.%d\n" % (seed, i)))
        if i == 0:
            stream.append(b"from refs/heads/%s^0\n" % branch.encode())
        for p in changes:
            stream.append(b"M 100644 inline %s\n" % p.encode())
            stream.append(_data("\n".join(files[p]).encode() + b"\n"))
        stream.append(b"\n")
    run(["git", "fast-import", "--quiet", "--force"], env, cwd=work, input=b"".join(stream))


# ---------------------------------------------------------------------------------------------
# git http-backend behind a streaming CGI bridge (runs in its own process: `_bridge` mode)


class _BridgeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bench-cgi-bridge"
    project_root = ""
    bufsize = 65536

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/_stats":
            self._stats()
        else:
            self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _stats(self) -> None:
        me = resource.getrusage(resource.RUSAGE_SELF)
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        body = json.dumps(
            {
                "self_cpu": me.ru_utime + me.ru_stime,
                "children_cpu": ch.ru_utime + ch.ru_stime,
                "children_maxrss_kib": ch.ru_maxrss,
                "self_maxrss_kib": me.ru_maxrss,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _cgi(self) -> None:
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_PROJECT_ROOT": self.project_root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": self.server_version,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": "bench",
        }
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length = self.headers.get("Content-Length")
        if self.headers.get("Content-Type"):
            env["CONTENT_TYPE"] = self.headers["Content-Type"]
        if length is not None and not chunked:
            env["CONTENT_LENGTH"] = length
        for name in ("Content-Encoding", "Git-Protocol", "Accept", "Accept-Encoding"):
            if self.headers.get(name):
                env["HTTP_" + name.upper().replace("-", "_")] = self.headers[name]
        proc = subprocess.Popen(
            ["git", "-c", "http.receivepack=true", "-c", "http.uploadpack=true", "http-backend"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            bufsize=0,
        )
        assert proc.stdin is not None and proc.stdout is not None
        feeder = threading.Thread(
            target=self._feed, args=(proc.stdin, chunked, length), daemon=True
        )
        feeder.start()
        try:
            self._relay(proc.stdout)
        finally:
            feeder.join(timeout=GIT_TIMEOUT)
            with contextlib.suppress(Exception):
                proc.stdout.close()
            try:
                proc.wait(timeout=GIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _feed(self, stdin: BinaryIO, chunked: bool, length: str | None) -> None:
        """Stream the request body (plain or chunked) into http-backend's stdin."""
        rfile = self.rfile
        broken = False

        def put(data: bytes) -> None:
            nonlocal broken
            if broken:
                return
            try:
                stdin.write(data)
            except (BrokenPipeError, OSError):
                broken = True  # keep draining the body so the connection stays usable

        try:
            if chunked:
                while True:
                    size = int(rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    while size:
                        data = rfile.read1(min(size, self.bufsize))
                        if not data:
                            return
                        size -= len(data)
                        put(data)
                    rfile.readline()
            elif length:
                left = int(length)
                while left > 0:
                    data = rfile.read1(min(left, self.bufsize))
                    if not data:
                        return
                    left -= len(data)
                    put(data)
        finally:
            with contextlib.suppress(Exception):
                stdin.close()

    def _relay(self, stdout: BinaryIO) -> None:
        """Send http-backend's CGI answer: headers, then the body as it comes (chunked)."""
        buf = b""
        while b"\r\n\r\n" not in buf and b"\n\n" not in buf:
            data = stdout.read(self.bufsize)
            if not data:
                break
            buf += data
        sep = b"\r\n\r\n" if b"\r\n\r\n" in buf else b"\n\n"
        head, _, rest = buf.partition(sep)
        status = 200
        reason = "OK"
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").splitlines():
            if ":" not in line:
                continue
            name, value = (x.strip() for x in line.split(":", 1))
            if name.lower() == "status":
                code, _, reason = value.partition(" ")
                status = int(code)
            else:
                headers.append((name, value))
        self.send_response(status, reason or None)
        has_length = False
        for name, value in headers:
            has_length |= name.lower() == "content-length"
            self.send_header(name, value)
        if not has_length:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sock = self.connection

        def send(data: bytes) -> None:
            if not data:
                return
            if has_length:
                sock.sendall(data)
            else:
                sock.sendmsg([b"%x\r\n" % len(data), data, b"\r\n"])

        send(rest)
        while True:
            data = stdout.read(self.bufsize)
            if not data:
                break
            send(data)
        if not has_length:
            sock.sendall(b"0\r\n\r\n")


def bridge_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="git_http.py _bridge")
    p.add_argument("--root", required=True)
    p.add_argument("--ready-file", required=True)
    a = p.parse_args(argv)
    _BridgeHandler.project_root = a.root
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _BridgeHandler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    tmp = a.ready_file + ".tmp"
    Path(tmp).write_text(json.dumps({"http": f"http://127.0.0.1:{httpd.server_address[1]}"}))
    os.replace(tmp, a.ready_file)
    httpd.serve_forever(poll_interval=0.2)
    return 0


# ---------------------------------------------------------------------------------------------
# the two servers

_children: list[subprocess.Popen[bytes]] = []


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


def _stop_all() -> None:
    while _children:
        with contextlib.suppress(Exception):
            _stop(_children.pop())


def start_process(
    cmd: list[str], ready: Path, log: Path, env: dict[str, str], timeout: float = 60.0
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    with open(log, "wb") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    _children.append(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{cmd[:4]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if ready.exists():
            return proc, json.loads(ready.read_text())
        time.sleep(0.05)
    raise BenchError(f"{cmd[:4]} did not become ready in {timeout:.0f} s:\n{log.read_text()}")


def sigv4_git_password(key: str, secret: str, region: str, host: str, path: str) -> str:
    """The password git-remote-codecommit computes (SigV4, method GIT)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials(key, secret), "codecommit", region)
    req = AWSRequest()
    req.method = "GIT"
    req.url = f"https://{host}{path}"
    req.context["timestamp"] = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    canonical = f"GIT\n{path}\n\nhost:{host}\n\nhost\n"
    sts = signer.string_to_sign(req, canonical)
    return f"{req.context['timestamp']}Z{signer.signature(sts, req)}"


def read_proc_cpu(pid: int) -> float:
    """utime + stime (and waited-for children) of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_reaped(pid: int, timeout: float = 2.0) -> None:
    """Wait (up to `timeout`) until process `pid` has no children left: a server that forks a
    process per request or connection (lighttpd's CGI, sshd) counts that process's CPU in its
    children's times only once it has reaped it, which may be a moment after the client is done."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    deadline = time.monotonic() + timeout
    with contextlib.suppress(OSError):
        while children.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.005)


def read_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])  # KiB
    return 0


@dataclass
class Target:
    label: str
    url: Callable[[], str]
    cpu: Callable[[], float]
    samples: dict[str, list[float]] = field(default_factory=dict)
    cpu_samples: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def record(self, op: str, seconds: float, cpu: float) -> None:
        self.samples.setdefault(op, []).append(seconds)
        self.cpu_samples.setdefault(op, []).append(cpu)


class Backend:
    def __init__(self, tmp: Path, repo: RepoInfo, env: dict[str, str]) -> None:
        self.root = tmp / "backend-root"
        self.root.mkdir()
        self.name = "bench.git"
        shutil.copytree(repo.path, self.root / self.name, symlinks=True)
        with contextlib.suppress(FileNotFoundError):
            (self.root / self.name / "bench-ok").unlink()
        run(["git", "init", "-q", "--bare", str(self.root / "initial.git")], env)
        ready = tmp / "bridge-ready.json"
        self.proc, info = start_process(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "_bridge",
                "--root",
                str(self.root),
                "--ready-file",
                str(ready),
            ],
            ready,
            tmp / "bridge.log",
            env,
        )
        self.base = info["http"]

    def url(self, name: str | None = None) -> str:
        return f"{self.base}/{name or self.name}"

    def stats(self) -> dict[str, float]:
        import urllib.request

        with urllib.request.urlopen(self.base + "/_stats", timeout=30) as resp:
            data: dict[str, float] = json.loads(resp.read())
            return data

    def cpu(self) -> float:
        """CPU of http-backend and everything it ran (not the bridge's own)."""
        return self.stats()["children_cpu"]


class LighttpdBackend:
    """`git http-backend` as CGI behind lighttpd (a C web server), request and response bodies
    streamed: the way C git is served in production, so the comparison is ccemu's door against
    C all the way (the Python bridge above adds its own time to every request)."""

    def __init__(self, tmp: Path, repo: RepoInfo, env: dict[str, str]) -> None:
        lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
        self.root = tmp / "backend-root"
        self.root.mkdir()
        self.name = "bench.git"
        shutil.copytree(repo.path, self.root / self.name, symlinks=True)
        with contextlib.suppress(FileNotFoundError):
            (self.root / self.name / "bench-ok").unlink()
        run(["git", "init", "-q", "--bare", str(self.root / "initial.git")], env)
        backend = subprocess.run(
            ["git", "--exec-path"], capture_output=True, text=True, check=True, env=env
        ).stdout.strip()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        conf = tmp / "lighttpd.conf"
        home = env.get("HOME", str(tmp))
        conf.write_text(
            f"""
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.document-root = "{self.root}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{tmp / "lighttpd-error.log"}"
server.stream-request-body = 0
server.stream-response-body = 2
server.max-keep-alive-requests = 1000
alias.url = ("/git/" => "{backend}/git-http-backend/")
$HTTP["url"] =~ "^/git/" {{
    cgi.assign = ("" => "")
    setenv.set-environment = (
        "GIT_PROJECT_ROOT" => "{self.root}",
        "GIT_HTTP_EXPORT_ALL" => "1",
        "GIT_CONFIG_NOSYSTEM" => "1",
        "HOME" => "{home}",
        "PATH" => "{os.environ.get("PATH", "/usr/bin:/bin")}",
        "GIT_CONFIG_COUNT" => "2",
        "GIT_CONFIG_KEY_0" => "http.receivepack",
        "GIT_CONFIG_VALUE_0" => "true",
        "GIT_CONFIG_KEY_1" => "http.uploadpack",
        "GIT_CONFIG_VALUE_1" => "true",
    )
}}
"""
        )
        with open(tmp / "lighttpd.log", "wb") as logf:
            self.proc = subprocess.Popen(
                [lighttpd, "-D", "-f", str(conf)], stdout=logf, stderr=subprocess.STDOUT, env=env
            )
        _children.append(self.proc)
        self.base = f"http://127.0.0.1:{port}/git"
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (tmp / "lighttpd.log").read_text()
                    raise BenchError(f"lighttpd did not start: {log}") from None
                time.sleep(0.05)

    def url(self, name: str | None = None) -> str:
        return f"{self.base}/{name or self.name}"

    def stats(self) -> dict[str, float]:
        """As the bridge reports them: the front's own CPU, and that of the CGI processes it has
        waited for (git's peak RSS is not known for another process's children: 0), once it
        has reaped them all."""
        wait_reaped(self.proc.pid)
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return {
            "self_cpu": (int(fields[11]) + int(fields[12])) / tick,
            "children_cpu": (int(fields[13]) + int(fields[14])) / tick,
            "children_maxrss_kib": 0,
            "self_maxrss_kib": read_status(self.proc.pid, "VmHWM"),
        }

    def cpu(self) -> float:
        """CPU of the CGI processes lighttpd has waited for (http-backend and what it ran)."""
        return self.stats()["children_cpu"]


def make_backend(front: str, tmp: Path, repo: RepoInfo, env: dict[str, str]) -> Any:
    """`git http-backend` behind `front`: "lighttpd" (C) or "bridge" (the Python CGI bridge)."""
    if front == "lighttpd":
        return LighttpdBackend(tmp, repo, env)
    return Backend(tmp, repo, env)


class Ccemu:
    def __init__(self, tmp: Path, env: dict[str, str], *extra: str) -> None:
        data = tmp / "ccemu-data"
        ready = tmp / "ccemu-ready.json"
        self.log = tmp / "ccemu.log"
        self.proc, info = start_process(
            [
                sys.executable,
                "-m",
                "emulator",
                "serve",
                "--port",
                "0",
                "--ssh-port",
                "0",
                "--data-dir",
                str(data),
                "--ready-file",
                str(ready),
                *extra,
            ],
            ready,
            self.log,
            env,
        )
        self.base = info["http"]
        self.host_port = self.base.split("://", 1)[1]
        self.ssh_port = int(info["ssh"].rsplit(":", 1)[1]) if info.get("ssh") else 0
        self.pid = self.proc.pid

    def client(self) -> Any:
        import boto3
        from botocore.config import Config as BotoConfig

        return boto3.client(
            "codecommit",
            endpoint_url=self.base,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            config=BotoConfig(retries={"max_attempts": 1}),
        )

    def create(self, name: str) -> None:
        self.client().create_repository(repositoryName=name)

    def url(self, name: str) -> str:
        path = f"/v1/repos/{name}"
        password = sigv4_git_password(KEY, SECRET, REGION, "127.0.0.1", path)
        return f"http://{quote(KEY, safe='')}:{password}@{self.host_port}{path}"

    def cpu(self) -> float:
        return read_proc_cpu(self.pid)

    def tail_log(self) -> str:
        try:
            return self.log.read_text()[-3000:]
        except OSError:
            return ""


# ---------------------------------------------------------------------------------------------
# git over SSH: OpenSSH's sshd + git, and ccemu's SSH door


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OpenSSH:
    """sshd in the foreground (-D), as a child, with a config, host key and authorized_keys of
    its own on a free 127.0.0.1 port (the system's sshd and its config are never touched)."""

    def __init__(self, tmp: Path, client_pub: Path, env: dict[str, str]) -> None:
        if not Path(SSHD).exists():
            raise BenchError(f"{SSHD} is missing: apt-get install openssh-server")
        self.root = root = tmp / "sshd"
        root.mkdir()
        self.user = getpass.getuser()
        self.host_key = root / "ssh_host_ed25519_key"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)], env)
        keys = root / "authorized_keys"
        shutil.copy(client_pub, keys)
        keys.chmod(0o600)
        self.port = _free_port()
        config = root / "sshd_config"
        config.write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {keys}\nPidFile none\nUsePAM no\nStrictModes no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nAcceptEnv GIT_PROTOCOL\nLogLevel ERROR\n"
            f"AllowUsers {self.user}\nMaxStartups 100\n"
            # the account's shell runs each git command, and bash sources ~/.bashrc when sshd
            # runs it: a HOME without one, as a git hosting account (git-shell) has none
            f"SetEnv HOME={root}\n"
            # the key exchange ccemu's door (paramiko) negotiates with the same client: OpenSSH's
            # default, sntrup761x25519, costs the client ~100 ms of key generation per connection
            "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org\n"
        )
        # sshd insists on its privilege separation directory (made by the package's service)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        run([SSHD, "-t", "-f", str(config)], env)
        log = open(root / "sshd.log", "wb")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        _children.append(self.proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"sshd exited: {(root / 'sshd.log').read_text()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise BenchError("sshd did not start listening")

    def serve_copy(self, repo: RepoInfo, env: dict[str, str]) -> tuple[Path, Path]:
        """A copy of the repository for sshd to serve, and an empty one for the mirror push."""
        served = self.root / "repos" / "bench.git"
        shutil.copytree(repo.path, served, symlinks=True)
        with contextlib.suppress(FileNotFoundError):
            (served / "bench-ok").unlink()
        empty = self.root / "repos" / "initial.git"
        run(["git", "init", "-q", "--bare", str(empty)], env)
        return served, empty

    def url(self, path: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"

    def known_hosts_line(self) -> str:
        pub = self.host_key.with_name(self.host_key.name + ".pub").read_text().split()
        return f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n"

    def cpu(self) -> float:
        """CPU of sshd's listener and of its reaped children: sshd forks a process per
        connection, which runs git; once each is reaped its CPU (and that of the git it waited
        for) lands in the listener's children's times. The connection's process may outlive the
        client by a moment, so wait until the listener has no children left."""
        wait_reaped(self.proc.pid)
        return read_proc_cpu(self.proc.pid)


@dataclass
class SshAccess:
    """Both SSH servers, reachable by the git CLI with one client key: OpenSSH's sshd, and
    ccemu's SSH door as an IAM user whose SSH public key is that key (`key_id` is the user name
    git gives ccemu; empty without a ccemu)."""

    sshd: OpenSSH
    key_id: str
    ccemu_port: int

    def ccemu_url(self, name: str) -> str:
        return f"ssh://{self.key_id}@127.0.0.1:{self.ccemu_port}/v1/repos/{name}"


def setup_ssh(tmp: Path, env: dict[str, str], ccemu: Ccemu | None) -> SshAccess:
    """Make the client's key, start sshd with it authorized, give ccemu (when there is one) an
    IAM user with the same key, trust both servers' host keys, and point git's ssh at them
    (`GIT_SSH_COMMAND` in `env`)."""
    identity = tmp / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(identity)], env)
    pub = identity.with_name("id_ed25519.pub")
    sshd = OpenSSH(tmp, pub, env)
    hosts = [sshd.known_hosts_line()]
    key_id = ""
    if ccemu is not None:
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=ccemu.base,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )
        iam.create_user(UserName="bench")
        iam.attach_user_policy(
            UserName="bench", PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
        )
        key_id = iam.upload_ssh_public_key(UserName="bench", SSHPublicKeyBody=pub.read_text())[
            "SSHPublicKey"
        ]["SSHPublicKeyId"]
        hosts.append(
            run(
                [
                    sys.executable,
                    "-m",
                    "emulator",
                    "ssh-host-key",
                    "--data-dir",
                    str(tmp / "ccemu-data"),
                    "--port",
                    str(ccemu.ssh_port),
                ],
                env,
                cwd=ROOT,
            ).stdout.decode()
        )
    known = tmp / "known_hosts"
    known.write_text("".join(hosts))
    env["GIT_SSH_COMMAND"] = (
        f"ssh -F /dev/null -i {identity} -o IdentitiesOnly=yes -o UserKnownHostsFile={known}"
        " -o StrictHostKeyChecking=yes -o BatchMode=yes"
    )
    return SshAccess(sshd, key_id, ccemu.ssh_port if ccemu is not None else 0)


def ssh_versions(env: dict[str, str]) -> str:
    """The OpenSSH version (client and sshd are the same package) and paramiko's, for a report."""
    import paramiko

    ssh_v = run(["ssh", "-V"], env).stderr.decode().strip()
    return f"{ssh_v} (client and sshd), paramiko {paramiko.__version__} in ccemu"


# ---------------------------------------------------------------------------------------------
# the measurements


class RssSampler:
    """Samples a process's VmRSS while a clone runs (VmHWM is reset first where the kernel lets
    us, so the peak belongs to the clone and not to the initial push)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self.hwm_reset = False
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            pass
        self.before = read_status(pid, "VmRSS")
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, read_status(self.pid, "VmRSS"))
            self._stop.wait(0.01)

    def stop(self) -> int:
        self._stop.set()
        self._t.join()
        if self.hwm_reset:
            self.peak = max(self.peak, read_status(self.pid, "VmHWM"))
        return self.peak


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fmt_s(x: float) -> str:
    if x != x:
        return "—"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def bench(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-bench-", dir=args.tmp))
    atexit.register(shutil.rmtree, tmp, True)
    env = git_env(tmp / "home")
    repo = prepare_repo(args, env)
    print(
        f"repository: {repo.path}\n  {repo.objects} objects, pack {repo.pack_bytes / 2**20:.1f} "
        f"MiB, {repo.commits} commits, {repo.refs} refs, default branch {repo.branch}",
        flush=True,
    )
    if repo.objects < 20_000:
        print("  (fewer than 20,000 objects: the comparison says little)", flush=True)

    backend = make_backend(args.front, tmp, repo, env)
    bt = Target(BACKEND, lambda: backend.url(), backend.cpu)
    targets = [bt]
    ccemu_error = None
    ccemu: Ccemu | None = None
    ct: Target | None = None
    if not args.backend_only:
        try:
            ccemu = Ccemu(tmp, env)
            name = f"bench-{uuid.uuid4().hex[:8]}"
            ccemu.create(name)
            cc = ccemu
            ct = Target(CCEMU, lambda: cc.url(name), cc.cpu)
        except Exception as exc:  # report and go on with the backend half
            ccemu_error = f"ccemu could not be started or could not create a repository: {exc}"
    # git over SSH (--ssh): OpenSSH's sshd + git, and ccemu's SSH door on another repository
    ssh_error = None
    st: Target | None = None
    cst: Target | None = None
    ssh_empty_url = ""
    if args.ssh and not Path(SSHD).exists():
        ssh_error = (
            f"{SSHD} is missing (apt-get install openssh-server): git over SSH was not measured"
        )
    elif args.ssh:
        try:
            access = setup_ssh(tmp, env, ccemu if ct is not None else None)
            sshd = access.sshd
            served, ssh_empty = sshd.serve_copy(repo, env)
            ssh_empty_url = sshd.url(ssh_empty)
            st = Target(OPENSSH, lambda: sshd.url(served), sshd.cpu)
            if ccemu is not None and ct is not None:
                ssh_name = f"bench-ssh-{uuid.uuid4().hex[:8]}"
                ccemu.create(ssh_name)
                cst = Target(CCEMU_SSH, lambda: access.ccemu_url(ssh_name), ccemu.cpu)
        except Exception as exc:  # report and go on with the HTTP half
            ssh_error = f"sshd or ccemu's SSH door could not be set up: {exc}"
            st = cst = None
    # initial push of the whole repository (one run each), also the way ccemu gets its data
    initial: dict[str, float] = {}
    push_all = ["push", "--quiet", "--mirror"]
    c0 = bt.cpu()
    t = timed(["git", "-C", str(repo.path), *push_all, backend.url("initial.git")], env)
    initial[BACKEND] = t
    initial["git cpu"] = bt.cpu() - c0
    if ct is not None and ccemu is not None:
        try:
            c0 = ct.cpu()
            t = timed(["git", "-C", str(repo.path), *push_all, ct.url()], env)
            initial[CCEMU] = t
            initial["ccemu cpu"] = ct.cpu() - c0
            targets.append(ct)
        except BenchError as exc:
            ccemu_error = (
                "ccemu did not take the repository (the initial push failed; is the git door "
                "there, does it accept this history?):\n"
                f"{exc}\n--- ccemu log ---\n{ccemu.tail_log()}"
            )
            ct = None
    if ccemu_error:
        print(f"\n!! {ccemu_error}\n!! measuring git http-backend alone\n", flush=True)
    if st is not None:
        c0 = st.cpu()
        t = timed(["git", "-C", str(repo.path), *push_all, ssh_empty_url], env)
        initial[OPENSSH] = t
        initial[OPENSSH + " cpu"] = st.cpu() - c0
        targets.append(st)
    if cst is not None:
        try:
            c0 = cst.cpu()
            t = timed(["git", "-C", str(repo.path), *push_all, cst.url()], env)
            initial[CCEMU_SSH] = t
            initial[CCEMU_SSH + " cpu"] = cst.cpu() - c0
            targets.append(cst)
        except BenchError as exc:
            ssh_error = (
                f"ccemu's SSH door did not take the repository (the initial push failed):\n{exc}"
            )
            cst = None
    if ssh_error:
        print(f"\n!! {ssh_error}\n!! measuring git over HTTP only\n", flush=True)

    # clones that stay behind the server (fetch) and that make the new commits (push)
    work: dict[str, tuple[Path, Path]] = {}
    # short names for the work directories ("b" and "c" over HTTP, "s" and "cs" over SSH)
    keys = {BACKEND: "b", CCEMU: "c", OPENSSH: "s", CCEMU_SSH: "cs"}
    ccemu_targets = [x for x in (ct, cst) if x is not None]
    for tg in targets:
        key = keys[tg.label]
        follower = tmp / f"follower-{key}"
        pusher = tmp / f"pusher-{key}"
        for d in (follower, pusher):
            run(
                ["git", "clone", "--quiet", "--no-checkout", "-b", repo.branch, tg.url(), str(d)],
                env,
            )
        work[tg.label] = (follower, pusher)
        if tg in ccemu_targets:  # check that ccemu serves back what it received
            want = git_out(env, "rev-parse", f"refs/heads/{repo.branch}", cwd=repo.path)
            got = git_out(env, "rev-parse", "HEAD", cwd=pusher)
            if want != got:
                raise BenchError(f"ccemu served {got} for {repo.branch}, expected {want}")

    peak_rss: dict[str, tuple[int, int, bool]] = {}
    local_clone: list[float] = []  # git clone over file:// (no HTTP): the client's floor
    bridge_clone_cpu: list[float] = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs}", flush=True)
        for tg in targets:
            c0 = tg.cpu()
            t = timed(["git", "ls-remote", tg.url()], env)
            tg.record("ls-remote", t, tg.cpu() - c0)
        dest = tmp / f"clone-{i}-local"
        local_clone.append(
            timed(
                [
                    "git",
                    "clone",
                    "--quiet",
                    "--bare",
                    "--no-local",
                    (backend.root / backend.name).as_uri(),
                    str(dest),
                ],
                env,
            )
        )
        shutil.rmtree(dest)
        for tg in targets:
            dest = tmp / f"clone-{i}-{keys[tg.label]}"
            bridge0 = backend.stats()["self_cpu"] if tg is bt else 0.0
            sampler = RssSampler(ccemu.pid) if (tg in ccemu_targets and ccemu) else None
            c0 = tg.cpu()
            t = timed(["git", "clone", "--quiet", "--bare", tg.url(), str(dest)], env)
            cpu = tg.cpu() - c0
            if sampler is not None:
                peak = sampler.stop()
                old = peak_rss.get(tg.label, (0, 0, False))
                peak_rss[tg.label] = (max(old[0], peak), sampler.before, sampler.hwm_reset)
            tg.record("full clone", t, cpu)
            if tg is bt:
                bridge_clone_cpu.append(backend.stats()["self_cpu"] - bridge0)
            if i == 0:
                got, _ = count_objects(env, dest)
                tg.notes["clone objects"] = str(got)
            shutil.rmtree(dest)
        for tg in targets:
            # one branch of several: the server chooses the objects (no whole-pack reuse)
            dest = tmp / f"single-{i}-{keys[tg.label]}"
            c0 = tg.cpu()
            t = timed(
                [
                    "git",
                    "clone",
                    "--quiet",
                    "--bare",
                    "--single-branch",
                    "-b",
                    repo.branch,
                    tg.url(),
                    str(dest),
                ],
                env,
            )
            tg.record("single-branch clone", t, tg.cpu() - c0)
            shutil.rmtree(dest)
        seed = 1000 + i
        for tg in targets:
            follower, pusher = work[tg.label]
            make_commits(env, pusher, repo.branch, 50, seed)
            c0 = tg.cpu()
            t = timed(
                ["git", "push", "--quiet", tg.url(), f"{repo.branch}:{repo.branch}"],
                env,
                cwd=pusher,
            )
            tg.record("push 50 commits", t, tg.cpu() - c0)
            before = git_out(env, "rev-parse", "HEAD", cwd=follower)
            c0 = tg.cpu()
            t = timed(
                [
                    "git",
                    "fetch",
                    "--quiet",
                    tg.url(),
                    f"+refs/heads/{repo.branch}:refs/remotes/origin/{repo.branch}",
                ],
                env,
                cwd=follower,
            )
            cpu = tg.cpu() - c0
            tg.record("fetch 50 commits", t, cpu)
            fetched = git_out(
                env,
                "rev-list",
                "--count",
                f"{before}..refs/remotes/origin/{repo.branch}",
                cwd=follower,
            )
            if fetched != "50":
                raise BenchError(f"{tg.label}: the fetch brought {fetched} commits, not 50")
            # the follower's branch catches up, so the next run is again exactly 50 behind
            run(
                [
                    "git",
                    "update-ref",
                    f"refs/heads/{repo.branch}",
                    f"refs/remotes/origin/{repo.branch}",
                ],
                env,
                cwd=follower,
            )
            run(["git", "symbolic-ref", "HEAD", f"refs/heads/{repo.branch}"], env, cwd=follower)
    bstats = backend.stats()
    elapsed = time.perf_counter() - t_start
    extra = {
        "local clone": median(local_clone),
        "bridge clone cpu": median(bridge_clone_cpu),
        "load before": load_before[0],
        "load after": os.getloadavg()[0],
    }
    report = render(
        args, repo, targets, initial, peak_rss, bstats, extra, ccemu_error, elapsed, ssh_error
    )
    print()
    print(report)
    if args.out:
        # a run with the SSH targets has a section of its own, so the HTTP-only figures stay
        write_results(Path(args.out), report, args, section="ssh" if st is not None else "")
        print(f"wrote {args.out}")
    return 1 if ccemu_error or (ssh_error and Path(SSHD).exists()) else 0


def _run_maintenance(ccemu: Ccemu) -> None:
    """POST /_ccemu/maintenance, signed as the root: returns once the packs are settled."""
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{ccemu.base}/_ccemu/maintenance"
    req = AWSRequest(method="POST", url=url, data=b"", headers={})
    SigV4Auth(Credentials(KEY, SECRET), "ccemu", REGION).add_auth(req)
    http_req = urllib.request.Request(url, data=b"", headers=dict(req.headers.items()))
    with urllib.request.urlopen(http_req, timeout=GIT_TIMEOUT) as resp:
        resp.read()


def churn_bench(args: argparse.Namespace) -> int:
    """Branches come and go, and main is force-pushed over new work; then full clones from
    both servers. A clone must carry only what the refs reach (the same object count as git's),
    and once ccemu's background repack has run, stay as fast as git's."""
    t_start = time.perf_counter()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-bench-", dir=args.tmp))
    atexit.register(shutil.rmtree, tmp, True)
    env = git_env(tmp / "home")
    repo = prepare_repo(args, env)
    backend = make_backend(args.front, tmp, repo, env)
    # The background repack waits until asked, so the first clone is truly "before" it.
    ccemu = Ccemu(tmp, env, "--maintenance-delay", "3600")
    name = f"churn-{uuid.uuid4().hex[:8]}"
    ccemu.create(name)
    urls = {"git http-backend": backend.url("initial.git"), "ccemu": ccemu.url(name)}
    for url in urls.values():
        run(["git", "-C", str(repo.path), "push", "--quiet", "--mirror", url], env)
    pusher = tmp / "pusher"
    run(
        [
            "git",
            "clone",
            "--quiet",
            "--no-checkout",
            "-b",
            repo.branch,
            str(repo.path),
            str(pusher),
        ],
        env,
    )
    base = git_out(env, "rev-parse", repo.branch, cwd=pusher)
    print(
        f"churn: {args.churn} branches of 20 commits pushed and deleted, main force-pushed "
        "back over 20 commits",
        flush=True,
    )
    for b in range(args.churn):
        branch = f"churn-{b}"
        run(["git", "branch", "-f", branch, base], env, cwd=pusher)
        make_commits(env, pusher, branch, 20, 5000 + b)
        for url in urls.values():
            run(["git", "push", "--quiet", url, branch], env, cwd=pusher)
            run(["git", "push", "--quiet", url, "--delete", branch], env, cwd=pusher)
    make_commits(env, pusher, repo.branch, 20, 9000)
    for url in urls.values():
        run(["git", "push", "--quiet", url, repo.branch], env, cwd=pusher)
        run(
            ["git", "push", "--quiet", "--force", url, f"{base}:refs/heads/{repo.branch}"],
            env,
            cwd=pusher,
        )

    def clone(label: str, dest: Path) -> tuple[float, float, int]:
        target_cpu = backend.cpu if label == "git http-backend" else ccemu.cpu
        c0 = target_cpu()
        t = timed(["git", "clone", "--quiet", "--bare", urls[label], str(dest)], env)
        cpu = target_cpu() - c0
        objects, _ = count_objects(env, dest)
        shutil.rmtree(dest)
        return t, cpu, objects

    first = clone("ccemu", tmp / "clone-first")
    t0 = time.perf_counter()
    _run_maintenance(ccemu)
    repack_s = time.perf_counter() - t0
    samples: dict[str, list[tuple[float, float, int]]] = {k: [] for k in urls}
    for i in range(args.runs):
        for label in urls:
            samples[label].append(clone(label, tmp / f"clone-{i}"))
    b = median([x[0] for x in samples["git http-backend"]])
    c = median([x[0] for x in samples["ccemu"]])
    cmd = "python bench/git_http.py " + " ".join(sys.argv[1:])
    lines = [
        f"## Full clone after branches came and went: ccemu vs git http-backend "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        *machine(),
        f"- command: `{cmd.strip()}` ({(time.perf_counter() - t_start) / 60:.1f} min in all)",
        f"- repository: {repo.description}; {repo.objects:,} objects; then {args.churn} branches "
        "of 20 commits each pushed and deleted, and 20 commits pushed on "
        f"{repo.branch} and force-pushed away, on both servers",
        f"- load average (1 min) at the start {load_before[0]:.2f}, at the end "
        f"{os.getloadavg()[0]:.2f}",
        "",
        f"| full clone (median of {args.runs}) | git http-backend | ccemu | ratio | target | met | "
        "server CPU git | server CPU ccemu |",
        "|---|---|---|---|---|---|---|---|",
        f"| after ccemu's background repack | {fmt_s(b)} | {fmt_s(c)} | {c / b:.2f}{X} | "
        f"≤ 1.1{X} | {'yes' if c / b <= 1.1 else '**no**'} | "
        f"{fmt_s(median([x[1] for x in samples['git http-backend']]))} | "
        f"{fmt_s(median([x[1] for x in samples['ccemu']]))} |",
        f"| ccemu before its repack (1 run: the clone walks what the refs reach) | | "
        f"{fmt_s(first[0])} | {first[0] / b:.2f}{X} | — | — | | {fmt_s(first[1])} |",
        "",
        f"- objects in a clone: git http-backend {samples['git http-backend'][0][2]:,}, "
        f"ccemu before its repack {first[2]:,}, after {samples['ccemu'][0][2]:,}",
        f"- `POST /_ccemu/maintenance` (the repack to what the refs reach) took {repack_s:.2f} s",
        "- all clone runs (s): "
        + "; ".join(
            f"{label}: " + ", ".join(f"{x[0]:.3f}" for x in xs) for label, xs in samples.items()
        ),
    ]
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    if (
        samples["git http-backend"][0][2] != samples["ccemu"][0][2]
        or first[2] != samples["ccemu"][0][2]
    ):
        print("error: the clones differ in their object counts", file=sys.stderr)
        return 1
    if args.out:
        write_results(Path(args.out), report, args, section="churn")
        print(f"wrote {args.out}")
    return 0


def machine() -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        import dulwich

        dv = ".".join(str(x) for x in dulwich.__version__)
    except ImportError:
        dv = "not installed"
    gv = subprocess.run(
        ["git", "--version"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    return [
        f"- machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"{gv}, dulwich {dv}",
    ]


def render(
    args: argparse.Namespace,
    repo: RepoInfo,
    targets: list[Target],
    initial: dict[str, float],
    peak_rss: dict[str, tuple[int, int, bool]],
    bstats: dict[str, float],
    extra: dict[str, float],
    ccemu_error: str | None,
    elapsed: float,
    ssh_error: str | None = None,
) -> str:
    by_label = {tg.label: tg for tg in targets}
    bt = by_label[BACKEND]
    ct = by_label.get(CCEMU)
    st = by_label.get(OPENSSH)
    cst = by_label.get(CCEMU_SSH)
    cmd = "python bench/git_http.py " + " ".join(sys.argv[1:])
    title = (
        "git over smart HTTP and SSH: ccemu vs git http-backend and OpenSSH sshd + git"
        if st is not None
        else "git over smart HTTP: ccemu vs git http-backend"
    )
    lines = [
        f"## {title} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        *machine(),
        f"- command: `{cmd.strip()}` ({elapsed / 60:.1f} min in all)",
        f"- repository: {repo.description}; {repo.objects:,} objects, "
        f"{repo.pack_bytes / 2**20:.1f} MiB packed, {repo.commits:,} commits, {repo.refs} refs "
        "(branches and tags)",
        f"- git http-backend served by {args.front} "
        + (
            "(C, CGI with streamed responses)"
            if args.front == "lighttpd"
            else "(this script's Python CGI bridge, which adds its own time to git's side)"
        ),
        f"- median of {args.runs} runs, the real git CLI, default protocol (v2); server CPU is "
        "the server process's user+system time during the operation (for git: http-backend "
        "and the processes it ran, not the front; for ccemu: /proc/<pid>/stat, "
        "in 10 ms ticks)",
    ]
    if st is not None:
        lines += [
            f"- {ssh_versions(dict(os.environ))}",
            "- over SSH: OpenSSH's sshd (a child of this script on its own port and config) "
            "running git-upload-pack / git-receive-pack, and ccemu's SSH door (an IAM user "
            "whose SSH key is the client's), each on a repository of its own, timed in the "
            "same loop as the HTTP targets; one new SSH connection per operation, Ed25519 keys "
            "both sides, curve25519-sha256 key exchange both sides (sshd is told to use what "
            "ccemu negotiates), the account's shell started with a HOME without rc files; git "
            "asks for protocol v2: sshd passes GIT_PROTOCOL on, ccemu answers v0; server CPU "
            "for OpenSSH: sshd's listener and its reaped children (the connection processes and "
            "the git they ran), read once the listener has reaped them; for ccemu over SSH: its "
            "process, as over HTTP",
        ]
    lines += [
        f"- load average (1 min) at the start {extra['load before']:.2f}, at the end "
        f"{extra['load after']:.2f}: anything else running on the machine shows up as noise",
        "",
    ]
    if st is None:
        lines += _http_table(bt, ct, initial, extra)
    else:
        lines += _ssh_table(bt, ct, st, cst, initial, extra)
    lines.append("")
    for tg in (ct, cst):
        if tg is not None and tg.label in peak_rss:
            peak, before, reset = peak_rss[tg.label]
            how = "VmHWM reset before each clone" if reset else "VmRSS sampled every 10 ms"
            during = "a full clone" if tg is ct else "a full clone over SSH"
            lines.append(
                f"- ccemu peak RSS during {during}: {peak / 1024:.0f} MiB (idle before "
                f"the clone: {before / 1024:.0f} MiB; {how})"
            )
    if bstats["children_maxrss_kib"]:
        lines.append(
            f"- git's largest process over the whole run (http-backend, upload-pack, "
            f"pack-objects, receive-pack...): {bstats['children_maxrss_kib'] / 1024:.0f} "
            "MiB peak RSS"
        )
    lines.append(
        f"- {args.front}'s own CPU (in front of http-backend): "
        f"{fmt_s(extra['bridge clone cpu'])} per full clone (median); "
        f"{bstats['self_cpu']:.2f} s over the whole run, against "
        f"{bstats['children_cpu']:.2f} s for git behind it"
    )
    for tg in targets:
        if "clone objects" in tg.notes:
            lines.append(f"- objects in a clone from {tg.label}: {tg.notes['clone objects']}")
    lines.append("")
    lines.append("All runs (seconds):")
    lines.append("")
    for tg in targets:
        for op in OPS:
            xs = ", ".join(f"{x:.3f}" for x in tg.samples.get(op, []))
            lines.append(f"- {tg.label}, {op}: {xs}")
    if ccemu_error:
        lines += ["", "ccemu was not measured:", "", "```", ccemu_error.strip()[:3000], "```"]
    if ssh_error:
        lines += ["", "git over SSH was not measured:", "", "```", ssh_error.strip()[:3000], "```"]
    return "\n".join(lines) + "\n"


def _http_table(
    bt: Target, ct: Target | None, initial: dict[str, float], extra: dict[str, float]
) -> list[str]:
    """The table of a run over HTTP only (the format of the figures recorded so far)."""
    lines = [
        "| operation | git http-backend | ccemu | ratio | target | met | server CPU git | "
        "server CPU ccemu |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for op in OPS:
        b = median(bt.samples.get(op, []))
        bc = median(bt.cpu_samples.get(op, []))
        if ct is not None:
            c = median(ct.samples.get(op, []))
            cc = median(ct.cpu_samples.get(op, []))
            ratio = c / b
            met = "yes" if ratio <= TARGETS[op] else "**no**"
            lines.append(
                f"| {op} | {fmt_s(b)} | {fmt_s(c)} | {ratio:.2f}{X} | "
                f"≤ {TARGETS[op]}{X} | {met} | {fmt_s(bc)} | {fmt_s(cc)} |"
            )
        else:
            lines.append(
                f"| {op} | {fmt_s(b)} | — | — | ≤ {TARGETS[op]}{X} | — | {fmt_s(bc)} | — |"
            )
    b = initial.get(BACKEND, float("nan"))
    c = initial.get(CCEMU, float("nan"))
    ratio_s = f"{c / b:.2f}{X}" if c == c else "—"
    lines.append(
        f"| initial push --mirror into an empty repository (1 run) | {fmt_s(b)} | "
        f"{fmt_s(c)} | {ratio_s} | — | — | {fmt_s(initial['git cpu'])} | "
        f"{fmt_s(initial.get('ccemu cpu', float('nan')))} |"
    )
    lines.append(
        f"| for reference: full clone over file:// (no HTTP, git upload-pack over a pipe) "
        f"| {fmt_s(extra['local clone'])} | | | | | | |"
    )
    return lines


def _ssh_table(
    bt: Target,
    ct: Target | None,
    st: Target,
    cst: Target | None,
    initial: dict[str, float],
    extra: dict[str, float],
) -> list[str]:
    """The table of a run over HTTP and SSH: the four targets side by side, each of ccemu's
    doors as a ratio to its C counterpart, and the server CPU of all four."""
    nan = float("nan")

    def ratio(c: float, g: float) -> str:
        return f"{c / g:.2f}{X}" if c == c and g == g else "—"

    def met(c: float, g: float, op: str) -> str:
        if c != c or g != g:
            return "—"
        return "yes" if c / g <= TARGETS[op] else "**no**"

    lines = [
        "| operation | git http-backend | ccemu HTTP | ccemu HTTP / http-backend | OpenSSH + git "
        "| ccemu SSH | ccemu SSH / OpenSSH | target | met (HTTP, SSH) | server CPU "
        "http-backend | server CPU ccemu HTTP | server CPU sshd + git | server CPU ccemu SSH |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def med(tg: Target | None, op: str, cpu: bool = False) -> float:
        if tg is None:
            return nan
        return median((tg.cpu_samples if cpu else tg.samples).get(op, []))

    for op in OPS:
        b, c, g, cs = med(bt, op), med(ct, op), med(st, op), med(cst, op)
        lines.append(
            f"| {op} | {fmt_s(b)} | {fmt_s(c)} | {ratio(c, b)} | {fmt_s(g)} | {fmt_s(cs)} | "
            f"{ratio(cs, g)} | ≤ {TARGETS[op]}{X} | {met(c, b, op)}, {met(cs, g, op)} | "
            f"{fmt_s(med(bt, op, True))} | {fmt_s(med(ct, op, True))} | "
            f"{fmt_s(med(st, op, True))} | {fmt_s(med(cst, op, True))} |"
        )
    b, c = initial.get(BACKEND, nan), initial.get(CCEMU, nan)
    g, cs = initial.get(OPENSSH, nan), initial.get(CCEMU_SSH, nan)
    lines.append(
        f"| initial push --mirror into an empty repository (1 run) | {fmt_s(b)} | {fmt_s(c)} | "
        f"{ratio(c, b)} | {fmt_s(g)} | {fmt_s(cs)} | {ratio(cs, g)} | — | — | "
        f"{fmt_s(initial['git cpu'])} | {fmt_s(initial.get('ccemu cpu', nan))} | "
        f"{fmt_s(initial.get(OPENSSH + ' cpu', nan))} | "
        f"{fmt_s(initial.get(CCEMU_SSH + ' cpu', nan))} |"
    )
    lines.append(
        f"| for reference: full clone over file:// (no HTTP, git upload-pack over a pipe) "
        f"| {fmt_s(extra['local clone'])} | | | | | | | | | | | |"
    )
    return lines


def write_section(path: Path, mark: str, report: str) -> None:
    """Replace the section `<!-- bench:MARK -->` of a results file with `report` (or add it;
    or start the file). Every bench script writes its figures this way."""
    start, end = f"<!-- bench:{mark} -->", f"<!-- /bench:{mark} -->"
    block = f"{start}\n{report}{end}\n"
    header = (
        "# Benchmark results\n\nWritten by the scripts in bench/ with `--out`; each section is "
        "replaced when the same measurement is run again.\n\n"
    )
    text = path.read_text() if path.exists() else header
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        text = before + block + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def write_results(path: Path, report: str, args: argparse.Namespace, section: str = "") -> None:
    """Replace the section for this repository (and kind of run) in RESULTS.md."""
    marker_key = f"repo={args.repo or f'generated-{args.commits}-s{args.seed}'}"
    if section:
        marker_key += f" {section}"
    write_section(path, marker_key, report)


def run_bench(bench: Callable[[], int]) -> int:
    """Run a bench script's measurement: SIGTERM/SIGHUP end it cleanly, every server it started
    is stopped whatever happens, and a `BenchError` is reported as the exit status 2."""

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    atexit.register(_stop_all)
    try:
        return bench()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        _stop_all()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_bridge"]:
        return bridge_main(argv[1:])
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repo", help="an existing git repository to serve (default: generate one)")
    p.add_argument("--runs", type=int, default=5, help="runs per operation (median reported)")
    p.add_argument("--out", help="write/update this markdown file (e.g. bench/RESULTS.md)")
    p.add_argument("--commits", type=int, default=3000, help="commits of the generated repository")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated repository")
    p.add_argument("--backend-only", action="store_true", help="measure git http-backend alone")
    p.add_argument(
        "--front",
        choices=["lighttpd", "bridge"],
        default="lighttpd" if shutil.which("lighttpd") else "bridge",
        help="what serves git http-backend: lighttpd (C; the default where installed) or this"
        " script's Python CGI bridge",
    )
    p.add_argument("--tmp", default=None, help="where the servers' data and clones go")
    p.add_argument(
        "--ssh",
        action="store_true",
        help="also time git over SSH in the same run: ccemu's SSH door against OpenSSH's sshd "
        f"+ git ({SSHD}, started as a child on its own port and config)",
    )
    p.add_argument(
        "--churn",
        type=int,
        default=0,
        metavar="N",
        help="instead: push and delete N branches and force-push main back, then time full "
        "clones (only what the refs reach must be sent)",
    )
    args = p.parse_args(argv)
    if args.ssh and args.churn:
        p.error("--ssh measures the scenarios of the default run, not --churn")

    return run_bench(lambda: churn_bench(args) if args.churn else bench(args))


if __name__ == "__main__":
    sys.exit(main())
