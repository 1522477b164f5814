"""Every statement a write runs finds its rows through their keys, never by reading all of an
app's rows and filtering them: such a plan makes each write cost more as the app's history grows
(on PostgreSQL a batch of the 20,000-call demo spent 0.6-1.3 s in one probe of ``call_members``;
on SQLite every batch read all of the app's usage rows). SQLite's statements are checked by their
query plans (the last test); PostgreSQL's by running them, as follows.

A write's statements are prepared, and after five runs PostgreSQL may keep a *generic* plan, made
without the parameters' values: it cannot tell one app from all of them. Where the tables have no
statistics (autovacuum off, as on the test machines, or not run yet after a bulk load) it costs
plans from default estimates. The test fills an app the way a client does (the writer refreshes
statistics itself after its first 20,000 events: ``PostgresDatabase.ANALYZE_EVERY``), records every
statement (with its parameters) of the writes that follow, then runs each again with
``plan_cache_mode = force_generic_plan`` under ``EXPLAIN ANALYZE``, rolled back, and counts the
rows its plan read and threw away.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.events import Event
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.sessions.record import merge_record
from calltrail.store import Stores, open_stores
from calltrail.store.database import Connection, PostgresConnection, SQLiteConnection
from calltrail.store.usage_backlog import settle
from tests.sessions.demo_events import demo_events

APP = "plans"
#: About 25,000 events: past the writer's first refresh of statistics, and enough rows that a
#: plan reading the app's rows throws thousands away.
CALLS = 3000
#: Rows a plan may throw away: a bounded range holds a few (the slots of a batch's time span).
TOLERATED = 200


def _recorded(
    monkeypatch: pytest.MonkeyPatch, connection: type[Connection] = PostgresConnection
) -> list[tuple[str, Sequence[Any]]]:
    """Every statement run from now on through ``connection``'s class, with its parameters."""
    recorded: list[tuple[str, Sequence[Any]]] = []
    real: Callable[..., Any] = connection.execute

    def execute(self: Connection, sql: str, params: Sequence[Any] = ()) -> Any:
        recorded.append((sql, params))
        return real(self, sql, params)

    monkeypatch.setattr(connection, "execute", execute)
    return recorded


def _thrown_away(plan: dict[str, Any]) -> int:
    """Rows the plan's nodes read and discarded (filters and rechecks), over all their loops."""
    own = int(plan.get("Rows Removed by Filter", 0)) + int(plan.get("Rows Removed by Index Recheck", 0))
    return own * int(plan.get("Actual Loops", 1)) + sum(_thrown_away(child) for child in plan.get("Plans", ()))


def _generic_plan(raw: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> dict[str, Any]:
    """The generic plan of ``sql`` run with ``params``, analyzed, its effects rolled back."""
    number = itertools.count(1)
    prepared = re.sub(r"\?", lambda _: f"${next(number)}", sql)
    try:
        raw.execute("SET plan_cache_mode = force_generic_plan")
        raw.execute(f"PREPARE probe AS {prepared}")
        with psycopg.ClientCursor(raw) as cursor:
            arguments = ", ".join(["%s"] * len(params))
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE probe({arguments})", list(params))
            row = cursor.fetchone()
        assert row is not None
        plan: dict[str, Any] = row[0][0]["Plan"]
        return plan
    finally:
        raw.rollback()
        raw.execute("DEALLOCATE ALL")
        raw.commit()


def _fill(stores: Stores, batches: list[list[Event]]) -> None:
    for batch in batches:
        stores.sessions.ingest(APP, batch)


def _write_again(stores: Stores, batches: list[list[Event]]) -> None:
    """Writes of every kind on the filled app: batches that add to stored calls, the rollups'
    recompute, a re-import of stored records and a deletion."""
    _fill(stores, batches)
    settle(stores.db, APP)
    page = stores.sessions.find(APP, CallQuery(), PageRequest(page=1, per_page=20))
    session_ids = [record["sessionId"] for record in page.calls.parsed()]
    stored = [stores.sessions.get(APP, session_id) for session_id in session_ids[:5]]
    stores.sessions.put_records(APP, [merge_record(call.summary, call.extra) for call in stored if call is not None])
    stores.sessions.delete(APP, session_ids[5:15])


def _thrown_by_statement(url: str, recorded: list[tuple[str, Sequence[Any]]]) -> dict[str, int]:
    """Rows each recorded probe's generic plan threw away (statements that insert rows excepted:
    they carry their rows as arrays and look nothing up but their own key)."""
    probes = {
        sql: params
        for sql, params in recorded
        if sql.lstrip().split()[0].upper() in ("SELECT", "DELETE", "UPDATE") and "unnest(" not in sql
    }
    with psycopg.connect(url) as raw:
        return {sql: _thrown_away(_generic_plan(raw, sql, params)) for sql, params in probes.items()}


def _analyzed(stores: Stores, tables: Sequence[str]) -> set[str]:
    with stores.db.read() as conn:
        among, names = conn.any_of("relname", list(tables))
        rows = conn.fetchall(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
            f"AND last_analyze IS NOT NULL AND {among}",
            names,
        )
    return {name for (name,) in rows}


def test_every_write_statement_probes_its_keys(pg_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_database()
    stores = open_stores(url)
    try:
        stores.tenants.create_app(new_app_settings("Plans", APP, "us"))
        events = demo_events(APP, CALLS, seed=5, span_days=30)
        batches = [events[start : start + 1000] for start in range(0, len(events), 1000)]
        _fill(stores, batches[:-3])
        tables = ("calls", "call_members", "usage_calls")
        assert _analyzed(stores, tables) == set(tables), "the writer refreshes statistics after 20,000 events"
        recorded = _recorded(monkeypatch)
        _write_again(stores, batches[-3:])
        monkeypatch.undo()
        thrown = _thrown_by_statement(url, recorded)
        assert len(thrown) >= 25, sorted(thrown)  # the writes above ran all of them, as a client's do
        assert {sql: rows for sql, rows in thrown.items() if rows > TOLERATED} == {}
    finally:
        stores.close()


#: A list of keys in a statement (not one hidden from the index with a unary +).
_KEY_LIST = re.compile(r"(?<![+\w.])(?:\w+\.)?(\w+) IN \(")


def _searches_without_keys(stores: Stores, recorded: list[tuple[str, Sequence[Any]]]) -> dict[str, list[str]]:
    """SQLite's plan of each recorded statement that names a list of keys, where a step reads a
    table by ``app_id`` alone or scans it: the list is then a filter, not a search."""
    unused: dict[str, list[str]] = {}
    with stores.db.read() as conn:
        for sql, params in recorded:
            if not _KEY_LIST.search(sql) or sql.lstrip().split()[0].upper() not in ("SELECT", "DELETE", "UPDATE"):
                continue
            steps = [str(row[3]) for row in conn.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)]
            wasted = [step for step in steps if step.startswith("SCAN ") or step.endswith("(app_id=?)")]
            if wasted:
                unused[sql] = wasted
    return unused


def test_every_write_statement_searches_by_its_keys_on_sqlite(
    database_url: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's planner has no statistics until the first ``ANALYZE`` (after 200,000 events), and
    with them still judged reading an app's rows cheaper than looking up a batch's calls one by
    one: each write's statements are checked in both states."""
    stores = open_stores(database_url("sqlite"))
    try:
        stores.tenants.create_app(new_app_settings("Plans", APP, "us"))
        events = demo_events(APP, CALLS, seed=5, span_days=30)
        batches = [events[start : start + 1000] for start in range(0, len(events), 1000)]
        _fill(stores, batches[:-6])
        for written in (batches[-6:-3], batches[-3:]):
            recorded = _recorded(monkeypatch, SQLiteConnection)
            _write_again(stores, written)
            monkeypatch.undo()
            assert sum(1 for sql, _ in recorded if _KEY_LIST.search(sql)) >= 10
            assert _searches_without_keys(stores, recorded) == {}
            stores.db.analyze()
    finally:
        stores.close()
