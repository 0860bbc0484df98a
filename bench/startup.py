"""How long the pytest fixture takes to give a test a ready ccemu.

    python bench/startup.py [--runs N] [--out bench/RESULTS.md]

Measures, median of --runs (alternating where it matters):
- `ccemu serve` from process start to the ready file (every listener accepting: HTTP, https,
  SSH), the way the `ccemu_server` fixture starts it: in a new data dir (a CI run: master key,
  SSH host keys, CA and certificates are made) and again in the same data dir (a kept one);
- the parts of that: the interpreter with ccemu's imports alone, and a bare `python -c pass`;
- ccemu's own bytecode is compiled first, as `pip install` compiles an installed package's, so
  every start reads it; the same imports with ccemu's sources compiled at every start (what an
  editable install run with PYTHONDONTWRITEBYTECODE=1 pays) are measured apart, from a copy of
  the sources without bytecode;
- `POST /_ccemu/reset`, what the `ccemu` fixture does before each test: on an empty server, and
  after a test that made a repository with a pushed commit, an IAM user with keys and a KMS key;
- a whole `pytest` run of one file with one test that uses the `ccemu` fixture, against the same
  file whose test uses no fixture: what the plugin adds to a CI job.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.pytest_plugin import Ccemu, start_server  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from git_http import write_section  # noqa: E402  # a sibling script, not a package


def _median_ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.0f} ms"


def _range_ms(xs: list[float]) -> str:
    return f"{min(xs) * 1000:.0f} to {max(xs) * 1000:.0f} ms"


def _timed(cmd: list[str], **kw: object) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - t


def _git(env: dict[str, str], *args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


PACKAGES = ("emulator", "git_http", "ssh_server", "console")


def compile_bytecode() -> None:
    """ccemu's bytecode in its __pycache__ directories, as `pip install` leaves an installed
    package (compileall writes it whatever PYTHONDONTWRITEBYTECODE says)."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *(str(ROOT / p) for p in PACKAGES)],
        check=True,
        capture_output=True,
    )


def uncompiled_copy(tmp: Path) -> Path:
    """A copy of ccemu's sources with no bytecode, imported before the checkout from its dir."""
    src = tmp / "uncompiled"
    for p in PACKAGES:
        shutil.copytree(ROOT / p, src / p, ignore=shutil.ignore_patterns("__pycache__"))
    return src


def measure(runs: int, tmp: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {
        k: [] for k in ("fresh", "kept", "imports", "uncompiled", "python")
    }
    compile_bytecode()
    src = uncompiled_copy(tmp)
    no_bytecode = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    kept_dir = tmp / "kept" / "data"
    start_server(kept_dir).stop()  # make the kept data dir once
    for i in range(runs):
        srv = start_server(tmp / f"fresh-{i}" / "data")
        out["fresh"].append(srv.startup_seconds)
        srv.stop()
        srv = start_server(kept_dir)
        out["kept"].append(srv.startup_seconds)
        srv.stop()
        out["imports"].append(_timed([sys.executable, "-c", "import emulator.server"], cwd=ROOT))
        out["uncompiled"].append(
            _timed([sys.executable, "-c", "import emulator.server"], cwd=src, env=no_bytecode)
        )
        out["python"].append(_timed([sys.executable, "-c", "pass"]))
    return out


def measure_reset(runs: int, tmp: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"empty": [], "used": []}
    srv = start_server(tmp / "reset" / "data")
    handle = Ccemu(srv)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AWS_"))},
        "HOME": str(tmp),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@example.com",
    }
    work = tmp / "work"
    work.mkdir()
    _git(env, "init", "-q", "-b", "main", cwd=work)
    (work / "f.txt").write_text("x\n")
    _git(env, "add", "f.txt", cwd=work)
    _git(env, "commit", "-q", "-m", "one", cwd=work)
    try:
        for _ in range(runs):
            t = time.perf_counter()
            handle.reset()
            out["empty"].append(time.perf_counter() - t)
            handle.create_repository("r")
            _git(env, "push", "-q", handle.git_url("r"), "main", cwd=work)
            iam = handle.client("iam")
            iam.create_user(UserName="u")
            iam.create_access_key(UserName="u")
            handle.client("kms").create_key()
            t = time.perf_counter()
            handle.reset()
            out["used"].append(time.perf_counter() - t)
    finally:
        srv.stop()
    return out


_WITH = """
def test_it(ccemu):
    assert ccemu.client("codecommit").list_repositories()["repositories"] == []
"""
_WITHOUT = """
def test_it():
    assert True
"""


def measure_pytest(runs: int, tmp: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"with": [], "without": []}
    for name, body in (("with", _WITH), ("without", _WITHOUT)):
        d = tmp / f"pytest-{name}"
        d.mkdir()
        (d / "test_one.py").write_text(body)
    for _ in range(runs):
        for name in ("with", "without"):
            d = tmp / f"pytest-{name}"
            out[name].append(
                _timed(
                    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_one.py"],
                    cwd=d,
                )
            )
    return out


def report(
    start: dict[str, list[float]],
    reset: dict[str, list[float]],
    pyt: dict[str, list[float]],
    runs: int,
    took: float,
    load: tuple[float, float],
) -> str:
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    overhead = [w - wo for w, wo in zip(pyt["with"], pyt["without"], strict=True)]
    lines = [
        "## Fixture start-up: from nothing to a ready ccemu"
        f" ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"- machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()},"
        f" {git_version.strip()}",
        f"- command: `python bench/startup.py --runs {runs} --out bench/RESULTS.md`"
        f" ({took:.0f} s in all)",
        f"- load average (1 min) at the start {load[0]:.2f}, at the end {load[1]:.2f}",
        "- the server is started as the `ccemu_server` fixture starts it"
        " (`python -m emulator serve`"
        " with `--port 0 --https-port 0 --ssh-port 0` and a ready file, polled every 5 ms); ready"
        " means every listener accepts connections",
        "- ccemu's bytecode is compiled first (`compileall`, as `pip install` does), so the"
        " server reads it at every start; PYTHONDONTWRITEBYTECODE is"
        f" {'set' if os.environ.get('PYTHONDONTWRITEBYTECODE') else 'not set'} in this"
        " environment",
        "",
        "| what | median | range |",
        "|---|---|---|",
        *(
            f"| {label} | {_median_ms(xs)} | {_range_ms(xs)} |"
            for label, xs in [
                (
                    "`ccemu serve` to ready, new data dir (keys and certificates made)",
                    start["fresh"],
                ),
                ("`ccemu serve` to ready, kept data dir", start["kept"]),
                ("of which: `python -c 'import emulator.server'`", start["imports"]),
                (
                    "the same imports, ccemu's sources compiled at every start (no bytecode)",
                    start["uncompiled"],
                ),
                ("of which: `python -c pass`", start["python"]),
                (
                    "`POST /_ccemu/reset`, empty server (the `ccemu` fixture, per test)",
                    reset["empty"],
                ),
                (
                    "`POST /_ccemu/reset` after a repository with a push, a user with a key,"
                    " a KMS key",
                    reset["used"],
                ),
                ("`pytest` of one test using `ccemu` (whole process)", pyt["with"]),
                ("`pytest` of one test using no fixture", pyt["without"]),
                ("what the plugin adds to a pytest run (paired difference)", overhead),
            ]
        ),
        "",
        "All runs (ms):",
        "",
    ]
    for label, xs in [
        ("serve, new data dir", start["fresh"]),
        ("serve, kept data dir", start["kept"]),
        ("imports", start["imports"]),
        ("imports, no bytecode", start["uncompiled"]),
        ("python -c pass", start["python"]),
        ("reset, empty", reset["empty"]),
        ("reset, used", reset["used"]),
        ("pytest with ccemu", pyt["with"]),
        ("pytest without", pyt["without"]),
    ]:
        lines.append(f"- {label}: " + ", ".join(f"{x * 1000:.0f}" for x in xs))
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--out", help="write/update this markdown file (e.g. bench/RESULTS.md)")
    args = p.parse_args()
    began = time.monotonic()
    load0 = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-bench-startup-"))
    try:
        start = measure(args.runs, tmp)
        reset = measure_reset(args.runs, tmp)
        pyt = measure_pytest(args.runs, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    took = time.monotonic() - began
    text = report(start, reset, pyt, args.runs, took, (load0, os.getloadavg()[0]))
    print(text)
    if args.out:
        write_section(Path(args.out), "startup", text)
    print(json.dumps({k: statistics.median(v) for k, v in start.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
