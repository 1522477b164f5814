"""The members of long calls, by user (``usage_long_members``): what a ``groupBy=uid`` series
reads to count each ranked user's long calls in progress, instead of every long call's members.

A long call (started, and ongoing or ended more than an hour after its initiation: the predicate
of the ``usage_calls_long_*`` partial indexes) has one row per member, keyed by user and then by
``open_until``: its end, or 2**62 while it has none. So a series reads only its ranked users' calls
still in progress at its start (one index range per user): 4,607 rows at 1M demo calls, where
the old read took 8,778 member rows in 5 statements. The writers keep it with ``usage_members``
(``store/usage.py``); this migration fills it from the calls already there.
"""

from __future__ import annotations

#: The ``open_until`` of a call without an end: after any instant a series reads.
_STILL_OPEN = 2**62


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    long_call = "started_at IS NOT NULL AND (ended_at IS NULL OR ended_at > initiated_at + 3600)"
    return [
        "CREATE TABLE usage_long_members ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " uid TEXT NOT NULL,"
        " open_until BIGINT NOT NULL,"
        " session_id TEXT NOT NULL,"
        " initiated_at BIGINT NOT NULL,"
        " started_at BIGINT NOT NULL,"
        " status TEXT NOT NULL,"
        f" PRIMARY KEY (app_id, uid, open_until, session_id)){clustered}",
        "INSERT INTO usage_long_members (app_id, uid, open_until, session_id, initiated_at, started_at, status) "
        f"SELECT m.app_id, m.uid, COALESCE(u.ended_at, {_STILL_OPEN}), u.session_id, u.initiated_at, u.started_at, "
        "u.status FROM (SELECT app_id, session_id, initiated_at, started_at, ended_at, status FROM usage_calls "
        f"WHERE {long_call}) u JOIN usage_members m ON m.app_id = u.app_id AND m.session_id = u.session_id",
    ]
