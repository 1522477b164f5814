"""Events found by their session through a 64-bit hash of its id, not the id itself.

``call_events_by_session`` (``m0001``) indexed ``(app_id, session_id)``: with CometChat-shaped
session ids of 62 characters, about 89 bytes an event on SQLite, 730 a demo call. It now indexes
``(app_id, session_hash)``, the id's :func:`calltrail.store.database.key_hash`, which each event
row carries: about 20 bytes an entry, plus 9 in the row. Reads by session match the hash and the
id (``EventLogSpec.streams_among``), so two ids sharing a hash are told apart.

SQLite rebuilds the table (the rows gain their hash in place of a rewrite that would leave pages
half full); PostgreSQL adds and fills the column. Either reads and writes every event once: on
SQLite about a minute per million demo calls.
"""

from __future__ import annotations

from calltrail.store.database import key_hash_sql

_COLUMNS = "app_id, event_id, session_id, session_hash, type, at_ms, body"


def statements(dialect: str) -> list[str]:
    hashed = key_hash_sql(dialect, "session_id")
    if dialect == "postgresql":
        return [
            "ALTER TABLE call_events ADD COLUMN session_hash BIGINT",
            f"UPDATE call_events SET session_hash = {hashed}",
            "ALTER TABLE call_events ALTER COLUMN session_hash SET NOT NULL",
            "DROP INDEX call_events_by_session",
            "CREATE INDEX call_events_by_session ON call_events (app_id, session_hash)",
        ]
    return [
        "CREATE TABLE call_events_hashed ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " event_id TEXT NOT NULL,"
        " session_id TEXT NOT NULL,"
        " session_hash BIGINT NOT NULL,"
        " type TEXT NOT NULL,"
        " at_ms BIGINT NOT NULL,"
        " body BLOB NOT NULL,"
        " PRIMARY KEY (app_id, event_id))",
        f"INSERT INTO call_events_hashed ({_COLUMNS}) "
        f"SELECT app_id, event_id, session_id, {hashed}, type, at_ms, body FROM call_events ORDER BY rowid",
        "DROP TABLE call_events",
        "ALTER TABLE call_events_hashed RENAME TO call_events",
        "CREATE INDEX call_events_by_session ON call_events (app_id, session_hash)",
    ]
