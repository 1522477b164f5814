"""Day rows keep a record per slot, and the long calls are read from their indexes alone.

* A day's ``usage_rollups`` row now keeps, in ``edges``, one record per 15-minute slot instead of
  one per 4-hour block (``calltrail.usage.edges``), so a series in a zone whose days do not start
  on a UTC day reads the same day rows as a UTC series. The figures do not change, only the day
  rows' edges: every app with rollups is listed in ``usage_rollup_day_backfill``, and
  ``open_stores`` rewrites its day rows' edges once from the slots' rows
  (``store/usage_rollups.py``, ``backfill_day_edges``).
* The two partial indexes of the long calls (``m0013``) now hold every column the rollups read
  of them: a series reads its few thousand long calls without a table lookup each (13.7 ms ->
  5.6 ms for the 2,922 of the 1M-call demo on SQLite). They hold only long calls: a few KB.
"""

from __future__ import annotations

from calltrail.usage.rollups import LONG_CALL

#: What the rollups' writers and series read of a long call, besides the indexed column.
_READ = ("initiated_at", "started_at", "ended_at", "session_id", "status", "type", "mode", "receiver_type",
         "duration_ms", "audio_ms", "video_ms", "participant_ms")  # fmt: skip


def _long_index(dialect: str, name: str, column: str) -> str:
    rest = [other for other in _READ if other != column]
    if dialect == "postgresql":
        columns = f"(app_id, {column}) INCLUDE ({', '.join(rest)})"
    else:  # no INCLUDE in SQLite: the key carries them
        columns = f"(app_id, {column}, {', '.join(rest)})"
    return f"CREATE INDEX {name} ON usage_calls {columns} WHERE {LONG_CALL}"


def statements(dialect: str) -> list[str]:
    return [
        "CREATE TABLE usage_rollup_day_backfill (app_id TEXT NOT NULL REFERENCES apps (app_id), PRIMARY KEY (app_id))",
        "INSERT INTO usage_rollup_day_backfill (app_id) SELECT a.app_id FROM apps a "
        "WHERE EXISTS (SELECT 1 FROM usage_rollups r WHERE r.app_id = a.app_id)",
        "DROP INDEX usage_calls_long_start",
        "DROP INDEX usage_calls_long_end",
        _long_index(dialect, "usage_calls_long_start", "started_at"),
        _long_index(dialect, "usage_calls_long_end", "ended_at"),
    ]
