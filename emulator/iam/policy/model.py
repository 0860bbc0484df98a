"""A parsed policy: immutable, shared between requests, with every pattern compiled once."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from emulator.iam.policy.conditions import ConditionClause
from emulator.iam.policy.principals import PrincipalSpec
from emulator.iam.policy.variables import Lookup, Template
from emulator.iam.policy.wildcards import compile_globs, compile_pieces

Effect = Literal["Allow", "Deny"]
# (line, column), both counted from 1, in the policy document's text
Position = tuple[int, int]


class PolicyKind(StrEnum):
    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"
    PERMISSIONS_BOUNDARY = "permissions_boundary"
    SESSION = "session"
    SCP = "scp"


@dataclass(frozen=True, slots=True, eq=False)
class ActionMatcher:
    """Action or NotAction values. Action names are case-insensitive, the service prefix too."""

    patterns: tuple[str, ...]
    everything: bool
    regex: re.Pattern[str]

    @classmethod
    def build(cls, patterns: tuple[str, ...]) -> ActionMatcher:
        return cls(patterns, "*" in patterns, compile_globs(patterns, ignore_case=True))

    def matches(self, action: str) -> bool:
        return self.everything or self.regex.fullmatch(action) is not None


@dataclass(frozen=True, slots=True, eq=False)
class ResourceMatcher:
    """Resource or NotResource values. ARNs are case-sensitive; `*` may span `:` and `/`."""

    templates: tuple[Template, ...]
    everything: bool
    static: re.Pattern[str] | None  # every value without a variable, as one regex
    dynamic: tuple[Template, ...]  # values holding variables, compiled per request (cached)

    @classmethod
    def build(cls, templates: tuple[Template, ...]) -> ResourceMatcher:
        plain = [t.text for t in templates if t.static == ((t.text, True),)]
        dynamic = tuple(t for t in templates if t.static != ((t.text, True),))
        return cls(
            templates,
            "*" in plain,
            compile_globs(plain) if plain else None,
            dynamic,
        )

    def matches(self, resource: str, lookup: Lookup, missing: set[str] | None) -> bool:
        if self.everything:
            return True
        if self.static is not None and self.static.fullmatch(resource) is not None:
            return True
        for template in self.dynamic:
            pieces = template.pieces(lookup, missing)
            if pieces is not None and compile_pieces(pieces).fullmatch(resource) is not None:
                return True
        return False


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    index: int  # 0-based position in the policy's Statement list
    sid: str | None
    effect: Effect
    actions: ActionMatcher
    not_action: bool
    resources: ResourceMatcher | None  # None: the statement has no Resource (trust policies)
    not_resource: bool
    principal: PrincipalSpec | None
    not_principal: bool
    conditions: tuple[ConditionClause, ...]
    start: Position | None = None
    end: Position | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A parsed, validated document. `policy_id` is the caller's name for this use of it (a
    policy ARN, "user/alice/inline-name"); it is what a matched statement reports."""

    kind: PolicyKind
    version: str
    id: str | None
    statements: tuple[Statement, ...]
    text: str
    policy_id: str | None = None

    @property
    def interpolates(self) -> bool:
        return self.version == "2012-10-17"

    def with_id(self, policy_id: str) -> Policy:
        return dataclasses.replace(self, policy_id=policy_id)
