"""The per-user rollups' backlog: which ``(slot, user)`` rows of ``usage_member_rollups`` a write
changed and that are not recomputed yet (``store/usage_backlog.py``).

``usage_member_backlog`` holds each such key once; ``usage_member_backlog_size`` counts, per app,
the keys marked since the last recompute (a key marked twice counts twice), so a writer learns from
one row when the backlog is due. A new table each: an existing database has no backlog.
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        "CREATE TABLE usage_member_backlog ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " slot BIGINT NOT NULL,"
        " uid TEXT NOT NULL,"
        f" PRIMARY KEY (app_id, slot, uid)){clustered}",
        "CREATE TABLE usage_member_backlog_size ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " marks BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id)){clustered}",
    ]
