"""PostgreSQL: no per-row foreign-key checks on the tables written for every event, call,
member and block.

PostgreSQL checks a foreign key by a trigger per inserted row, a query of the referenced table:
3.1 us a row on the development machine, against 0.15 us for SQLite's check. A 1,000,000-call demo
inserts about 26 million rows into these tables, so the checks alone cost more than a minute of the
server's time (docs/storage.md). They guarded nothing the writers do not: every row here is written
by a row writer for an app resolved before its transaction, apps are never deleted, and a call's
member rows are deleted with it by ``store/usage.py`` (``unaccount_calls``), not by the cascade.

The keys to ``apps`` stay on the tables a client writes directly (keys, profiles, channels,
integrations, subscriptions), where a row is written per request. SQLite keeps its checks: they
cost little there, and dropping one means rebuilding its table. Only the constraints go; nothing
is read or rewritten.
"""

from __future__ import annotations

#: ``(table, constraint)``: the constraints' names as the earlier migrations made them.
UNCHECKED = (
    ("call_events", "call_events_app_id_fkey"),
    ("calls", "calls_app_id_fkey"),
    ("call_members", "call_members_app_id_session_id_fkey"),
    ("call_counts", "call_counts_app_id_fkey"),
    ("call_value_counts", "call_value_counts_app_id_fkey"),
    ("member_counts", "member_counts_app_id_fkey"),
    ("call_page_counts", "call_page_counts_app_id_fkey"),
    ("call_page_totals", "call_page_totals_app_id_fkey"),
    ("usage_calls", "usage_calls_app_id_fkey"),
    ("usage_call_slots", "usage_call_slots_app_id_fkey"),
    ("usage_voice_calls", "usage_voice_calls_m0015_app_id_fkey"),
    ("usage_long_members", "usage_long_members_app_id_fkey"),
    ("usage_rollups", "usage_rollups_app_id_fkey"),
    ("usage_member_rollups", "usage_member_rollups_app_id_fkey"),
    ("usage_rollup_backlog", "usage_rollup_backlog_app_id_fkey"),
    ("usage_member_backlog", "usage_member_backlog_app_id_fkey"),
    ("usage_member_backlog_size", "usage_member_backlog_size_app_id_fkey"),
)


def statements(dialect: str) -> list[str]:
    if dialect != "postgresql":
        return []
    # IF EXISTS: a name unlike the earlier migrations' would keep its check (slower, still right)
    # rather than stop every server from starting; a table not made yet (tests apply the chain with
    # steps left out, to migrate them later) has nothing to drop.
    return [f"ALTER TABLE IF EXISTS {table} DROP CONSTRAINT IF EXISTS {constraint}" for table, constraint in UNCHECKED]
