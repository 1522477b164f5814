"""Exact per-app call counts by status, type, mode, receiver type and recording.

List Calls reports an exact total on every page; for the common filters (equalities on these
columns, or none) the total is a sum over a handful of these rows instead of a count over up
to millions of index entries. Kept in step with ``calls`` by every write (store/calls.py).
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    columns = "app_id, status, type, mode, receiver_type, has_recording"
    return [
        "CREATE TABLE call_counts ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " status TEXT NOT NULL,"
        " type TEXT NOT NULL,"
        " mode TEXT NOT NULL,"
        " receiver_type TEXT NOT NULL,"
        " has_recording SMALLINT NOT NULL,"
        " n BIGINT NOT NULL,"
        f" PRIMARY KEY ({columns})){clustered}",
        f"INSERT INTO call_counts ({columns}, n) SELECT {columns}, count(*) FROM calls GROUP BY {columns}",
    ]
