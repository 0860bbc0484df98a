"""`GET /_ccemu/stats`: what the server holds in memory, for operators watching a long run.

The pack caches' estimated bytes and entries against their budget (`--cache-mib`) and their idle
budget (`--cache-idle-mib`), also per kind of entry (parsed pack indexes, commit graphs,
reachable sets, a repository's memo of API answers, ...); how many entries were evicted to stay
within it and how many went when the server was idle; what the requests' readers hold of the
objects they resolved, against their shared budget (`--resolved-cache-mib`), and the most they
held at once (`resolved`, see `emulator.repos.resolved_budget`); the process's resident size; and
how often freed memory was given back to the system (`emulator.memory`). Like `/_ccemu/health`
and `/_ccemu/events`, it needs no credentials: ccemu binds loopback unless told otherwise, and
these are counts only.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator.core import Emulator
from emulator.memory import rss_bytes


def stats(emu: Emulator) -> dict[str, object]:
    cache = emu.pack_cache.stats()
    resolved = emu.pack_cache.resolved.stats()
    memory = emu.memory
    last = memory.last_trim
    return {
        "cache": {
            "bytes": cache.bytes,
            "entries": cache.entries,
            "maxBytes": cache.max_bytes,
            "idleBytes": cache.idle_bytes,
            "evicted": cache.evicted,
            "shrunk": cache.shrunk,
            "byKind": {k: {"entries": n, "bytes": b} for k, (n, b) in sorted(cache.kinds.items())},
        },
        "resolved": {
            "bytes": resolved.bytes,
            "maxBytes": resolved.max_bytes,
            "floorBytes": resolved.floor_bytes,
            "peakBytes": resolved.peak_bytes,
            "readers": resolved.readers,
            "evicted": resolved.evicted,
        },
        "memory": {
            "rssBytes": rss_bytes(),
            "trimAvailable": memory.available,
            "trimIdleSeconds": memory.idle,
            "trims": memory.trims,
            "cacheShrunkBytes": memory.shrunk_bytes,
            "lastTrim": None if last is None else {"rssBefore": last[0], "rssAfter": last[1]},
        },
    }


def routes(emu: Emulator) -> list[BaseRoute]:
    async def endpoint(request: Request) -> Response:
        return Response(json.dumps(stats(emu)), media_type="application/json")

    return [Route("/_ccemu/stats", endpoint, methods=["GET"])]
