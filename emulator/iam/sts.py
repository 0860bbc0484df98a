"""STS: who am I, session tokens, and assuming roles.

AssumeRole is allowed when both sides agree, as AWS decides it: the role's trust policy must
allow the caller `sts:AssumeRole`, and the caller's own policies must allow `sts:AssumeRole` on
the role ARN — except in the role's own account when the trust policy names the caller's ARN
itself (not the account), where the trust policy alone grants it (IAM User Guide, "Policy
evaluation logic", cross-account and same-account role assumption).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

from emulator.errors import ClientError
from emulator.iam import authorize
from emulator.iam import sts_trust as trust
from emulator.iam.keys.common import Clock, utcnow
from emulator.iam.keys.sessions import Sessions, TemporaryCredentials
from emulator.iam.policy import MalformedPolicyDocument as PolicyMalformed
from emulator.iam.policy import parse_policy
from emulator.iam.principal import Principal

# GetSessionToken: 15 minutes to 36 hours for users, at most one hour for the root user.
SESSION_TOKEN_MIN = 900
SESSION_TOKEN_MAX = 129_600
SESSION_TOKEN_DEFAULT = 43_200
ROOT_SESSION_MAX = 3600
ASSUME_ROLE_MIN = 900
ASSUME_ROLE_DEFAULT = 3600
ROLE_CHAINING_MAX = 3600
# A session policy and the managed policy ARNs are packed into 2,048 characters together.
PACKED_POLICY_MAX = 2048
MAX_POLICY_ARNS = 10
MAX_SESSION_TAGS = 50

_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role(/(?:[\x21-\x7e]*/)?)([\w+=,.@-]{1,64})")

IsAllowed = Callable[[Principal, str, str, authorize.Context | None], bool]


class AccessDenied(ClientError):
    code = "AccessDenied"
    status = 403


class ValidationError(ClientError):
    code = "ValidationError"


class MalformedPolicyDocument(ClientError):
    code = "MalformedPolicyDocument"


class PackedPolicyTooLarge(ClientError):
    code = "PackedPolicyTooLarge"


class IAMRole(Protocol):
    @property
    def account(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def arn(self) -> str: ...
    @property
    def trust_policy(self) -> str: ...
    @property
    def max_session_duration(self) -> int: ...
    @property
    def tags(self) -> Sequence[tuple[str, str]]: ...


class PolicyDocuments(Protocol):
    def default_document(self, account: str, arn: str) -> str:
        """The default version's document of managed policy `arn` (NoSuchEntity if none)."""
        ...


class RoleDirectory(Protocol):
    def find_role(self, account: str, name: str) -> IAMRole | None: ...


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str
    user_id: str


@dataclass(frozen=True)
class AssumedRole:
    credentials: TemporaryCredentials
    principal: Principal  # the session's principal: arn, user_id (AROA…:session)
    packed_policy_size: int | None  # percent of the limit used, when a policy was passed


def caller_identity(principal: Principal) -> CallerIdentity:
    return CallerIdentity(principal.account, principal.arn, principal.user_id)


def _duration(value: int | None, default: int, low: int, high: int) -> timedelta:
    seconds = default if value is None else value
    if seconds < low:
        raise ValidationError(
            f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to"
            f" satisfy constraint: Member must have value greater than or equal to {low}"
        )
    if seconds > high:
        raise ValidationError(
            f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to"
            f" satisfy constraint: Member must have value less than or equal to {high}"
        )
    return timedelta(seconds=seconds)


def _denied(caller: Principal, role_arn: str) -> AccessDenied:
    return AccessDenied(
        f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )


def _check_session_policy(policy: str | None, policy_arns: Sequence[str]) -> int | None:
    if policy is None and not policy_arns:
        return None
    if len(policy_arns) > MAX_POLICY_ARNS:
        raise ValidationError(f"Cannot pass more than {MAX_POLICY_ARNS} managed policy ARNs.")
    packed = len(json.dumps(json.loads(policy), separators=(",", ":"))) if policy else 0
    packed += sum(len(arn) for arn in policy_arns)
    size = packed * 100 // PACKED_POLICY_MAX
    if size > 100:
        raise PackedPolicyTooLarge(
            f"Packed policy consumes {size}% of allotted space, please use smaller policy."
        )
    return size


def _parse_session_policy(policy: str) -> None:
    """Validate a session policy with the policy engine's grammar."""
    try:
        parse_policy(policy, "session")
    except PolicyMalformed as exc:
        raise MalformedPolicyDocument(exc.message) from None


def _merge_tags(
    role_tags: Sequence[tuple[str, str]], session_tags: Sequence[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    # Session tags override the role's tags with the same key (keys compare case-insensitively).
    if len(session_tags) > MAX_SESSION_TAGS:
        raise ValidationError(f"Cannot pass more than {MAX_SESSION_TAGS} session tags.")
    overridden = {k.lower() for k, _ in session_tags}
    return tuple((k, v) for k, v in role_tags if k.lower() not in overridden) + tuple(session_tags)


class STS:
    def __init__(
        self,
        sessions: Sessions,
        roles: RoleDirectory,
        is_allowed: IsAllowed = authorize.is_allowed,
        clock: Clock = utcnow,
        policies: PolicyDocuments | None = None,
    ) -> None:
        self._sessions = sessions
        self._roles = roles
        self._is_allowed = is_allowed
        self._clock = clock
        self._policies = policies

    def get_session_token(
        self, caller: Principal, duration_seconds: int | None = None
    ) -> TemporaryCredentials:
        if caller.kind == "AssumedRole" or caller.expires is not None:
            raise AccessDenied("Cannot call GetSessionToken with session credentials")
        if caller.kind == "Root":
            # The root user's sessions last at most an hour; a longer request gets one hour.
            requested = ROOT_SESSION_MAX if duration_seconds is None else duration_seconds
            duration = _duration(requested, ROOT_SESSION_MAX, SESSION_TOKEN_MIN, 10**9)
            duration = min(duration, timedelta(seconds=ROOT_SESSION_MAX))
        else:
            duration = _duration(
                duration_seconds, SESSION_TOKEN_DEFAULT, SESSION_TOKEN_MIN, SESSION_TOKEN_MAX
            )
        session = Principal(
            account=caller.account,
            arn=caller.arn,
            user_id=caller.user_id,
            kind=caller.kind,
            name=caller.name,
            tags=caller.tags,
        )
        return self._sessions.issue(session, duration, caller.access_key_id)

    def assume_role(
        self,
        caller: Principal,
        role_arn: str,
        session_name: str,
        *,
        duration_seconds: int | None = None,
        policy: str | None = None,
        policy_arns: Sequence[str] = (),
        tags: Sequence[tuple[str, str]] = (),
        context: authorize.Context | None = None,
    ) -> AssumedRole:
        if caller.kind == "Root":
            raise AccessDenied("Roles may not be assumed by root accounts.")
        if not _SESSION_NAME.fullmatch(session_name):
            raise ValidationError(
                f"1 validation error detected: Value '{session_name[:100]}' at"
                " 'roleSessionName' failed to satisfy constraint: Member must have length"
                " between 2 and 64 and match pattern [\\w+=,.@-]*"
            )
        match = _ROLE_ARN.fullmatch(role_arn)
        if match is None:
            raise ValidationError(f"{role_arn[:2048]} is invalid")
        if policy is not None:
            _parse_session_policy(policy)
        packed = _check_session_policy(policy, policy_arns)

        role = self._roles.find_role(match.group(1), match.group(3))
        # A role that does not exist, or whose path differs, is denied like one that does not
        # trust the caller: AWS does not tell an outsider which roles exist.
        if role is None or role.arn != role_arn:
            raise _denied(caller, role_arn)
        ctx: dict[str, str | Sequence[str]] = {"sts:RoleSessionName": session_name}
        ctx.update(context or {})
        decision = trust.evaluate(role.trust_policy, caller, role.arn, role.account, context=ctx)
        if not decision.allowed:
            raise _denied(caller, role_arn)
        if not decision.sufficient and not self._is_allowed(
            caller, "sts:AssumeRole", role.arn, ctx
        ):
            raise _denied(caller, role_arn)

        if caller.kind == "AssumedRole":
            limit = ROLE_CHAINING_MAX
            if duration_seconds is not None and duration_seconds > limit:
                raise ValidationError(
                    "The requested DurationSeconds exceeds the 1 hour session limit for roles"
                    " assumed by role chaining."
                )
        else:
            limit = role.max_session_duration
            if duration_seconds is not None and duration_seconds > limit:
                raise ValidationError(
                    "The requested DurationSeconds exceeds the MaxSessionDuration set for this"
                    " role."
                )
        duration = _duration(duration_seconds, ASSUME_ROLE_DEFAULT, ASSUME_ROLE_MIN, limit)

        principal = Principal(
            account=role.account,
            arn=f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{session_name}",
            user_id=f"{role.id}:{session_name}",
            kind="AssumedRole",
            name=role.name,
            role_arn=role.arn,
            session_name=session_name,
            tags=_merge_tags(tuple(role.tags), tags),
            session_policies=self._session_policies(role.account, policy, policy_arns),
        )
        creds = self._sessions.issue(principal, duration, caller.access_key_id)
        principal = replace(principal, access_key_id=creds.access_key_id, expires=creds.expiration)
        return AssumedRole(creds, principal, packed)

    def _session_policies(
        self, account: str, policy: str | None, policy_arns: Sequence[str]
    ) -> tuple[str, ...]:
        """The documents that limit the session: the inline policy and each managed policy's
        default version (AWS intersects the role's permissions with all of them)."""
        documents = [policy] if policy is not None else []
        if not policy_arns:
            return tuple(documents)
        resolver = self._policies
        if resolver is None:
            # Ignoring them would give the session more than the caller asked for.
            raise ValidationError("PolicyArns are not supported by this emulator instance.")
        return tuple(documents + [resolver.default_document(account, a) for a in policy_arns])
