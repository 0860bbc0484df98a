"""What encryption at rest costs: clone and push through ccemu with AES-256-GCM against the very
same code with a null cipher, in the same run.

    python bench/encryption.py [--repo PATH] [--runs N] [--out bench/RESULTS.md]

Starts two ccemu servers on the same repository (built or reused by bench/git_http.py's
builder, cached under bench/data/): one as shipped, one with the benchmark-only variable
`CCEMU_BENCH_NULL_CIPHER=1`, which stores packs in the same segmented layout without
encryption (same segments, same copies, zero tags). Times a full clone and a push of 50 commits
on each, alternating which server goes first, and reports the medians, their ratio, server CPU
and the peak RSS of the server during a clone. The target is a ratio within 1.10.
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
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from git_http import (  # a sibling script, not a package
    BenchError,
    Ccemu,
    RssSampler,
    fmt_s,
    git_env,
    git_out,
    machine,
    make_commits,
    prepare_repo,
    run,
    run_bench,
    timed,
    write_section,
)

MARK = "encryption"
NULL_ENV = "CCEMU_BENCH_NULL_CIPHER"
OPS = ["full clone", "push 50 commits"]
TARGET_RATIO = 1.10


@dataclass
class Variant:
    label: str
    server: Ccemu
    name: str
    pusher: Path
    samples: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    peak_rss_kib: int = 0
    initial_push: float = 0.0

    def record(self, op: str, seconds: float, cpu: float) -> None:
        self.samples.setdefault(op, []).append(seconds)
        self.cpu.setdefault(op, []).append(cpu)


def stored_cipher(data_dir: Path) -> int | None:
    """The cipher id in the header of a stored pack (None when packs are not encrypted)."""
    for path in sorted((data_dir / "repos").glob("*/objects/pack/*.pack")):
        head = path.read_bytes()[:6]
        return head[5] if head[:4] == b"CCSG" else None
    return None


def start(
    label: str, tmp: Path, env: dict[str, str], repo_path: Path, branch: str, null: bool
) -> Variant:
    home = tmp / label
    home.mkdir()
    server_env = {**env, NULL_ENV: "1"} if null else {k: v for k, v in env.items() if k != NULL_ENV}
    server = Ccemu(home, server_env)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    server.create(name)
    t = timed(["git", "-C", str(repo_path), "push", "--quiet", "--mirror", server.url(name)], env)
    pusher = home / "pusher"
    run(
        ["git", "clone", "--quiet", "--no-checkout", "-b", branch, server.url(name), str(pusher)],
        env,
    )
    variant = Variant(label, server, name, pusher, initial_push=t)
    cipher = stored_cipher(home / "ccemu-data")
    want = 0 if null else 1
    if cipher != want:
        raise BenchError(
            f"{label}: stored packs have cipher {cipher}, expected {want} "
            "(is encryption at rest wired into the server?)"
        )
    return variant


def bench(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    args.load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-bench-enc-", dir=args.tmp))
    atexit.register(shutil.rmtree, tmp, True)
    env = git_env(tmp / "home")
    repo = prepare_repo(args, env)
    print(
        f"repository: {repo.path}\n  {repo.objects} objects, pack "
        f"{repo.pack_bytes / 2**20:.1f} MiB, {repo.commits} commits",
        flush=True,
    )
    aes = start("aes-256-gcm", tmp, env, repo.path, repo.branch, null=False)
    null = start("null cipher", tmp, env, repo.path, repo.branch, null=True)
    variants = [aes, null]
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs}", flush=True)
        order = variants if i % 2 == 0 else variants[::-1]
        for v in order:
            dest = tmp / f"clone-{i}-{v.label}"
            sampler = RssSampler(v.server.pid)
            c0 = v.server.cpu()
            t = timed(["git", "clone", "--quiet", "--bare", v.server.url(v.name), str(dest)], env)
            v.record("full clone", t, v.server.cpu() - c0)
            v.peak_rss_kib = max(v.peak_rss_kib, sampler.stop())
            shutil.rmtree(dest)
        for v in order:
            # the same seed on the same tip: both servers receive identical pushes
            make_commits(env, v.pusher, repo.branch, 50, 1000 + i)
        tips = {git_out(env, "rev-parse", repo.branch, cwd=v.pusher) for v in variants}
        if len(tips) != 1:
            raise BenchError("the two pushers made different commits")
        for v in order:
            c0 = v.server.cpu()
            t = timed(
                ["git", "push", "--quiet", v.server.url(v.name), f"{repo.branch}:{repo.branch}"],
                env,
                cwd=v.pusher,
            )
            v.record("push 50 commits", t, v.server.cpu() - c0)
    report = render(
        args, repo.objects, repo.pack_bytes, repo.commits, variants, time.perf_counter() - t_start
    )
    print()
    print(report)
    if args.out:
        write_section(Path(args.out), MARK, report)
        print(f"wrote {args.out}")
    ratios = [
        statistics.median(aes.samples[op]) / statistics.median(null.samples[op]) for op in OPS
    ]
    return 0 if max(ratios) <= TARGET_RATIO else 1


def render(
    args: argparse.Namespace,
    objects: int,
    pack_bytes: int,
    commits: int,
    variants: list[Variant],
    elapsed: float,
) -> str:
    aes, null = variants
    source = args.repo or f"generated (`--commits {args.commits} --seed {args.seed}`)"
    lines = [
        "## Encryption at rest: AES-256-GCM against a null cipher",
        "",
        f"Written by `bench/encryption.py` on {time.strftime('%Y-%m-%d')}; {args.runs} runs, "
        f"medians; {elapsed:.0f} s in all.",
        "",
        *machine(),
        f"- repository: {source}, {objects} objects, pack {pack_bytes / 2**20:.1f} MiB, "
        f"{commits} commits",
        "- both servers run the same code; the null cipher (benchmark-only "
        f"`{NULL_ENV}=1`) keeps the segmented layout and its copies but does no cryptography",
        "",
        "| operation (median) | AES-256-GCM | null cipher | ratio | server CPU, AES | "
        "server CPU, null |",
        "|---|---|---|---|---|---|",
    ]
    for op in OPS:
        a, n = statistics.median(aes.samples[op]), statistics.median(null.samples[op])
        ca, cn = statistics.median(aes.cpu[op]), statistics.median(null.cpu[op])
        lines.append(
            f"| {op} | {fmt_s(a)} | {fmt_s(n)} | {a / n:.3f} | {fmt_s(ca)} | {fmt_s(cn)} |"
        )
    lines += [
        f"| initial mirror push (1 run) | {fmt_s(aes.initial_push)} | "
        f"{fmt_s(null.initial_push)} | {aes.initial_push / null.initial_push:.3f} | | |",
        "",
        f"Load average {args.load_before:.2f} before, {os.getloadavg()[0]:.2f} after: wall "
        "times on a busy machine are noisy, server CPU shows the cost of the cipher itself.",
        "",
        f"Peak server RSS during a clone: {aes.peak_rss_kib / 1024:.0f} MiB with AES-256-GCM, "
        f"{null.peak_rss_kib / 1024:.0f} MiB with the null cipher (pack "
        f"{pack_bytes / 2**20:.1f} MiB). Target: ratio within {TARGET_RATIO:.2f}.",
        "",
        "All samples (s): "
        + "; ".join(
            f"{v.label} {op}: " + ", ".join(f"{x:.3f}" for x in v.samples[op])
            for v in variants
            for op in OPS
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
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

    os.environ.pop(NULL_ENV, None)
    return run_bench(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
