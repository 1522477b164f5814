"""Calendar periods in an IANA time zone: the buckets of a usage series.

Pure: no I/O. A bucket is a calendar period *in the zone* (an hour, a day, an ISO week starting
Monday, a month), so a day in ``Asia/Kolkata`` (+05:30) starts at 18:30 UTC, and a day in
``Europe/Amsterdam`` lasts 23 or 25 hours when the clocks change. Every bucket is reported with
the start of its calendar period (with the zone's offset); calls are counted only from ``from``
(inclusive) to ``to`` (exclusive), so the first and last buckets may be partial.

Instants are epoch milliseconds. Every IANA zone's offsets since 1970 are multiples of 15
minutes (the only exceptions ended in 1972), so bucket boundaries fall on 15-minute UTC
slots, which is what the pre-computed figures are keyed by; the store still handles any
boundary inside a slot exactly (see :func:`split_slots`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

INTERVALS = ("hour", "day", "week", "month", "all")
#: The pre-computed figures' time key: 15 minutes, in seconds.
SLOT_SECONDS = 900
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MS = timedelta(milliseconds=1)
#: ``+05:30`` by offset: every label of a zone repeats a handful of them.
_OFFSET_TEXT: dict[timedelta, str] = {}


class Bucket(NamedTuple):
    """One period: ``[start_ms, end_ms)`` clipped to the requested range, and its label. (A
    named tuple: a year of days builds hundreds per request, at a third of a dataclass's cost.)"""

    start_ms: int
    end_ms: int
    label: str


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ``ValueError`` naming the rule otherwise."""
    if name in ("UTC", "Z"):
        return ZoneInfo("UTC")
    # available_timezones() guards against file paths and odd keys ZoneInfo would try to open.
    if name not in _zone_names():
        raise ValueError("must be an IANA time zone, e.g. UTC, Europe/Amsterdam or Asia/Kolkata")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone, e.g. UTC, Europe/Amsterdam or Asia/Kolkata") from None


_ZONES: frozenset[str] | None = None


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def _local(ms: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz)


def _instant(local: datetime) -> int:
    # A local midnight that does not exist (a DST gap at 00:00) has fold=0: Python reads it with
    # the offset before the change, which is exactly the instant the day begins.
    return round(local.timestamp() * 1000)


def _midnight(day: date, tz: ZoneInfo) -> int:
    return _midnight_ms(datetime(day.year, day.month, day.day, tzinfo=tz))


def _midnight_ms(midnight: datetime) -> int:
    """A local midnight's instant, from its day number and the offset there: what
    ``datetime.timestamp()`` computes (a DST gap at midnight included), at half the cost."""
    offset = midnight.utcoffset()
    return (midnight.toordinal() - _EPOCH_ORDINAL) * DAY_MS - (0 if offset is None else offset // _MS)


def period_start(ms: int, interval: str, tz: ZoneInfo) -> int:
    """The start of the calendar period containing ``ms``."""
    local = _local(ms, tz)
    if interval == "hour":
        floored = _instant(local.replace(minute=0, second=0, microsecond=0))
        return floored if floored <= ms else ms - ms % HOUR_MS
    if interval == "day":
        return _midnight(local.date(), tz)
    if interval == "week":
        return _midnight(local.date() - timedelta(days=local.weekday()), tz)
    if interval == "month":
        return _midnight(local.date().replace(day=1), tz)
    raise ValueError(f"unknown interval {interval}")


def next_start(start: int, interval: str, tz: ZoneInfo) -> int:
    """The start of the period after the one starting at ``start``."""
    return _next_start(start, _local(start, tz), interval, tz)


def _next_start(start: int, local: datetime, interval: str, tz: ZoneInfo) -> int:
    if interval == "hour":
        # The next local hour: an offset change of 30 or 60 minutes makes this hour shorter.
        candidate = period_start(start + HOUR_MS, "hour", tz)
        return candidate if candidate > start else start + HOUR_MS
    return _midnight_ms(_midnight_after(local.date(), interval, tz))


def label(ms: int, tz: ZoneInfo) -> str:
    """RFC 3339 with the zone's offset, e.g. ``2026-03-29T00:00:00+01:00``."""
    return _label(ms, _local(ms, tz))


def _label(ms: int, local: datetime) -> str:
    offset = local.utcoffset()
    if offset is None or offset.seconds % 60:
        # A local mean time offset with seconds (before 1972) is not RFC 3339: show UTC.
        return local.astimezone(UTC).isoformat(timespec="milliseconds" if ms % 1000 else "seconds")
    if ms % DAY_MS != -offset // _MS % DAY_MS:
        return local.isoformat(timespec="milliseconds" if ms % 1000 else "seconds")
    # A local midnight (most buckets' start): its date and its offset's text, known after the
    # first. isoformat() was the costliest step of building a bucket.
    text = _OFFSET_TEXT.get(offset)
    if text is None:
        text = _OFFSET_TEXT[offset] = local.isoformat(timespec="seconds")[19:]
    return f"{local.date().isoformat()}T00:00:00{text}"


def buckets(from_ms: int, to_ms: int, interval: str, tz: ZoneInfo) -> list[Bucket]:
    """Every bucket from ``from_ms`` (inclusive) to ``to_ms`` (exclusive), in order."""
    if interval == "all":
        return [Bucket(from_ms, to_ms, label(from_ms, tz))]
    found = []
    start = period_start(from_ms, interval, tz)
    local = _local(start, tz)
    while start < to_ms:
        end = _next_start(start, local, interval, tz)
        found.append(Bucket(max(start, from_ms), min(end, to_ms), _label(start, local)))
        start, local = end, _local(end, tz)
    return found


def _midnight_after(day: date, interval: str, tz: ZoneInfo) -> datetime:
    if interval == "day":
        day += timedelta(days=1)
    elif interval == "week":
        day += timedelta(days=7)
    elif interval == "month":
        day = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    else:
        raise ValueError(f"unknown interval {interval}")
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def count_buckets(from_ms: int, to_ms: int, interval: str) -> int:
    """An upper bound on the number of buckets, without building them (for request limits)."""
    span_hours = (to_ms - from_ms) // HOUR_MS + 2
    per = {"hour": 1, "day": 23, "week": 167, "month": 672, "all": 10**12}[interval]
    return max(1, span_hours // per + 2)


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """How a series is read: whole 15-minute slots per bucket from the pre-computed figures,
    and the few ranges (in seconds) that cut through a slot, read from per-call rows.

    ``slot_ranges`` are ``(first slot, end slot, bucket index)``; ``raw_ranges`` are
    ``(start second, end second, bucket index)``, both half-open.
    """

    slot_ranges: list[tuple[int, int, int]]
    raw_ranges: list[tuple[int, int, int]]


def seconds_bounds(bucket: Bucket) -> tuple[int, int]:
    """A bucket in whole Unix seconds: ``t`` (seconds) is inside iff ``t * 1000`` is."""
    return -(-bucket.start_ms // 1000), -(-bucket.end_ms // 1000)


def split_slots(series: list[Bucket]) -> SlotPlan:
    """Split each bucket into whole slots and the partial edges around them."""
    slots: list[tuple[int, int, int]] = []
    raw: list[tuple[int, int, int]] = []
    for index, bucket in enumerate(series):
        lo, hi = seconds_bounds(bucket)
        first, end = -(-lo // SLOT_SECONDS), hi // SLOT_SECONDS
        if first >= end:
            if lo < hi:
                raw.append((lo, hi, index))
            continue
        slots.append((first, end, index))
        if lo < first * SLOT_SECONDS:
            raw.append((lo, first * SLOT_SECONDS, index))
        if end * SLOT_SECONDS < hi:
            raw.append((end * SLOT_SECONDS, hi, index))
    return SlotPlan(slots, raw)
