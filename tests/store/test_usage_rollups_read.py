"""A series read from the rollups answers exactly what reading every call answers: random calls
(short, long, still ongoing, starting before their initiation), random writes, rewrites and
deletions, and random series (intervals, zones with half-hour and 45-minute offsets and DST, edges
off the slots, *now* inside the range). Both engines."""

from __future__ import annotations

import random
import secrets
from typing import Any

import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.query import CallQuery
from calltrail.store import Stores
from calltrail.store.usage import CallUsage
from calltrail.store.usage_rollups_read import SeriesRead
from calltrail.store.usage_rows_read import CallRowsRead
from calltrail.usage.figures import CallSums
from calltrail.usage.periods import buckets, seconds_bounds, zone
from tests.store.rollup_calls import (
    BASE,
    DAY,
    _random_call,
    _write,
    filled,  # noqa: F401  (a fixture, shared with the writers' tests)
)

ZONES = ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Europe/Amsterdam")


@pytest.mark.parametrize("seed", range(40))
def test_series_equal_reading_every_call(stores: Stores, filled: tuple[str, dict[str, CallUsage]], seed: int) -> None:  # noqa: F811
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
