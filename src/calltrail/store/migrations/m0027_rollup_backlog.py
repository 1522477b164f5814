"""The app's rollups' backlog: which slots of ``usage_rollups`` a write changed and that are not
recomputed yet (``store/usage_backlog.py``), beside the per-user keys of ``usage_member_backlog``.

A slot is marked once however many writes touch it; ``usage_member_backlog_size`` counts these
marks too. A new table: an existing database has no backlog.
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        "CREATE TABLE usage_rollup_backlog ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " slot BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id, slot)){clustered}",
    ]
