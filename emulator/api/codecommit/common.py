"""What every CodeCommit area module shares: finding the repository a call names.

Each call is already authorized as `emulator.api.codecommit_access` declares it when a handler
runs, so these only look the repository up and check that its KMS key can be used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.api.codecommit_access import parse_repository_arn
from emulator.api.service import RequestContext
from emulator.api.shapes import Invalid
from emulator.codecommit_errors import error
from emulator.errors import ServiceError
from emulator.repos.model import Repository
from emulator.repos.names import validate_repository_name
from emulator.repos.service import repository_not_found

Output = dict[str, Any]


def repository(ctx: RequestContext, name: str | None) -> Repository:
    """Repository `name` of the caller's account and region. A repository whose KMS key cannot
    be used answers every operation with CodeCommit's encryption error."""
    repo = ctx.emu.repos.get(ctx.account, ctx.region, validate_repository_name(name))
    ctx.emu.data_keys.check(repo)
    return repo


def repository_from_arn(ctx: RequestContext, arn: str | None) -> Repository:
    """The repository an ARN names, in the caller's account and region."""
    region, account, name = parse_repository_arn(arn)
    # A repository lives in one account and region: an ARN elsewhere names nothing here.
    repo = ctx.emu.repos.find(account, region, name)
    if repo is None or account != ctx.account or region != ctx.region:
        raise repository_not_found(name)
    ctx.emu.data_keys.check(repo)
    return repo


def entry_error(
    failures: list[Invalid],
    errors: Mapping[str, tuple[str, str]],
    otherwise: ServiceError,
) -> ServiceError:
    """A constraint broken inside an entry of a structured member: the error of the entry's
    member that broke it, `errors[name]` = (when it is missing, when it is not valid), else
    `otherwise`."""
    first = failures[0]
    pair = errors.get(first.path.rsplit(".", 1)[-1])
    if pair is None:
        return otherwise
    return error(pair[0] if first.reason == "required" else pair[1])
