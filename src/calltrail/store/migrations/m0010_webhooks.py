"""Outbound webhooks: subscriptions, the durable outbox of deliveries, and every attempt.

A delivery is written in the same transaction as the change that raises it, so none is lost
and none is sent for a change that rolled back. ``seq`` orders each subscription's deliveries
(a PostgreSQL sequence; on SQLite, whose one writer serialises every transaction, the next
number after the largest). A subscription carries the lease of the server sending to it, so
two servers never send its deliveries at the same time.
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    blob = "BYTEA" if dialect == "postgresql" else "BLOB"
    serial = "BIGSERIAL" if dialect == "postgresql" else "INTEGER"
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        "CREATE TABLE webhook_subscriptions ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " subscription_id TEXT NOT NULL,"
        " url TEXT NOT NULL,"
        " events TEXT NOT NULL,"
        " description TEXT NOT NULL,"
        " secret TEXT NOT NULL,"
        " enabled SMALLINT NOT NULL,"
        " disabled_reason TEXT,"
        " disabled_at BIGINT,"
        " failing_since BIGINT,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " lease_owner TEXT,"
        " lease_until BIGINT,"
        f" PRIMARY KEY (app_id, subscription_id)){clustered}",
        "CREATE TABLE webhook_deliveries ("
        " app_id TEXT NOT NULL,"
        " delivery_id TEXT NOT NULL,"
        " subscription_id TEXT NOT NULL,"
        f" seq {serial} NOT NULL,"
        " message_id TEXT NOT NULL,"
        " event_type TEXT NOT NULL,"
        f" payload {blob} NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " status TEXT NOT NULL,"
        " tries INTEGER NOT NULL,"
        " next_attempt_at BIGINT NOT NULL,"
        # Not clustered on SQLite: rows of a few KiB keyed by random ids would be inserted all over
        # the table's B-tree; in rowid order they are appended, and the key is a small index.
        " PRIMARY KEY (app_id, delivery_id))",
        "CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (app_id, subscription_id, seq)",
        # The head of each subscription's queue, found from an index that holds only pending rows.
        "CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (app_id, subscription_id, seq) "
        "WHERE status = 'pending'",
        "CREATE TABLE webhook_attempts ("
        " app_id TEXT NOT NULL,"
        " delivery_id TEXT NOT NULL,"
        " attempt_id TEXT NOT NULL,"
        " at BIGINT NOT NULL,"
        " status_code INTEGER,"
        " error TEXT,"
        " duration_ms INTEGER NOT NULL,"
        f" PRIMARY KEY (app_id, delivery_id, attempt_id)){clustered}",
        *_engine_specific(dialect),
    ]


def _engine_specific(dialect: str) -> list[str]:
    if dialect == "sqlite":
        # The next serial is the largest plus one (one writer): found from this index.
        return ["CREATE INDEX webhook_deliveries_by_seq ON webhook_deliveries (seq)"]
    # Payloads are JSON of a few KiB written once: compressing them costs the writer more than
    # the space it saves.
    return ["ALTER TABLE webhook_deliveries ALTER COLUMN payload SET STORAGE EXTERNAL"]
