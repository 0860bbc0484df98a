"""The events tables: the outbox (events, deliveries, attempts), triggers, topics, webhooks,
notification rules and their targets."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    repository TEXT,
    repo_id TEXT,
    actor TEXT,
    created REAL NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_repository ON events (repository, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    source TEXT,
    destination TEXT NOT NULL,
    url TEXT NOT NULL,
    body BLOB NOT NULL,
    headers TEXT NOT NULL,
    message_id TEXT NOT NULL,
    order_key TEXT,
    policy TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    created REAL NOT NULL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt);
CREATE INDEX IF NOT EXISTS deliveries_order ON deliveries (order_key, state, id);
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event_id);
CREATE TABLE IF NOT EXISTS delivery_attempts (
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    started REAL NOT NULL,
    duration REAL NOT NULL,
    status INTEGER,
    error TEXT,
    PRIMARY KEY (delivery_id, number)
);
CREATE TABLE IF NOT EXISTS repository_triggers (
    repo_id TEXT PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    configuration_id TEXT NOT NULL,
    triggers TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sns_topics (
    arn TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sns_subscriptions (
    arn TEXT PRIMARY KEY,
    topic_arn TEXT NOT NULL REFERENCES sns_topics(arn) ON DELETE CASCADE,
    account TEXT NOT NULL,
    protocol TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    confirmed INTEGER NOT NULL,
    token TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sns_subscriptions_topic ON sns_subscriptions (topic_arn, created);
CREATE TABLE IF NOT EXISTS notification_rules (
    arn TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    resource TEXT NOT NULL,
    event_types TEXT NOT NULL,
    targets TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    tags TEXT NOT NULL,
    UNIQUE (account, region, name)
);
CREATE INDEX IF NOT EXISTS notification_rules_resource ON notification_rules (resource, status);
CREATE TABLE IF NOT EXISTS notification_rule_tokens (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    token TEXT NOT NULL,
    arn TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (account, region, token)
);
CREATE TABLE IF NOT EXISTS notification_targets (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    address TEXT NOT NULL,
    type TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (account, region, address)
);
"""
