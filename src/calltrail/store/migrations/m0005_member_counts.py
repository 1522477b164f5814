"""Exact per-user call counts, by the same buckets as ``call_counts`` plus direction and missed.

A user's call log (``uid``/``onBehalfOf`` on REST, the auth-token user view) reports an exact
total on every page; with equality filters on these columns the total is a sum over a few rows
instead of a join over every call the user was part of.
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    key = "app_id, uid, status, type, mode, receiver_type, has_recording, is_initiator, missed"
    source = "m.app_id, m.uid, c.status, c.type, c.mode, c.receiver_type, c.has_recording, m.is_initiator, m.missed"
    return [
        "CREATE TABLE member_counts ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " uid TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " type TEXT NOT NULL,"
        " mode TEXT NOT NULL,"
        " receiver_type TEXT NOT NULL,"
        " has_recording SMALLINT NOT NULL,"
        " is_initiator SMALLINT NOT NULL,"
        " missed SMALLINT NOT NULL,"
        " n BIGINT NOT NULL,"
        f" PRIMARY KEY ({key})){clustered}",
        f"INSERT INTO member_counts ({key}, n) "
        f"SELECT {source}, count(*) FROM call_members m "
        "JOIN calls c ON c.app_id = m.app_id AND c.session_id = m.session_id "
        f"GROUP BY {source}",
    ]
