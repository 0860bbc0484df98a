"""Event delivery latency: from a `git push` to the HTTP receiver that a trigger or webhook feeds.

    python bench/events.py [--pushes N] [--out bench/RESULTS.md]

Starts one ccemu server and one HTTP receiver on 127.0.0.1 (in this process), and for each of
three paths pushes N single-commit updates of a branch with the real git CLI, one at a time:
1. trigger -> local SNS topic -> confirmed HTTP subscription (the SNS envelope, signed);
2. trigger -> Lambda function ARN mapped to the receiver's URL (--lambda-endpoints);
3. EventBridge-style "CodeCommit Repository State Change" -> webhook (--event-webhook).
For each push it notes when `git push` started and returned and when the receiver got the
delivery; reported are medians (and the 90th percentile) of push start -> delivery and push
return -> delivery (negative when the delivery arrived before git exited).
"""

from __future__ import annotations

import argparse
import atexit
import json
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from git_http import (  # a sibling script, not a package
    KEY,
    REGION,
    SECRET,
    BenchError,
    _stop_all,
    git_env,
    run,
    sigv4_git_password,
    start_process,
    write_section,
)

ACCOUNT = "123456789012"
MARK = "events"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bench"


class Receiver:
    """Notes the arrival time of every POST, keyed by the commit it announces."""

    def __init__(self) -> None:
        self.arrivals: dict[tuple[str, str], float] = {}
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                now = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.note(self.path, json.loads(body), now)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def note(self, path: str, doc: dict[str, Any], when: float) -> None:
        commit = None
        if doc.get("Type") == "SubscriptionConfirmation":
            with self.cond:
                self.arrivals[("confirm", doc["Token"])] = when
                self.cond.notify_all()
            return
        if "Message" in doc:  # an SNS notification
            doc = json.loads(doc["Message"])
        if "Records" in doc:
            commit = doc["Records"][0]["codecommit"]["references"][0]["commit"]
        elif "detail" in doc:
            commit = doc["detail"].get("commitId")
        if commit is not None:
            with self.cond:
                self.arrivals.setdefault((path.strip("/"), commit), when)
                self.cond.notify_all()

    def wait(self, key: tuple[str, str], timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while key not in self.arrivals:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"no delivery for {key} within {timeout}s")
                self.cond.wait(left)
            return self.arrivals[key]

    def token(self) -> str:
        with self.cond:
            while not any(k[0] == "confirm" for k in self.arrivals):
                self.cond.wait(10)
            return next(k[1] for k in self.arrivals if k[0] == "confirm")


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


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def bench(args: argparse.Namespace) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-bench-events-"))
    receiver = Receiver()
    lambdas = tmp / "lambdas.json"
    lambdas.write_text(json.dumps({FUNCTION: receiver.url("lambda")}))
    env = git_env(tmp / "home")
    proc, info = start_process(
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
            str(tmp / "data"),
            "--ready-file",
            str(tmp / "ready.json"),
            "--lambda-endpoints",
            str(lambdas),
            "--event-webhook",
            receiver.url("webhook"),
        ],
        tmp / "ready.json",
        tmp / "ccemu.log",
        env,
    )
    base = info["http"]
    host_port = base.split("://", 1)[1]
    cc, sns = _client(base, "codecommit"), _client(base, "sns")
    topic = sns.create_topic(Name="bench")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url("sns"))
    sns.confirm_subscription(TopicArn=topic, Token=receiver.token())

    paths = {
        "sns": "trigger → SNS topic → HTTP subscriber",
        "lambda": "trigger → Lambda ARN → mapped URL",
        "webhook": "EventBridge-style event → webhook",
    }
    results: dict[str, tuple[list[float], list[float]]] = {}
    push_times: list[float] = []
    for kind in paths:
        name = f"bench-{kind}-{uuid.uuid4().hex[:6]}"
        cc.create_repository(repositoryName=name)
        if kind != "webhook":
            dest = topic if kind == "sns" else FUNCTION
            cc.put_repository_triggers(
                repositoryName=name,
                triggers=[{"name": kind, "destinationArn": dest, "events": ["all"]}],
            )
        path = f"/v1/repos/{name}"
        password = sigv4_git_password(KEY, SECRET, REGION, "127.0.0.1", path)
        url = f"http://{KEY}:{password}@{host_port}{path}"
        work = tmp / f"w-{kind}"
        run(["git", "init", "-q", "-b", "main", str(work)], env)
        from_start: list[float] = []
        from_return: list[float] = []
        for i in range(args.pushes + 1):
            (work / "f.txt").write_text(f"{kind} {i}\n")
            run(["git", "add", "f.txt"], env, cwd=work)
            run(["git", "commit", "-q", "-m", f"c{i}"], env, cwd=work)
            sha = run(["git", "rev-parse", "HEAD"], env, cwd=work).stdout.decode().strip()
            t0 = time.monotonic()
            run(["git", "push", "-q", url, "main"], env, cwd=work)
            t1 = time.monotonic()
            arrived = receiver.wait((kind if kind != "webhook" else "webhook", sha))
            if i == 0:
                continue  # the first push creates the branch: a warm-up
            from_start.append((arrived - t0) * 1000)
            from_return.append((arrived - t1) * 1000)
            push_times.append((t1 - t0) * 1000)
        results[kind] = (from_start, from_return)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)

    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    lines = [
        "## Event delivery latency (bench/events.py)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} · "
        f"{platform.python_implementation()} {platform.python_version()} · {git_version.strip()} · "
        f"`python bench/events.py --pushes {args.pushes}`",
        "",
        f"{args.pushes} single-commit pushes (git CLI over smart HTTP, SigV4 git password) per "
        "path, one at a time, after a warm-up push; the receiver is a threaded `http.server` on "
        "127.0.0.1 in the benchmark's process. Milliseconds.",
        "",
        "| path | push start → delivery, median | p90 | push return → delivery, median | p90 |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, label in paths.items():
        s, r = results[kind]
        lines.append(
            f"| {label} | {statistics.median(s):.1f} | {_pct(s, 0.9):.1f} | "
            f"{statistics.median(r):.1f} | {_pct(r, 0.9):.1f} |"
        )
    lines += [
        "",
        f"`git push` itself (start → return), median: {statistics.median(push_times):.1f} ms. "
        'A negative "push return → delivery" means the delivery arrived before git exited: the '
        "outbox row commits with the ref update, and the worker is woken at once.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--pushes", type=int, default=20, help="measured pushes per path")
    p.add_argument("--out", help="write/update this markdown file (e.g. bench/RESULTS.md)")
    args = p.parse_args(argv)
    atexit.register(_stop_all)
    try:
        report = bench(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        _stop_all()
    print(report)
    if args.out:
        write_section(Path(args.out), MARK, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
