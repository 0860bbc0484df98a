"""What every service module provides to the protocol layer, and what a handler receives.

A service module (e.g. `emulator.api.codecommit`) exposes one `ServiceSpec`: its botocore model,
its handlers named `xform_name(Operation)`, and how it turns input validation failures into its
own errors. The protocol modules (`json_protocol`, later `query_protocol`) know nothing of any
particular service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel

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
    ) -> None:
        self.signing_name = signing_name  # the service in the SigV4 credential scope
        self.model_name = model_name
        self._collect = handlers
        self.validation_error = validation_error

    @cached_property
    def model(self) -> ServiceModel:
        return load_model(self.model_name)

    @cached_property
    def handlers(self) -> Mapping[str, Handler]:
        """Operation name -> handler."""
        return self._collect(self.model)

    def warm(self) -> None:
        self.handlers  # noqa: B018 - loads the model too


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
