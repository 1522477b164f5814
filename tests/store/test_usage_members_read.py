"""A ``groupBy=uid`` series read from the per-user rollups answers exactly what reading every
member row answers: random calls (short, long, still ongoing, starting before their initiation)
with random members, written, rewritten and deleted through the usage writers, and random series
(intervals, zones with half-hour and 45-minute offsets and DST, edges off the slots, *now* inside
the range). Both engines."""

from __future__ import annotations

import random

import pytest

from calltrail.sessions.query import CallQuery
from calltrail.store import Stores
from calltrail.store.usage_backlog import has_backlog
from calltrail.store.usage_read import UsageReader
from calltrail.usage.params import CallUsageRequest, Period
from calltrail.usage.periods import buckets, zone
from tests.store.member_calls import filled  # noqa: F401  (a fixture, shared with the writers' tests)
from tests.store.rollup_calls import BASE, DAY

ZONES = ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Europe/Amsterdam")


@pytest.mark.parametrize("seed", range(40))
def test_series_equal_reading_every_member_row(stores: Stores, filled: str, seed: int) -> None:  # noqa: F811
    rng = random.Random(seed)
    interval = rng.choice(("hour", "day", "day", "week", "month", "all"))
    tz_name = rng.choice(ZONES)
    start = BASE - DAY + rng.randrange(0, 3 * DAY) * rng.choice((1, 0)) // 900 * 900 + rng.choice((0, 0, 37, 1800))
    span = rng.choice((2 * DAY, 9 * DAY, 15 * DAY)) if interval != "hour" else rng.choice((DAY // 2, 3 * DAY))
    now_ms = (start + rng.randrange(0, span + 5 * DAY)) * 1000 + rng.randrange(0, 1000)
    from_ms, to_ms = start * 1000, (start + span) * 1000 + rng.choice((0, 555))
    limit = rng.choice((2, 4, 100))
    period = Period(from_ms, to_ms, interval, tz_name, zone(tz_name), "uid", limit)
    request = CallUsageRequest(period, CallQuery(), None)
    series = buckets(from_ms, to_ms, interval, zone(tz_name))
    reader = UsageReader(stores.db)
    with stores.db.read() as conn:
        assert not has_backlog(conn, filled)  # else the rollups are read around
        rows = reader._member_series(conn, filled, request, series, now_ms)  # the rollups: no filters
        want = reader._member_raw_series(conn, filled, request, series, now_ms)
    assert rows == want
