"""`POST /_ccemu/reset` and moto's `POST /moto-api/reset`: forget all state (emulator.reset).

Who may reset: the default account's root, signing the request with SigV4 (any service name in
the scope) from anywhere; or an unsigned request from a loopback address that carries the header
`X-Ccemu-Reset: 1` (the pytest fixture sends it). A signed request is always checked, even from
loopback: a wrong signature or another principal gets 403, never a reset. A server bound to
another interface (`--host 0.0.0.0`, a classroom) therefore resets only for the root's signature.

Why the header: every web page the user opens can make the browser POST to 127.0.0.1 (a form,
or `fetch` in `no-cors` mode), and such a "simple" cross-origin request reaches the server
without asking first. A page cannot add a custom header or an `Authorization` header without a
CORS preflight (an `OPTIONS` request), which ccemu never approves, and a browser names the page
in an `Origin` header. So a request that carries `Origin` is refused, signed or not, and an
unsigned one without the header is refused: no page can wipe the server.
"""

from __future__ import annotations

import ipaddress
import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator.core import Emulator
from emulator.errors import ServiceError
from emulator.iam import sigv4
from emulator.reset import reset

_MAX_BODY = 64 * 1024
RESET_HEADER = "x-ccemu-reset"  # `X-Ccemu-Reset: 1` on an unsigned reset


def _json(status: int, body: dict[str, str]) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def _check_root(emu: Emulator, request: Request, body: bytes) -> str | None:
    """None when the request's signature is the default account root's, else why not."""
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
        return f"only the root user of account {emu.config.account} may reset ccemu"
    return None


async def reset_endpoint(emu: Emulator, request: Request) -> Response:
    if "origin" in request.headers:
        # A browser sent this on behalf of a web page (see the module docstring).
        return _json(
            403,
            {
                "status": "error",
                "message": "a reset is not taken from a web page: the request carries an Origin"
                " header",
            },
        )
    declared = request.headers.get("content-length") or "0"
    if not declared.isdigit():
        return _json(400, {"status": "error", "message": "Content-Length is not a number"})
    if int(declared) > _MAX_BODY:
        return _json(413, {"status": "error", "message": "request body too large"})
    body = await request.body() if int(declared) else b""
    if len(body) > _MAX_BODY:
        return _json(413, {"status": "error", "message": "request body too large"})
    signed = "authorization" in request.headers
    if signed:
        problem = await run_in_threadpool(_check_root, emu, request, body)
        if problem is not None:
            return _json(403, {"status": "error", "message": problem})
    elif request.headers.get(RESET_HEADER) != "1":
        return _json(
            403,
            {
                "status": "error",
                "message": "an unsigned reset needs the header X-Ccemu-Reset: 1 (or sign it as the"
                f" root user of account {emu.config.account})",
            },
        )
    elif not _loopback(request.client.host if request.client else None):
        return _json(
            403,
            {
                "status": "error",
                "message": "an unsigned reset is taken only from a loopback address; sign it"
                f" as the root user of account {emu.config.account}",
            },
        )
    await run_in_threadpool(reset, emu)
    return _json(200, {"status": "ok"})


def routes(emu: Emulator) -> list[BaseRoute]:
    async def endpoint(request: Request) -> Response:
        return await reset_endpoint(emu, request)

    return [
        Route("/_ccemu/reset", endpoint, methods=["POST"]),
        Route("/moto-api/reset", endpoint, methods=["POST"]),
    ]
