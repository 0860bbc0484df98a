"""The repository carries what its tests need: nothing in it reads a path outside the checkout.

`.ci/run` proves it by running the suite in a clone with nothing beside it; this test catches the
usual ways of reaching out (a `../` path, `parents[N]` climbing past the checkout) sooner."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A line that sends such a path to ccemu as a request's data (a traversal the server must
# refuse) says so with this comment: it reads nothing.
DATA = "# request data, not a path read here"
OUTSIDE = re.compile(
    r"""(["'/]\.\./\.\.|["']\.\./[A-Za-z_]|parents\[[2-9]\]|Path\(["']/(?:work|home|srv)/)"""
)


def test_no_file_reads_outside_the_checkout() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "emulator", "git_http", "ssh_server", "tests", "bench", "fixtures"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    offenders = []
    for rel in tracked:
        if not rel.endswith((".py", ".sh", ".toml", ".cfg", ".ini")) or rel == __file__:
            continue
        for n, line in enumerate((ROOT / rel).read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line) and DATA not in line and "test_self_contained" not in rel:
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []


def test_ci_runs_the_suite_in_a_clone_with_nothing_beside_it() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "git clone" in script and "mktemp -d" in script
    readme = (ROOT / "README.md").read_text()
    test_command = next(line for line in readme.splitlines() if "pytest" in line)
    assert test_command.strip() in script
