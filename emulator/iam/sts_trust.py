"""A role's trust policy asked one question: may this caller assume the role, and does the
policy grant it on its own, or only together with the caller's identity policies?

In the role's own account a trust policy that names the caller's ARN is enough on its own,
while one that names the account (`arn:aws:iam::111122223333:root`) delegates to the account,
whose identity policies must then allow `sts:AssumeRole` too; across accounts both sides must
always allow (IAM User Guide, "Cross-account policy evaluation logic"). The policy engine
decides both questions: once with no identity policy (the trust policy alone) and once with one
that allows everything (does the trust policy let the caller in at all).
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.iam.policy import Request, evaluate_trust, global_context, parse_policy
from emulator.iam.policy.request import Context
from emulator.iam.principal import Principal

_ALLOW_ALL = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
    "identity",
)


@dataclass(frozen=True)
class TrustDecision:
    allowed: bool  # the trust policy lets the caller in (with or without identity policies)
    sufficient: bool  # ... and needs no identity policy to do so


def evaluate(
    document: str,
    caller: Principal,
    role_arn: str,
    role_account: str,
    action: str = "sts:AssumeRole",
    context: Context | None = None,
) -> TrustDecision:
    trust = parse_policy(document, "trust")
    ctx = {**global_context(caller), **(context or {})}
    request = Request(caller, action, role_arn, resource_account=role_account, context=ctx)
    with_identity = evaluate_trust(request, trust, identity=[_ALLOW_ALL])
    if not with_identity.allowed:
        return TrustDecision(False, False)
    alone = evaluate_trust(request, trust)
    return TrustDecision(True, alone.allowed)
