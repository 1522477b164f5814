"""Calendar periods in IANA zones: half-hour offsets, DST days, ISO weeks, months."""

from __future__ import annotations

import itertools

import pytest

from calltrail.kernel.instants import parse_rfc3339
from calltrail.usage.periods import SLOT_SECONDS, buckets, split_slots, zone


def _labels(start: str, end: str, interval: str, tz: str) -> list[str]:
    return [b.label for b in buckets(parse_rfc3339(start), parse_rfc3339(end), interval, zone(tz))]


def test_kolkata_days_start_at_1830_utc() -> None:
    series = buckets(
        parse_rfc3339("2026-01-01T00:00:00Z"), parse_rfc3339("2026-01-03T00:00:00Z"), "day", zone("Asia/Kolkata")
    )
    assert [b.label for b in series] == [
        "2026-01-01T00:00:00+05:30",
        "2026-01-02T00:00:00+05:30",
        "2026-01-03T00:00:00+05:30",
    ]
    assert series[1].start_ms == parse_rfc3339("2026-01-01T18:30:00Z")
    assert series[0].start_ms == parse_rfc3339("2026-01-01T00:00:00Z")  # clipped to from
    assert series[-1].end_ms == parse_rfc3339("2026-01-03T00:00:00Z")  # clipped to to


def test_st_johns_hours_are_local_hours() -> None:
    labels = _labels("2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z", "hour", "America/St_Johns")
    assert labels == ["2025-12-31T20:00:00-03:30", "2025-12-31T21:00:00-03:30", "2025-12-31T22:00:00-03:30"]


@pytest.mark.parametrize(("day", "hours"), [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-01", 24)])
def test_amsterdam_dst_days(day: str, hours: int) -> None:
    series = buckets(
        parse_rfc3339(f"{day}T00:00:00+01:00") - 3 * 86400_000,
        parse_rfc3339(f"{day}T23:00:00Z") + 3 * 86400_000,
        "day",
        zone("Europe/Amsterdam"),
    )
    (match,) = [b for b in series if b.label.startswith(day)]
    assert match.end_ms - match.start_ms == hours * 3600_000


def test_amsterdam_hours_across_the_autumn_change() -> None:
    labels = _labels("2026-10-24T23:00:00Z", "2026-10-25T03:00:00Z", "hour", "Europe/Amsterdam")
    assert labels == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_weeks_start_monday_and_months() -> None:
    assert _labels("2026-03-04T00:00:00Z", "2026-03-10T00:00:00Z", "week", "UTC") == [
        "2026-03-02T00:00:00+00:00",
        "2026-03-09T00:00:00+00:00",
    ]
    assert _labels("2026-01-31T00:00:00Z", "2026-03-01T00:00:00Z", "month", "Asia/Kathmandu") == [
        "2026-01-01T00:00:00+05:45",
        "2026-02-01T00:00:00+05:45",
        "2026-03-01T00:00:00+05:45",
    ]
    assert _labels("2026-01-31T10:00:00Z", "2026-03-01T00:00:00Z", "all", "UTC") == ["2026-01-31T10:00:00+00:00"]


def test_slots_and_edges() -> None:
    series = buckets(
        parse_rfc3339("2026-01-01T00:07:00Z"), parse_rfc3339("2026-01-02T00:00:30Z"), "day", zone("Asia/Kolkata")
    )
    plan = split_slots(series)
    covered = sorted([(lo * SLOT_SECONDS, hi * SLOT_SECONDS, i) for lo, hi, i in plan.slot_ranges] + plan.raw_ranges)
    # The pieces tile the range exactly, in order, each in its bucket.
    assert covered[0][0] == parse_rfc3339("2026-01-01T00:07:00Z") // 1000
    assert covered[-1][1] == parse_rfc3339("2026-01-02T00:00:30Z") // 1000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))
    assert len(plan.raw_ranges) == 2


@pytest.mark.parametrize("name", ["Mars/Base", "../etc/passwd", "", "utc "])
def test_unknown_zones(name: str) -> None:
    with pytest.raises(ValueError, match="IANA"):
        zone(name)
