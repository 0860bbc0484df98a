"""Smart-HTTP git under /v1/repos/{name} (placeholder)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from emulator.core import Emulator


def git_routes(emu: Emulator) -> list[BaseRoute]:
    return []
