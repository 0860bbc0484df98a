"""The AWS REST-JSON protocol: the operation is named by the HTTP method and the request URI.

Each operation's `http.requestUri` in botocore's model (`/untagResource/{resourceArn}`, possibly
with a fixed query such as `?tagging`) is matched against the request; members of the input shape
come from the URI labels, the query string, headers, and the JSON body, as their `location`
says. The output is a JSON body (members bound to headers or the status code go there), with
timestamps in the model's `timestampFormat` (epoch seconds by default, as botocore's
`RestJSONParser` expects).

Errors are rendered here and nowhere else: status from the model's error shape, the code in the
`x-amzn-ErrorType` header (where botocore's parser reads it first) and in `__type`, and the
text in `message`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from emulator.api.json_protocol import ApiResponse, SerializationError, call_operation, error_status
from emulator.api.service import RequestContext, ServiceSpec, with_operation
from emulator.errors import ClientError, ServiceError

CONTENT_TYPE = "application/json"


class UnknownOperation(ClientError):
    code = "UnknownOperationException"
    status = 404


@dataclasses.dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    fixed_query: tuple[tuple[str, str], ...]  # `?tagging` in the requestUri: must be present
    operation: str


def _route(op: OperationModel) -> _Route:
    uri = op.http.get("requestUri", "/")
    path, _, fixed = uri.partition("?")
    labels: list[str] = []
    regex = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{") and piece.endswith("}"):
            name = piece[1:-1]
            greedy = name.endswith("+")
            labels.append(name.rstrip("+"))
            # A greedy label ({Key+}) spans slashes; a plain one is a single segment.
            regex += "(.+)" if greedy else "([^/]+)"
        else:
            regex += re.escape(piece)
    fixed_query = tuple(urllib.parse.parse_qsl(fixed, keep_blank_values=True))
    return _Route(
        op.http.get("method", "POST").upper(),
        re.compile(f"^{regex}/?$" if regex != "/" else "^/$"),
        tuple(labels),
        fixed_query,
        op.name,
    )


@cache
def _routes(model: ServiceModel) -> tuple[_Route, ...]:
    routes = [_route(model.operation_model(name)) for name in model.operation_names]
    # Literal paths before labelled ones, longer before shorter: the most specific match wins.
    return tuple(sorted(routes, key=lambda r: (len(r.labels), -len(r.pattern.pattern))))


def match(
    model: ServiceModel, method: str, path: str, query: Mapping[str, list[str]]
) -> tuple[OperationModel, dict[str, str]]:
    """The operation a request names, and its URI labels (percent-decoded)."""
    for route in _routes(model):
        if route.method != method.upper():
            continue
        found = route.pattern.match(path)
        if found is None:
            continue
        if any(k not in query for k, _ in route.fixed_query):
            continue
        labels = {
            name: urllib.parse.unquote(value)
            for name, value in zip(route.labels, found.groups(), strict=True)
        }
        return model.operation_model(route.operation), labels
    raise UnknownOperation(
        f"{method} {path[:200]} is not an operation of {model.metadata.get('serviceId')}."
    )


# -- request ----------------------------------------------------------------------------------


def _scalar(shape: Shape, text: str) -> Any:
    """A value from a URI label, query parameter or header, typed per its shape (the
    validator then reports what does not fit)."""
    kind = shape.type_name
    if kind in ("integer", "long"):
        return int(text) if re.fullmatch(r"-?\d+", text) else text
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    if kind == "timestamp":
        return float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else text
    return text


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationError(f"The request body is not valid JSON: {exc}") from None


def parse_input(
    op: OperationModel,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The operation's input members from every part of the request, by their `location`."""
    shape = op.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    body_members = {
        name: member
        for name, member in shape.members.items()
        if member.serialization.get("location") is None and name != payload
    }
    if payload is not None:
        member = shape.members[payload]
        if member.type_name == "structure":
            params[payload] = _json_body(body)
        elif body:
            params[payload] = body.decode("utf-8", "replace")
    elif body_members:
        doc = _json_body(body)
        if not isinstance(doc, dict):
            raise SerializationError("The request body must be a JSON object.")
        for name, member in body_members.items():
            wire = member.serialization.get("name", name)
            if wire in doc:
                params[name] = doc[wire]
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri" and wire in labels:
            params[name] = _scalar(member, labels[wire])
        elif location == "querystring":
            if member.type_name == "map":
                params[name] = {k: v[-1] for k, v in query.items()}
            elif wire in query:
                if member.type_name == "list":
                    params[name] = [_scalar(member.member, v) for v in query[wire]]
                else:
                    params[name] = _scalar(member, query[wire][-1])
        elif location == "header":
            value = headers.get(wire.lower())
            if value is not None:
                params[name] = _scalar(member, value)
        elif location == "headers":
            prefix = wire.lower()
            found = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
    return params


# -- response ---------------------------------------------------------------------------------


def _timestamp(shape: Shape, value: Any, default: str) -> Any:
    when = value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), UTC)
    fmt = shape.serialization.get("timestampFormat") or default
    if fmt == "iso8601":
        return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if fmt == "rfc822":
        return format_datetime(when.astimezone(UTC), usegmt=True)
    return when.timestamp()


def serialize(shape: Shape, value: Any, default_timestamp: str = "unixTimestamp") -> Any:
    """Handler output as JSON values: None members omitted, wire names from the model."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise TypeError(f"{shape.name}: expected a dict, got {type(value).__name__}")
        unknown = set(value) - set(shape.members)
        if unknown:
            raise TypeError(f"{shape.name} has no members {sorted(unknown)}")
        out = {}
        for name, v in value.items():
            if v is None:
                continue
            member = shape.members[name]
            out[member.serialization.get("name", name)] = serialize(member, v, default_timestamp)
        return out
    if kind == "list":
        return [serialize(shape.member, v, default_timestamp) for v in value]
    if kind == "map":
        return {k: serialize(shape.value, v, default_timestamp) for k, v in value.items()}
    if kind == "timestamp":
        return _timestamp(shape, value, default_timestamp)
    if kind == "blob":
        return base64.b64encode(value).decode()
    return value


def render_output(
    op: OperationModel, result: Mapping[str, Any] | None, request_id: str
) -> ApiResponse:
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}
    status = int(op.http.get("responseCode", 200))
    shape = op.output_shape
    out: dict[str, Any] = {}
    if shape is not None and result is not None:
        body_part: dict[str, Any] = {}
        for name, value in result.items():
            member = shape.members.get(name)
            location = member.serialization.get("location") if member is not None else None
            if value is None or member is None or location is None:
                body_part[name] = value
            elif location == "header":
                wire = member.serialization.get("name", name)
                text = serialize(member, value, "rfc822")
                headers[wire] = json.dumps(text) if isinstance(text, bool) else str(text)
            elif location == "statusCode":
                status = int(value)
        out = serialize(shape, body_part)
    return ApiResponse(status, json.dumps(out).encode(), headers)


def render_error(model: ServiceModel | None, exc: ServiceError, request_id: str) -> ApiResponse:
    body = json.dumps({"__type": exc.code, "message": exc.message}).encode()
    return ApiResponse(
        error_status(model, exc),
        body,
        {
            "Content-Type": CONTENT_TYPE,
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": exc.code,
        },
    )


def handle(
    spec: ServiceSpec, ctx: RequestContext, headers: Mapping[str, str], body: bytes
) -> ApiResponse:
    """Run one REST-JSON request end to end; never raises a ServiceError."""
    model = spec.model
    try:
        path = ctx.path.split("?", 1)[0] or "/"
        query = urllib.parse.parse_qs(ctx.query, keep_blank_values=True)
        op, labels = match(model, ctx.method, path, query)
        ctx = with_operation(spec, ctx, op.name)
        params = parse_input(op, labels, query, headers, body)
        result = call_operation(spec, op, ctx, params)
        return render_output(op, result, ctx.request_id)
    except ServiceError as exc:
        return render_error(model, exc, ctx.request_id)
