"""Policy documents: the checks IAM makes before it stores one.

The grammar belongs to the policy engine (`emulator.iam.policy.parse_policy`); this module adds
IAM's storage rules (size quotas, JSON text) and turns the engine's complaint into
`MalformedPolicyDocument`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Literal

from emulator.iam.entities.model import LimitExceeded, MalformedPolicyDocument

Kind = Literal["identity", "trust", "resource"]

# IAM's quotas count characters other than whitespace.
INLINE_LIMITS = {"user": 2048, "group": 5120, "role": 10240}
MANAGED_LIMIT = 6144
TRUST_LIMIT = 2048


def _engine() -> Callable[[str, str], object] | None:
    try:
        module = importlib.import_module("emulator.iam.policy")
    except ImportError:
        return None
    parse = getattr(module, "parse_policy", None)
    return parse if callable(parse) else None


def _minimal_check(document: str) -> None:
    """What IAM rejects before it looks at any statement (used while no engine is present)."""
    try:
        data = json.loads(document)
    except json.JSONDecodeError:
        raise MalformedPolicyDocument("Syntax errors in policy.") from None
    if not isinstance(data, dict):
        raise MalformedPolicyDocument("Syntax errors in policy.")
    if "Statement" not in data:
        raise MalformedPolicyDocument("Missing required field Statement")


def check_document(document: str, kind: Kind) -> None:
    """Raise MalformedPolicyDocument (with the engine's reason) unless `document` is valid."""
    parse = _engine()
    if parse is None:
        _minimal_check(document)
        return
    try:
        parse(document, kind)
    except MalformedPolicyDocument:
        raise
    except Exception as exc:  # the engine's own MalformedPolicyDocument
        if type(exc).__name__ != "MalformedPolicyDocument" and getattr(exc, "code", "") != (
            "MalformedPolicyDocument"
        ):
            raise
        raise MalformedPolicyDocument(str(getattr(exc, "message", exc))) from None


def check_size(document: str, limit: int, message: str) -> None:
    if sum(1 for c in document if not c.isspace()) > limit:
        raise LimitExceeded(message)
