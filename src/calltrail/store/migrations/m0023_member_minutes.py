"""One member row per user and call: ``usage_members`` folded into ``call_members``.

``usage_members`` (``m0007``) held one row per member of every call, the same rows as
``call_members`` (the same key, the same ``initiated_at`` and ``missed``) plus the user's own
minutes. Those minutes are now a column of ``call_members``, the time index moves with them, and
the copy is dropped: about 440 bytes per demo call on SQLite, and one table fewer to write per
member on every ingest. ``store/usage.py`` writes the member rows with their minutes.

An app still listed in ``usage_backfill`` (its usage never computed) has no ``usage_members``
rows: its minutes stay 0 here until the backfill rewrites its member rows.
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    return [
        "ALTER TABLE call_members ADD COLUMN minutes_ms BIGINT NOT NULL DEFAULT 0",
        "UPDATE call_members SET minutes_ms = u.minutes_ms FROM usage_members u WHERE u.app_id = call_members.app_id "
        "AND u.session_id = call_members.session_id AND u.uid = call_members.uid AND u.minutes_ms <> 0",
        "CREATE INDEX call_members_by_time ON call_members (app_id, initiated_at, uid, minutes_ms, missed)",
        "DROP TABLE usage_members",
    ]
