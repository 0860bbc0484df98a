"""The AWS API front door: requests signed with SigV4 (`POST /`, and any path of a REST service).

The service is read from the signature's credential scope (`.../us-east-1/codecommit/...`), the
way real endpoints differ by host; the request then goes to that service's protocol module.
Every error is rendered once, here or in the protocol module, never in a handler.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import importlib.util
import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from botocore.model import ServiceModel
from starlette.requests import Request
from starlette.responses import Response

from emulator import access_log
from emulator.api import (
    codecommit,
    codestar_notifications,
    iam,
    json_protocol,
    kms,
    query_protocol,
    rest_json_protocol,
    sns,
)
from emulator.api.json_protocol import ApiResponse, render_error
from emulator.api.service import RequestContext, ServiceSpec
from emulator.core import Emulator
from emulator.errors import ClientError, NotImplementedOperation, ServiceError
from emulator.iam import sigv4

log = logging.getLogger(__name__)


def _services() -> dict[str, ServiceSpec]:
    specs = [
        codecommit.SERVICE,
        codestar_notifications.SERVICE,
        iam.SERVICE,
        kms.SERVICE,
        sns.SERVICE,
    ]
    # STS arrives with the credentials work; serve it once its module exists.
    if importlib.util.find_spec("emulator.api.sts") is not None:
        specs.append(importlib.import_module("emulator.api.sts").SERVICE)
    return {spec.signing_name: spec for spec in specs}


SERVICES: Mapping[str, ServiceSpec] = _services()


def warm_services() -> None:
    """Load every service's model and handlers now rather than on its first request."""
    for spec in SERVICES.values():
        spec.warm()


Protocol = Callable[[ServiceSpec, RequestContext, Mapping[str, str], bytes], ApiResponse]
PROTOCOLS: Mapping[str, Protocol] = {
    "json": json_protocol.handle,
    "query": query_protocol.handle,
    "rest-json": rest_json_protocol.handle,
}
ErrorRenderer = Callable[[ServiceModel | None, ServiceError, str], ApiResponse]
ERROR_RENDERERS: Mapping[str, ErrorRenderer] = {
    "json": render_error,
    "query": query_protocol.render_error,
    "rest-json": rest_json_protocol.render_error,
}


def _render_early_error(
    headers: list[tuple[str, str]], exc: ServiceError, request_id: str
) -> ApiResponse:
    """An error before any service ran (authentication, routing), in the protocol of the
    service the request was signed for, when that can be told."""
    auth = next((v for k, v in headers if k.lower() == "authorization"), "")
    try:
        service = sigv4.parse_authorization(auth).scope.service
    except ServiceError:
        service = ""
    spec = SERVICES.get(service)
    if spec is None:
        return render_error(None, exc, request_id)
    renderer = ERROR_RENDERERS.get(spec.model.metadata["protocol"], render_error)
    return renderer(spec.model, exc, request_id)


class RequestTooLarge(ClientError):
    code = "RequestEntityTooLargeException"
    status = 413


class _BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _dispatch(
    emu: Emulator,
    request_id: str,
    method: str,
    raw_path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str | None = None,
    secure_transport: bool = False,
) -> ApiResponse:
    """Authenticate, pick the service and its protocol, run the operation (blocking work)."""
    verified = sigv4.verify(
        emu.credentials,
        method=method,
        raw_path=raw_path,
        query=query,
        headers=headers,
        body=body,
    )
    access_log.note_principal(verified.identity.principal.arn)
    spec = SERVICES.get(verified.scope.service)
    protocol = PROTOCOLS.get(spec.model.metadata["protocol"]) if spec is not None else None
    if spec is None or protocol is None:
        raise NotImplementedOperation(
            f"ccemu does not implement the AWS service {verified.scope.service[:64]!r}; it"
            f" serves: {', '.join(sorted(SERVICES))}"
        )
    ctx = RequestContext(
        emu=emu,
        principal=verified.identity.principal,
        region=verified.scope.region,
        operation="",
        request_id=request_id,
        source_ip=source_ip,
        secure_transport=secure_transport,
        method=method,
        path=raw_path,
        query=query,
    )
    return protocol(spec, ctx, {k.lower(): v for k, v in headers}, body)


def _to_starlette(resp: ApiResponse) -> Response:
    return Response(resp.body, status_code=resp.status, headers=resp.headers)


# The blocking part of API requests runs here: a plain executor hands a call to a thread for a
# fraction of what anyio's `to_thread` costs (cancel scopes, limiter, run-vars), and a small API
# call is mostly such fixed costs. 40 threads, as anyio's default limiter allows.
_API_THREADS = 40
_executor: ThreadPoolExecutor | None = None


def _api_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(_API_THREADS, thread_name_prefix="ccemu-api")
    return _executor


async def api_endpoint(emu: Emulator, request: Request) -> Response:
    access_log.claim("api")
    request_id = str(uuid.uuid4())
    limit = emu.config.limits.max_api_body
    try:
        body = await _read_body(request, limit)
    except _BodyTooLarge:
        return _to_starlette(
            render_error(
                None,
                RequestTooLarge(f"The request body exceeds the limit of {limit} bytes."),
                request_id,
            )
        )
    raw_path = request.scope.get("raw_path", b"/").decode("latin-1") or "/"
    query = request.scope.get("query_string", b"").decode("latin-1")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
    try:
        # The access log's note of who signed is made in the thread: it runs in this context.
        resp = await asyncio.get_running_loop().run_in_executor(
            _api_executor(),
            contextvars.copy_context().run,
            _dispatch,
            emu,
            request_id,
            request.method,
            raw_path,
            query,
            headers,
            body,
            request.client.host if request.client else None,
            request.scope.get("scheme") == "https",
        )
    except ServiceError as exc:
        # Authentication and routing failures: no handler ran yet.
        resp = _render_early_error(headers, exc, request_id)
    except Exception:
        log.exception("internal error in API request %s", request_id)
        resp = _render_early_error(
            headers, ServiceError("An internal error occurred in ccemu; see its log."), request_id
        )
    return _to_starlette(resp)
