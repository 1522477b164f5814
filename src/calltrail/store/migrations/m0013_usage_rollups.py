"""Usage rollups: each group's figures and concurrency profile per aligned time block, so a
series reads a few rows per bucket instead of every call (``store/usage_rollups.py``).

A block is 15 minutes, an hour, 4 hours or a UTC day (``level`` 0 to 3, ``block`` its start in
Unix seconds). A group is ``('', '')`` (every call) or one low-cardinality column and its value
(``('type', 'video')``). Each row holds the calls initiated in the block by status and their
sums, and the concurrency profile of the block (``net``, ``rise``, ``f0``..``f3``; see
``calltrail.usage.rollups``). Kept exact in the writers' transactions; apps that already have
calls are listed in ``usage_rollup_backfill`` and computed once by ``open_stores``.

Two partial indexes (by start and by end) find the few long calls (over an hour from initiation to end, or still
open), which are the only ones a block boundary cannot account for by itself.
"""

from __future__ import annotations

from calltrail.usage.rollups import FIGURES, LONG_CALL


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    figures = ", ".join(f"{name} BIGINT NOT NULL" for name in FIGURES)
    return [
        "CREATE TABLE usage_rollups ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " grp TEXT NOT NULL,"
        " level SMALLINT NOT NULL,"
        " block BIGINT NOT NULL,"
        " value TEXT NOT NULL,"
        f" {figures},"
        f" PRIMARY KEY (app_id, grp, level, block, value)){clustered}",
        f"CREATE INDEX usage_calls_long_start ON usage_calls (app_id, started_at) WHERE {LONG_CALL}",
        f"CREATE INDEX usage_calls_long_end ON usage_calls (app_id, ended_at) WHERE {LONG_CALL}",
        "CREATE TABLE usage_rollup_backfill (app_id TEXT NOT NULL REFERENCES apps (app_id), PRIMARY KEY (app_id))",
        "INSERT INTO usage_rollup_backfill (app_id) SELECT DISTINCT app_id FROM usage_calls",
    ]
