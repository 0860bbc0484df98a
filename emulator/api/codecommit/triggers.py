"""CodeCommit's repository triggers: PutRepositoryTriggers, GetRepositoryTriggers,
TestRepositoryTriggers.

The wire form (camelCase members) is translated here; validation and delivery are
`emulator.events`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.api.codecommit.common import Output
from emulator.api.service import RequestContext
from emulator.api.shapes import Invalid, validation_message
from emulator.codecommit_errors import MESSAGES, error
from emulator.errors import ServiceError, client_error
from emulator.events.triggers import Trigger
from emulator.repos.model import Repository
from emulator.repos.names import validate_repository_name


def _repo(ctx: RequestContext, name: str) -> Repository:
    # The call is already authorized as `emulator.api.codecommit_access` declares it.
    return ctx.emu.repos.get(ctx.account, ctx.region, validate_repository_name(name))


def _triggers_in(raw: list[dict[str, Any]]) -> list[Trigger]:
    return [
        Trigger(
            name=t.get("name") or "",
            destination_arn=t.get("destinationArn") or "",
            events=tuple(t.get("events") or ()),
            branches=tuple(t.get("branches") or ()),
            custom_data=t.get("customData"),
        )
        for t in raw
    ]


def _trigger_out(t: Trigger) -> Output:
    out: Output = {
        "name": t.name,
        "destinationArn": t.destination_arn,
        "branches": list(t.branches),
        "events": list(t.events),
    }
    if t.custom_data is not None:
        out["customData"] = t.custom_data
    return out


def put_repository_triggers(
    ctx: RequestContext, repository_name: str, triggers: list[dict[str, Any]]
) -> Output:
    repo = _repo(ctx, repository_name)
    config_id = ctx.emu.events.put_triggers(repo, _triggers_in(triggers))
    return {"configurationId": config_id}


def get_repository_triggers(ctx: RequestContext, repository_name: str) -> Output:
    repo = _repo(ctx, repository_name)
    config = ctx.emu.events.triggers.get(repo)
    return {
        "configurationId": config.configuration_id or None,
        "triggers": [_trigger_out(t) for t in config.triggers],
    }


def test_repository_triggers(
    ctx: RequestContext, repository_name: str, triggers: list[dict[str, Any]]
) -> Output:
    repo = _repo(ctx, repository_name)
    result = ctx.emu.events.test_triggers(
        repo, _triggers_in(triggers), ctx.principal.arn, ctx.emu.repos.refs(repo)
    )
    return {
        "successfulExecutions": list(result.succeeded),
        "failedExecutions": [
            {"trigger": name, "failureMessage": why} for name, why in result.failed
        ],
    }


# A model constraint broken under `triggers`: the member of the trigger -> (missing, invalid).
_TRIGGER_MEMBER_ERRORS = {
    "name": ("RepositoryTriggerNameRequiredException", "InvalidRepositoryTriggerNameException"),
    "destinationArn": (
        "RepositoryTriggerDestinationArnRequiredException",
        "InvalidRepositoryTriggerDestinationArnException",
    ),
    # AWS answers a trigger without events with InvalidRepositoryTriggerEventsException,
    # "Repository trigger events list cannot be empty" (see emulator.codecommit_errors).
    "events": (
        "InvalidRepositoryTriggerEventsException",
        "InvalidRepositoryTriggerEventsException",
    ),
    "branches": (
        "RepositoryTriggerBranchNameListRequiredException",
        "InvalidRepositoryTriggerBranchNameException",
    ),
    "customData": (None, "InvalidRepositoryTriggerCustomDataException"),
}


def _triggers_validation_error(failures: list[Invalid]) -> ServiceError:
    """CodeCommit's error for a model constraint broken inside `triggers`."""
    first = failures[0]
    if first.path == "triggers":
        code = "RepositoryTriggersListRequiredException"
    else:
        # e.g. `triggers.1.member.events.1.member` or `triggers.1.member.name`
        segments = [s for s in first.path.split(".") if s != "member" and not s.isdigit()]
        member = segments[1] if len(segments) > 1 else ""
        required, invalid = _TRIGGER_MEMBER_ERRORS.get(member, (None, "ValidationException"))
        missing = first.reason == "required" and not first.path.endswith("member")
        code = (required if missing else invalid) or "ValidationException"
        if missing and member == "events":
            return error("InvalidRepositoryTriggerEventsException", "empty")
    if code in MESSAGES and "{" not in MESSAGES[code].text:
        return error(code)
    return client_error(code, validation_message(failures))


MEMBER_VALIDATION: dict[str, Callable[[list[Invalid]], ServiceError]] = {
    "triggers": _triggers_validation_error,
}
