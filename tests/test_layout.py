"""Imports point down: the core never imports a door; only the composition root does."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOORS = ("git_http", "ssh_server", "emulator.api")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_core_never_imports_a_door() -> None:
    offenders = []
    for path in sorted((ROOT / "emulator").rglob("*.py")):
        mod = _module(path)
        if mod == "emulator.server" or mod.startswith("emulator.api"):
            continue
        for name in _imports(path):
            if name.startswith(DOORS):
                offenders.append(f"{mod} imports {name}")
    assert offenders == []


def test_doors_do_not_import_each_other() -> None:
    offenders = []
    for door in ("git_http", "ssh_server"):
        for path in sorted((ROOT / door).rglob("*.py")):
            for name in _imports(path):
                other = [d for d in DOORS if d != door and name.startswith(d)]
                if other or name == "emulator.server":
                    offenders.append(f"{_module(path)} imports {name}")
    assert offenders == []
