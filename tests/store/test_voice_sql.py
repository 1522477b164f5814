"""The keyset SQL: which index each filter drives, and query plans that never scan or sort
the whole table (so a deep page costs what the first one does), on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from dataclasses import replace
from typing import cast

import pytest

from calltrail.kernel.cursors import Cursor
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores
from calltrail.store.database import PostgresConnection, SQLiteConnection
from calltrail.store.voice_sql import MAX_BRANCHES, compile_page
from calltrail.voice.query import ChannelCallQuery

CHANNEL = "a739d30b-8171-471c-9df4-591d4dd7bee5"
AFTER = Cursor(1709310908269, "71180b3e-b509-44b5-b7b3-22640525e580")
RANGE = {"start_ms": 1709000000000, "end_ms": 1709400000000}

#: (filter, the index a channel-scoped single-value query must use)
DRIVERS = [
    ({}, "channel_calls_seek"),
    ({"statuses": ("completed",)}, "channel_calls_by_status"),
    ({"types": ("sip",)}, "channel_calls_by_type"),
    ({"directions": ("incoming",)}, "channel_calls_by_direction"),
    ({"call_to": "+3197058016589"}, "channel_calls_by_call_to"),
    ({"call_from": "+351910648518"}, "channel_calls_by_call_from"),
    ({"duration": 7}, "channel_calls_by_duration"),
    ({"tags": ("vip",)}, "channel_call_tags_seek"),
]


def sqlite_conn() -> SQLiteConnection:
    """A SQLite connection for compiling SQL only: its dialect counts, never its raw connection."""
    return SQLiteConnection(cast(sqlite3.Connection, None))


def sql_for(query: ChannelCallQuery, dialect: str = "sqlite", after: Cursor | None = AFTER) -> tuple[str, list[object]]:
    conn = sqlite_conn() if dialect == "sqlite" else PostgresConnection(None)
    return compile_page(conn, "app-1", query, after, 11)


@pytest.mark.parametrize(("filters", "index"), DRIVERS)
def test_each_filter_drives_its_own_index(filters: dict[str, object], index: str) -> None:
    sql, params = sql_for(ChannelCallQuery(scope=CHANNEL, **filters))  # type: ignore[arg-type]
    assert f"INDEXED BY {index}" in sql
    assert sql.count("?") == len(params)
    workspace, _ = sql_for(ChannelCallQuery(**filters))  # type: ignore[arg-type]
    workspace_index = index.replace("_seek", "_ws_seek").replace("calls_by_", "calls_ws_by_")
    assert f"INDEXED BY {workspace_index}" in workspace


def test_the_most_selective_filter_drives_and_the_others_are_row_checks() -> None:
    sql, params = sql_for(ChannelCallQuery(scope=CHANNEL, statuses=("completed",), call_to="+1", tags=("vip",)))
    assert "INDEXED BY channel_calls_by_call_to" in sql
    assert "c.status = ?" in sql and "x.tag = ?" in sql
    assert sql.count("?") == len(params)
    sql, _ = sql_for(ChannelCallQuery(scope=CHANNEL, statuses=("completed",), directions=("incoming",), tags=("a",)))
    assert "INDEXED BY channel_call_tags_seek" in sql


def test_several_values_are_merged_branches_and_an_id_reads_one_row() -> None:
    sql, params = sql_for(ChannelCallQuery(scope=CHANNEL, statuses=("busy", "failed", "no-answer")))
    assert sql.count("INDEXED BY channel_calls_by_status") == 3 and " UNION " in sql
    assert sql.count("?") == len(params)
    sql, _ = sql_for(ChannelCallQuery(scope=CHANNEL, call_id=AFTER.key, statuses=("busy",)))
    assert "INDEXED BY" not in sql and "c.call_id = ?" in sql and "c.channel_id = ?" in sql


def test_too_many_channel_branches_become_a_row_check() -> None:
    channels = tuple(str(uuid.uuid4()) for _ in range(MAX_BRANCHES))
    sql, _ = sql_for(ChannelCallQuery(channels=channels[:2], statuses=("busy", "failed")))
    assert sql.count("INDEXED BY channel_calls_by_status") == 4
    sql, _ = sql_for(ChannelCallQuery(channels=channels, statuses=("busy", "failed")))
    assert sql.count("INDEXED BY channel_calls_ws_by_status") == 2 and "c.channel_id IN" in sql


def _queries() -> list[ChannelCallQuery]:
    found = []
    for filters, _ in DRIVERS:
        for scope in (CHANNEL, None):
            query = ChannelCallQuery(scope=scope, **filters)  # type: ignore[arg-type]
            found += [query, replace(query, **RANGE)]  # type: ignore[arg-type]
    found.append(ChannelCallQuery(scope=CHANNEL, statuses=("busy", "failed"), tags=("a", "b")))
    found.append(ChannelCallQuery(channels=(CHANNEL, str(uuid.uuid4())), types=("sip",), duration=3))
    return found


def test_plans_read_indexes_in_order(stores: Stores) -> None:
    """No full scan of a table and, for one branch, no sort: rows come from an index, in order,
    starting at the cursor. PostgreSQL is asked to avoid scans and sorts, so a plan that still
    has one would mean no index can serve the query."""
    app_id = stores.tenants.create_app(new_app_settings("Plans", f"t-{secrets.token_hex(6)}")).app_id
    for query in _queries():
        for after in (None, AFTER):
            with stores.db.read() as conn:
                sql, params = compile_page(conn, app_id, query, after, 11)
                if conn.dialect == "postgresql":
                    conn.execute("SET LOCAL enable_seqscan = off")
                    conn.execute("SET LOCAL enable_sort = off")
                    plan = "\n".join(row[0] for row in conn.fetchall("EXPLAIN " + sql, params))
                    assert "Seq Scan" not in plan, (query, plan)
                    if " UNION " not in sql:
                        assert "Sort" not in plan, (query, plan)
                else:
                    plan = "\n".join(row[3] for row in conn.fetchall("EXPLAIN QUERY PLAN " + sql, params))
                    assert "SCAN c" not in plan and "SCAN t" not in plan, (query, plan)
                    if " UNION " not in sql:
                        assert "TEMP B-TREE" not in plan, (query, plan)


def test_a_cursor_inside_the_window_replaces_the_end_bound() -> None:
    """Two upper bounds would let a planner seek from ``endAt`` and scan down to the cursor, so
    a deep page in a window would cost more than the first one."""
    window = ChannelCallQuery(scope=CHANNEL, start_ms=AFTER.position - 10**6, end_ms=AFTER.position + 10**6)
    first, _ = sql_for(window, after=None)
    deep, _ = sql_for(window, after=AFTER)
    assert "c.created_at < ?" in first and "c.created_at < ?" not in deep and "c.created_at >= ?" in deep
    outside = Cursor(window.end_ms + 5, AFTER.key)  # type: ignore[operator]
    assert "c.created_at < ?" in sql_for(window, after=outside)[0]
