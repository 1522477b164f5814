"""Rollup edges: each hour's, 4-hour block's and day's ``usage_rollups`` row also keeps, per child,
the block's figures before the child and from it (``edges``, see ``calltrail.usage.rollups``),
so a series in a zone whose days do not start on a UTC day reads a few rows per day, not a dozen.

The rows written before this have none: every app with rollups is listed in
``usage_rollup_backfill`` again, and ``open_stores`` recomputes its rollups once (with edges).
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    blob = "BYTEA" if dialect == "postgresql" else "BLOB"
    return [
        f"ALTER TABLE usage_rollups ADD COLUMN edges {blob}",
        "INSERT INTO usage_rollup_backfill (app_id) SELECT a.app_id FROM apps a "
        "WHERE EXISTS (SELECT 1 FROM usage_rollups r WHERE r.app_id = a.app_id) "
        "AND NOT EXISTS (SELECT 1 FROM usage_rollup_backfill b WHERE b.app_id = a.app_id)",
    ]
