"""SimulateCustomPolicy and SimulatePrincipalPolicy: decisions, matched statements, missing
context values, and every conformance case the simulator can express."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server

CASES = Path(__file__).resolve().parent / "data" / "conformance" / "iam_policy_cases.json"
DECISION = {"Allow": "allowed", "ExplicitDeny": "explicitDeny", "ImplicitDeny": "implicitDeny"}
REPO = "arn:aws:codecommit:us-east-1:123456789012:demo"


def _load_cases() -> list[dict[str, Any]]:
    if not CASES.exists():
        return []
    cases: list[dict[str, Any]] = json.loads(CASES.read_text())["cases"]
    # SimulateCustomPolicy takes identity policies, a boundary, SCP levels and one resource
    # policy (a role's trust policy when the action is sts:AssumeRole); it has no input for
    # session policies, which the policy engine's own tests cover.
    ok = {"identity", "permissions_boundary", "resource", "trust", "scp"}
    return [
        c
        for c in cases
        if {p["type"] for p in c["policies"]} <= ok
        and sum(p["type"] in ("resource", "trust") for p in c["policies"]) <= 1
    ]


def test_only_session_policy_cases_are_left_to_the_unit_tests() -> None:
    cases = json.loads(CASES.read_text())["cases"]
    left = {c["id"] for c in cases} - {c["id"] for c in _load_cases()}
    assert all(any(p["type"] == "session" for p in c["policies"]) for c in cases if c["id"] in left)
    assert len(_load_cases()) >= len(cases) - 1


def _entries(context: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, value in context.items():
        many = isinstance(value, list)
        out.append(
            {
                "ContextKeyName": key,
                "ContextKeyValues": [str(v) for v in value] if many else [str(value)],
                "ContextKeyType": "stringList" if many else "string",
            }
        )
    return out


@pytest.mark.parametrize("case", _load_cases(), ids=lambda c: str(c["id"]))
def test_conformance_case_through_simulate_custom_policy(
    server: Server, case: dict[str, Any]
) -> None:
    iam = server.client("iam")
    docs: dict[str, list[str]] = {
        "identity": [],
        "permissions_boundary": [],
        "resource": [],
        "scp": [],
    }
    for p in case["policies"]:
        doc = p["document"]
        kind = "resource" if p["type"] == "trust" else p["type"]
        docs[kind].append(doc if isinstance(doc, str) else json.dumps(doc))
    req = case["request"]
    kwargs: dict[str, Any] = {
        "PolicyInputList": docs["identity"],
        "ActionNames": [req["action"]],
        "ResourceArns": [req["resource"]],
        "ContextEntries": _entries(req.get("context") or {}),
        "CallerArn": req["principal"]["arn"],
    }
    if docs["scp"]:
        # one organization level per SCP, in the case's order
        kwargs["OrderedOrganizationPolicyInputList"] = [
            {"ServiceControlPolicyInputList": [doc]} for doc in docs["scp"]
        ]
    if docs["permissions_boundary"]:
        kwargs["PermissionsBoundaryPolicyInputList"] = docs["permissions_boundary"]
    if docs["resource"]:
        kwargs["ResourcePolicy"] = docs["resource"][0]
        kwargs["ResourceOwner"] = (
            f"arn:aws:iam::{req.get('resource_account') or req['principal']['account']}:root"
        )
    result = iam.simulate_custom_policy(**kwargs)["EvaluationResults"][0]
    assert result["EvalDecision"] == DECISION[case["expected"]], case["description"]


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_simulate_custom_policy_decisions(server: Server) -> None:
    iam = server.client("iam")
    allow = _doc({"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"})
    deny = _doc(
        {
            "Sid": "ProtectMain",
            "Effect": "Deny",
            "Action": "codecommit:GitPush",
            "Resource": REPO,
            "Condition": {
                "StringEqualsIfExists": {"codecommit:References": ["refs/heads/main"]},
                "Null": {"codecommit:References": "false"},
            },
        }
    )
    results = iam.simulate_custom_policy(
        PolicyInputList=[allow, deny],
        ActionNames=["codecommit:GitPush", "codecommit:GitPull", "iam:CreateUser"],
        ResourceArns=[REPO],
        ContextEntries=[
            {
                "ContextKeyName": "codecommit:References",
                "ContextKeyValues": ["refs/heads/main"],
                "ContextKeyType": "stringList",
            }
        ],
    )["EvaluationResults"]
    by_action = {r["EvalActionName"]: r for r in results}
    push = by_action["codecommit:GitPush"]
    assert push["EvalDecision"] == "explicitDeny"
    assert push["EvalResourceName"] == REPO
    assert [m["SourcePolicyId"] for m in push["MatchedStatements"]] == ["PolicyInputList.2"]
    assert push["MatchedStatements"][0]["StartPosition"]["Line"] >= 1
    pull = by_action["codecommit:GitPull"]
    assert pull["EvalDecision"] == "allowed"
    assert [m["SourcePolicyId"] for m in pull["MatchedStatements"]] == ["PolicyInputList.1"]
    assert by_action["iam:CreateUser"]["EvalDecision"] == "implicitDeny"

    feature = iam.simulate_custom_policy(
        PolicyInputList=[allow, deny],
        ActionNames=["codecommit:GitPush"],
        ResourceArns=[REPO],
        ContextEntries=[
            {
                "ContextKeyName": "codecommit:References",
                "ContextKeyValues": ["refs/heads/feature"],
                "ContextKeyType": "stringList",
            }
        ],
    )["EvaluationResults"][0]
    assert feature["EvalDecision"] == "allowed"


def test_missing_context_values_and_boundary(server: Server) -> None:
    iam = server.client("iam")
    conditional = _doc(
        {
            "Effect": "Allow",
            "Action": "codecommit:GitPull",
            "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        }
    )
    result = iam.simulate_custom_policy(
        PolicyInputList=[conditional], ActionNames=["codecommit:GitPull"]
    )["EvaluationResults"][0]
    assert result["EvalDecision"] == "implicitDeny"
    assert result["MissingContextValues"] == ["aws:SourceIp"]
    assert result["EvalResourceName"] == "*"

    bounded = iam.simulate_custom_policy(
        PolicyInputList=[_doc({"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"})],
        PermissionsBoundaryPolicyInputList=[
            _doc({"Effect": "Allow", "Action": "codecommit:GitPull", "Resource": "*"})
        ],
        ActionNames=["codecommit:GitPull", "codecommit:GitPush"],
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in bounded}
    assert decisions == {"codecommit:GitPull": "allowed", "codecommit:GitPush": "implicitDeny"}
    assert not next(r for r in bounded if r["EvalActionName"] == "codecommit:GitPush")[
        "PermissionsBoundaryDecisionDetail"
    ]["AllowedByPermissionsBoundary"]


def test_simulate_custom_policy_rejects_bad_documents(server: Server) -> None:
    iam = server.client("iam")
    with pytest.raises(iam.exceptions.InvalidInputException):
        iam.simulate_custom_policy(PolicyInputList=["{"], ActionNames=["codecommit:GitPull"])


def test_simulate_principal_policy(server: Server) -> None:
    iam = server.client("iam")
    user, group = f"sim-{uuid.uuid4().hex[:8]}", f"simg-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    read_only = "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly"
    iam.attach_group_policy(GroupName=group, PolicyArn=read_only)
    deny = _doc({"Effect": "Deny", "Action": "codecommit:GetRepository", "Resource": REPO})
    iam.put_user_policy(UserName=user, PolicyName="no-get", PolicyDocument=deny)
    arn = iam.get_user(UserName=user)["User"]["Arn"]

    results = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["codecommit:GitPull", "codecommit:GitPush", "codecommit:GetRepository"],
        ResourceArns=[REPO],
    )["EvaluationResults"]
    got = {r["EvalActionName"]: r for r in results}
    assert got["codecommit:GitPull"]["EvalDecision"] == "allowed"
    assert got["codecommit:GitPull"]["MatchedStatements"][0]["SourcePolicyId"] == read_only
    assert got["codecommit:GitPull"]["MatchedStatements"][0]["SourcePolicyType"] == "aws-managed"
    assert got["codecommit:GitPush"]["EvalDecision"] == "implicitDeny"
    assert got["codecommit:GetRepository"]["EvalDecision"] == "explicitDeny"
    assert got["codecommit:GetRepository"]["MatchedStatements"][0]["SourcePolicyType"] == "user"

    # Excluding the inline policy and adding one in the request.
    extra = _doc({"Effect": "Allow", "Action": "codecommit:GitPush", "Resource": REPO})
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["codecommit:GetRepository", "codecommit:GitPush"],
        ResourceArns=[REPO],
        PolicyExclusionList=[
            {
                "InlinePolicyIdentifier": {
                    "PolicyName": "no-get",
                    "AttachmentType": "user",
                    "AttachmentName": user,
                }
            }
        ],
        PolicyInputList=[extra],
    )["EvaluationResults"]
    assert {r["EvalActionName"]: r["EvalDecision"] for r in results} == {
        "codecommit:GetRepository": "allowed",
        "codecommit:GitPush": "allowed",
    }

    # Policies change: the next simulation sees it at once.
    iam.detach_group_policy(GroupName=group, PolicyArn=read_only)
    again = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["codecommit:GitPull"], ResourceArns=[REPO]
    )["EvaluationResults"][0]
    assert again["EvalDecision"] == "implicitDeny"

    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.simulate_principal_policy(
            PolicySourceArn=arn + "-gone", ActionNames=["codecommit:GitPull"]
        )
    iam.delete_user_policy(UserName=user, PolicyName="no-get")
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)


def test_simulate_principal_policy_for_role(server: Server) -> None:
    iam = server.client("iam")
    name = f"simr-{uuid.uuid4().hex[:8]}"
    trust = _doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        }
    )
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.attach_role_policy(
        RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
    )
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["codecommit:GitPush", "codecommit:DeleteRepository"],
        ResourceArns=[REPO],
    )["EvaluationResults"]
    assert {r["EvalActionName"]: r["EvalDecision"] for r in results} == {
        "codecommit:GitPush": "allowed",
        "codecommit:DeleteRepository": "implicitDeny",
    }
    iam.detach_role_policy(
        RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
    )
    iam.delete_role(RoleName=name)
