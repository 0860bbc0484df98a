"""The repository's top level is fixed: a plain clone holds these and nothing else."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "pyproject.toml",
    "emulator",
    "git_http",
    "ssh_server",
    "console",
    "tests",
    "fixtures",
    "README.md",
    ".ci",
    "bench",
    ".gitignore",
}


def test_top_level_holds_only_the_fixed_entries() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    tops = {path.split("/", 1)[0] for path in tracked}
    assert tops <= ALLOWED, sorted(tops - ALLOWED)
