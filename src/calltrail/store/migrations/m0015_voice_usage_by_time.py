"""Phone-call usage rows clustered by creation time: a series reads a time range in order instead
of looking each row up through a secondary index (16,667 phone calls of a 30-day series: one range
scan). ``(app_id, call_id)`` stays unique (the writers' upsert and deletions use it)."""

from __future__ import annotations

COLUMNS = (
    "app_id, call_id, channel_id, created_at, status, direction, type, hangup_cause, duration, answered, "
    "answered_at, ended_at, billable, pdd_ms, mos_milli"
)


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        "CREATE TABLE usage_voice_calls_m0015 ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " call_id TEXT NOT NULL,"
        " channel_id TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " status TEXT NOT NULL,"
        " direction TEXT NOT NULL,"
        " type TEXT NOT NULL,"
        " hangup_cause INTEGER,"
        " duration BIGINT,"
        " answered SMALLINT NOT NULL,"
        " answered_at BIGINT,"
        " ended_at BIGINT,"
        " billable BIGINT NOT NULL,"
        " pdd_ms BIGINT,"
        " mos_milli BIGINT,"
        f" PRIMARY KEY (app_id, created_at, call_id)){clustered}",
        f"INSERT INTO usage_voice_calls_m0015 ({COLUMNS}) SELECT {COLUMNS} FROM usage_voice_calls",
        "DROP TABLE usage_voice_calls",
        "ALTER TABLE usage_voice_calls_m0015 RENAME TO usage_voice_calls",
        "CREATE UNIQUE INDEX usage_voice_calls_by_id ON usage_voice_calls (app_id, call_id)",
    ]
