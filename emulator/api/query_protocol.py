"""The AWS query protocol (IAM, STS): a form-encoded body in, XML out.

Input is `Action=Op&Version=...` plus the operation's members flattened the way botocore's
`QuerySerializer` writes them (`Names.member.1`, `Tags.member.1.Key`, `Map.entry.1.key`); this
module inverts that per the input shape, turns the scalars into typed values, and hands them to
the same model-driven validation the JSON protocol uses. Output is
`<OpResponse xmlns=...><OpResult>...</OpResult><ResponseMetadata>...` per the output shape.

Errors are rendered here and nowhere else, as
`<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>` with the
wire code and HTTP status the model gives the error shape.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

from emulator.api.json_protocol import ApiResponse, call_operation
from emulator.api.service import RequestContext, ServiceSpec, with_operation
from emulator.errors import ClientError, ServiceError

CONTENT_TYPE = "text/xml"

# The JSON services' names for authentication failures, and what query services call them
# (AWS's common-errors reference).
_AUTH_CODES = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "IncompleteSignatureException": "IncompleteSignature",
    "NotImplementedException": "InvalidAction",
    "ExpiredTokenException": "ExpiredToken",
    # The gate raises CodeCommit's name; IAM and STS call a denial AccessDenied (HTTP 403).
    "AccessDeniedException": "AccessDenied",
}
_QUERY_STATUS = {"AccessDenied": 403}


class MalformedInput(ClientError):
    code = "MalformedInput"


class InvalidAction(ClientError):
    code = "InvalidAction"


def _error_statuses(model: ServiceModel) -> dict[str, int]:
    """Wire error code -> HTTP status, from the model's exception shapes."""
    found: dict[str, int] = {}
    for name in model.shape_names:
        shape = model.shape_for(name)
        if shape.metadata.get("exception"):
            err = shape.metadata.get("error") or {}
            found[err.get("code", name)] = int(err.get("httpStatusCode", 400))
    return found


_STATUS_CACHE: dict[str, dict[str, int]] = {}


def error_status(model: ServiceModel | None, exc: ServiceError) -> int:
    if model is None:
        return exc.status
    key = model.metadata.get("uid", model.service_name)
    statuses = _STATUS_CACHE.get(key)
    if statuses is None:
        statuses = _STATUS_CACHE[key] = _error_statuses(model)
    return statuses.get(exc.code, exc.status)


def _namespace(model: ServiceModel | None) -> str:
    return str(model.metadata.get("xmlNamespace", "")) if model is not None else ""


def render_error(model: ServiceModel | None, exc: ServiceError, request_id: str) -> ApiResponse:
    code = _AUTH_CODES.get(exc.code, exc.code)
    status = _QUERY_STATUS.get(code) or error_status(model, exc)
    kind = "Receiver" if status >= 500 else "Sender"
    body = (
        f'<ErrorResponse xmlns="{_namespace(model)}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(exc.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return ApiResponse(
        status, body.encode(), {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}
    )


# -- input ------------------------------------------------------------------------------------


def _name(shape: Shape, default: str) -> str:
    return str(shape.serialization.get("name", default))


def _indices(params: Mapping[str, str], prefix: str) -> list[int]:
    """The N of every `{prefix}.N...` key, ascending."""
    found: set[int] = set()
    start = prefix + "."
    for key in params:
        if key.startswith(start):
            head = key[len(start) :].split(".", 1)[0]
            if head.isdigit() and head[0] != "0":
                found.add(int(head))
    return sorted(found)


def _has(params: Mapping[str, str], prefix: str) -> bool:
    return prefix in params or any(k.startswith(prefix + ".") for k in params)


def _scalar(shape: Shape, raw: str, path: str) -> Any:
    kind = shape.type_name
    bad = MalformedInput(f"Invalid value {raw[:100]!r} for {path}: expected a {kind}.")
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise bad from None
    if kind in ("float", "double"):
        try:
            return float(raw)
        except ValueError:
            raise bad from None
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise bad
        return raw.lower() == "true"
    if kind == "blob":
        try:
            base64.b64decode(raw, validate=True)
        except binascii.Error:
            raise bad from None
    return raw


def read_value(shape: Shape, params: Mapping[str, str], prefix: str) -> Any:
    """The value of `shape` serialized under `prefix`, or None if it is absent."""
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = _name(member, name)
            value = read_value(member, params, f"{prefix}.{key}" if prefix else key)
            if value is not None:
                out[name] = value
        return out if out or (prefix and prefix in params) else (None if prefix else out)
    if kind == "list":
        if params.get(prefix) == "":
            return []  # botocore sends an empty list as `Name=`
        flat = shape.serialization.get("flattened")
        base = prefix if flat else f"{prefix}.{_name(shape.member, 'member')}"
        if not _has(params, base):
            return None
        return [read_value(shape.member, params, f"{base}.{i}") for i in _indices(params, base)]
    if kind == "map":
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        if not _has(params, base):
            return None
        key_name, value_name = _name(shape.key, "key"), _name(shape.value, "value")
        result: dict[str, Any] = {}
        for i in _indices(params, base):
            k = params.get(f"{base}.{i}.{key_name}")
            if k is not None:
                result[k] = read_value(shape.value, params, f"{base}.{i}.{value_name}")
        return result
    raw = params.get(prefix)
    return None if raw is None else _scalar(shape, raw, prefix)


def parse_form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedInput(f"The request body is not a valid form: {exc}") from None
    return dict(pairs)


def operation_for(model: ServiceModel, params: Mapping[str, str]) -> OperationModel:
    action = params.get("Action")
    version = model.metadata.get("apiVersion")
    if not action or action not in model.operation_names:
        raise InvalidAction(
            f"Could not find operation {(action or '')[:100]} for version {version}"
        )
    asked = params.get("Version")
    if asked is not None and asked != version:
        raise InvalidAction(f"Could not find operation {action} for version {asked[:40]}")
    return model.operation_model(action)


# -- output -----------------------------------------------------------------------------------


def _timestamp(value: datetime | float) -> str:
    when = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    # IAM writes `2024-01-31T12:00:00Z` (no fraction, Zulu).
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_value(shape: Shape, value: Any, parts: list[str]) -> None:
    """Append the XML content of `value` (without its own element) to `parts`."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise TypeError(f"{shape.name}: expected a mapping, got {type(value).__name__}")
        unknown = set(value) - set(shape.members)
        if unknown:
            raise TypeError(f"{shape.name} has no members {sorted(unknown)}")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                write_element(member, _name(member, name), value[name], parts)
    elif kind == "list":
        item = _name(shape.member, "member")
        for v in value:
            write_element(shape.member, item, v, parts)
    elif kind == "map":
        for k, v in value.items():
            parts.append("<entry>")
            write_element(shape.key, _name(shape.key, "key"), k, parts)
            write_element(shape.value, _name(shape.value, "value"), v, parts)
            parts.append("</entry>")
    elif kind == "timestamp":
        parts.append(_timestamp(value))
    elif kind == "boolean":
        parts.append("true" if value else "false")
    elif kind == "blob":
        parts.append(base64.b64encode(value).decode())
    else:
        parts.append(escape(str(value)))


def write_element(shape: Shape, name: str, value: Any, parts: list[str]) -> None:
    if shape.type_name in ("list", "map") and shape.serialization.get("flattened"):
        for item in value if shape.type_name == "list" else [value]:
            parts.append(f"<{name}>")
            write_value(shape.member if shape.type_name == "list" else shape, item, parts)
            parts.append(f"</{name}>")
        return
    parts.append(f"<{name}>")
    write_value(shape, value, parts)
    parts.append(f"</{name}>")


def render_result(
    model: ServiceModel, op: OperationModel, result: Mapping[str, Any] | None, request_id: str
) -> bytes:
    parts = [f'<{op.name}Response xmlns="{_namespace(model)}">']
    shape = op.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{op.name}Result")
        parts.append(f"<{wrapper}>")
        write_value(shape, dict(result or {}), parts)
        parts.append(f"</{wrapper}>")
    parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    parts.append(f"</{op.name}Response>")
    return "".join(parts).encode()


# -- one request ------------------------------------------------------------------------------


def _call(
    spec: ServiceSpec, op: OperationModel, ctx: RequestContext, params: Mapping[str, str]
) -> Mapping[str, Any] | None:
    """The form's values read as the model's members, then the operation run as every
    protocol runs it (`json_protocol.call_operation`)."""
    values: dict[str, Any] = {}
    if op.input_shape is not None:
        values = read_value(op.input_shape, params, "") or {}
    return call_operation(spec, op, ctx, values)


def handle(
    spec: ServiceSpec, ctx: RequestContext, headers: Mapping[str, str], body: bytes
) -> ApiResponse:
    """Run one query-protocol request end to end; never raises a ServiceError."""
    model = spec.model
    try:
        params = parse_form(body)
        op = operation_for(model, params)
        ctx = with_operation(spec, ctx, op.name)
        result = _call(spec, op, ctx, params)
        return ApiResponse(
            200,
            render_result(model, op, result, ctx.request_id),
            {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": ctx.request_id},
        )
    except ServiceError as exc:
        return render_error(model, exc, ctx.request_id)
