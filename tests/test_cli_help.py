"""`ccemu --version` and `--help`: the version from the installed package, and each option's
default stated once (never `(default 'test') (default: None)`), with no secret in it."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest

from emulator.cli import build_parser

STATED = re.compile(r"(?:\(|;\s*)default\b")


def _ccemu(*args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    ).stdout


def test_version_is_the_installed_package_version() -> None:
    out = _ccemu("--version")
    assert out.strip() == f"ccemu {importlib.metadata.version('ccemu')}"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _entries(help_text: str) -> dict[str, str]:
    """Option (its first flag) -> its help, lines joined."""
    entries: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        m = re.match(r"^  (-[-\w]+)", line)
        if m:
            current = m.group(1)
            entries[current] = line
        elif current and line.startswith("    "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return {k: " ".join(v.split()) for k, v in entries.items()}


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_help_states_each_default_once(command: str) -> None:
    text = _ccemu(command, "--help")
    entries = _entries(text)
    assert "default: None" not in text and "default: []" not in text
    assert "default: False" not in text
    for action in _subcommands()[command]._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        entry = entries[action.option_strings[0]]
        stated = len(STATED.findall(entry))
        assert stated <= 1, entry
        if action.default not in (None, False, [], argparse.SUPPRESS):
            assert stated == 1, entry  # a real default is stated


def test_help_shows_no_secret_from_the_environment() -> None:
    secret = "wJalrXUtnFEMI-help-secret"
    for command in ("serve", "configure"):
        assert secret not in _ccemu(command, "--help", env={"CCEMU_ROOT_SECRET_KEY": secret})
