"""The rollups answer exactly what reading every call answers: random calls (short, long, still
ongoing, starting before their initiation), random writes, rewrites and deletions, and random
series (intervals, zones with half-hour and 45-minute offsets and DST, edges off the slots,
*now* inside the range). Both engines."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from calltrail.jobs.feeder import feed_session_demo
from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.sessions.query import CallQuery
from calltrail.store import Stores, open_stores
from calltrail.store.usage import CALL_COLUMNS, CallUsage
from calltrail.store.usage_backlog import has_rollup_backlog, settle
from calltrail.store.usage_rollups import backfill, refresh
from calltrail.store.usage_rollups_read import SeriesRead
from calltrail.store.usage_rows_read import CallRowsRead
from calltrail.usage.figures import CallSums
from calltrail.usage.periods import buckets, seconds_bounds, zone
from calltrail.usage.rollups import FIGURES, LONG_CALL
from tests.store.older_schema import reopened_after

BASE = 1_774_000_000  # 2026-03-20, before Europe's DST change
ZONES = ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Europe/Amsterdam")
DAY = 86_400


def _random_call(rng: random.Random, index: int) -> CallUsage:
    initiated = BASE + rng.randrange(0, 12 * DAY)
    status = rng.choice(("ended", "ended", "ended", "ongoing", "unanswered", "cancelled", "initiated"))
    started = ended = None
    if status in ("ended", "ongoing") or rng.random() < 0.1:
        started = initiated + rng.choice((0, rng.randrange(1, 40), rng.randrange(-30, 0)))
        length = rng.choice((rng.randrange(1, 600), rng.randrange(600, 3600), rng.randrange(3600, 3 * DAY), 3600))
        ended = None if status == "ongoing" else started + length
        if status == "ongoing" and rng.random() < 0.3:
            started += rng.randrange(0, 20 * DAY)  # in the future of some series
    kind, mode = rng.choice(("audio", "video")), rng.choice(("call", "meet", "presenter"))
    return CallUsage(initiated, f"s{index:05d}", started, ended, status, kind, mode, rng.choice(("user", "group")),
                     0, "u1", rng.randrange(0, 10**6), rng.randrange(0, 10**5), 0, rng.randrange(0, 10**6))  # fmt: skip


def _write(stores: Stores, app_id: str, calls: list[CallUsage], old: list[CallUsage]) -> None:
    with stores.db.write() as conn:
        if old:
            among, ids = conn.any_of("session_id", [call.session_id for call in old])
            conn.execute(f"DELETE FROM usage_calls WHERE app_id = ? AND {among}", (app_id, *ids))
        rows = [(app_id, *(getattr(call, name) for name in CALL_COLUMNS[1:])) for call in calls]
        conn.insert_rows("usage_calls", CALL_COLUMNS, rows)
        refresh(conn, app_id, [call.span() for call in [*old, *calls]])


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


@pytest.fixture(scope="module")
def filled(stores: Stores) -> tuple[str, dict[str, CallUsage]]:
    app_id = stores.tenants.create_app(new_app_settings("Rollups", f"r-{secrets.token_hex(5)}")).app_id
    rng = random.Random(7)
    current: dict[str, CallUsage] = {}
    for batch in range(12):
        fresh = [_random_call(rng, batch * 40 + n) for n in range(40)]
        old = [current[key] for key in rng.sample(sorted(current), min(len(current), 10))]
        rewritten = [_random_call(rng, int(call.session_id[1:])) for call in old[:5]]
        _write(stores, app_id, [*fresh, *rewritten], old)
        for call in old:
            del current[call.session_id]
        current.update((call.session_id, call) for call in [*fresh, *rewritten])
    return app_id, current


def test_the_writers_keep_what_a_rebuild_computes(stores: Stores, filled: tuple[str, dict[str, CallUsage]]) -> None:
    app_id, _ = filled
    kept = _rollups(stores, app_id)
    assert kept
    with stores.db.write() as conn:
        conn.execute("INSERT INTO usage_rollup_backfill (app_id) VALUES (?)", (app_id,))
    assert app_id in backfill(stores.db)
    assert _rollups(stores, app_id) == kept


@pytest.mark.parametrize("seed", range(40))
def test_series_equal_reading_every_call(stores: Stores, filled: tuple[str, dict[str, CallUsage]], seed: int) -> None:
    _check_series(stores, filled[0], seed)


@pytest.fixture(scope="module")
def filled_before_peak_times(stores: Stores) -> str:
    """The same calls in another app, its slot rows as ``m0019`` found them: no peak times."""
    app_id = stores.tenants.create_app(new_app_settings("Rollups", f"r-{secrets.token_hex(5)}")).app_id
    rng = random.Random(7)
    _write(stores, app_id, [_random_call(rng, n) for n in range(480)], [])
    with stores.db.write() as conn:
        conn.execute("UPDATE usage_rollups SET peak_from = NULL, peak_until = NULL WHERE app_id = ?", (app_id,))
    return app_id


@pytest.mark.parametrize("seed", range(0, 40, 3))
def test_slots_without_peak_times_are_read_from_their_calls(
    stores: Stores, filled_before_peak_times: str, seed: int
) -> None:
    """A slot row written before ``m0019`` (or by an older server during a rolling upgrade) has no
    peak times: a run in which one carried call starts or ends there is read as a window."""
    _check_series(stores, filled_before_peak_times, seed)


def _check_series(stores: Stores, app_id: str, seed: int) -> None:
    """A random series read from the rollups equals summing and sweeping every call."""
    rng = random.Random(seed)
    interval = rng.choice(("hour", "day", "day", "week", "month", "all"))
    tz = zone(rng.choice(ZONES))
    start = BASE - DAY + rng.randrange(0, 3 * DAY) * rng.choice((1, 0)) // 900 * 900 + rng.choice((0, 0, 37, 1800))
    span = rng.choice((2 * DAY, 9 * DAY, 15 * DAY)) if interval != "hour" else rng.choice((DAY // 2, 3 * DAY))
    now_ms = (start + rng.randrange(0, span + 5 * DAY)) * 1000 + rng.randrange(0, 1000)
    series = buckets(start * 1000, (start + span) * 1000 + rng.choice((0, 555)), interval, tz)
    grp, only = rng.choice((("", None), ("type", None), ("status", None), ("mode", "meet"), ("status", "ongoing")))
    group = grp if only is None and grp else None
    query = CallQuery() if only is None else CallQuery().where(grp, "eq", only)
    with stores.db.read() as conn:
        rows = CallRowsRead(conn, app_id, query, group, series, now_ms)
        read = SeriesRead(conn, app_id, grp, only, series, now_ms)
        sums, statuses, edges = read.sums()
        rows.add_sums(edges, sums, statuses)
        # As the series reads them (only the buckets with calls), or every bucket's.
        peaks = read.peaks({index for (index, _), found in sums.items() if found.calls} if seed % 2 else None)
        want_sums: dict[Any, CallSums] = {}
        want_statuses: dict[Any, dict[str, int]] = {}
        ranges = [(*seconds_bounds(b), i) for i, b in enumerate(series)]
        rows.add_sums(ranges, want_sums, want_statuses)
        want_peaks = rows.peaks()
    assert {k: v for k, v in peaks.items() if v} == {k: v for k, v in want_peaks.items() if v}
    assert {k: v for k, v in sums.items() if v.calls} == {k: v for k, v in want_sums.items() if v.calls}
    assert _counted(statuses) == _counted(want_statuses)


def _counted(statuses: dict[Any, dict[str, int]]) -> dict[Any, dict[str, int]]:
    """Each key's non-zero status counts, keys with none left out."""
    found = {key: {status: n for status, n in counts.items() if n} for key, counts in statuses.items()}
    return {key: counts for key, counts in found.items() if counts}


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
