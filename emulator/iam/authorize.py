"""The one gate every door calls: may this principal do this action on this resource?

    emu.authorizer.authorize(principal, "codecommit:GitPush", repo.arn,
                             {"codecommit:References": ["refs/heads/main"]}, source_ip=ip)

Root may do everything in its own account. An IAM user or an assumed-role session is decided by
the policy engine over its identity policies, its permissions boundary and (for sessions) its
session policies, with the global context keys AWS fills in (`aws:username`, `aws:userid`,
`aws:PrincipalArn`, `aws:SourceIp`, `aws:CurrentTime`, ...). CodeCommit has no resource-based
policies, so another account's repository is reachable only by assuming one of its roles.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from emulator import access_log
from emulator.errors import ClientError
from emulator.iam.entities.service import PrincipalPolicies
from emulator.iam.policy import (
    Evaluation,
    PolicyKind,
    Request,
    evaluate,
    global_context,
    parse_policy,
)
from emulator.iam.principal import Principal

Context = Mapping[str, str | Sequence[str]]


class AccessDenied(ClientError):
    """AWS's AccessDeniedException. Raised by the gate, it also carries the decision: which
    action on which resource was refused and the evaluation that refused it (the statements
    that decided, for a console to show); the API's wire answer is the message alone."""

    code = "AccessDeniedException"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        resource: str | None = None,
        evaluation: Evaluation | None = None,
    ) -> None:
        super().__init__(message)
        self.action = action
        self.resource = resource
        self.evaluation = evaluation


class PolicySource(Protocol):
    """What the gate needs from IAM: a principal's identity policies and boundary."""

    def policies_for(self, principal: Principal) -> PrincipalPolicies: ...


_ARN_ACCOUNT = re.compile(r"arn:[^:]*:[^:]*:[^:]*:(\d{12}|aws)?:")


def resource_account(resource: str) -> str | None:
    m = _ARN_ACCOUNT.match(resource)
    return m.group(1) if m else None


def denial_message(principal: Principal, action: str, resource: str, reason: str = "") -> str:
    """AWS's AccessDenied wording: `User: arn is not authorized to perform: action on resource:
    arn[ because ...]`."""
    message = (
        f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource}"
    )
    return f"{message} {reason}".rstrip() if reason else message


class Authorizer:
    def __init__(self, iam: PolicySource, clock: Callable[[], datetime] | None = None) -> None:
        self._iam = iam
        self._clock = clock or (lambda: datetime.now(UTC))

    def decide(
        self,
        principal: Principal,
        action: str,
        resource: str,
        context: Context | None = None,
        *,
        source_ip: str | None = None,
        secure_transport: bool | None = None,
        identity_side_only: bool = False,
    ) -> Evaluation | None:
        """The policy engine's evaluation, or None when root acts in its own account.

        `identity_side_only` decides what the caller's own account says, for a request whose
        other side is judged elsewhere (AssumeRole: the role's trust policy). Every decision
        is noted in the access log's entry of the request being served, whatever its door."""
        result = self._decide(
            principal,
            action,
            resource,
            context,
            source_ip=source_ip,
            secure_transport=secure_transport,
            identity_side_only=identity_side_only,
        )
        allowed = result is None or result.allowed
        access_log.note_decision(principal.arn, action, resource, allowed, context)
        return result

    def _decide(
        self,
        principal: Principal,
        action: str,
        resource: str,
        context: Context | None,
        *,
        source_ip: str | None,
        secure_transport: bool | None,
        identity_side_only: bool,
    ) -> Evaluation | None:
        account = resource_account(resource)
        if identity_side_only or account == "aws":
            # AWS managed policies (`arn:aws:iam::aws:policy/...`) belong to no account: each
            # account reads and attaches them as its own.
            account = principal.account
        if principal.kind == "Root" and account in (None, "", principal.account):
            return None
        ctx: dict[str, str | list[str]] = dict(
            global_context(
                principal, source_ip=source_ip, secure_transport=secure_transport, now=self._clock()
            )
        )
        for key, value in (context or {}).items():
            ctx[key] = value if isinstance(value, str) else list(value)
        request = Request(
            principal=principal,
            action=action,
            resource=resource,
            resource_account=account or principal.account,
            context=ctx,
        )
        if principal.kind == "Root":  # another account's resource: no resource policies here
            return evaluate(request)
        found = self._iam.policies_for(principal)
        boundary = found.parsed_boundary
        session = tuple(
            parse_policy(doc, PolicyKind.SESSION).with_id("session policy")
            for doc in principal.session_policies
        )
        return evaluate(
            request,
            identity=found.parsed,
            boundaries=() if boundary is None else (boundary,),
            session=session,
        )

    def is_allowed(
        self,
        principal: Principal,
        action: str,
        resource: str,
        context: Context | None = None,
        *,
        source_ip: str | None = None,
        secure_transport: bool | None = None,
    ) -> bool:
        result = self.decide(
            principal,
            action,
            resource,
            context,
            source_ip=source_ip,
            secure_transport=secure_transport,
        )
        return result is None or result.allowed

    def identity_allows(
        self,
        principal: Principal,
        action: str,
        resource: str,
        context: Context | None = None,
    ) -> bool:
        """Whether the caller's own policies allow the request, whatever account the resource
        is in (STS checks `sts:AssumeRole` this way and the trust policy on its own)."""
        result = self.decide(principal, action, resource, context, identity_side_only=True)
        return result is None or result.allowed

    def authorize(
        self,
        principal: Principal,
        action: str,
        resource: str,
        context: Context | None = None,
        *,
        source_ip: str | None = None,
        secure_transport: bool | None = None,
    ) -> None:
        """Raise `AccessDeniedException` (AWS's message shape) unless the request is allowed."""
        result = self.decide(
            principal,
            action,
            resource,
            context,
            source_ip=source_ip,
            secure_transport=secure_transport,
        )
        if result is not None and not result.allowed:
            raise AccessDenied(
                denial_message(principal, action, resource, result.reason),
                action=action,
                resource=resource,
                evaluation=result,
            )


def _root_only(principal: Principal, resource: str) -> bool:
    account = resource_account(resource)
    return principal.kind == "Root" and account in (None, "", principal.account)


def is_allowed(
    principal: Principal, action: str, resource: str, context: Context | None = None
) -> bool:
    """Root-only decision, for code that has no `Authorizer` at hand."""
    return _root_only(principal, resource)


def authorize(
    principal: Principal, action: str, resource: str, context: Context | None = None
) -> None:
    """Root-only gate, for code that has no `Authorizer` at hand."""
    if not _root_only(principal, resource):
        raise AccessDenied(denial_message(principal, action, resource))
