"""Choosing how to count and how to read a page (pure)."""

from __future__ import annotations

from calltrail.sessions.query import CallQuery
from calltrail.store.database import PostgresConnection, SQLiteConnection
from calltrail.store.sessions_sql import compile_query, prefer_sort


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
    scan = compiled.page_sql("DESC", sort=False, conn=SQLiteConnection(None))
    assert "+c.duration >" in scan and "ORDER BY c.initiated_at DESC" in scan
    sort = compiled.page_sql("DESC", sort=True, conn=SQLiteConnection(None))
    assert "ORDER BY +c.initiated_at DESC, +c.session_id DESC" in sort and "+c.duration" not in sort
    assert "+" not in compiled.page_sql("DESC", sort=True, conn=PostgresConnection(None))


def test_prefer_sort_when_few_rows_match() -> None:
    assert prefer_sort(matching=900, app_total=1_000_000, rows_needed=25)  # scanning would read ~28k rows
    assert not prefer_sort(matching=190_000, app_total=1_000_000, rows_needed=25)
    assert not prefer_sort(matching=0, app_total=1_000_000, rows_needed=25)
