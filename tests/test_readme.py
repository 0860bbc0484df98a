"""What the README promises a new user: every route ccemu serves of its own is in its table, and
the installed `ccemu` is found where the README says."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from starlette.routing import Route

from emulator.config import Config
from emulator.core import Emulator
from emulator.server import build_app

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_ccemu_route_is_documented(tmp_path: Path) -> None:
    emu = Emulator(Config(data_dir=tmp_path / "data"))
    try:
        app = build_app(emu)
    finally:
        emu.close()
    paths = {r.path for r in app.routes if isinstance(r, Route)}
    own = {p for p in paths if p.startswith(("/_ccemu", "/moto-api"))}
    assert "/_ccemu/health" in own and "/_ccemu/reset" in own
    table = README.read_text().split("### ccemu's own routes", 1)[1].split("\n## ", 1)[0]
    documented = {
        re.sub(r"\?.*", "", m) for m in re.findall(r"`(?:GET|POST|DELETE)[^`]* (/[^` ]*)", table)
    }
    documented |= set(re.findall(r"`(/_ccemu/[^` ?]*)", table))
    placeholder = re.compile(r"\{[^}]*\}")
    own = {placeholder.sub("{}", p) for p in own}
    documented = {placeholder.sub("{}", p) for p in documented}
    assert own - documented == set()


def test_readme_says_where_the_installed_ccemu_is() -> None:
    text = README.read_text()
    install = next(ln for ln in text.splitlines() if "pip install -e . &&" in ln)
    assert install.rstrip().endswith(".venv/bin/ccemu serve")
    # the examples run a bare `ccemu`: the README says how that works after the install
    assert "source .venv/bin/activate" in text
    assert Path(sys.prefix, "bin", "ccemu").exists()  # the console script the install makes
