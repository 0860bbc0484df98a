"""Imports point down: the core never imports a door; only the composition root does."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOORS = ("git_http", "ssh_server", "emulator.api", "console")


TOPS = ("emulator", "git_http", "ssh_server", "console")


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


# The console runs AWS operations exactly as the API door does (validation, declared access,
# handler), so it calls the API's one entry for that rather than repeating any of it.
ALLOWED_DOOR_IMPORTS = {("console", "emulator.api.invoke")}


def test_doors_do_not_import_each_other() -> None:
    offenders = []
    for door in ("git_http", "ssh_server", "console"):
        for path in sorted((ROOT / door).rglob("*.py")):
            for name in _imports(path):
                if (door, name) in ALLOWED_DOOR_IMPORTS:
                    continue
                other = [d for d in DOORS if d != door and name.startswith(d)]
                if other or name == "emulator.server":
                    offenders.append(f"{_module(path)} imports {name}")
    assert offenders == []


# The layers, lowest first: a module may import its own layer's modules and those of any layer
# below, never one above. Doors translate and call the core; inside the core, the KMS and the
# state know nothing of repositories, identities or events (DESIGN.md, "The pieces and which
# way they depend"). A module that is in no layer fails the test until it is given one.
LAYERS: tuple[tuple[str, ...], ...] = (
    # storage and shared definitions
    (
        "emulator",  # the package itself (its version)
        "emulator.errors",
        "emulator.arns",
        "emulator.config",
        "emulator.datadir",
        "emulator.tls",
        "emulator.keygen",
        "emulator.http_protocol",
        "emulator.codecommit_errors",
    ),
    ("emulator.state",),
    ("emulator.kms",),
    ("emulator.iam",),
    ("emulator.repos",),
    ("emulator.events",),
    ("emulator.core",),
    ("emulator.reset",),
    # the doors
    ("emulator.api", "git_http", "ssh_server", "console"),
    # the composition root and what starts it
    ("emulator.server",),
    ("emulator.configure", "emulator.pytest_plugin"),
    ("emulator.cli",),
    ("emulator.__main__",),
)


def _layer(module: str) -> int | None:
    """The layer of `module`: the one holding the longest prefix of its name."""
    best: tuple[int, int] | None = None
    for rank, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                if best is None or len(name) > best[0]:
                    best = (len(name), rank)
    return None if best is None else best[1]


def _project_imports(path: Path) -> set[str]:
    """The project modules `path` imports; `from emulator import tls` counts as
    `emulator.tls`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                base = ROOT.joinpath(*sub.split("."))
                is_module = base.with_suffix(".py").is_file() or base.is_dir()
                names.add(sub if is_module else node.module)
    return {n for n in names if n.split(".")[0] in TOPS}


def _upward_imports() -> list[str]:
    offenders = []
    for top in TOPS:
        for path in sorted((ROOT / top).rglob("*.py")):
            mod = _module(path).removesuffix(".__init__")
            rank = _layer(mod)
            if rank is None:
                offenders.append(f"{mod} is in no layer")
                continue
            for name in sorted(_project_imports(path)):
                target = _layer(name)
                if target is None:
                    offenders.append(f"{mod} imports {name}, which is in no layer")
                elif target > rank:
                    offenders.append(f"{mod} imports {name}, a layer above it")
    return offenders


def test_every_import_runs_down_the_layers() -> None:
    assert _upward_imports() == []


def test_kms_knows_nothing_of_repositories() -> None:
    """The local KMS wraps keys for whoever asks; the repositories' data keys are theirs
    (`emulator.repos.data_keys`), so the KMS never imports the repository service."""
    offenders = [
        f"{_module(path)} imports {name}"
        for path in sorted((ROOT / "emulator" / "kms").rglob("*.py"))
        for name in _project_imports(path)
        if name.startswith(("emulator.repos", "emulator.events", "emulator.iam"))
    ]
    assert offenders == []
