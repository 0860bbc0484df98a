"""The AWS API front door: `POST /` signed with SigV4 (placeholder until the protocol layer)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.core import Emulator


async def api_endpoint(emu: Emulator, request: Request) -> Response:
    return JSONResponse(
        {"__type": "NotImplementedException", "message": "not implemented"}, status_code=501
    )
