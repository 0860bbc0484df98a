"""The IAM tables. Names are unique per account regardless of case, as IAM has them, so each
named row keeps its lower-cased name for the unique index."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS iam_users (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    path TEXT NOT NULL,
    created REAL NOT NULL,
    boundary_arn TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS iam_users_name ON iam_users (account, name_key);
CREATE TABLE IF NOT EXISTS iam_groups (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    path TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS iam_groups_name ON iam_groups (account, name_key);
CREATE TABLE IF NOT EXISTS iam_group_members (
    group_id TEXT NOT NULL REFERENCES iam_groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES iam_users(id) ON DELETE CASCADE,
    added REAL NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX IF NOT EXISTS iam_group_members_user ON iam_group_members (user_id);
CREATE TABLE IF NOT EXISTS iam_roles (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    path TEXT NOT NULL,
    created REAL NOT NULL,
    trust_policy TEXT NOT NULL,
    description TEXT,
    max_session_duration INTEGER NOT NULL,
    boundary_arn TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS iam_roles_name ON iam_roles (account, name_key);
-- Tags of users, roles and managed policies, keyed by the entity's id.
CREATE TABLE IF NOT EXISTS iam_tags (
    entity_id TEXT NOT NULL,
    key TEXT NOT NULL,
    key_lower TEXT NOT NULL,
    value TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (entity_id, key_lower)
);
-- Inline policies of users, groups and roles, keyed by the owner's id.
CREATE TABLE IF NOT EXISTS iam_inline_policies (
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (owner_id, name)
);
CREATE TABLE IF NOT EXISTS iam_policies (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    path TEXT NOT NULL,
    description TEXT,
    default_version TEXT NOT NULL,
    next_version INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS iam_policies_name ON iam_policies (account, name_key);
CREATE TABLE IF NOT EXISTS iam_policy_versions (
    policy_id TEXT NOT NULL REFERENCES iam_policies(id) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    document TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (policy_id, version_id)
);
-- Managed policies attached to users, groups and roles, and the account they live in (an AWS
-- managed policy is attachable in every account, so its count is per account).
CREATE TABLE IF NOT EXISTS iam_attachments (
    owner_id TEXT NOT NULL,
    owner_kind TEXT NOT NULL,
    account TEXT NOT NULL,
    policy_arn TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (owner_id, policy_arn)
);
CREATE INDEX IF NOT EXISTS iam_attachments_policy ON iam_attachments (account, policy_arn);
"""
