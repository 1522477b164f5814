"""Choosing how to count and how to read a page (pure)."""

from __future__ import annotations

import sqlite3
from typing import cast

from calltrail.sessions.query import CallQuery
from calltrail.store.database import PostgresConnection, SQLiteConnection
from calltrail.store.sessions_sql import compile_query, latest_initiation, prefer_sort


def sqlite_conn() -> SQLiteConnection:
    """A SQLite connection for compiling SQL only: its dialect counts, never its raw connection."""
    return SQLiteConnection(cast(sqlite3.Connection, None))


def test_equality_filters_on_counted_columns_are_counted_from_call_counts() -> None:
    for query in (CallQuery(), CallQuery().where("status", "eq", "ended").where("type", "in", ("audio", "video"))):
        assert "FROM call_counts" in compile_query("app", query).count_sql
    for query in (
        CallQuery().where("duration", "gt", 1.0),
        CallQuery().where("status", "gt", "a"),
        CallQuery().involving("ann").where("status", "eq", "ended"),
    ):
        assert "FROM call_counts" not in compile_query("app", query).count_sql


def test_one_users_calls_with_counted_filters_are_counted_from_member_counts() -> None:
    compiled = compile_query("app", CallQuery().involving("ann", is_initiator=False).where("status", "eq", "busy"))
    assert "FROM member_counts k" in compiled.count_sql
    assert compiled.count_params == ["app", "ann", 0, "busy"]
    for query in (CallQuery().involving("ann", joined=True), CallQuery().involving("ann").where("duration", "gt", 1)):
        assert "member_counts" not in compile_query("app", query).count_sql


def test_a_users_calls_are_counted_without_the_join() -> None:
    compiled = compile_query("app", CallQuery().involving("ann", missed=True).involving("ben"))
    assert compiled.count_sql.startswith("SELECT count(*) FROM call_members m WHERE")
    assert "JOIN" not in compiled.count_sql and compiled.count_params == ["app", "ann", 1, "ben"]


def test_ranged_conditions_choose_a_plan_on_sqlite_only() -> None:
    compiled = compile_query("app", CallQuery().where("duration", "gt", 1.0).where("status", "eq", "ended"))
    assert [c.column for c in compiled.ranged] == ["duration"]
    scan = compiled.page_sql("DESC", sort=False, conn=sqlite_conn())
    assert "+c.duration >" in scan and "ORDER BY c.initiated_at DESC" in scan
    sort = compiled.page_sql("DESC", sort=True, conn=sqlite_conn())
    assert "ORDER BY +c.initiated_at DESC, +c.session_id DESC" in sort and "+c.duration" not in sort
    assert "+" not in compiled.page_sql("DESC", sort=True, conn=PostgresConnection(None))


def test_prefer_sort_when_few_rows_match() -> None:
    assert prefer_sort(matching=900, app_total=1_000_000, rows_needed=25)  # scanning would read ~28k rows
    assert not prefer_sort(matching=190_000, app_total=1_000_000, rows_needed=25)
    assert not prefer_sort(matching=0, app_total=1_000_000, rows_needed=25)


def test_rows_before_any_match_weigh_for_the_sort() -> None:
    # A one-day startedAt range a month back at 10M calls: a month of calls before any match.
    assert not prefer_sort(matching=38_270, app_total=10_000_000, rows_needed=25)
    assert prefer_sort(matching=38_270, app_total=10_000_000, rows_needed=25, passed=1_600_000)


def test_a_cap_on_a_time_after_initiation_caps_the_initiation() -> None:
    started = CallQuery().where("started_at", "gte", 5)
    assert latest_initiation(started.where("started_at", "lt", 100).conditions) == 100
    assert latest_initiation(started.where("started_at", "lte", 100).conditions) == 101
    assert latest_initiation(started.where("ended_at", "lt", 90).where("started_at", "lt", 100).conditions) == 90
    assert latest_initiation(CallQuery().where("ended_at", "eq", 7).conditions) == 8
    for query in (started, CallQuery().where("duration", "lt", 5), CallQuery()):
        assert latest_initiation(query.conditions) is None


def test_ranges_on_one_column_alone_sort_up_to_the_page_end() -> None:
    one = CallQuery().where("started_at", "gte", 5).where("started_at", "lt", 9)
    assert compile_query("app", one).one_range
    for query in (one.where("status", "eq", "ended"), one.where("duration", "gt", 1), CallQuery()):
        assert not compile_query("app", query).one_range
    compiled = compile_query("app", one)
    sql = compiled.page_sql("DESC", sort=True, conn=sqlite_conn())
    assert sql.count("c.started_at >= ?") == 2 and "LIMIT 1 OFFSET ?" in sql
    assert compiled.page_params(True, sqlite_conn(), 25, 50) == ("app", 5, 9, "app", 5, 9, 74, 25, 50)
    assert compiled.page_params(False, sqlite_conn(), 25, 50) == ("app", 5, 9, 25, 50)
    assert "LIMIT 1" not in compiled.page_sql("DESC", sort=False, conn=sqlite_conn())
    # The page's end is tested in the filter's index: as is on PostgreSQL (an index condition),
    # unindexed on SQLite (which would otherwise take the list's own index for it).
    assert " AND +c.initiated_at >= coalesce((SELECT" in sql
    on_postgresql = compiled.page_sql("ASC", sort=True, conn=PostgresConnection(None))
    assert " AND c.initiated_at <= coalesce((SELECT" in on_postgresql
