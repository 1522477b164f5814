"""A slot's rollup rows keep where the slot is at its peak (``peak_from``, ``peak_until``).

A series' bucket carries the long calls initiated before it; where one of them starts or ends
inside a 15-minute slot, the bucket's peak over that slot was read exactly from the calls there
(a window: every call initiated up to an hour before it). With the first instant at which the
slot's level reaches its ``rise`` and the end of its last stretch at that level, the peak is the
slot's, one more or one less: no call is read (``calltrail.usage.rollups.peak_span``).

Only level-0 rows (slots) hold them; the columns are null elsewhere. Rows written before this
migration have none: a series reads such a slot's window as before (the answer is the same). Every
app with rollups is listed in ``usage_rollup_peak_backfill``, and ``open_stores`` recomputes its
slot rows once from the calls (``store/usage_rollups.py``, ``backfill_peak_times``).
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    return [
        "ALTER TABLE usage_rollups ADD COLUMN peak_from BIGINT",
        "ALTER TABLE usage_rollups ADD COLUMN peak_until BIGINT",
        "CREATE TABLE usage_rollup_peak_backfill (app_id TEXT NOT NULL REFERENCES apps (app_id), PRIMARY KEY (app_id))",
        "INSERT INTO usage_rollup_peak_backfill (app_id) SELECT a.app_id FROM apps a "
        "WHERE EXISTS (SELECT 1 FROM usage_rollups r WHERE r.app_id = a.app_id)",
    ]
