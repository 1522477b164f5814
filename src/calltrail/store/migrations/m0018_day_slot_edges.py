"""Day rows keep a record per slot: a day's ``usage_rollups`` row now keeps, in ``edges``, one
record per 15-minute slot instead of one per 4-hour block (``calltrail.usage.edges``), so a
series in a zone whose days do not start on a UTC day reads the same day rows as a UTC series.

The figures do not change, only the day rows' edges: every app with rollups is listed in
``usage_rollup_day_backfill``, and ``open_stores`` rewrites its day rows' edges once from the
slots' rows (``store/usage_rollups.py``, ``backfill_day_edges``).
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    return [
        "CREATE TABLE usage_rollup_day_backfill (app_id TEXT NOT NULL REFERENCES apps (app_id), PRIMARY KEY (app_id))",
        "INSERT INTO usage_rollup_day_backfill (app_id) SELECT a.app_id FROM apps a "
        "WHERE EXISTS (SELECT 1 FROM usage_rollups r WHERE r.app_id = a.app_id)",
    ]
