"""Bird-compatible telephony: channels, their calls, status events and tags, and the secret
that signs page tokens.

Indexes serve keyset ("seek") pages: newest ``created_at`` first, ties by ``call_id``. Each
filter has an index per scope, tenant first, then the scope (``channel_id``) and the filtered
column, ending in the sort key, so a filtered page is read straight from an index in order,
starting at the cursor: page 10,000 costs what page 1 costs.
"""

from __future__ import annotations

import secrets

#: Columns a list filters on with equality, by index name suffix.
FILTERED_COLUMNS = ("status", "type", "direction", "call_to", "call_from", "duration")


def statements(dialect: str) -> list[str]:
    blob = "BYTEA" if dialect == "postgresql" else "BLOB"
    # Byte order for ids on PostgreSQL, as on SQLite: the keyset order must not depend on the
    # server's locale, or a cursor could skip or repeat calls.
    ordered_text = 'TEXT COLLATE "C"' if dialect == "postgresql" else "TEXT"
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    # Generated once, when the migration runs, and shared by every server on this database: a
    # page token issued by one stateless server verifies on any other.
    page_secret = secrets.token_hex(32)
    return [
        "CREATE TABLE calltrail_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"INSERT INTO calltrail_secrets (name, value) VALUES ('page_token', '{page_secret}')",
        "CREATE TABLE channels ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " channel_id TEXT NOT NULL,"
        " name TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id, channel_id)){clustered}",
        "CREATE TABLE channel_call_events ("
        " app_id TEXT NOT NULL,"
        " event_id TEXT NOT NULL,"
        " channel_id TEXT NOT NULL,"
        " call_id TEXT NOT NULL,"
        " at_ms BIGINT NOT NULL,"
        f" body {blob} NOT NULL,"
        " PRIMARY KEY (app_id, event_id),"
        f" FOREIGN KEY (app_id, channel_id) REFERENCES channels (app_id, channel_id)){clustered}",
        "CREATE INDEX channel_call_events_by_call ON channel_call_events (app_id, call_id, channel_id)",
        "CREATE TABLE channel_calls ("
        " app_id TEXT NOT NULL,"
        f" call_id {ordered_text} NOT NULL,"
        " channel_id TEXT NOT NULL,"
        " source TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " status TEXT NOT NULL,"
        " type TEXT NOT NULL,"
        " direction TEXT NOT NULL,"
        " call_from TEXT NOT NULL,"
        " call_to TEXT NOT NULL,"
        " duration BIGINT,"
        f" body {blob} NOT NULL,"
        " PRIMARY KEY (app_id, call_id),"
        " FOREIGN KEY (app_id, channel_id) REFERENCES channels (app_id, channel_id))",
        "CREATE INDEX channel_calls_seek ON channel_calls (app_id, channel_id, created_at, call_id)",
        "CREATE INDEX channel_calls_ws_seek ON channel_calls (app_id, created_at, call_id)",
        *(
            f"CREATE INDEX channel_calls_by_{column} ON channel_calls "
            f"(app_id, channel_id, {column}, created_at, call_id)"
            for column in FILTERED_COLUMNS
        ),
        *(
            f"CREATE INDEX channel_calls_ws_by_{column} ON channel_calls (app_id, {column}, created_at, call_id)"
            for column in FILTERED_COLUMNS
        ),
        # Tags repeat the call's sort key and channel so a tag filter is also an in-order seek.
        "CREATE TABLE channel_call_tags ("
        " app_id TEXT NOT NULL,"
        f" call_id {ordered_text} NOT NULL,"
        " tag TEXT NOT NULL,"
        " channel_id TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " PRIMARY KEY (app_id, call_id, tag),"
        " FOREIGN KEY (app_id, call_id) REFERENCES channel_calls (app_id, call_id) ON DELETE CASCADE)"
        f"{clustered}",
        "CREATE INDEX channel_call_tags_seek ON channel_call_tags (app_id, channel_id, tag, created_at, call_id)",
        "CREATE INDEX channel_call_tags_ws_seek ON channel_call_tags (app_id, tag, created_at, call_id)",
    ]
