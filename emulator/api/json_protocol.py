"""The AWS JSON 1.0/1.1 protocol: `X-Amz-Target: Prefix.Operation`, a JSON body in and out.

Errors are rendered here and nowhere else: `{"__type": code, "message": ...}` with the status the
model gives the error shape (400 unless its `error` metadata says otherwise).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore import xform_name
from botocore.model import OperationModel, ServiceModel

from emulator.api.service import RequestContext, ServiceSpec, authorize_call, with_operation
from emulator.api.shapes import decode, serialize, validate
from emulator.errors import ClientError, NotImplementedOperation, ServiceError


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class UnknownOperation(ClientError):
    code = "UnknownOperationException"


class SerializationError(ClientError):
    code = "SerializationException"


def content_type(model: ServiceModel | None) -> str:
    version = (model.metadata.get("jsonVersion") if model else None) or "1.1"
    return f"application/x-amz-json-{version}"


def error_status(model: ServiceModel | None, exc: ServiceError) -> int:
    """The HTTP status for an error: the model's, when the code is one of its error shapes."""
    if model is not None and exc.code in model.shape_names:
        shape = model.shape_for(exc.code)
        if shape.metadata.get("exception"):
            return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    return exc.status


def render_error(model: ServiceModel | None, exc: ServiceError, request_id: str) -> ApiResponse:
    body = json.dumps({"__type": exc.code, "message": exc.message}).encode()
    return ApiResponse(
        error_status(model, exc),
        body,
        {
            "Content-Type": content_type(model),
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": exc.code,
        },
    )


def operation_for(model: ServiceModel, target: str | None) -> OperationModel:
    prefix = model.metadata.get("targetPrefix", "")
    if not target:
        raise UnknownOperation("Missing X-Amz-Target header: expected Service.Operation.")
    want, _, name = target.partition(".")
    if want != prefix or name not in model.operation_names:
        raise UnknownOperation(
            f"{target[:200]} is not an operation of {model.metadata.get('serviceId')}"
            f" (expected {prefix}.<Operation>)."
        )
    return model.operation_model(name)


def parse_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise SerializationError("The request body must be a JSON object.")
    return params


def call_operation(
    spec: ServiceSpec, op: OperationModel, ctx: RequestContext, params: dict[str, Any]
) -> Mapping[str, Any] | None:
    """Run one operation whose input is parsed: validate it against the model, authorize it
    as the service declares (`authorize_call`), call its handler. Every protocol and
    `emulator.api.invoke` call a handler through here."""
    handler = spec.handlers.get(op.name)
    if handler is None:
        raise NotImplementedOperation(
            f"ccemu does not implement {spec.model.metadata.get('serviceId')} {op.name} yet"
        )
    failures = validate(op.input_shape, params)
    if failures:
        raise spec.validation_error(op, failures)
    authorize_call(spec, op.name, ctx, params)
    kwargs: dict[str, Any] = {}
    if op.input_shape is not None:
        for name, shape in op.input_shape.members.items():
            if params.get(name) is not None:
                kwargs[xform_name(name)] = decode(shape, params[name])
    return handler(ctx, **kwargs)


def serialize_output(op: OperationModel, result: Mapping[str, Any] | None) -> Any:
    """A handler's output as the JSON protocol sends it (epoch seconds, base64 blobs)."""
    if op.output_shape is None or result is None:
        return {}
    return serialize(op.output_shape, dict(result))


def handle(
    spec: ServiceSpec, ctx: RequestContext, headers: Mapping[str, str], body: bytes
) -> ApiResponse:
    """Run one JSON-protocol request end to end; never raises a ServiceError."""
    model = spec.model
    try:
        op = operation_for(model, headers.get("x-amz-target"))
        ctx = with_operation(spec, ctx, op.name)
        out = serialize_output(op, call_operation(spec, op, ctx, parse_body(body)))
        return ApiResponse(
            200,
            json.dumps(out).encode(),
            {"Content-Type": content_type(model), "x-amzn-RequestId": ctx.request_id},
        )
    except ServiceError as exc:
        return render_error(model, exc, ctx.request_id)


def handler_signature_problems(spec: ServiceSpec) -> list[str]:
    """Handlers whose keyword parameters differ from their operation's input members (a check
    for tests: the model, not the handler, decides what a request may carry)."""
    problems = []
    for op_name, handler in spec.handlers.items():
        op = spec.model.operation_model(op_name)
        members = {xform_name(m) for m in (op.input_shape.members if op.input_shape else {})}
        params = set(inspect.signature(handler).parameters) - {"ctx"}
        if members != params:
            problems.append(f"{op_name}: model {sorted(members)} != handler {sorted(params)}")
    return problems
