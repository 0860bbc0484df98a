"""What every service module provides to the protocol layer, and what a handler receives.

A service module (e.g. `emulator.api.codecommit`) exposes one `ServiceSpec`: its botocore model,
its handlers named `xform_name(Operation)`, how it turns input validation failures into its
own errors and, where it declares them, who may call each operation (`Access`). The protocol
modules (`json_protocol`, `query_protocol`, `rest_json_protocol`) know nothing of any
particular service.

A service that declares access has every call authorized here, by `authorize_call`, after the
model has validated the input and before the handler runs: the operation's IAM action, the
resources it acts on and the condition keys it fills in (`codecommit:References`) are written
once, in one table, so no handler authorizes on its own and none can forget a key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, Protocol

import botocore.session
from botocore.model import OperationModel, ServiceModel

from emulator import access_log
from emulator.api.shapes import Invalid
from emulator.core import Emulator
from emulator.errors import ServiceError
from emulator.iam.principal import Principal


@dataclass(frozen=True)
class RequestContext:
    """One authenticated API call: who, where, which operation."""

    emu: Emulator
    principal: Principal
    region: str
    operation: str
    request_id: str
    source_ip: str | None = None  # the client's address, for aws:SourceIp
    secure_transport: bool = False  # whether the request came over TLS (aws:SecureTransport)
    # The HTTP request line, for protocols that name the operation by it (REST-JSON).
    method: str = "POST"
    path: str = "/"  # as received, still percent-encoded
    query: str = ""

    @property
    def account(self) -> str:
        return self.principal.account


Handler = Callable[..., Mapping[str, Any] | None]
"""`handler(ctx, **input_members_in_snake_case) -> output members (camelCase) or None`."""

ValidationMapper = Callable[[OperationModel, list[Invalid]], ServiceError]
Params = Mapping[str, Any]
"""An operation's input as the model names its members (camelCase), already validated."""


class ResourceRule(Protocol):
    """Where an operation's resources come from: the ARNs it is authorized against."""

    @property
    def members(self) -> tuple[str, ...]:
        """The input members the rule reads (a test checks them against the model)."""
        ...

    def arns(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        """The ARNs to authorize, or a ClientError for input that names no valid resource."""
        ...


class ContextRule(Protocol):
    """A condition key an operation fills in from its input."""

    @property
    def key(self) -> str: ...

    @property
    def members(self) -> tuple[str, ...]: ...

    def values(self, ctx: RequestContext, params: Params) -> Sequence[str]:
        """The key's values for this request; none leaves the key out of the context."""
        ...


@dataclass(frozen=True)
class Access:
    """Who may call one operation: the IAM action, on which resources, with which keys."""

    action: str
    resource: ResourceRule
    context: tuple[ContextRule, ...] = ()

    @property
    def context_keys(self) -> frozenset[str]:
        return frozenset(rule.key for rule in self.context)


class MissingAccessDeclaration(ServiceError):
    """An operation of a service that declares access has no declaration: a defect of ccemu,
    refused rather than served unchecked."""


class ServiceSpec:
    """A service's botocore model and handlers, loaded on first use.

    Loading botocore's models is most of the API door's import time (about 150 ms for all of
    them); deferring it keeps `ccemu serve` quick to become ready, and `warm()` loads them in
    the background once it is.
    """

    def __init__(
        self,
        signing_name: str,
        model_name: str,
        handlers: Callable[[ServiceModel], Mapping[str, Handler]],
        validation_error: ValidationMapper,
        access: Mapping[str, Access] | None = None,
    ) -> None:
        self.signing_name = signing_name  # the service in the SigV4 credential scope
        self.model_name = model_name
        self._collect = handlers
        self.validation_error = validation_error
        # Operation -> Access for a service whose calls the protocol layer authorizes; None for
        # one whose handlers still authorize themselves.
        self.access = access

    @cached_property
    def model(self) -> ServiceModel:
        return load_model(self.model_name)

    @cached_property
    def handlers(self) -> Mapping[str, Handler]:
        """Operation name -> handler."""
        return self._collect(self.model)

    def warm(self) -> None:
        self.handlers  # noqa: B018 - loads the model too


def with_operation(spec: ServiceSpec, ctx: RequestContext, operation: str) -> RequestContext:
    """The context of one operation, its IAM action (`codecommit:GetRepository`) noted for the
    access log: every protocol names the operation here, before validating its input."""
    access_log.note_action(f"{spec.signing_name}:{operation}")
    return dataclasses.replace(ctx, operation=operation)


def authorize_call(spec: ServiceSpec, op: str, ctx: RequestContext, params: Params) -> None:
    """Authorize one call as its declaration says, through the one gate; raises
    `AccessDeniedException` (or the ClientError for input that names no valid resource)."""
    if spec.access is None:
        return
    access = spec.access.get(op)
    if access is None:
        raise MissingAccessDeclaration(f"ccemu declares no access rule for {op}; refused")
    context: dict[str, Sequence[str]] = {}
    for rule in access.context:
        values = rule.values(ctx, params)
        if values:
            context[rule.key] = list(values)
    for arn in access.resource.arns(ctx, params):
        ctx.emu.authorizer.authorize(
            ctx.principal,
            access.action,
            arn,
            context,
            source_ip=ctx.source_ip,
            secure_transport=ctx.secure_transport,
        )


@cache
def load_model(service: str) -> ServiceModel:
    """botocore's model for `service`, loaded once per process (it is immutable data)."""
    return botocore.session.get_session().get_service_model(service)


def collect_handlers(model: ServiceModel, namespace: Mapping[str, object]) -> dict[str, Handler]:
    """The handlers defined in `namespace`, found by the name botocore gives each operation."""
    from botocore import xform_name

    found: dict[str, Handler] = {}
    for op in model.operation_names:
        fn = namespace.get(xform_name(op))
        if callable(fn):
            found[op] = fn
    return found
