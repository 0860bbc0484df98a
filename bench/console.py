"""Every console page, timed on a real repository.

    python bench/console.py --repo bench/data/flask.git [--runs N] [--out bench/RESULTS.md]

Pushes the repository into ccemu (`git push --mirror`, encryption at rest on as the server runs
by default), signs in to the console as an IAM user whose policy allows everything, adds what
the pages need to show something (a pull request with a change, a trigger and a notification
rule, an SSH key, Git credentials and an access key), then times each page: a GET with one
HTTP client whose connection is reused (loopback, keep-alive), so the figure is the server's
time to the last byte plus a loopback round trip. Each page is fetched once to warm it, then
`--runs` times interleaved with the other pages; the median and the slowest are reported.
Target: every page under 100 ms median.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from code_api import busiest_file, deepest_folder  # sibling scripts, not a package

from git_http import (
    KEY,
    REGION,
    SECRET,
    BenchError,
    Ccemu,
    git_env,
    git_out,
    machine,
    prepare_repo,
    run,
    run_bench,
    write_section,
)

MARK = "console"
TARGET_MS = 100.0
PASSWORD = "Bench-Passw0rd!"
ACCOUNT = "123456789012"
FLASK_HINT = (
    "no --repo given: measuring the repository bench/git_http.py generates. For the figures "
    "in RESULTS.md, use a real project of at least 25,000 objects, e.g.\n"
    "    git clone --bare https://github.com/pallets/flask bench/data/flask.git\n"
    "    python bench/console.py --repo bench/data/flask.git"
)


@dataclass
class Page:
    name: str
    path: str
    expect: str  # text the page must hold (a page that answers but shows nothing is no figure)
    times: list[float] = field(default_factory=list)
    size: int = 0


def _client(base: str, service: str) -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        service,
        endpoint_url=base,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=BotoConfig(retries={"max_attempts": 1}),
    )


def setup(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> tuple[Any, list[Page]]:
    repo = prepare_repo(args, env)
    print(
        f"repository: {repo.path}\n  {repo.objects:,} objects, {repo.commits:,} commits, "
        f"{repo.refs} refs, default branch {repo.branch}",
        flush=True,
    )
    ccemu = Ccemu(tmp, env)
    name = f"console-{uuid.uuid4().hex[:6]}"
    ccemu.create(name)
    t0 = time.perf_counter()
    run(["git", "-C", str(repo.path), "push", "--quiet", "--mirror", ccemu.url(name)], env)
    print(f"pushed in {time.perf_counter() - t0:.1f} s", flush=True)

    branch = repo.branch
    tip = git_out(env, "rev-parse", branch, cwd=repo.path)
    deep = deepest_folder(env, repo.path, branch)
    busy = busiest_file(env, repo.path, branch, [branch])

    cc = _client(ccemu.base, "codecommit")
    iam = _client(ccemu.base, "iam")
    user = "bench-console"
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    doc = json.dumps({"Version": "2012-10-17", "Statement": [everything]})
    iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=doc)
    key = tmp / "bench_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], env)
    public = key.with_suffix(".pub").read_text()
    iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=public)
    iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")
    iam.create_access_key(UserName=user)

    # A pull request with a change: a branch at the tip, one file edited on it.
    source = "bench/console-pr"
    cc.create_branch(repositoryName=name, branchName=source, commitId=tip)
    content = cc.get_file(repositoryName=name, commitSpecifier=tip, filePath=busy)["fileContent"]
    cc.put_file(
        repositoryName=name,
        branchName=source,
        filePath=busy,
        fileContent=content + b"\n# edited for the console benchmark\n",
        parentCommitId=tip,
    )
    pr = cc.create_pull_request(
        title="Console benchmark",
        description="A change to show.",
        targets=[
            {"repositoryName": name, "sourceReference": source, "destinationReference": branch}
        ],
    )["pullRequest"]["pullRequestId"]
    # Settings with something in them: a trigger and a notification rule to a topic.
    topic = _client(ccemu.base, "sns").create_topic(Name="bench-console")["TopicArn"]
    cc.put_repository_triggers(
        repositoryName=name,
        triggers=[{"name": "all", "destinationArn": topic, "events": ["all"]}],
    )
    _client(ccemu.base, "codestar-notifications").create_notification_rule(
        Name="bench-console",
        EventTypeIds=["codecommit-repository-branches-and-tags-updated"],
        Resource=f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}",
        Targets=[{"TargetType": "SNS", "TargetAddress": topic}],
        DetailType="FULL",
    )

    r = f"/console/repositories/{name}"
    pages = [
        Page("repositories", "/console/repositories", name),
        Page("code (root)", r, "README"),
        Page(f"folder `{deep}`", f"{r}?ref={quote(branch)}&path={quote(deep)}", "td"),
        Page(f"file `{busy}`", f"{r}/file?ref={quote(branch)}&path={quote(busy)}", "line"),
        Page("commits", f"{r}/commits?ref={quote(branch)}", tip[:7]),
        Page("commit (tip)", f"{r}/commit/{tip}", tip),
        Page("branches", f"{r}/branches", branch),
        Page("pull requests", f"{r}/pull-requests", "Console benchmark"),
        Page("pull request", f"{r}/pull-requests/{pr}", "edited for the console benchmark"),
        Page("settings", f"{r}/settings", "bench-console"),
        Page("connection steps", f"{r}/connect", "git clone"),
        Page("security credentials", "/console/credentials", "APKA"),
        Page("events", f"/console/events?repository={name}", f"<td>{name}</td>"),
    ]
    return ccemu, pages


def sign_in(base: str) -> Any:
    import httpx

    c = httpx.Client(base_url=base, headers={"Origin": base}, timeout=120)
    r = c.post(
        "/console/signin",
        data={"kind": "iam", "account": ACCOUNT, "username": "bench-console", "password": PASSWORD},
    )
    if r.status_code != 303:
        raise BenchError(f"sign-in failed: {r.status_code}")
    return c


def measure(c: Any, pages: list[Page], runs: int) -> None:
    def fetch(p: Page) -> float:
        t0 = time.perf_counter()
        r = c.get(p.path)
        dt = time.perf_counter() - t0
        if r.status_code != 200 or p.expect not in r.text:
            raise BenchError(f"{p.name}: HTTP {r.status_code}, {p.expect!r} not in the page")
        p.size = len(r.content)
        return dt

    for p in pages:  # warm: first use of the page's templates and caches
        fetch(p)
    for i in range(runs):
        for p in pages:
            p.times.append(fetch(p))
        print(f"  run {i + 1}/{runs}", flush=True)


def render(args: argparse.Namespace, pages: list[Page], load: tuple[float, float]) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Console pages",
        "",
        f"`python bench/console.py --repo {args.repo or '(generated)'} --runs {args.runs}`,"
        f" {when}.",
        "",
        *machine(),
        f"- load average {load[0]:.2f} at the start, {load[1]:.2f} at the end",
        "",
        "Each page a GET on one kept-alive loopback connection, signed in as an IAM user;"
        f" median and slowest of {args.runs} runs after one warm-up fetch. Target: under"
        f" {TARGET_MS:.0f} ms median.",
        "",
        "| page | median ms | slowest ms | bytes | |",
        "|---|---:|---:|---:|---|",
    ]
    for p in pages:
        med = statistics.median(p.times) * 1000
        worst = max(p.times) * 1000
        mark = "ok" if med < TARGET_MS else "**over**"
        lines.append(f"| {p.name} | {med:.1f} | {worst:.1f} | {p.size:,} | {mark} |")
    lines.append("")
    return "\n".join(lines) + "\n"


def bench(args: argparse.Namespace) -> int:
    load0 = os.getloadavg()[0]
    if not args.repo:
        print(FLASK_HINT, flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-console-bench-", dir=args.tmp))
    atexit.register(shutil.rmtree, tmp, True)
    env = git_env(tmp / "home")
    ccemu, pages = setup(args, tmp, env)
    c = sign_in(ccemu.base)
    try:
        measure(c, pages, args.runs)
    finally:
        c.close()
    report = render(args, pages, (load0, os.getloadavg()[0]))
    print()
    print(report)
    if args.out:
        write_section(Path(args.out), MARK, report)
        print(f"wrote {args.out}")
    over = [p.name for p in pages if statistics.median(p.times) * 1000 >= TARGET_MS]
    return 1 if over else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repo", help="an existing git repository (default: generate one)")
    p.add_argument("--runs", type=int, default=21, help="fetches per page (median reported)")
    p.add_argument("--out", help="write/update this markdown file (e.g. bench/RESULTS.md)")
    p.add_argument("--commits", type=int, default=3000, help="commits of the generated repository")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated repository")
    p.add_argument("--tmp", default=None, help="where the server's data goes")
    args = p.parse_args(argv)

    return run_bench(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
