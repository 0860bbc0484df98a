"""ccemu's SSH door against OpenSSH sshd + git-upload-pack, same repository, same run.

    python bench/ssh.py [--repo PATH] [--runs N] [--out bench/RESULTS.md]

The repository is the one bench/git_http.py builds (or reuses, cached under bench/data/). sshd
runs as a child of this script on a free 127.0.0.1 port with its own temporary config, host key
and authorized_keys (the system's sshd and its config are never touched); ccemu gets an IAM user
whose SSH key is the same client key. Both are timed with the real git CLI and ssh client:
ls-remote, full clone, push of 50 commits, fetch of those 50 commits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from git_http import (  # a sibling script, not a package
    BenchError,
    Ccemu,
    fmt_s,
    git_env,
    git_out,
    machine,
    make_commits,
    median,
    prepare_repo,
    run,
    run_bench,
    setup_ssh,
    ssh_versions,
    timed,
    write_section,
)

MARK = "ssh"
OPS = ["ls-remote", "full clone", "push 50 commits", "fetch 50 commits"]
X = "\u00d7"


@dataclass
class Side:
    label: str
    url: Callable[[], str]
    cpu: Callable[[], float]
    samples: dict[str, list[float]] = field(default_factory=dict)
    cpu_samples: dict[str, list[float]] = field(default_factory=dict)

    def record(self, op: str, seconds: float, cpu: float) -> None:
        self.samples.setdefault(op, []).append(seconds)
        self.cpu_samples.setdefault(op, []).append(cpu)


def bench(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-bench-ssh-", dir=args.tmp))
    env = git_env(tmp / "home")
    repo = prepare_repo(args, env)
    print(f"repository: {repo.objects:,} objects, {repo.pack_bytes / 2**20:.1f} MiB", flush=True)

    ccemu = Ccemu(tmp, env)
    ccemu.create("bench")
    access = setup_ssh(tmp, env, ccemu)
    sshd = access.sshd
    served, empty = sshd.serve_copy(repo, env)
    git_side = Side("OpenSSH + git", lambda: sshd.url(served), sshd.cpu)
    ccemu_side = Side("ccemu", lambda: access.ccemu_url("bench"), ccemu.cpu)
    sides = [git_side, ccemu_side]

    initial: dict[str, float] = {}
    push_all = ["push", "--quiet", "--mirror"]
    initial[git_side.label] = timed(["git", "-C", str(repo.path), *push_all, sshd.url(empty)], env)
    initial[ccemu_side.label] = timed(
        ["git", "-C", str(repo.path), *push_all, ccemu_side.url()], env
    )

    work: dict[str, tuple[Path, Path]] = {}
    for i, side in enumerate(sides):
        follower, pusher = tmp / f"follower-{i}", tmp / f"pusher-{i}"
        for d in (follower, pusher):
            run(
                ["git", "clone", "--quiet", "--no-checkout", "-b", repo.branch, side.url(), str(d)],
                env,
            )
        work[side.label] = (follower, pusher)

    clone_objects: dict[str, int] = {}
    for r in range(args.runs):
        print(f"run {r + 1}/{args.runs}", flush=True)
        for side in sides:
            c0 = side.cpu()
            side.record("ls-remote", timed(["git", "ls-remote", side.url()], env), side.cpu() - c0)
        for i, side in enumerate(sides):
            dest = tmp / f"clone-{r}-{i}"
            c0 = side.cpu()
            t = timed(["git", "clone", "--quiet", "--bare", side.url(), str(dest)], env)
            side.record("full clone", t, side.cpu() - c0)
            if r == 0:
                out = git_out(env, "count-objects", "-v", cwd=dest)
                kv = dict(line.split(": ", 1) for line in out.splitlines())
                clone_objects[side.label] = int(kv["count"]) + int(kv["in-pack"])
            shutil.rmtree(dest)
        for side in sides:
            follower, pusher = work[side.label]
            make_commits(env, pusher, repo.branch, 50, 2000 + r)
            c0 = side.cpu()
            t = timed(
                ["git", "push", "--quiet", side.url(), f"{repo.branch}:{repo.branch}"],
                env,
                cwd=pusher,
            )
            side.record("push 50 commits", t, side.cpu() - c0)
            before = git_out(env, "rev-parse", "HEAD", cwd=follower)
            c0 = side.cpu()
            t = timed(
                [
                    "git",
                    "fetch",
                    "--quiet",
                    side.url(),
                    f"+refs/heads/{repo.branch}:refs/remotes/origin/{repo.branch}",
                ],
                env,
                cwd=follower,
            )
            side.record("fetch 50 commits", t, side.cpu() - c0)
            got = git_out(
                env,
                "rev-list",
                "--count",
                f"{before}..refs/remotes/origin/{repo.branch}",
                cwd=follower,
            )
            if got != "50":
                raise BenchError(f"{side.label}: the fetch brought {got} commits, not 50")
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

    elapsed = time.perf_counter() - t_start
    lines = [
        f"## git over SSH: ccemu vs OpenSSH sshd + git ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        *machine(),
        f"- {ssh_versions(env)}",
        f"- command: `python bench/ssh.py --runs {args.runs}"
        f"{' --repo ' + args.repo if args.repo else ''} --out bench/RESULTS.md` "
        f"({elapsed / 60:.1f} min in all)",
        f"- repository: {repo.description}; {repo.objects:,} objects, "
        f"{repo.pack_bytes / 2**20:.1f} MiB packed, {repo.commits:,} commits, {repo.refs} refs",
        f"- median of {args.runs} runs, the real git CLI and OpenSSH client (a new SSH connection "
        "per operation, Ed25519 keys both sides, curve25519-sha256 key exchange both sides, "
        "sshd's shell started with a HOME without rc files); git asks for protocol v2: sshd passes "
        "GIT_PROTOCOL on, ccemu answers v0; server CPU: sshd's listener and its reaped children "
        "(connection processes and the git they ran), ccemu's process",
        f"- load average (1 min) at the start {load_before:.2f}, at the end "
        f"{os.getloadavg()[0]:.2f}",
        "",
        "| operation | OpenSSH + git | ccemu | ratio | server CPU git | server CPU ccemu |",
        "|---|---|---|---|---|---|",
    ]
    for op in OPS:
        g, c = median(git_side.samples[op]), median(ccemu_side.samples[op])
        lines.append(
            f"| {op} | {fmt_s(g)} | {fmt_s(c)} | {c / g:.2f}{X} | "
            f"{fmt_s(median(git_side.cpu_samples[op]))} | "
            f"{fmt_s(median(ccemu_side.cpu_samples[op]))} |"
        )
    g, c = initial[git_side.label], initial[ccemu_side.label]
    lines.append(
        f"| initial push --mirror into an empty repository (1 run) | {fmt_s(g)} | "
        f"{fmt_s(c)} | {c / g:.2f}{X} | | |"
    )
    lines += [
        "",
        f"- objects in a clone from OpenSSH + git: {clone_objects[git_side.label]}",
        f"- objects in a clone from ccemu: {clone_objects[ccemu_side.label]}",
        "",
        "All runs (seconds):",
        "",
    ]
    for side in sides:
        for op in OPS:
            runs = ", ".join(f"{x:.3f}" for x in side.samples[op])
            lines.append(f"- {side.label}, {op}: {runs}")
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    if args.out:
        write_section(Path(args.out), MARK, report)
        print(f"wrote {args.out}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repo", help="an existing git repository to serve (default: generate one)")
    p.add_argument("--runs", type=int, default=5, help="runs per operation (median reported)")
    p.add_argument("--out", help="write/update this markdown file (e.g. bench/RESULTS.md)")
    p.add_argument("--commits", type=int, default=3000, help="commits of the generated repository")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated repository")
    p.add_argument("--tmp", default=None, help="where the servers' data and clones go")
    args = p.parse_args(argv)

    return run_bench(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
