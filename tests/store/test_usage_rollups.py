"""The rollups the writers keep are what a rebuild computes, through random writes, rewrites and
deletions, and a database from before them (or their edges, peak times, day records) gets them on
open. Both engines."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest

from calltrail.jobs.feeder import feed_session_demo
from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.store import Stores, open_stores
from calltrail.store.usage import CallUsage
from calltrail.store.usage_backlog import has_rollup_backlog, settle
from calltrail.store.usage_rollups import backfill
from calltrail.usage.rollups import FIGURES, LONG_CALL
from tests.store.older_schema import reopened_after
from tests.store.rollup_calls import filled  # noqa: F401  (a fixture, shared with the series reads' tests)


def _rollups(stores: Stores, app_id: str) -> list[tuple[Any, ...]]:
    """The app's rollups, its backlog recomputed first."""
    settle(stores.db, app_id)
    with stores.db.read() as conn:
        assert not has_rollup_backlog(conn, app_id)
        rows = conn.fetchall(
            f"SELECT grp, level, block, value, {', '.join(FIGURES)}, peak_from, peak_until, edges FROM usage_rollups "
            "WHERE app_id = ? ORDER BY grp, level, block, value",
            (app_id,),
        )  # by name: a migration taken back and applied again adds its column last
        return [tuple(_plain(v) for v in row) for row in rows]


def _plain(value: Any) -> Any:
    """A column as one type on both engines (PostgreSQL's BIGINT sums, BYTEA memoryviews)."""
    if value is None or isinstance(value, str):
        return value
    return bytes(value) if isinstance(value, bytes | memoryview) else int(value)


def test_the_writers_keep_what_a_rebuild_computes(stores: Stores, filled: tuple[str, dict[str, CallUsage]]) -> None:  # noqa: F811
    app_id, _ = filled
    kept = _rollups(stores, app_id)
    assert kept
    with stores.db.write() as conn:
        conn.execute("INSERT INTO usage_rollup_backfill (app_id) VALUES (?)", (app_id,))
    assert app_id in backfill(stores.db)
    assert _rollups(stores, app_id) == kept


def _reopened_after(url: str, statements: tuple[str, ...]) -> None:
    """Back to an older schema by ``statements``: opening it again computes the same rollups."""
    kept = reopened_after(url, statements, _rollups)
    assert any(row[-1] for row in kept)  # the parents' edges


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_from_before_the_rollups_gets_them_on_open(backend: str, database_url: Callable[[str], str]) -> None:
    """Back to the schema before ``m0013``: its table, indexes and record dropped (and those of
    ``m0016`` and ``m0019``, which add columns to that table)."""
    statements = ("DROP TABLE usage_rollup_backfill", "DROP TABLE usage_rollups",
                  "DROP TABLE usage_rollup_peak_backfill", "DROP INDEX usage_calls_long_start",
                  "DROP INDEX usage_calls_long_end",
                  "DELETE FROM calltrail_migrations WHERE version IN (13, 16, 19)")  # fmt: skip
    _reopened_after(database_url(backend), statements)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_rollups_from_before_their_edges_get_them_on_open(backend: str, database_url: Callable[[str], str]) -> None:
    """Back to the schema before ``m0016``: rollups without their ``edges`` column."""
    _reopened_after(database_url(backend), ("ALTER TABLE usage_rollups DROP COLUMN edges",
                                            "DELETE FROM calltrail_migrations WHERE version = 16"))  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_slot_rows_from_before_their_peak_times_get_them_on_open(
    backend: str, database_url: Callable[[str], str]
) -> None:
    """Back to before ``m0019``: slot rows without where they are at their peak; opening the
    database recomputes them from the calls, the same as the writers made them."""
    _reopened_after(database_url(backend), ("DROP TABLE usage_rollup_peak_backfill",
                                            "ALTER TABLE usage_rollups DROP COLUMN peak_from",
                                            "ALTER TABLE usage_rollups DROP COLUMN peak_until",
                                            "DELETE FROM calltrail_migrations WHERE version = 19"))  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_day_rows_from_before_their_slot_records_get_them_on_open(
    backend: str, database_url: Callable[[str], str]
) -> None:
    """Back to before ``m0018``: the day rows' edges not those of today's version (here none);
    opening the database rewrites them from the slots' rows alone."""
    _reopened_after(database_url(backend), ("DROP TABLE usage_rollup_day_backfill",
                                            "DROP INDEX usage_calls_long_start", "DROP INDEX usage_calls_long_end",
                                            f"CREATE INDEX usage_calls_long_start ON usage_calls (app_id, started_at) "
                                            f"WHERE {LONG_CALL}",
                                            f"CREATE INDEX usage_calls_long_end ON usage_calls (app_id, ended_at) "
                                            f"WHERE {LONG_CALL}",
                                            "UPDATE usage_rollups SET edges = NULL WHERE level = 3",
                                            "DELETE FROM calltrail_migrations WHERE version = 18"))  # fmt: skip


def test_day_edges_are_stored_uncompressed_on_postgresql(database_url: Callable[[str], str]) -> None:
    """``m0020``: a day's 96 records are read by every series; PostgreSQL keeps them as they are
    (decompressing pglz took twice the time of reading them)."""
    stores = open_stores(database_url("postgresql"))
    try:
        app_id = stores.tenants.create_app(new_app_settings("Edges", f"e-{secrets.token_hex(5)}")).app_id
        calls = generate_calls(build_world(2), app_id=app_id, count=60, seed=3, end="2026-03-30T00:00:00Z", span_days=2)
        feed_session_demo(stores.sessions, app_id, calls)
        settle(stores.db, app_id)
        with stores.db.read() as conn:
            found = conn.fetchall(
                "SELECT length(edges), pg_column_compression(edges) FROM usage_rollups WHERE app_id = ? AND level = 3",
                (app_id,),
            )
    finally:
        stores.close()
    assert found and all(size == 9600 and method is None for size, method in found)
