"""The cost of authorization in ccemu: the same calls as the root user and as IAM users.

    python bench/iam.py [--seconds N] [--threads N] [--git-runs N] [--out bench/RESULTS.md]

Starts one ccemu server and measures, in the same run:
1. requests per second and latency of an authorized `GetRepository` (AWS JSON 1.1 over HTTP/1.1
   keep-alive, each request signed with botocore's SigV4Auth) as the root user, as an IAM user
   whose access comes from a 20-statement inline policy (19 statements that do not match, one
   Allow that does), and as an IAM user with the AWS managed policy AWSCodeCommitReadOnly;
2. `git ls-remote` latency (real git CLI) against a repository with a few branches, as each of
   the three.
Client and server CPU are reported so a reader can tell which side was the bottleneck. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    git_env,
    run,
    run_bench,
    sigv4_git_password,
    timed,
    write_section,
)

ACCOUNT = "123456789012"
TARGET = "CodeCommit_20150413.GetRepository"
READ_ONLY = "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly"
BRANCHES = ["main", "develop", "release/1.0", "release/1.1", "feature/login", "feature/search"]
MARK = "iam"
X = "\u00d7"  # the multiplication sign of "0.70x"


def policy_20(repo: str) -> dict[str, Any]:
    """Nineteen statements that do not decide a GetRepository or a git pull of `repo` from
    127.0.0.1 (other actions, other repositories, conditions that do not hold, Denys that do not
    apply), then the one Allow that does. Every statement is one a team might really write."""
    arn = f"arn:aws:codecommit:{REGION}:{ACCOUNT}"
    corp = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8"]
    st: list[dict[str, Any]] = [
        # Denys that must be evaluated and must not apply
        {
            "Sid": "DenyOutsideCorpNetwork",
            "Effect": "Deny",
            "Action": "codecommit:*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": corp}},
        },
        {
            "Sid": "DenyProdRepos",
            "Effect": "Deny",
            "Action": "codecommit:*",
            "Resource": [f"{arn}:prod-*", f"{arn}:infra-*"],
        },
        {
            "Sid": "ProtectMain",
            "Effect": "Deny",
            "Action": [
                "codecommit:GitPush",
                "codecommit:DeleteBranch",
                "codecommit:PutFile",
                "codecommit:MergeBranchesByFastForward",
                "codecommit:MergeBranchesBySquash",
                "codecommit:MergeBranchesByThreeWay",
                "codecommit:MergePullRequestByFastForward",
            ],
            "Resource": "*",
            "Condition": {
                "StringEqualsIfExists": {
                    "codecommit:References": ["refs/heads/main", "refs/heads/release/*"]
                },
                "Null": {"codecommit:References": "false"},
            },
        },
        {
            "Sid": "NoRepoDeletion",
            "Effect": "Deny",
            "Action": ["codecommit:DeleteRepository", "codecommit:UpdateRepositoryName"],
            "Resource": "*",
        },
        {
            "Sid": "NoTriggers",
            "Effect": "Deny",
            "Action": ["codecommit:PutRepositoryTriggers", "codecommit:TestRepositoryTriggers"],
            "Resource": "*",
        },
        {
            "Sid": "DenyOffHours",
            "Effect": "Deny",
            "Action": "codecommit:GitPush",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}},
        },
        {
            "Sid": "DenyUntaggedCreate",
            "Effect": "Deny",
            "Action": "codecommit:CreateRepository",
            "Resource": "*",
            "Condition": {"Null": {"aws:RequestTag/team": "true"}},
        },
        # Allows of other actions, or of this action elsewhere
        {
            "Sid": "TeamAReposRead",
            "Effect": "Allow",
            "Action": [
                "codecommit:GetRepository",
                "codecommit:ListBranches",
                "codecommit:GetBranch",
                "codecommit:GitPull",
            ],
            "Resource": f"{arn}:team-a-*",
        },
        {
            "Sid": "TeamBReposFromVpn",
            "Effect": "Allow",
            "Action": "codecommit:Get*",
            "Resource": f"{arn}:team-b-*",
            "Condition": {"IpAddress": {"aws:SourceIp": ["10.20.0.0/16", "10.21.0.0/16"]}},
        },
        {
            "Sid": "SandboxFull",
            "Effect": "Allow",
            "Action": "codecommit:*",
            "Resource": f"{arn}:sandbox-${{aws:username}}-*",
        },
        {
            "Sid": "FeatureBranchPush",
            "Effect": "Allow",
            "Action": "codecommit:GitPush",
            "Resource": "*",
            "Condition": {
                "StringLike": {
                    "codecommit:References": ["refs/heads/feature/*", "refs/heads/fix/*"]
                }
            },
        },
        {
            "Sid": "PullRequests",
            "Effect": "Allow",
            "Action": [
                "codecommit:CreatePullRequest",
                "codecommit:GetPullRequest",
                "codecommit:ListPullRequests",
                "codecommit:PostCommentForPullRequest",
                "codecommit:UpdatePullRequestDescription",
            ],
            "Resource": f"{arn}:*",
        },
        {
            "Sid": "ListEverything",
            "Effect": "Allow",
            "Action": "codecommit:ListRepositories",
            "Resource": "*",
        },
        {
            "Sid": "ApprovalRules",
            "Effect": "Allow",
            "Action": [
                "codecommit:GetApprovalRuleTemplate",
                "codecommit:ListApprovalRuleTemplates",
            ],
            "Resource": "*",
        },
        {
            "Sid": "OwnCredentials",
            "Effect": "Allow",
            "Action": [
                "iam:ListSSHPublicKeys",
                "iam:GetSSHPublicKey",
                "iam:UploadSSHPublicKey",
                "iam:ListServiceSpecificCredentials",
                "iam:CreateServiceSpecificCredential",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "CreateTaggedRepos",
            "Effect": "Allow",
            "Action": "codecommit:CreateRepository",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:RequestTag/team": ["a", "b"]},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost-center"]},
            },
        },
        {
            "Sid": "ReadInMyRegionOnly",
            "Effect": "Allow",
            "Action": "codecommit:BatchGet*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        },
        {
            "Sid": "NotActionReadOthers",
            "Effect": "Allow",
            "NotAction": ["codecommit:*", "iam:*", "sts:*", "kms:*"],
            "Resource": "*",
        },
        {
            "Sid": "DocsRepoByTag",
            "Effect": "Allow",
            "Action": ["codecommit:GetRepository", "codecommit:GitPull"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/kind": "docs"}},
        },
        # the one that grants
        {
            "Sid": "ThisRepo",
            "Effect": "Allow",
            "Action": [
                "codecommit:GetRepository",
                "codecommit:GitPull",
                "codecommit:ListBranches",
                "codecommit:GetBranch",
            ],
            "Resource": f"{arn}:{repo}",
        },
    ]
    assert len(st) == 20
    return {"Version": "2012-10-17", "Statement": st}


@dataclass
class Identity:
    label: str
    key: str
    secret: str


@dataclass
class Rate:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    def add(self, other: Rate) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.seconds += other.seconds
        self.latencies.extend(other.latencies)
        self.client_cpu += other.client_cpu
        self.server_cpu += other.server_cpu


def signed_request(signer: Any, url: str, body: bytes) -> dict[str, str]:
    """Headers of one GetRepository, signed now (botocore's SigV4Auth, no boto3 client)."""
    from botocore.awsrequest import AWSRequest

    req = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET},
    )
    signer.add_auth(req)
    return dict(req.headers.items())


def signer_for(ident: Identity) -> Any:
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials

    return SigV4Auth(Credentials(ident.key, ident.secret), "codecommit", REGION)


def get_repository_once(base: str, ident: Identity, repo: str) -> tuple[int, bytes]:
    host_port = base.split("://", 1)[1]
    body = json.dumps({"repositoryName": repo}).encode()
    conn = http.client.HTTPConnection(host_port, timeout=30)
    try:
        conn.request("POST", "/", body, signed_request(signer_for(ident), base + "/", body))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def hammer(
    base: str, ident: Identity, repo: str, threads: int, seconds: float, server_cpu: Any
) -> Rate:
    """`threads` client threads, each on its own keep-alive connection, signing every request
    afresh, for `seconds` (after a short warm-up that is not counted)."""
    host_port = base.split("://", 1)[1]
    url = base + "/"
    body = json.dumps({"repositoryName": repo}).encode()
    signer = signer_for(ident)
    start = threading.Barrier(threads + 1)
    state = {"counting": False, "stop": False}
    results: list[tuple[int, int, list[float]]] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(host_port, timeout=30)
        n = errs = 0
        lat: list[float] = []
        start.wait()
        try:
            while not state["stop"]:
                counting = state["counting"]
                t0 = time.perf_counter()
                conn.request("POST", "/", body, signed_request(signer, url, body))
                resp = conn.getresponse()
                resp.read()
                dt = time.perf_counter() - t0
                if counting:
                    n += 1
                    lat.append(dt)
                    if resp.status != 200:
                        errs += 1
                if resp.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection(host_port, timeout=30)
        finally:
            conn.close()
            with lock:
                results.append((n, errs, lat))

    ts = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in ts:
        t.start()
    start.wait()
    time.sleep(0.3)  # warm-up: connections open, caches filled
    t0, c0, s0 = time.perf_counter(), sum(os.times()[:2]), server_cpu()
    state["counting"] = True
    time.sleep(seconds)
    state["counting"] = False
    t1, c1, s1 = time.perf_counter(), sum(os.times()[:2]), server_cpu()
    state["stop"] = True
    for t in ts:
        t.join(timeout=60)
    rate = Rate(seconds=t1 - t0, client_cpu=c1 - c0, server_cpu=s1 - s0)
    for n, errs, lat in results:
        rate.requests += n
        rate.errors += errs
        rate.latencies.extend(lat)
    return rate


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def ms(x: float) -> str:
    return "—" if x != x else f"{x * 1000:.1f} ms"


# ---------------------------------------------------------------------------------------------


def setup(cc: Ccemu, env: dict[str, str], tmp: Path, repo: str) -> list[Identity]:
    import boto3
    from botocore.config import Config as BotoConfig

    cc.create(repo)
    work = tmp / "work"
    run(["git", "init", "-q", "-b", "main", str(work)], env)
    for i in range(3):
        (work / f"f{i}.txt").write_text(f"file {i}\n")
        run(["git", "add", "."], env, cwd=work)
        run(["git", "commit", "-q", "-m", f"commit {i}"], env, cwd=work)
    for b in BRANCHES[1:]:
        run(["git", "branch", b], env, cwd=work)
    run(["git", "tag", "v1.0"], env, cwd=work)
    run(["git", "push", "-q", cc.url(repo), "--all"], env, cwd=work)
    run(["git", "push", "-q", cc.url(repo), "--tags"], env, cwd=work)

    iam = boto3.client(
        "iam",
        endpoint_url=cc.base,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=BotoConfig(retries={"max_attempts": 1}),
    )
    idents = [Identity("root user (no policy evaluation)", KEY, SECRET)]
    # IAM caps a user's inline policies at 2,048 characters in all, which 20 realistic
    # statements exceed (~3,800); a group's at 5,120: the policy is the inline policy of the
    # user's only group, as a team's permissions usually are.
    iam.create_group(GroupName="bench-developers")
    iam.put_group_policy(
        GroupName="bench-developers",
        PolicyName="twenty",
        PolicyDocument=json.dumps(policy_20(repo)),
    )
    for label, name in (
        ("IAM user, 20-statement inline policy (of its group)", "bench-policy20"),
        ("IAM user, AWSCodeCommitReadOnly", "bench-readonly"),
    ):
        iam.create_user(UserName=name)
        if name == "bench-policy20":
            iam.add_user_to_group(GroupName="bench-developers", UserName=name)
        else:
            iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)
        k = iam.create_access_key(UserName=name)["AccessKey"]
        idents.append(Identity(label, k["AccessKeyId"], k["SecretAccessKey"]))
    # each identity gets its GetRepository; the policy user is really held to its policy
    for ident in idents:
        status, out = get_repository_once(cc.base, ident, repo)
        if status != 200:
            raise BenchError(f"{ident.label}: GetRepository answered {status}: {out[:500]!r}")
    status, out = get_repository_once(cc.base, idents[1], f"prod-{repo}")
    if status != 400 or b"AccessDenied" not in out:
        raise BenchError(f"the policy user was not denied a prod- repository: {status} {out!r}")
    return idents


def ls_remote_url(cc: Ccemu, ident: Identity, repo: str) -> str:
    path = f"/v1/repos/{repo}"
    password = sigv4_git_password(ident.key, ident.secret, REGION, "127.0.0.1", path)
    return f"http://{quote(ident.key, safe='')}:{password}@{cc.host_port}{path}"


def bench(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-bench-iam-", dir=args.tmp))
    atexit.register(shutil.rmtree, tmp, True)
    env = git_env(tmp / "home")
    cc = Ccemu(tmp, env)
    repo = f"bench-{uuid.uuid4().hex[:8]}"
    idents = setup(cc, env, tmp, repo)
    print(
        f"ccemu at {cc.base}, repository {repo} with {len(BRANCHES)} branches and a tag", flush=True
    )

    # the identities take turns in slices, so whatever else the machine does falls on all three
    rates: dict[str, Rate] = {i.label: Rate() for i in idents}
    slice_s = args.seconds / args.rounds
    print(
        f"GetRepository, {args.threads} threads, {args.rounds} slices of {slice_s:g} s per "
        "identity, taking turns",
        flush=True,
    )
    for _ in range(args.rounds):
        for ident in idents:
            rates[ident.label].add(hammer(cc.base, ident, repo, args.threads, slice_s, cc.cpu))
    for ident in idents:
        r = rates[ident.label]
        print(
            f"  {ident.label}: {r.requests / r.seconds:.0f} req/s, median "
            f"{ms(pct(r.latencies, 0.5))}, p95 {ms(pct(r.latencies, 0.95))}, errors {r.errors}",
            flush=True,
        )
        if r.errors:
            print(f"!! {r.errors} requests did not answer 200", flush=True)

    ls: dict[str, list[float]] = {i.label: [] for i in idents}
    expect = len(BRANCHES) + 2  # branches, the tag, HEAD
    for i in range(args.git_runs):
        for ident in idents:  # alternated, so drift hits all three alike
            url = ls_remote_url(cc, ident, repo)
            t0 = time.perf_counter()
            out = run(["git", "ls-remote", url], env).stdout.decode()
            ls[ident.label].append(time.perf_counter() - t0)
            if i == 0 and len(out.splitlines()) != expect:
                raise BenchError(f"{ident.label}: ls-remote listed {out!r}, expected {expect} refs")
    floor = [timed(["git", "ls-remote", str(tmp / "work")], env) for _ in range(5)]
    print(
        f"git ls-remote x{args.git_runs}: "
        + ", ".join(f"{lb.split(',')[0]} {ms(statistics.median(v))}" for lb, v in ls.items()),
        flush=True,
    )

    elapsed = time.perf_counter() - t_start
    report = render(args, idents, rates, ls, statistics.median(floor), load_before, elapsed)
    print()
    print(report)
    if args.out:
        write_section(Path(args.out), MARK, report)
        print(f"wrote {args.out}")
    return 1 if any(r.errors for r in rates.values()) else 0


def machine() -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import botocore

    gv = subprocess.run(
        ["git", "--version"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    return [
        f"- machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"{gv}, botocore {botocore.__version__}",
    ]


def render(
    args: argparse.Namespace,
    idents: list[Identity],
    rates: dict[str, Rate],
    ls: dict[str, list[float]],
    floor: float,
    load_before: float,
    elapsed: float,
) -> str:
    cmd = "python bench/iam.py " + " ".join(sys.argv[1:])
    root = idents[0].label
    base_rps = rates[root].requests / rates[root].seconds
    lines = [
        f"## IAM: the cost of authorization ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        *machine(),
        f"- command: `{cmd.strip()}` ({elapsed:.0f} s in all)",
        f"- load average (1 min) at the start {load_before:.2f}, at the end "
        f"{os.getloadavg()[0]:.2f}",
        f"- one ccemu server; {args.threads} client threads in one process, each on its own "
        "HTTP/1.1 keep-alive connection, every request signed afresh with botocore's SigV4Auth "
        f"(no boto3 client); {args.seconds:g} s per identity, in {args.rounds} slices "
        "taken in turns by the three identities, each after a 0.3 s warm-up. Client CPU is this "
        "process's user+system time (1.00 = one core busy), server CPU the ccemu process's "
        "(/proc/<pid>/stat), both over the measured seconds",
        "- the 20-statement policy is the inline policy of the user's one group (a user's own "
        "inline policies may hold 2,048 characters in all, these 20 statements take ~3,800): "
        "7 Denys that do not apply (NotIpAddress on aws:SourceIp, "
        "prod-*/infra-* repositories, codecommit:References branch protection, deletions, "
        "triggers, a DateLessThan on aws:CurrentTime, a Null on aws:RequestTag), 12 Allows "
        "of other actions or other resources (StringLike resource patterns, IpAddress, "
        "${aws:username}, aws:ResourceTag, aws:RequestedRegion, NotAction, ForAllValues), "
        "and last the one Allow that grants this repository",
        "",
        "### GetRepository (authorized), requests per second",
        "",
        "| identity | req/s | vs root | median | p95 | server CPU / request | server CPU | "
        "client CPU | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for ident in idents:
        r = rates[ident.label]
        rps = r.requests / r.seconds
        per = r.server_cpu / r.requests if r.requests else float("nan")
        lines.append(
            f"| {ident.label} | {rps:,.0f} | {rps / base_rps:.2f}{X} | "
            f"{ms(pct(r.latencies, 0.5))} | {ms(pct(r.latencies, 0.95))} | {per * 1e6:,.0f} µs | "
            f"{r.server_cpu / r.seconds:.2f} | {r.client_cpu / r.seconds:.2f} | {r.errors} |"
        )
    lines += [
        "",
        f"### git ls-remote (median of {args.git_runs}, real git CLI, a repository with "
        f"{len(BRANCHES)} branches and a tag)",
        "",
        "| identity | median | difference to root |",
        "|---|---|---|",
    ]
    root_ls = statistics.median(ls[root])
    for ident in idents:
        m = statistics.median(ls[ident.label])
        diff = "—" if ident.label == root else f"{(m - root_ls) * 1000:+.1f} ms"
        lines.append(f"| {ident.label} | {ms(m)} | {diff} |")
    lines.append(f"| for reference: ls-remote of a local repository (no HTTP) | {ms(floor)} | |")
    lines += [
        "",
        "An ls-remote is two HTTP requests (protocol v2: the advertisement, then ls-refs), each "
        "authenticated and authorized; the runs alternate between the three identities.",
        "",
        "All ls-remote runs (ms):",
        "",
    ]
    for ident in idents:
        lines.append(f"- {ident.label}: " + ", ".join(f"{x * 1000:.1f}" for x in ls[ident.label]))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per identity")
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="the identities take turns in this many slices of --seconds/--rounds",
    )
    p.add_argument("--threads", type=int, default=4, help="client threads")
    p.add_argument("--git-runs", type=int, default=20, help="ls-remote runs per identity")
    p.add_argument("--out", help="write/update the iam section of this markdown file")
    p.add_argument("--tmp", default=None, help="where the server's data goes")
    args = p.parse_args(argv)

    return run_bench(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
