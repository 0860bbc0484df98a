"""Every route ccemu serves of its own (outside the AWS APIs and git) is in the README's table."""

from __future__ import annotations

import re
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
