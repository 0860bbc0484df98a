"""A role's trust policy asked one question: may this caller assume the role, and does the
policy name the caller itself (its user or role ARN) rather than its whole account?

The second half matters because in the role's own account a trust policy that names the caller's
ARN is enough on its own, while one that names the account (`arn:aws:iam::111122223333:root`)
delegates to the account, whose identity policies must then allow `sts:AssumeRole` too.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.iam.principal import Principal

_ROOT = re.compile(r"arn:aws:iam::(\d{12}):root")
_ACCOUNT = re.compile(r"\d{12}")


@dataclass(frozen=True)
class TrustDecision:
    allowed: bool
    names_caller: bool  # an allowing statement names the caller's own ARN (or its role's)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    def any_match(patterns: Any) -> bool:
        return any(
            isinstance(p, str) and fnmatch.fnmatchcase(action.lower(), p.lower())
            for p in _as_list(patterns)
        )

    if "Action" in statement:
        return any_match(statement["Action"])
    if "NotAction" in statement:
        return not any_match(statement["NotAction"])
    return False


def _principal_match(element: Any, caller: Principal) -> str | None:
    """How `element` names the caller: "self", "account", "anyone", or None."""
    if element == "*":
        return "anyone"
    if not isinstance(element, Mapping):
        return None
    found: str | None = None
    for value in _as_list(element.get("AWS", [])):
        if not isinstance(value, str):
            continue
        if value == "*":
            found = found or "anyone"
        elif value in (caller.arn, caller.role_arn):
            return "self"
        elif value == caller.account or (
            (m := _ROOT.fullmatch(value)) is not None and m.group(1) == caller.account
        ):
            found = "account" if found in (None, "anyone") else found
    return found


def evaluate(
    document: str, caller: Principal, action: str, context: Mapping[str, object] | None = None
) -> TrustDecision:
    """Evaluate a trust policy for `caller` doing `action` (explicit deny wins).

    Statements with conditions are not evaluated here: an Allow with a Condition does not
    allow and a Deny with one denies, so this errs towards refusing.
    """
    try:
        policy = json.loads(document)
    except json.JSONDecodeError:
        return TrustDecision(False, False)
    allowed = False
    names_caller = False
    for statement in _as_list(policy.get("Statement", []) if isinstance(policy, dict) else []):
        if not isinstance(statement, Mapping) or not _action_matches(statement, action):
            continue
        if "NotPrincipal" in statement:
            via = None if _principal_match(statement["NotPrincipal"], caller) else "anyone"
        else:
            via = _principal_match(statement.get("Principal"), caller)
        if via is None:
            continue
        if statement.get("Effect") == "Deny":
            return TrustDecision(False, False)
        if statement.get("Effect") == "Allow" and not statement.get("Condition"):
            allowed = True
            names_caller = names_caller or via == "self"
    return TrustDecision(allowed, names_caller)
