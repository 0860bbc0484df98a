"""One operation of a served service, run for a principal exactly as the API door runs it.

    out = invoke(emu, principal, "codecommit", "GetFile",
                 {"repositoryName": "demo", "filePath": "README.md"}, source_ip=ip)

The input is validated against the botocore model, the operation's access declaration is
applied by `authorize_call` through the one Authorizer (`codecommit:References` included),
the handler runs and its output is serialized as the JSON protocol sends it (epoch seconds,
base64 blobs): the same path as a signed API request, minus the wire. A refusal is the
ClientError AWS would answer; an `AccessDenied` from the gate carries the action, resource
and evaluation that refused it, so a console can show which statement decided.

A door that is not an AWS wire protocol (the web console) calls this rather than the services,
so it holds no authorization and no business rule of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from emulator.api.endpoint import SERVICES
from emulator.api.json_protocol import call_operation, serialize_output
from emulator.api.service import RequestContext, with_operation
from emulator.core import Emulator
from emulator.errors import NotImplementedOperation
from emulator.iam.principal import Principal


def invoke(
    emu: Emulator,
    principal: Principal,
    service: str,
    operation: str,
    params: Mapping[str, Any] | None = None,
    *,
    region: str | None = None,
    source_ip: str | None = None,
    secure_transport: bool = False,
) -> dict[str, Any]:
    """Run `operation` of `service` (its SigV4 signing name) with `params` (the model's
    camelCase members, JSON values); its output members, or the ServiceError AWS answers."""
    spec = SERVICES.get(service)
    if spec is None or operation not in spec.model.operation_names:
        raise NotImplementedOperation(f"ccemu does not serve {service} {operation}")
    op = spec.model.operation_model(operation)
    ctx = RequestContext(
        emu=emu,
        principal=principal,
        region=region or emu.config.region,
        operation="",
        request_id=str(uuid.uuid4()),
        source_ip=source_ip,
        secure_transport=secure_transport,
    )
    ctx = with_operation(spec, ctx, op.name)
    out = serialize_output(op, call_operation(spec, op, ctx, dict(params or {})))
    return dict(out)
