"""CodeCommit's code operations through boto3 against the git CLI on the same repository.

    python bench/code_api.py --repo bench/data/flask.git [--runs N] [--out bench/RESULTS.md]

Pushes a real repository (flask: see bench/README.md for how to get it; without `--repo`, the
repository bench/git_http.py generates) into ccemu, encryption at rest on as the server runs by
default, and keeps a bare copy of the same repository for the git CLI. Then times, in the same
run, interleaved, median of `--runs`: each API call (one boto3 client, its connection reused)
against the git command a user would run for the same answer (process start included). Every
scenario is one row of the list `scenarios()` returns; one whose operation answers
NotImplementedException is reported as skipped. The first run of each scenario also checks
that both sides agree.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from git_http import (  # a sibling script, not a package
    BenchError,
    Ccemu,
    RepoInfo,
    _data,
    fmt_s,
    git_env,
    git_out,
    machine,
    prepare_repo,
    read_proc_cpu,
    run,
    run_bench,
    write_section,
)

MARK = "code-api"
TARGET = 2.0
X = "\u00d7"
FLASK_HINT = (
    "no --repo given: measuring the repository bench/git_http.py generates. For the figures "
    "in RESULTS.md, use a real project of at least 25,000 objects, e.g.\n"
    "    git clone --bare https://github.com/pallets/flask bench/data/flask.git\n"
    "    python bench/code_api.py --repo bench/data/flask.git"
)
MERGE_SOURCE_COMMITS = 50
MERGE_DESTINATION_COMMITS = 10


class Skip(Exception):
    """The operation is not served (NotImplementedException)."""


# ---------------------------------------------------------------------------------------------
# what the scenarios share


@dataclass
class Fixture:
    client: Any
    name: str  # the ccemu repository
    bare: Path  # the git CLI's bare repository (same content)
    env: dict[str, str]
    tmp: Path
    branch: str  # default branch
    old_tag: str  # a tag with little history
    tag1: str  # GetDifferences from ...
    tag2: str  # ... to (also where files and folders are read)
    busy: str  # a file with a long history, at tag2 and on the default branch
    busy_old: str  # a file at old_tag
    deep: str  # the deepest folder at tag2
    old_branch: str  # a branch at old_tag (PutFile with little history)
    merge_src: str
    merge_dst: str
    content: dict[str, bytes] = field(default_factory=dict)  # path -> content at the start
    tips: dict[tuple[str, str], str] = field(default_factory=dict)  # (side, branch) -> commit

    def git(
        self, *args: str, input: bytes | None = None, extra_env: dict[str, str] | None = None
    ) -> bytes:
        env = self.env if not extra_env else {**self.env, **extra_env}
        return run(["git", *args], env, cwd=self.bare, input=input).stdout


def _call(fn: Callable[..., Any], **kwargs: Any) -> Any:
    from botocore.exceptions import ClientError

    try:
        return fn(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotImplementedException":
            raise Skip(str(exc)) from exc
        raise


# ---------------------------------------------------------------------------------------------
# the scenarios: each is (API side, git side), both return something comparable (or None)


def api_get_file(ref: str, path: str) -> Callable[[Fixture, int], Any]:
    def f(fx: Fixture, i: int) -> Any:
        out = _call(fx.client.get_file, repositoryName=fx.name, commitSpecifier=ref, filePath=path)
        return out["fileContent"]

    return f


def git_get_file(ref: str, path: str) -> Callable[[Fixture, int], Any]:
    return lambda fx, i: fx.git("show", f"{ref}:{path}")


def api_get_folder(ref: str, path: str) -> Callable[[Fixture, int], Any]:
    def f(fx: Fixture, i: int) -> Any:
        out = _call(
            fx.client.get_folder, repositoryName=fx.name, commitSpecifier=ref, folderPath=path
        )
        kinds = ("subFolders", "files", "symbolicLinks", "subModules")
        return sorted(e["relativePath"] for k in kinds for e in out[k])

    return f


def git_get_folder(ref: str, path: str) -> Callable[[Fixture, int], Any]:
    def f(fx: Fixture, i: int) -> Any:
        where = f"{ref}:{path.strip('/')}" if path.strip("/") else ref
        out = fx.git("ls-tree", "-z", where)
        return sorted(e.split(b"\t", 1)[1].decode() for e in out.split(b"\0") if e)

    return f


def api_differences(fx: Fixture, i: int) -> Any:
    found: list[tuple[str, str]] = []
    token = None
    while True:
        kw: dict[str, Any] = {
            "repositoryName": fx.name,
            "beforeCommitSpecifier": fx.tag1,
            "afterCommitSpecifier": fx.tag2,
        }
        if token:
            kw["NextToken"] = token
        out = _call(fx.client.get_differences, **kw)
        for d in out["differences"]:
            side = d.get("afterBlob") or d.get("beforeBlob")
            found.append((d["changeType"], side["path"]))
        token = out.get("NextToken")
        if not token:
            return sorted(found)


def git_differences(fx: Fixture, i: int) -> Any:
    out = fx.git("diff", "--raw", "--no-renames", "-z", fx.tag1, fx.tag2)
    parts = out.split(b"\0")
    found = []
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        if meta:
            found.append((meta.split()[-1].decode(), path.decode()))
    return sorted(found)


def api_history(first_page_only: bool) -> Callable[[Fixture, int], Any]:
    def f(fx: Fixture, i: int) -> Any:
        shas: list[str] = []
        token = None
        while True:
            kw: dict[str, Any] = {
                "repositoryName": fx.name,
                "commitSpecifier": fx.branch,
                "filePath": fx.busy,
                "maxResults": 100,
            }
            if token:
                kw["nextToken"] = token
            out = _call(fx.client.list_file_commit_history, **kw)
            shas += [v["commit"]["commitId"] for v in out["revisionDag"]]
            token = out.get("nextToken")
            if not token or first_page_only:
                return shas

    return f


def git_history(first_page_only: bool) -> Callable[[Fixture, int], Any]:
    def f(fx: Fixture, i: int) -> Any:
        limit = ["-n", "100"] if first_page_only else []
        out = fx.git("log", *limit, "--format=%H", fx.branch, "--", fx.busy)
        return out.decode().split()

    return f


def _new_content(fx: Fixture, path: str, side: str, i: int) -> bytes:
    return fx.content[path] + f"\n# changed by the benchmark: {side} run {i}\n".encode()


def api_put_file(branch_attr: str, path_attr: str) -> Callable[[Fixture, int], Any]:
    def f(fx: Fixture, i: int) -> Any:
        branch, path = getattr(fx, branch_attr), getattr(fx, path_attr)
        out = _call(
            fx.client.put_file,
            repositoryName=fx.name,
            branchName=branch,
            fileContent=_new_content(fx, path, "api", i),
            filePath=path,
            parentCommitId=fx.tips["api", branch],
            commitMessage=f"benchmark PutFile {i}",
            name="Bench",
            email="bench@example.com",
        )
        fx.tips["api", branch] = out["commitId"]
        return None

    return f


def git_put_file(branch_attr: str, path_attr: str) -> Callable[[Fixture, int], Any]:
    """What PutFile does, with git's plumbing: the blob, a tree that differs in one path (a
    temporary index read from the parent), the commit and the compare-and-swap of the ref."""

    def f(fx: Fixture, i: int) -> Any:
        branch, path = getattr(fx, branch_attr), getattr(fx, path_attr)
        parent = fx.tips["git", branch]
        index = {"GIT_INDEX_FILE": str(fx.tmp / f"put-index-{uuid.uuid4().hex}")}
        blob = fx.git("hash-object", "-w", "--stdin", input=_new_content(fx, path, "git", i))
        fx.git("read-tree", parent, extra_env=index)
        fx.git(
            "update-index",
            "--add",
            "--cacheinfo",
            f"100644,{blob.decode().strip()},{path}",
            extra_env=index,
        )
        tree = fx.git("write-tree", extra_env=index).decode().strip()
        commit = (
            fx.git("commit-tree", tree, "-p", parent, "-m", f"benchmark PutFile {i}")
            .decode()
            .strip()
        )
        fx.git("update-ref", f"refs/heads/{branch}", commit, parent)
        os.unlink(index["GIT_INDEX_FILE"])
        fx.tips["git", branch] = commit
        return None

    return f


def api_merge_options(fx: Fixture, i: int) -> Any:
    out = _call(
        fx.client.get_merge_options,
        repositoryName=fx.name,
        sourceCommitSpecifier=fx.merge_src,
        destinationCommitSpecifier=fx.merge_dst,
    )
    return out.get("baseCommitId")


def git_merge_options(fx: Fixture, i: int) -> Any:
    # the base, and whether the three-way merge is clean (exit status 1 on conflicts)
    base = fx.git("merge-base", fx.merge_dst, fx.merge_src).decode().strip()
    run(["git", "merge-tree", "--write-tree", fx.merge_dst, fx.merge_src], fx.env, cwd=fx.bare)
    return base


def _merge_target(fx: Fixture, side: str, i: int) -> str:
    return f"bench/merged-{side}-{i}"


def prepare_merge(fx: Fixture, i: int) -> None:
    """A fresh destination branch for each run (the merge moves it); not timed."""
    dst = fx.git("rev-parse", fx.merge_dst).decode().strip()
    fx.git("update-ref", f"refs/heads/{_merge_target(fx, 'git', i)}", dst)
    try:
        _call(
            fx.client.create_branch,
            repositoryName=fx.name,
            branchName=_merge_target(fx, "api", i),
            commitId=dst,
        )
    except Skip:
        pass


def api_three_way(fx: Fixture, i: int) -> Any:
    out = _call(
        fx.client.merge_branches_by_three_way,
        repositoryName=fx.name,
        sourceCommitSpecifier=fx.merge_src,
        destinationCommitSpecifier=_merge_target(fx, "api", i),
        targetBranch=_merge_target(fx, "api", i),
        authorName="Bench",
        email="bench@example.com",
        commitMessage="benchmark merge",
    )
    return out.get("treeId")


def git_three_way(fx: Fixture, i: int) -> Any:
    target = _merge_target(fx, "git", i)
    dst = fx.git("rev-parse", target).decode().strip()
    tree = fx.git("merge-tree", "--write-tree", target, fx.merge_src).decode().split()[0]
    commit = (
        fx.git("commit-tree", tree, "-p", dst, "-p", fx.merge_src, "-m", "benchmark merge")
        .decode()
        .strip()
    )
    fx.git("update-ref", f"refs/heads/{target}", commit, dst)
    return tree


@dataclass
class Scenario:
    label: str
    operation: str
    git_label: str
    api: Callable[[Fixture, int], Any]
    git: Callable[[Fixture, int], Any]
    prepare: Callable[[Fixture, int], None] | None = None
    target: float | None = TARGET
    agree: bool = True  # compare the two answers on the first run
    api_samples: list[float] = field(default_factory=list)
    git_samples: list[float] = field(default_factory=list)
    skipped: str = ""
    agreement: str = ""
    server_cpu: float = float("nan")  # per API call, from a burst of calls
    client_cpu: float = float("nan")  # per API call: boto3's own work in this process


def scenarios(fx: Fixture) -> list[Scenario]:
    """Every measured scenario, in the order of the report. A new one (another operation, or
    the same one in another setting) is one more row here."""
    return [
        Scenario(
            f"GetFile `{fx.busy}` at tag {fx.tag2}",
            "GetFile",
            f"git show {fx.tag2}:{fx.busy}",
            api_get_file(fx.tag2, fx.busy),
            git_get_file(fx.tag2, fx.busy),
        ),
        Scenario(
            f"GetFile `{fx.busy_old}` at the old tag {fx.old_tag} (little history)",
            "GetFile",
            f"git show {fx.old_tag}:{fx.busy_old}",
            api_get_file(fx.old_tag, fx.busy_old),
            git_get_file(fx.old_tag, fx.busy_old),
        ),
        Scenario(
            f"GetFile `{fx.busy}` at the tip of {fx.branch} (whole history)",
            "GetFile",
            f"git show {fx.branch}:{fx.busy}",
            api_get_file(fx.branch, fx.busy),
            git_get_file(fx.branch, fx.busy),
        ),
        Scenario(
            f"GetFolder root at {fx.tag2}",
            "GetFolder",
            f"git ls-tree {fx.tag2}",
            api_get_folder(fx.tag2, "/"),
            git_get_folder(fx.tag2, "/"),
        ),
        Scenario(
            f"GetFolder `{fx.deep}` at {fx.tag2}",
            "GetFolder",
            f"git ls-tree {fx.tag2}:{fx.deep}",
            api_get_folder(fx.tag2, fx.deep),
            git_get_folder(fx.tag2, fx.deep),
        ),
        Scenario(
            f"GetDifferences {fx.tag1} → {fx.tag2} (all pages)",
            "GetDifferences",
            f"git diff --raw --no-renames {fx.tag1} {fx.tag2}",
            api_differences,
            git_differences,
        ),
        Scenario(
            f"ListFileCommitHistory `{fx.busy}`, first page (100)",
            "ListFileCommitHistory",
            f"git log -n 100 --format=%H {fx.branch} -- {fx.busy}",
            api_history(True),
            git_history(True),
        ),
        Scenario(
            f"ListFileCommitHistory `{fx.busy}`, whole history",
            "ListFileCommitHistory",
            f"git log --format=%H {fx.branch} -- {fx.busy}",
            api_history(False),
            git_history(False),
        ),
        Scenario(
            f"PutFile `{fx.busy}` on {fx.branch} (whole history)",
            "PutFile",
            "hash-object -w, read-tree + update-index + write-tree (temporary index), "
            "commit-tree, update-ref",
            api_put_file("branch", "busy"),
            git_put_file("branch", "busy"),
            agree=False,
        ),
        Scenario(
            f"PutFile `{fx.busy_old}` on a branch at {fx.old_tag} (little history)",
            "PutFile",
            "the same",
            api_put_file("old_branch", "busy_old"),
            git_put_file("old_branch", "busy_old"),
            agree=False,
        ),
        Scenario(
            f"GetMergeOptions {fx.merge_src} → {fx.merge_dst}",
            "GetMergeOptions",
            "git merge-base + git merge-tree --write-tree",
            api_merge_options,
            git_merge_options,
        ),
        Scenario(
            f"MergeBranchesByThreeWay {fx.merge_src} into (a copy of) {fx.merge_dst}",
            "MergeBranchesByThreeWay",
            "git merge-tree --write-tree, commit-tree, update-ref",
            api_three_way,
            git_three_way,
            prepare=prepare_merge,
        ),
    ]


# ---------------------------------------------------------------------------------------------
# setting up


def pick_tags(env: dict[str, str], bare: Path) -> tuple[str, str, str]:
    """(the first tag, the tag five releases before the last, the last tag), in version order."""
    tags = git_out(
        env,
        "for-each-ref",
        "--sort=v:refname",
        "--format=%(refname:short)",
        "refs/tags/",
        cwd=bare,
    ).split()
    if len(tags) < 3:
        raise BenchError(f"{bare} needs at least three tags")
    return tags[0], tags[max(1, len(tags) - 6)], tags[-1]


def busiest_file(env: dict[str, str], bare: Path, ref: str, must_exist_at: list[str]) -> str:
    """The file changed by the most of the last 2,000 commits of `ref` that exists at every
    ref of `must_exist_at`."""
    out = git_out(env, "log", "-n", "2000", "--format=", "--name-only", ref, cwd=bare)
    counts: dict[str, int] = {}
    for line in out.splitlines():
        if line:
            counts[line] = counts.get(line, 0) + 1
    present = [
        set(git_out(env, "ls-tree", "-r", "--name-only", r, cwd=bare).splitlines())
        for r in must_exist_at
    ]
    for path, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if all(path in p for p in present):
            return path
    raise BenchError(f"no file of {ref} exists at {must_exist_at}")


def deepest_folder(env: dict[str, str], bare: Path, ref: str) -> str:
    dirs = git_out(env, "ls-tree", "-r", "-d", "--name-only", ref, cwd=bare).splitlines()
    return max(dirs, key=lambda d: (d.count("/"), d))


def diverge(
    env: dict[str, str], bare: Path, branch: str, base: str, files: list[str], n: int, who: str
) -> None:
    """`n` commits on a new `branch` from `base`, each appending a line to one of `files`."""
    contents = {p: run(["git", "show", f"{base}:{p}"], env, cwd=bare).stdout for p in files}
    stream: list[bytes] = []
    when = 1_800_000_000
    for k in range(n):
        when += 60
        path = files[k % len(files)]
        contents[path] += f"# {who} change {k}\n".encode()
        sig = b"Bench <bench@example.com> %d +0000" % when
        stream.append(
            b"commit refs/heads/%s\nauthor %s\ncommitter %s\n" % (branch.encode(), sig, sig)
        )
        stream.append(_data(f"{who}: change {k}\n".encode()))
        if k == 0:
            stream.append(b"from %s\n" % base.encode())
        stream.append(b"M 100644 inline %s\n" % path.encode())
        stream.append(_data(contents[path]))
        stream.append(b"\n")
    run(["git", "fast-import", "--quiet"], env, cwd=bare, input=b"".join(stream))


def setup(
    args: argparse.Namespace, tmp: Path, env: dict[str, str]
) -> tuple[Fixture, RepoInfo, Ccemu, float]:
    repo = prepare_repo(args, env)
    print(
        f"repository: {repo.path}\n  {repo.objects:,} objects, {repo.commits:,} commits, "
        f"{repo.refs} refs, default branch {repo.branch}",
        flush=True,
    )
    if repo.objects < 25_000:
        print("  (fewer than 25,000 objects: the comparison says little)", flush=True)
    bare = tmp / "git-side.git"
    shutil.copytree(repo.path, bare, symlinks=True)
    old_tag, tag1, tag2 = pick_tags(env, bare)
    branch = repo.branch
    busy = busiest_file(env, bare, branch, [tag2, branch])
    busy_old = busiest_file(env, bare, old_tag, [old_tag])
    deep = deepest_folder(env, bare, tag2)
    # branches for PutFile with little history and for the merges, made here once and pushed
    old_branch = "bench/old-history"
    run(["git", "update-ref", f"refs/heads/{old_branch}", f"{old_tag}^{{commit}}"], env, cwd=bare)
    tip = git_out(env, "rev-parse", branch, cwd=bare)
    blobs = [
        line.split("\t", 1)[1]
        for line in git_out(env, "ls-tree", "-r", branch, cwd=bare).splitlines()
        if line.startswith("100644 blob") and line.split("\t", 1)[1] != busy
    ]
    blobs.sort()
    merge_src, merge_dst = "bench/merge-source", "bench/merge-destination"
    diverge(env, bare, merge_src, tip, blobs[0:5], MERGE_SOURCE_COMMITS, "source")
    diverge(env, bare, merge_dst, tip, blobs[5:8], MERGE_DESTINATION_COMMITS, "destination")

    ccemu = Ccemu(tmp, env)
    name = f"code-{uuid.uuid4().hex[:8]}"
    ccemu.create(name)
    t0 = time.perf_counter()
    run(["git", "-C", str(repo.path), "push", "--quiet", "--mirror", ccemu.url(name)], env)
    push_s = time.perf_counter() - t0
    run(
        [
            "git",
            "push",
            "--quiet",
            ccemu.url(name),
            *(f"refs/heads/{b}:refs/heads/{b}" for b in (old_branch, merge_src, merge_dst)),
        ],
        env,
        cwd=bare,
    )
    fx = Fixture(
        client=ccemu.client(),
        name=name,
        bare=bare,
        env=env,
        tmp=tmp,
        branch=branch,
        old_tag=old_tag,
        tag1=tag1,
        tag2=tag2,
        busy=busy,
        busy_old=busy_old,
        deep=deep,
        old_branch=old_branch,
        merge_src=merge_src,
        merge_dst=merge_dst,
    )
    for b in (branch, old_branch):
        sha = git_out(env, "rev-parse", b, cwd=bare)
        fx.tips["api", b] = fx.tips["git", b] = sha
    fx.content[busy] = run(["git", "show", f"{branch}:{busy}"], env, cwd=bare).stdout
    fx.content[busy_old] = run(["git", "show", f"{old_tag}:{busy_old}"], env, cwd=bare).stdout
    return fx, repo, ccemu, push_s


# ---------------------------------------------------------------------------------------------
# running and reporting


def floors(fx: Fixture, runs: int) -> tuple[float, float]:
    """What nothing costs on each side: a boto3 GetRepository round trip, `git rev-parse`."""
    api, git = [], []
    for _ in range(max(runs, 5)):
        t0 = time.perf_counter()
        fx.client.get_repository(repositoryName=fx.name)
        api.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fx.git("rev-parse", "HEAD")
        git.append(time.perf_counter() - t0)
    return statistics.median(api), statistics.median(git)


def measure(fx: Fixture, table: list[Scenario], runs: int, only: set[str]) -> None:
    for i in range(runs):
        print(f"run {i + 1}/{runs}", flush=True)
        for sc in table:
            if sc.skipped or (only and sc.operation not in only):
                continue
            if sc.prepare is not None:
                sc.prepare(fx, i)
            sides = [("api", sc.api, sc.api_samples), ("git", sc.git, sc.git_samples)]
            if i % 2:
                sides.reverse()
            answers: dict[str, Any] = {}
            for side, fn, samples in sides:
                t0 = time.perf_counter()
                try:
                    answers[side] = fn(fx, i)
                except Skip as exc:
                    sc.skipped = str(exc).split(": ", 1)[-1][:120]
                    print(
                        f"  skipped {sc.label}: {sc.operation} answers NotImplementedException",
                        flush=True,
                    )
                    break
                samples.append(time.perf_counter() - t0)
            if sc.skipped:
                sc.api_samples.clear()
                sc.git_samples.clear()
                continue
            if i == 0 and sc.agree:
                same = answers["api"] == answers["git"]
                n = len(answers["git"]) if isinstance(answers["git"], (list, bytes)) else 1
                unit = "bytes" if isinstance(answers["git"], bytes) else "entries"
                sc.agreement = f"same ({n:,} {unit})" if same else "**differs**"
                if not same:
                    print(f"  !! {sc.label}: the API and git disagree", flush=True)


def cpu_split(fx: Fixture, table: list[Scenario], server_pid: int, seconds: float) -> None:
    """Where an API call's time goes: server CPU (/proc/<pid>/stat, 10 ms ticks, so measured
    over a burst of calls of about `seconds`) and this process's CPU (boto3: signing,
    serializing, parsing); what is left of the wall time is waiting (the other side, the
    scheduler)."""
    k = 10_000
    for sc in table:
        if sc.skipped or not sc.api_samples:
            continue
        calls = max(5, min(100, int(seconds / statistics.median(sc.api_samples))))
        c0, p0 = read_proc_cpu(server_pid), time.process_time()
        for j in range(calls):
            if sc.prepare is not None:
                sc.prepare(fx, k + j)
            sc.api(fx, k + j)
        sc.server_cpu = (read_proc_cpu(server_pid) - c0) / calls
        sc.client_cpu = (time.process_time() - p0) / calls
        k += calls


def render(
    args: argparse.Namespace,
    fx: Fixture,
    repo: RepoInfo,
    table: list[Scenario],
    floor: tuple[float, float],
    push_s: float,
    load: tuple[float, float],
    elapsed: float,
) -> str:
    cmd = "python bench/code_api.py " + " ".join(sys.argv[1:])
    lines = [
        f"## Code through the API: ccemu (boto3) vs the git CLI "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        *machine(),
        f"- command: `{cmd.strip()}` ({elapsed / 60:.1f} min in all)",
        f"- repository: {repo.description}; {repo.objects:,} objects, "
        f"{repo.pack_bytes / 2**20:.1f} MiB packed, {repo.commits:,} commits, {repo.refs} refs; "
        f"pushed into ccemu (encryption at rest on) in {push_s:.1f} s; the git CLI works on a "
        "bare copy of the same repository",
        f"- median of {args.runs} runs, the two sides interleaved (which goes first alternates); "
        "API: one boto3 client, its connection reused, the whole call (signing, HTTP, JSON, "
        "base64) timed; git: each command a new process, as a user would run it",
        "- CPU per call: after the timed runs, a burst of about "
        f"{args.cpu_seconds:g} s of the same API call; server CPU from /proc/<pid>/stat, boto3's "
        "from this process's CPU time",
        f"- floors: a boto3 `GetRepository` round trip {fmt_s(floor[0])}, "
        f"`git rev-parse HEAD` {fmt_s(floor[1])}",
        f"- merges: `{fx.merge_src}` is {MERGE_SOURCE_COMMITS} commits ahead of the tip of "
        f"{fx.branch}, `{fx.merge_dst}` {MERGE_DESTINATION_COMMITS} (other files: the merge "
        "is clean); PutFile appends a line to the file and commits it on the branch's tip",
        f"- load average (1 min) at the start {load[0]:.2f}, at the end {load[1]:.2f}: anything "
        "else running on the machine shows up as noise",
        "",
        "| scenario | git CLI | git | ccemu | ratio | target | met | answers | ccemu server "
        "CPU / boto3 CPU per call |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sc in table:
        if sc.skipped:
            lines.append(
                f"| {sc.label} | `{sc.git_label}` | — | — | — | ≤ {sc.target}{X} | skipped: "
                f"{sc.operation} answers NotImplementedException | | |"
            )
            continue
        if not sc.api_samples:
            continue
        g, a = statistics.median(sc.git_samples), statistics.median(sc.api_samples)
        ratio = a / g
        met = "—" if sc.target is None else ("yes" if ratio <= sc.target else "**no**")
        git_label = sc.git_label if sc.git_label == "the same" else f"`{sc.git_label}`"
        if "," in sc.git_label and sc.git_label != "the same":
            git_label = sc.git_label
        lines.append(
            f"| {sc.label} | {git_label} | {fmt_s(g)} | {fmt_s(a)} | {ratio:.2f}{X} | "
            f"≤ {sc.target}{X} | {met} | {sc.agreement or '—'} | "
            f"{fmt_s(sc.server_cpu)} / {fmt_s(sc.client_cpu)} |"
        )
    lines += ["", "All runs (ms, ccemu / git):", ""]
    for sc in table:
        if sc.api_samples:
            lines.append(
                f"- {sc.label}: "
                + ", ".join(f"{x * 1000:.1f}" for x in sc.api_samples)
                + " / "
                + ", ".join(f"{x * 1000:.1f}" for x in sc.git_samples)
            )
    return "\n".join(lines) + "\n"


def bench(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    load0 = os.getloadavg()[0]
    if not args.repo:
        print(FLASK_HINT, flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-code-bench-", dir=args.tmp))
    atexit.register(shutil.rmtree, tmp, True)
    env = git_env(tmp / "home")
    fx, repo, ccemu, push_s = setup(args, tmp, env)
    table = scenarios(fx)
    floor = floors(fx, args.runs)
    measure(fx, table, args.runs, set(args.only or []))
    if args.cpu_seconds > 0:
        print("server and client CPU per API call ...", flush=True)
        cpu_split(fx, table, ccemu.pid, args.cpu_seconds)
    report = render(
        args,
        fx,
        repo,
        table,
        floor,
        push_s,
        (load0, os.getloadavg()[0]),
        time.perf_counter() - t_start,
    )
    print()
    print(report)
    if args.out:
        write_section(Path(args.out), MARK, report)
        print(f"wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repo", help="an existing git repository (default: generate one)")
    p.add_argument("--runs", type=int, default=7, help="runs per scenario (median reported)")
    p.add_argument("--out", help="write/update this markdown file (e.g. bench/RESULTS.md)")
    p.add_argument("--commits", type=int, default=3000, help="commits of the generated repository")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated repository")
    p.add_argument("--tmp", default=None, help="where the server's data and the copies go")
    p.add_argument(
        "--cpu-seconds",
        type=float,
        default=1.0,
        help="length of the burst of calls that measures CPU per call (0: skip)",
    )
    p.add_argument(
        "--only",
        nargs="*",
        metavar="OPERATION",
        help="measure only these operations (e.g. GetFile PutFile)",
    )
    args = p.parse_args(argv)

    return run_bench(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
