"""Does ccemu's memory come back after the work is done?

    python bench/memory.py [--repo bench/data/flask.git [--repo ...]] [--clones 16] [--wait 60]
                           [--settle 15] [--src DIR] [--server-arg=--cache-mib=256 ...]
                           [--out bench/RESULTS.md]

Starts `ccemu serve` on a new data dir and records its resident memory (VmRSS from
/proc/<pid>/status) at each step: idle after start; for each `--repo`, after `git push --mirror`
of it into three new repositories, after deleting them, after pushing it into a fourth (kept);
after `--settle` seconds of idle, during one `git clone --bare` of the largest kept repository
alone; during and after `--clones` parallel clones spread over the kept repositories; then every
10 s for `--wait` seconds of idle. Where the server has `GET /_ccemu/stats`, its cache
accounting is printed alongside.

`--server-env NAME=VALUE` sets a variable for the server only (MALLOC_ARENA_MAX=2, say);
`--src DIR` runs the server from another checkout (to measure an older version the same way).
Prints a Markdown block for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from git_http import (  # a sibling script, not a package
    ROOT,
    BenchError,
    Ccemu,
    _children,
    _stop_all,
    git_env,
    machine,
    read_status,
    run,
    write_section,
)

MIB = 1024  # VmRSS is in KiB


class Server(Ccemu):
    """`ccemu serve` started from `src` (this checkout unless told otherwise)."""

    def __init__(
        self,
        tmp: Path,
        env: dict[str, str],
        src: Path,
        extra: Sequence[str],
        server_env: Sequence[str] = (),
    ) -> None:
        data = tmp / "ccemu-data"
        ready = tmp / "ccemu-ready.json"
        self.log = tmp / "ccemu.log"
        cmd = [sys.executable, "-m", "emulator", "serve", "--port", "0", "--ssh-port", "0"]
        cmd += ["--data-dir", str(data), "--ready-file", str(ready), *extra]
        environ = dict(env, PYTHONPATH=str(src))
        environ.update(item.split("=", 1) for item in server_env)
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(
                cmd, stdout=logf, stderr=subprocess.STDOUT, env=environ, cwd=src
            )
        _children.append(self.proc)
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"ccemu did not start:\n{self.tail_log()}")
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        self.base = info["http"]
        self.host_port = self.base.split("://", 1)[1]
        self.pid = self.proc.pid

    def rss_mib(self) -> float:
        return read_status(self.pid, "VmRSS") / MIB

    def stats(self) -> str:
        """The server's own account of its caches, where it has one."""
        try:
            with urllib.request.urlopen(self.base + "/_ccemu/stats", timeout=30) as resp:
                data = json.loads(resp.read())
        except OSError:
            return ""
        cache = data.get("cache", {})
        return (
            f"cache {cache.get('bytes', 0) / 2**20:.1f} MiB in {cache.get('entries', 0)} entries;"
            f" trims {data.get('memory', {}).get('trims', 0)}"
        )


class Peak:
    """The highest VmRSS seen while a step runs (sampled every 20 ms)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak = 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss_mib())
            self._stop.wait(0.02)

    def stop(self) -> float:
        self._stop.set()
        self._t.join()
        return self.peak


def bench(args: argparse.Namespace) -> str:
    repos = [Path(r).resolve() for r in args.repo or [ROOT / "bench" / "data" / "flask.git"]]
    for repo in repos:
        if not (repo / "HEAD").exists():
            raise BenchError(f"{repo} is not a bare repository (see --repo)")
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-memory-"))
    rows: list[tuple[str, float, float | None, str]] = []
    try:
        env = git_env(tmp / "home")
        server = Server(tmp, env, Path(args.src).resolve(), args.server_arg, args.server_env)
        started = time.monotonic()

        def record(step: str, peak: float | None = None) -> None:
            rss = server.rss_mib()
            rows.append((step, rss, peak, server.stats()))
            print(f"{time.monotonic() - started:7.1f} s  {rss:7.1f} MiB  {step}", flush=True)

        time.sleep(2)
        record("idle after start")

        def push(name: str, repo: Path) -> None:
            server.create(name)
            run(["git", "push", "-q", "--mirror", server.url(name)], env, cwd=repo)

        kept: list[str] = []
        for r, repo in enumerate(repos):
            for i in range(3):
                p = Peak(server)
                push(f"mirror-{r}-{i}", repo)
                record(f"{repo.name}: mirror push {i + 1} of 3", p.stop())
            for i in range(3):
                server.client().delete_repository(repositoryName=f"mirror-{r}-{i}")
            time.sleep(2)
            record(f"{repo.name}: the three deleted")
            p = Peak(server)
            push(f"cloned-{r}", repo)
            kept.append(f"cloned-{r}")
            record(f"{repo.name}: mirror push of a fourth", p.stop())

        failures: list[str] = []

        def clone(k: int) -> None:
            name = kept[k % len(kept)]
            cmd = ["git", "clone", "-q", "--bare", server.url(name), str(tmp / f"c{k}")]
            try:
                run(cmd, env)
            except BenchError as exc:
                failures.append(str(exc).splitlines()[-1])
            shutil.rmtree(tmp / f"c{k}", ignore_errors=True)

        # One clone of the largest repository alone: the peak of a single clone.
        largest = max(range(len(repos)), key=lambda r: _pack_bytes(repos[r]))
        time.sleep(args.settle)
        record("settled before one clone")
        p = Peak(server)
        clone(largest)
        record(f"one clone of {repos[largest].name}", p.stop())

        p = Peak(server)
        t0 = time.monotonic()
        threads = [threading.Thread(target=clone, args=(k,)) for k in range(args.clones)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - t0
        names = ", ".join(r.name for r in repos)
        record(f"{args.clones} parallel clones of {names} done ({took:.1f} s)", p.stop())
        if failures:
            print(f"{len(failures)} clones failed: {failures[0]}", flush=True)
            print(server.tail_log(), flush=True)
        for waited in range(10, args.wait + 1, 10):
            time.sleep(10)
            record(f"idle {waited} s after")
        load = os.getloadavg()
    finally:
        _stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    extra = " ".join(
        [
            *(f"--server-arg={a}" for a in args.server_arg),
            *(f"--server-env={e}" for e in args.server_env),
        ]
    )
    lines = [
        *machine(),
        f"- load average (1, 5, 15 min) at the end: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}",
        "- command: `python bench/memory.py"
        + "".join(f" --repo {_shown(r)}" for r in repos)
        + f" --clones {args.clones} --wait {args.wait} --settle {args.settle}"
        + (f" {extra}" if extra else "")
        + "`",
        "",
        "| step | VmRSS MiB | peak during MiB | server's account |",
        "|---|---:|---:|---|",
    ]
    for step, rss, peak, stats in rows:
        shown = "" if peak is None else f"{peak:.0f}"
        lines.append(f"| {step} | {rss:.0f} | {shown} | {stats} |")
    return "\n".join(lines) + "\n"


def _pack_bytes(repo: Path) -> int:
    return sum(f.stat().st_size for f in (repo / "objects" / "pack").glob("*.pack"))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--repo", action="append", help="a bare repository (repeat for several; default flask)"
    )
    parser.add_argument("--clones", type=int, default=16)
    parser.add_argument("--wait", type=int, default=60)
    parser.add_argument(
        "--settle", type=int, default=15, help="seconds of idle before the single clone"
    )
    parser.add_argument("--out", help="write the report as the memory section of this file")
    parser.add_argument("--src", default=str(ROOT), help="the checkout to run the server from")
    parser.add_argument("--server-arg", action="append", default=[])
    parser.add_argument(
        "--server-env", action="append", default=[], help="NAME=VALUE for the server only"
    )
    args = parser.parse_args(argv)
    try:
        report = bench(args)
        print(report)
        if args.out:
            write_section(Path(args.out), "memory", "## Memory that comes back\n\n" + report)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
