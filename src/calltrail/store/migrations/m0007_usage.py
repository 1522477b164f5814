"""Usage analytics: each call's figures, summed per app x 15-minute UTC slot x low-cardinality
dimensions, each user's minutes per call, and each phone call's figures.

Kept exact by the row writers in the same transaction as the calls (``store/usage.py``): a
written call first has its previous contribution subtracted, then its new one added, so a
deletion is the same subtraction. Apps that already have calls are listed in
``usage_backfill``; ``open_stores`` computes their figures once, in Python, with the same
definitions the writers use (``calltrail.usage.figures``).

Why 15-minute slots: every IANA zone's offset since 1972 is a multiple of 15 minutes, so the
calendar periods of any zone (an hour, a day in Asia/Kolkata, a DST day in Europe/Amsterdam)
are unions of whole slots; the edges of an arbitrary ``from``/``to`` are read from per-call rows.
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    dims = "status TEXT NOT NULL, type TEXT NOT NULL, mode TEXT NOT NULL, receiver_type TEXT NOT NULL, "
    dims += "has_recording SMALLINT NOT NULL,"
    return [
        # One row per call, clustered by initiation time (a series reads a time range in order).
        "CREATE TABLE usage_calls ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " initiated_at BIGINT NOT NULL,"
        " session_id TEXT NOT NULL,"
        " started_at BIGINT,"
        " ended_at BIGINT,"
        f" {dims}"
        " initiator TEXT NOT NULL,"
        " duration_ms BIGINT NOT NULL,"
        " audio_ms BIGINT NOT NULL,"
        " video_ms BIGINT NOT NULL,"
        " participant_ms BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id, initiated_at, session_id)){clustered}",
        "CREATE INDEX usage_calls_by_session ON usage_calls (app_id, session_id)",
        "CREATE TABLE usage_call_slots ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " slot BIGINT NOT NULL,"
        f" {dims}"
        " calls BIGINT NOT NULL,"
        " started BIGINT NOT NULL,"
        " duration_ms BIGINT NOT NULL,"
        " started_duration_ms BIGINT NOT NULL,"
        " audio_ms BIGINT NOT NULL,"
        " video_ms BIGINT NOT NULL,"
        " participant_ms BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id, slot, status, type, mode, receiver_type, has_recording)){clustered}",
        "CREATE TABLE usage_members ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " session_id TEXT NOT NULL,"
        " uid TEXT NOT NULL,"
        " initiated_at BIGINT NOT NULL,"
        " minutes_ms BIGINT NOT NULL,"
        " missed SMALLINT NOT NULL,"
        f" PRIMARY KEY (app_id, session_id, uid)){clustered}",
        # Covers a groupBy=uid series without filters: no call row is read.
        "CREATE INDEX usage_members_by_time ON usage_members (app_id, initiated_at, uid, minutes_ms, missed)",
        "CREATE TABLE usage_voice_calls ("
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
        f" PRIMARY KEY (app_id, call_id)){clustered}",
        "CREATE INDEX usage_voice_calls_by_time ON usage_voice_calls (app_id, created_at)",
        "CREATE TABLE usage_backfill (app_id TEXT NOT NULL REFERENCES apps (app_id), PRIMARY KEY (app_id))",
        "INSERT INTO usage_backfill (app_id) SELECT app_id FROM apps",
    ]
