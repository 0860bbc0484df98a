"""Pull request reads at scale: ListPullRequests, GetPullRequest and GetCommentsForPullRequest
with 1,000 pull requests and 10,000 comments in one repository, against the same calls in a
repository with 10 pull requests and 10 comments, through boto3 against a real `ccemu serve`.

    python bench/pull_requests.py [--prs N] [--comments N] [--runs N] [--out bench/RESULTS.md]

Target: each call under 20 ms median, its cost growing with the page asked
for, not with the repository. Setup (creating the pull requests and comments) is not timed.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.pytest_plugin import start_server  # noqa: E402

SECTION = "## Pull requests at scale"


def client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "codecommit",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def populate(url: str, name: str, prs: int, comments: int) -> tuple[str, str]:
    """A repository with `prs` open pull requests and `comments` comments on the first;
    returns (the first pull request's id, a pull request id near the end)."""
    cc = client(url)
    cc.create_repository(repositoryName=name)
    base = cc.put_file(repositoryName=name, branchName="main", fileContent=b"a\n", filePath="a")
    cc.create_branch(repositoryName=name, branchName="feature", commitId=base["commitId"])
    cc.put_file(
        repositoryName=name,
        branchName="feature",
        fileContent=b"b\n",
        filePath="b",
        parentCommitId=base["commitId"],
    )
    target = {"repositoryName": name, "sourceReference": "feature", "destinationReference": "main"}
    clients = [client(url) for _ in range(8)]

    def create(i: int) -> str:
        pr = clients[i % 8].create_pull_request(title=f"change {i}", targets=[target])
        return str(pr["pullRequest"]["pullRequestId"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(create, range(prs)))
    first = cc.get_pull_request(pullRequestId=ids[0])["pullRequest"]
    after = first["pullRequestTargets"][0]["sourceCommit"]
    before = first["pullRequestTargets"][0]["destinationCommit"]

    def comment(i: int) -> None:
        clients[i % 8].post_comment_for_pull_request(
            pullRequestId=ids[0],
            repositoryName=name,
            beforeCommitId=before,
            afterCommitId=after,
            content=f"comment {i}",
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(comment, range(comments)))
    return ids[0], ids[-1]


def timed(call: Callable[[], Any], runs: int) -> list[float]:
    for _ in range(5):
        call()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prs", type=int, default=1000)
    p.add_argument("--comments", type=int, default=10000)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data")
        try:
            url = server.endpoint_url
            t0 = time.perf_counter()
            big = populate(url, "big", args.prs, args.comments)
            small = populate(url, "small", 10, 10)
            setup = time.perf_counter() - t0
            cc = client(url)
            rows = []
            for label, (first, last), repo in (
                (f"{args.prs} pull requests, {args.comments} comments", big, "big"),
                ("10 pull requests, 10 comments", small, "small"),
            ):
                cases = {
                    "ListPullRequests (first page, 100)": lambda r=repo: cc.list_pull_requests(
                        repositoryName=r, maxResults=100
                    ),
                    "GetPullRequest (the newest)": lambda i=last: cc.get_pull_request(
                        pullRequestId=i
                    ),
                    "GetCommentsForPullRequest (first page, 100)": lambda i=first: (
                        cc.get_comments_for_pull_request(pullRequestId=i, maxResults=100)
                    ),
                }
                for case, call in cases.items():
                    xs = timed(call, args.runs)
                    rows.append((case, label, statistics.median(xs), max(xs)))
        finally:
            server.stop()
    load = os.getloadavg()[0]
    lines = [
        f"{SECTION} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"- machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; "
        f"Python {platform.python_version()}; load average (1 min) at the end {load:.2f}",
        f"- command: `python bench/pull_requests.py --prs {args.prs} --comments {args.comments}"
        f" --runs {args.runs}`; setup (not timed) {setup:.0f} s",
        f"- boto3 against `ccemu serve`, median and maximum of {args.runs} calls; target: each"
        " under 20 ms median, growing with the page, not with the repository",
        "",
        "| call | repository | median ms | max ms | under 20 ms |",
        "|---|---|---:|---:|---|",
    ]
    for case, label, median, worst in rows:
        ok = "yes" if median < 0.020 else "**no**"
        lines.append(f"| {case} | {label} | {median * 1000:.1f} | {worst * 1000:.1f} | {ok} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        old = args.out.read_text() if args.out.exists() else ""
        old = re.sub(rf"\n{re.escape(SECTION)}.*?(?=\n## |\Z)", "", old, flags=re.S)
        args.out.write_text(old.rstrip("\n") + "\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
