"""Run a case of `tests/data/conformance/iam_policy_cases.json` (its "schema" key describes the
format) through the evaluator; the tests and the simulator's tests share this adapter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.iam.policy.evaluate import Decision, Evaluation, evaluate
from emulator.iam.policy.model import Policy, PolicyKind
from emulator.iam.policy.parse import parse_policy
from emulator.iam.policy.request import Request
from emulator.iam.principal import Principal

# The case file's expected decisions, in the simulator's words.
CASE_DECISIONS: dict[str, Decision] = {
    "Allow": "allowed",
    "ExplicitDeny": "explicitDeny",
    "ImplicitDeny": "implicitDeny",
}


def case_principal(spec: Mapping[str, Any]) -> Principal:
    arn = str(spec["arn"])
    kind = str(spec["type"])
    account = str(spec["account"])
    name = arn.rsplit("/", 1)[-1] if kind == "IAMUser" else None
    if kind == "AssumedRole":
        name = arn.split("/")[-2]
    return Principal(
        account=account,
        arn=arn,
        user_id=account if kind == "Root" else "",
        kind=kind,
        name=name,
        role_arn=spec.get("role_arn"),
    )


def case_request(case: Mapping[str, Any]) -> Request:
    req = case["request"]
    principal = case_principal(req["principal"])
    return Request(
        principal=principal,
        action=req["action"],
        resource=req["resource"],
        resource_account=req.get("resource_account") or principal.account,
        context=dict(req.get("context") or {}),
    )


def evaluate_case(case: Mapping[str, Any]) -> Evaluation:
    slots: dict[str, list[Policy]] = {kind.value: [] for kind in PolicyKind}
    for n, entry in enumerate(case["policies"]):
        kind = PolicyKind(entry["type"])
        policy = parse_policy(entry["document"], kind).with_id(f"{kind.value}.{n + 1}")
        slots[kind.value].append(policy)
    return evaluate(
        case_request(case),
        identity=slots["identity"],
        boundaries=slots["permissions_boundary"],
        session=slots["session"],
        resource=slots["resource"] + slots["trust"],
        scps=slots["scp"],
    )


def run_case(case: Mapping[str, Any]) -> Decision:
    return evaluate_case(case).decision
