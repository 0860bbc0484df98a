"""IAM's policy language and its evaluation logic: pure, no I/O, parsed once and cached.

    from emulator.iam.policy import Request, evaluate, global_context, parse_policy

    policy = parse_policy(document_json, "identity").with_id("arn:aws:iam::111111111111:policy/Dev")
    ctx = global_context(principal, source_ip="127.0.0.1", secure_transport=True)
    ctx["codecommit:References"] = ["refs/heads/main"]
    result = evaluate(
        Request(principal, "codecommit:GitPush", repo_arn, context=ctx),
        identity=[policy],
        boundaries=[],          # the principal's permissions boundary, if any
        session=[],             # session policies of an assumed-role session
        resource=[],            # a resource-based policy, or a role's trust policy
        scps=[],                # one entry per organisational level
    )
    result.decision                  # "allowed" | "explicitDeny" | "implicitDeny"
    result.matched                   # MatchedStatement(policy_id, policy_type, sid, effect, ...)
    result.missing_context_values    # condition keys the request lacked
    result.reason                    # "because no identity-based policy allows the ... action"

A malformed document raises `MalformedPolicyDocument` (IAM's error code) with IAM's reason;
`parse_policy(..., max_size=SizeLimit.MANAGED)` also enforces a size quota (`LimitExceeded`).

Modules: parse (documents and their validation), model (the parsed form), wildcards, variables,
conditions (operators and qualifiers), principals (the Principal element), request (the request
and the global context keys), evaluate (the decision), positions (statement line/column),
limits (size quotas), cases (the conformance-case adapter).
"""

from __future__ import annotations

from emulator.iam.policy.cases import CASE_DECISIONS, evaluate_case, run_case
from emulator.iam.policy.errors import MalformedPolicyDocument, PolicySizeExceeded
from emulator.iam.policy.evaluate import (
    Decision,
    Evaluation,
    MatchedStatement,
    evaluate,
    evaluate_trust,
)
from emulator.iam.policy.limits import SizeLimit, check_policy_size, policy_size
from emulator.iam.policy.model import Policy, PolicyKind, Statement
from emulator.iam.policy.parse import parse_policy
from emulator.iam.policy.principals import PrincipalLike
from emulator.iam.policy.request import Context, Request, global_context, resource_account

__all__ = [
    "CASE_DECISIONS",
    "Context",
    "Decision",
    "Evaluation",
    "MalformedPolicyDocument",
    "MatchedStatement",
    "Policy",
    "PolicyKind",
    "PolicySizeExceeded",
    "PrincipalLike",
    "Request",
    "SizeLimit",
    "Statement",
    "check_policy_size",
    "evaluate",
    "evaluate_case",
    "evaluate_trust",
    "global_context",
    "parse_policy",
    "policy_size",
    "resource_account",
    "run_case",
]
