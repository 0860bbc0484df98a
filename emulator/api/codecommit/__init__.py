"""CodeCommit (`CodeCommit_20150413`): one handler per operation, named `xform_name(Operation)`,
in one module per area of the API.

A handler calls the repository service (or `emulator.repos.branches`, `emulator.events`) and
returns the output members (camelCase, as the model names them). The protocol layer validates
input against the model and authorizes the call as `emulator.api.codecommit_access` declares
it (every operation of the model is declared there, served or not) before a handler runs, and
serializes what it returns: a handler authorizes nothing itself.

An area module (`repositories`, `tags`, `branches`, `triggers`, ...) holds:

- its handlers: functions defined in the module and named after an operation (functions it
  imports are never taken for handlers);
- optionally `MEMBER_ERRORS`: input member -> (CodeCommit's error when the member is missing,
  its error when the member breaks a model constraint);
- optionally `MEMBER_VALIDATION`: input member -> the function that turns a constraint broken
  inside that (structured) member into CodeCommit's error.

A new area (code, merges, pull requests, comments) is one new module here, named in the import
of the areas below and in `AREAS`; a test fails while a module of the package is missing from
`AREAS`, and two areas may not serve the same operation nor map one member to two errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from botocore.model import OperationModel, ServiceModel

from emulator.api.codecommit import (
    approval_templates,
    approvals,
    branches,
    code,
    comments,
    commits,
    merges,
    pull_requests,
    repositories,
    tags,
    triggers,
)
from emulator.api.codecommit_access import ACCESS
from emulator.api.service import Handler, ServiceSpec, collect_handlers
from emulator.api.shapes import Invalid, validation_message
from emulator.codecommit_errors import MESSAGES, error
from emulator.errors import ServiceError, client_error

AREAS: tuple[ModuleType, ...] = (
    approval_templates,
    approvals,
    branches,
    code,
    comments,
    commits,
    merges,
    pull_requests,
    repositories,
    tags,
    triggers,
)
"""Every area module of the package, whose handlers are served (`common` is no area)."""

StructuredError = Callable[[list[Invalid]], ServiceError]

# Members every area shares.
_COMMON_MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "nextToken": (None, "InvalidContinuationTokenException"),
}


def _area_handlers(model: ServiceModel) -> dict[str, Handler]:
    found: dict[str, Handler] = {}
    for area in AREAS:
        own = {k: v for k, v in vars(area).items() if getattr(v, "__module__", "") == area.__name__}
        for op, handler in collect_handlers(model, own).items():
            if op in found:
                raise RuntimeError(f"{op} is served by two CodeCommit areas")
            found[op] = handler
    return found


def _merged(attribute: str) -> dict[str, Any]:
    """The areas' `attribute` mappings, merged into one."""
    merged: dict[str, Any] = {}
    for area in AREAS:
        part: Mapping[str, Any] = getattr(area, attribute, {})
        for member, value in part.items():
            if merged.get(member, value) != value:
                raise RuntimeError(f"CodeCommit areas disagree on the errors of {member}")
            merged[member] = value
    return merged


def _member_errors() -> dict[str, list[tuple[str | None, str]]]:
    """The areas' `MEMBER_ERRORS`, each member with every pair an area gives it: a member two
    areas share may have other errors in each (`newRuleContent` is a pull request's rule in
    one, a template's in the other), and an operation answers with the pair its model lists."""
    merged: dict[str, list[tuple[str | None, str]]] = {
        member: [pair] for member, pair in _COMMON_MEMBER_ERRORS.items()
    }
    for area in AREAS:
        part: Mapping[str, tuple[str | None, str]] = getattr(area, "MEMBER_ERRORS", {})
        for member, pair in part.items():
            pairs = merged.setdefault(member, [])
            if pair not in pairs:
                pairs.append(pair)
    return merged


# Input member -> (error when it is missing, error when it breaks a constraint). CodeCommit
# answers these with its own exceptions where the operation's model lists them.
_MEMBER_ERRORS = _member_errors()
_MEMBER_VALIDATION: dict[str, StructuredError] = _merged("MEMBER_VALIDATION")


def validation_error(op: OperationModel, failures: list[Invalid]) -> ServiceError:
    if any(f.reason == "type" for f in failures):
        bad = next(f for f in failures if f.reason == "type")
        return client_error("SerializationException", bad.message)
    first = failures[0]
    structured = _MEMBER_VALIDATION.get(first.member)
    if structured is not None:
        return structured(failures)
    known = {shape.name for shape in op.error_shapes}
    # An empty string where a name is required counts as missing, as CodeCommit treats it.
    empty = first.path == first.member and (
        (first.reason == "length" and "greater than" in first.message)
        or (first.reason == "pattern" and first.message.startswith("Value '' at"))
    )
    code = "ValidationException"
    for required, invalid in _MEMBER_ERRORS.get(first.member, []):
        missing = first.reason == "required" or (empty and required is not None)
        found = required if missing else invalid
        if found is not None and found in known:
            code = found
            break
    if code in MESSAGES and "{" not in MESSAGES[code].text:
        # CodeCommit answers with its exception's own text, not the constraint that failed.
        return error(code)
    return client_error(code, validation_message(failures))


SERVICE = ServiceSpec(
    signing_name="codecommit",
    model_name="codecommit",
    handlers=_area_handlers,
    validation_error=validation_error,
    access=ACCESS,
)
