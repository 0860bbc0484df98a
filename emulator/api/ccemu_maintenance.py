"""`POST /_ccemu/maintenance`: run the pending background maintenance of every repository now.

Pack merging and the collection of what no ref reaches run in the background a little after a
push (`emulator.repos.maintenance`). A test or a lab that needs the settled state (a clone that
reuses the stored packs, the disk use of exactly the reachable objects) asks for it here and
gets the answer once it is done, instead of sleeping. Only the default account's root may ask,
with a SigV4 signature (any service name in the scope): it does no harm, but it costs CPU.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator.core import Emulator
from emulator.errors import ServiceError
from emulator.iam import sigv4

_MAX_BODY = 64 * 1024


def _json(status: int, body: dict[str, object]) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _root_problem(emu: Emulator, request: Request, body: bytes) -> str | None:
    """None when the request is signed by the default account's root, else why not."""
    if "authorization" not in request.headers:
        return "sign the request as the root user"
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
    try:
        verified = sigv4.verify(
            emu.credentials,
            method=request.method,
            raw_path=request.scope.get("raw_path", b"/").decode("latin-1"),
            query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
        )
    except ServiceError as exc:
        return exc.message
    principal = verified.identity.principal
    if principal.kind != "Root" or principal.account != emu.config.account:
        return f"only the root user of account {emu.config.account} may run maintenance"
    return None


async def maintenance_endpoint(emu: Emulator, request: Request) -> Response:
    body = await request.body() if int(request.headers.get("content-length") or 0) else b""
    if len(body) > _MAX_BODY:
        return _json(413, {"status": "error", "message": "request body too large"})
    problem = await run_in_threadpool(_root_problem, emu, request, body)
    if problem is not None:
        return _json(403, {"status": "error", "message": problem})
    passes = await run_in_threadpool(emu.maintenance.run_pending)
    return _json(200, {"status": "ok", "passes": passes})


def routes(emu: Emulator) -> list[BaseRoute]:
    async def endpoint(request: Request) -> Response:
        return await maintenance_endpoint(emu, request)

    return [Route("/_ccemu/maintenance", endpoint, methods=["POST"])]
