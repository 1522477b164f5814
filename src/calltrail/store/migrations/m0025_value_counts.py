"""Exact totals for a filter on a participant count: calls counted per value.

``call_value_counts`` holds, per app, counted column (:data:`VALUE_COUNTED`) and value, the number
of calls with that value. A list whose only conditions are on one of those columns
(``totalParticipants[gte]=4``, ``participantsCount=2``) is counted by summing a few rows instead of
reading every matching index entry: 189,412 of them for ``totalParticipants[gte]=4`` at 1M demo
calls, 27 ms on PostgreSQL and 8-10 ms on SQLite. The row writers keep it with ``call_counts``
(``SessionStore._update_counts``); this migration fills it from the calls.
"""

from __future__ import annotations

#: Calls' columns counted per value: small integers, filtered by range.
VALUE_COUNTED = ("total_participants", "participants_count")


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        "CREATE TABLE call_value_counts ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " name TEXT NOT NULL,"
        " value BIGINT NOT NULL,"
        " n BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id, name, value)){clustered}",
        *(
            "INSERT INTO call_value_counts (app_id, name, value, n) "
            f"SELECT app_id, '{column}', {column}, count(*) FROM calls GROUP BY app_id, {column}"
            for column in VALUE_COUNTED
        ),
    ]
