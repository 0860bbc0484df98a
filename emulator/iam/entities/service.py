"""`IamService`: the IAM entities of every account, and the policies that apply to a principal.

`policies_for(principal)` is what the authorizer asks on every request, so its answer is cached
per principal and dropped whenever anything that could change it is written (a generation
counter bumped by every such write).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NamedTuple

from emulator.iam.entities.model import (
    DeleteConflict,
    Group,
    InvalidInput,
    NoSuchEntity,
    Role,
    User,
)
from emulator.iam.entities.policies import PolicyStore
from emulator.iam.entities.schema import SCHEMA
from emulator.iam.entities.store import EntityStore
from emulator.iam.keys import count_credentials, has_login_profile
from emulator.iam.policy import Policy, PolicyKind, parse_policy
from emulator.iam.principal import Principal
from emulator.state.db import Database


class IdentityPolicy(NamedTuple):
    """One identity-based policy that applies to a principal.

    `policy_type` is IAM's `PolicySourceType`: "user", "group" or "role" for inline policies,
    "user-managed" or "aws-managed" for managed ones. `policy_id` is the inline policy's name
    (`{group}/{name}` for a group's) or the managed policy's ARN.
    """

    policy_id: str
    policy_type: str
    document: str


@dataclass(frozen=True)
class PrincipalPolicies:
    """What `policies_for` answers: the documents, and the same parsed once by the engine
    (`parsed[i]` is `identity[i]`, its `policy_id` set) so a request costs no parsing."""

    identity: tuple[IdentityPolicy, ...]
    boundary: str | None  # the permissions boundary's document, if one is set
    boundary_arn: str | None = None
    parsed: tuple[Policy, ...] = ()
    parsed_boundary: Policy | None = None


NO_POLICIES = PrincipalPolicies((), None)


def _parsed(
    identity: tuple[IdentityPolicy, ...], boundary: str | None, arn: str | None
) -> tuple[tuple[Policy, ...], Policy | None]:
    policies = tuple(
        parse_policy(p.document, PolicyKind.IDENTITY).with_id(p.policy_id) for p in identity
    )
    bound = None
    if boundary is not None:
        bound = parse_policy(boundary, PolicyKind.PERMISSIONS_BOUNDARY).with_id(arn or "")
    return policies, bound


class IamService:
    def __init__(self, db: Database) -> None:
        db.ensure_schema(SCHEMA)
        self.db = db
        self._lock = threading.Lock()
        self._generation = 0
        self._cache: dict[tuple[str, str], tuple[int, PrincipalPolicies]] = {}
        self.entities = EntityStore(db, self._changed)
        self.policies = PolicyStore(db, self.entities, self._changed)

    def _changed(self) -> None:
        with self._lock:
            self._generation += 1
            self._cache.clear()

    # -- lookups for STS and the authorizer ---------------------------------------------------

    def get_user(self, account: str, name: str) -> User:
        return self.entities.get_user(account, name)

    def find_user(self, account: str, name: str) -> User | None:
        return self.entities.find_user(account, name)

    def get_role_by_arn(self, arn: str) -> Role:
        """The role an ARN names (`arn:aws:iam::{account}:role{path}{name}`), path included."""
        parts = arn.split(":", 5)
        if (
            len(parts) != 6
            or parts[:3] != ["arn", "aws", "iam"]
            or not parts[5].startswith("role/")
        ):
            raise InvalidInput(f"{arn} is not a valid role ARN.")
        account, resource = parts[4], parts[5][len("role") :]
        name = resource.rsplit("/", 1)[-1]
        role = self.entities.find_role(account, name)
        if role is None or role.arn != arn:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return role

    def identity_exists(self, arn: str) -> bool:
        """Whether an ARN names an identity of its account that exists: the root, an IAM user
        or role (path included), or a session of an existing role."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[:2] != ["arn", "aws"]:
            return False
        service, account, resource = parts[2], parts[4], parts[5]
        if service == "iam" and resource == "root":
            return True
        kind, _, rest = resource.partition("/")
        if service == "iam" and kind == "user":
            user = self.entities.find_user(account, rest.rsplit("/", 1)[-1])
            return user is not None and user.arn == arn
        if service == "iam" and kind == "role":
            role = self.entities.find_role(account, rest.rsplit("/", 1)[-1])
            return role is not None and role.arn == arn
        if service == "sts" and kind == "assumed-role":
            role_name = rest.split("/", 1)[0]
            return "/" in rest and self.entities.find_role(account, role_name) is not None
        return False

    # -- deletion, refused while something still hangs off the entity -------------------------

    def delete_user(self, account: str, name: str) -> None:
        user = self.entities.get_user(account, name)
        if has_login_profile(self.db, account, user.name):
            raise DeleteConflict("Cannot delete entity, must delete login profile first.")
        if count_credentials(self.db, account, user.name):
            raise DeleteConflict("Cannot delete entity, must delete access keys first.")
        if self.policies.inline(user.id):
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        if self.policies.attached(user.id):
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        if self.entities.groups_for_user(user):
            raise DeleteConflict("Cannot delete entity, must remove users from group first.")
        with self.db.transaction() as conn:
            self.entities.delete_user_row(conn, user)
        self._changed()

    def delete_group(self, account: str, name: str) -> None:
        group = self.entities.get_group(account, name)
        if self.entities.group_members(group):
            raise DeleteConflict("Cannot delete entity, must remove users from group first.")
        if self.policies.inline(group.id):
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        if self.policies.attached(group.id):
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM iam_groups WHERE id = ?", (group.id,))
        self._changed()

    def delete_role(self, account: str, name: str) -> None:
        role = self.entities.get_role(account, name)
        if self.policies.inline(role.id):
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        if self.policies.attached(role.id):
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM iam_roles WHERE id = ?", (role.id,))
            conn.execute("DELETE FROM iam_tags WHERE entity_id = ?", (role.id,))
        self._changed()

    # -- permissions boundaries ---------------------------------------------------------------

    def put_boundary(self, account: str, kind: str, name: str, arn: str) -> None:
        entity: User | Role = (
            self.entities.get_user(account, name)
            if kind == "user"
            else self.entities.get_role(account, name)
        )
        self.policies.get_policy(account, arn)
        self.entities.set_boundary("iam_users" if kind == "user" else "iam_roles", entity.id, arn)

    def delete_boundary(self, account: str, kind: str, name: str) -> None:
        entity: User | Role = (
            self.entities.get_user(account, name)
            if kind == "user"
            else self.entities.get_role(account, name)
        )
        if entity.boundary_arn is None:
            raise NoSuchEntity(f"The {kind} with name {name} has no permissions boundary.")
        self.entities.set_boundary("iam_users" if kind == "user" else "iam_roles", entity.id, None)

    # -- policy resolution --------------------------------------------------------------------

    def _managed(self, account: str, arns: list[str]) -> list[IdentityPolicy]:
        found = []
        for arn in arns:
            kind = "aws-managed" if arn.startswith("arn:aws:iam::aws:") else "user-managed"
            found.append(IdentityPolicy(arn, kind, self.policies.default_document(account, arn)))
        return found

    def _resolve(self, principal: Principal) -> PrincipalPolicies:
        account = principal.account
        identity: list[IdentityPolicy] = []
        boundary_arn: str | None
        if principal.kind == "IAMUser" and principal.name:
            user = self.entities.find_user(account, principal.name)
            if user is None:
                return NO_POLICIES
            identity += [
                IdentityPolicy(p.name, "user", p.document) for p in self.policies.inline(user.id)
            ]
            identity += self._managed(account, self.policies.attached(user.id))
            for group in self.entities.groups_for_user(user):
                identity += [
                    IdentityPolicy(f"{group.name}/{p.name}", "group", p.document)
                    for p in self.policies.inline(group.id)
                ]
                identity += self._managed(account, self.policies.attached(group.id))
            boundary_arn = user.boundary_arn
        elif principal.kind == "AssumedRole" and principal.role_arn:
            try:
                role = self.get_role_by_arn(principal.role_arn)
            except (NoSuchEntity, InvalidInput):
                return NO_POLICIES
            identity += [
                IdentityPolicy(p.name, "role", p.document) for p in self.policies.inline(role.id)
            ]
            identity += self._managed(account, self.policies.attached(role.id))
            boundary_arn = role.boundary_arn
        else:
            return NO_POLICIES
        boundary = None
        if boundary_arn is not None:
            try:
                boundary = self.policies.default_document(account, boundary_arn)
            except NoSuchEntity:
                boundary = None
        policies = tuple(identity)
        parsed, parsed_boundary = _parsed(policies, boundary, boundary_arn)
        return PrincipalPolicies(policies, boundary, boundary_arn, parsed, parsed_boundary)

    def policies_for(self, principal: Principal) -> PrincipalPolicies:
        """The identity policies and permissions boundary that apply to `principal` (none for
        root, which the authorizer treats on its own)."""
        key = (principal.kind, principal.role_arn or principal.arn)
        with self._lock:
            generation = self._generation
            hit = self._cache.get(key)
        if hit is not None and hit[0] == generation:
            return hit[1]
        result = self._resolve(principal)
        with self._lock:
            if self._generation == generation:
                self._cache[key] = (generation, result)
        return result

    def group_for_id(self, account: str, group_id: str) -> Group | None:
        return next((g for g in self.entities.list_groups(account) if g.id == group_id), None)
