"""`GET /_ccemu/stats`: what the server holds in memory, for operators watching a long run.

The pack caches' estimated bytes and entries against their budget (`--cache-mib`), also per kind
of entry (parsed pack indexes, commit graphs, reachable sets, a repository's memo of API
answers, ...); how many entries were evicted to stay within it; the process's resident size; and
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
    memory = emu.memory
    last = memory.last_trim
    return {
        "cache": {
            "bytes": cache.bytes,
            "entries": cache.entries,
            "maxBytes": cache.max_bytes,
            "evicted": cache.evicted,
            "byKind": {k: {"entries": n, "bytes": b} for k, (n, b) in sorted(cache.kinds.items())},
        },
        "memory": {
            "rssBytes": rss_bytes(),
            "trimAvailable": memory.available,
            "trimIdleSeconds": memory.idle,
            "trims": memory.trims,
            "lastTrim": None if last is None else {"rssBefore": last[0], "rssAfter": last[1]},
        },
    }


def routes(emu: Emulator) -> list[BaseRoute]:
    async def endpoint(request: Request) -> Response:
        return Response(json.dumps(stats(emu)), media_type="application/json")

    return [Route("/_ccemu/stats", endpoint, methods=["GET"])]
