"""Per-user usage rollups: for each app, block (15 minutes, an hour, 4 hours, a UTC day) and user,
the user's calls initiated in the block by status and their sums (the user's own minutes as
``participant_ms``, and the calls they missed), and the concurrency profile of the user's calls
(the columns of ``usage_rollups``, ``m0013``, except that a 4-hour block's and a day's ``f0`` is
that of its first hour). Read by ``groupBy=uid`` series without filters.

Kept exact by the call writers in the same transaction (``store/usage_members.py``); apps that
already have calls are listed in ``usage_member_rollup_backfill`` and computed once by
``open_stores``.
"""

from __future__ import annotations

_FIGURES = (
    "n_initiated", "n_ongoing", "n_ended", "n_unanswered", "n_rejected", "n_busy", "n_cancelled",
    "started", "duration_ms", "started_duration_ms", "audio_ms", "video_ms", "participant_ms",
    "net", "rise", "late", "f0", "f1", "f2", "f3", "missed",
)  # fmt: skip


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    figures = ", ".join(f"{name} BIGINT NOT NULL" for name in _FIGURES)
    return [
        # By block, then user: a series reads every ranked user's row of a block together.
        "CREATE TABLE usage_member_rollups ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " level SMALLINT NOT NULL,"
        " block BIGINT NOT NULL,"
        " uid TEXT NOT NULL,"
        f" {figures},"
        f" PRIMARY KEY (app_id, level, block, uid)){clustered}",
        "CREATE TABLE usage_member_rollup_backfill ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id), PRIMARY KEY (app_id))",
        "INSERT INTO usage_member_rollup_backfill (app_id) SELECT a.app_id FROM apps a "
        "WHERE EXISTS (SELECT 1 FROM usage_members m WHERE m.app_id = a.app_id)",
    ]
