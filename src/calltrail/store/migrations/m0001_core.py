"""Apps, API keys, lifecycle events and call records (with their per-user index)."""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    blob = "BYTEA" if dialect == "postgresql" else "BLOB"
    real = "DOUBLE PRECISION"
    # Small rows keyed by text are stored clustered on SQLite: one b-tree instead of two.
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    indexed_columns = {
        # One index per documented filter, ending in the list order (initiatedAt) so a filtered
        # page is read from the index in order; ties within one second are sorted in place.
        "status": "status",
        "type": "type",
        "mode": "mode",
        "receiver_type": "receiver_type",
        "has_recording": "has_recording",
        "participants_count": "participants_count",
        "total_participants": "total_participants",
        "started_at": "started_at",
        "ended_at": "ended_at",
        "duration": "duration",
        "audio_minutes": "audio_minutes",
        "video_minutes": "video_minutes",
        "receiver": "receiver",
    }
    return [
        "CREATE TABLE apps ("
        " app_id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " region TEXT NOT NULL,"
        " created_at BIGINT NOT NULL)",
        "CREATE TABLE api_keys ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " key_hash TEXT NOT NULL,"
        " name TEXT NOT NULL,"
        " scope TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " PRIMARY KEY (app_id, key_hash))",
        # Requests carry only the key, so it is looked up by hash alone.
        "CREATE INDEX api_keys_by_hash ON api_keys (key_hash)",
        "CREATE TABLE call_events ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " event_id TEXT NOT NULL,"
        " session_id TEXT NOT NULL,"
        " type TEXT NOT NULL,"
        " at_ms BIGINT NOT NULL,"
        f" body {blob} NOT NULL,"
        # Not clustered: rows are appended in arrival order, and only the two compact indexes
        # take inserts at scattered keys (client-chosen ids are often random UUIDs).
        " PRIMARY KEY (app_id, event_id))",
        "CREATE INDEX call_events_by_session ON call_events (app_id, session_id)",
        "CREATE TABLE calls ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " session_id TEXT NOT NULL,"
        " source TEXT NOT NULL,"
        " initiated_at BIGINT NOT NULL,"
        " status TEXT NOT NULL,"
        " type TEXT NOT NULL,"
        " mode TEXT NOT NULL,"
        " receiver_type TEXT NOT NULL,"
        " initiator TEXT NOT NULL,"
        " receiver TEXT NOT NULL,"
        " started_at BIGINT,"
        " ended_at BIGINT,"
        f" duration {real} NOT NULL,"
        f" audio_minutes {real} NOT NULL,"
        f" video_minutes {real} NOT NULL,"
        " total_participants INTEGER NOT NULL,"
        " participants_count INTEGER NOT NULL,"
        " has_recording SMALLINT NOT NULL,"
        f" summary {blob} NOT NULL,"
        f" extra {blob},"
        " PRIMARY KEY (app_id, session_id))",
        "CREATE INDEX calls_by_initiated ON calls (app_id, initiated_at, session_id)",
        # Ingestion checks whether a session was imported whole; few are, so the index is small.
        "CREATE INDEX calls_imported ON calls (app_id, session_id) WHERE source = 'import'",
        *(
            f"CREATE INDEX calls_by_{name} ON calls (app_id, {column}, initiated_at)"
            for name, column in indexed_columns.items()
        ),
        "CREATE TABLE call_members ("
        " app_id TEXT NOT NULL,"
        " session_id TEXT NOT NULL,"
        " uid TEXT NOT NULL,"
        " initiated_at BIGINT NOT NULL,"
        " is_initiator SMALLINT NOT NULL,"
        " joined SMALLINT NOT NULL,"
        " rejected SMALLINT NOT NULL,"
        " missed SMALLINT NOT NULL,"
        " PRIMARY KEY (app_id, session_id, uid),"
        " FOREIGN KEY (app_id, session_id) REFERENCES calls (app_id, session_id) ON DELETE CASCADE)"
        f"{clustered}",
        "CREATE INDEX call_members_by_uid ON call_members (app_id, uid, initiated_at, session_id)",
        # Missed calls are a small share of a user's calls: a partial index keeps them apart.
        "CREATE INDEX call_members_missed ON call_members (app_id, uid, initiated_at, session_id) WHERE missed = 1",
    ]
