"""A call's timeline, laid out for an inline SVG: one row per participant device (or per phone
leg) with bars on a shared time axis, plus markers for media changes and recording bands.

Pure: no I/O. Coordinates are in the SVG's user units (:data:`WIDTH` wide); the template only
draws what this module computed. Every bar and marker carries its accessible name, e.g.
``alice: joined 12:00:04, left 12:01:04``, in the viewer's zone.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from calltrail.web.render import clock

WIDTH = 1000
LABEL_WIDTH = 250
TRACK_X = 260
TRACK_WIDTH = WIDTH - TRACK_X - 10
AXIS_HEIGHT = 26
ROW_HEIGHT = 26
BAR_HEIGHT = 14
#: Tick spacings, seconds: the first giving at most :data:`MAX_TICKS` ticks is used.
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_TICKS = 7


@dataclass(frozen=True, slots=True)
class Bar:
    """A span on a row: ``kind`` picks its colour (``joined``, ``setup``, ``ringing``, ...)."""

    x: float
    width: float
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class Row:
    """One participant device (or phone leg): its label, its bars, or a note when it has none."""

    y: float
    who: str
    detail: str
    bars: tuple[Bar, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Marker:
    """A vertical line across every row (a media change), with its accessible name."""

    x: float
    kind: str
    text: str
    label: str


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class Timeline:
    """Everything the SVG needs."""

    height: float
    rows: tuple[Row, ...]
    ticks: tuple[Tick, ...]
    markers: tuple[Marker, ...] = ()
    bands: tuple[Row, ...] = ()
    width: int = WIDTH
    track_x: int = TRACK_X
    track_end: int = TRACK_X + TRACK_WIDTH
    row_height: int = ROW_HEIGHT
    bar_height: int = BAR_HEIGHT


@dataclass(frozen=True)
class Axis:
    """Seconds ``start..end`` mapped onto the track."""

    start: float
    end: float

    def x(self, seconds: float) -> float:
        span = max(self.end - self.start, 1e-9)
        fraction = min(max((seconds - self.start) / span, 0.0), 1.0)
        return round(TRACK_X + fraction * TRACK_WIDTH, 1)

    def bar(self, start: float, end: float, kind: str, label: str) -> Bar:
        left = self.x(start)
        return Bar(left, max(round(self.x(end) - left, 1), 2.0), kind, label)

    def ticks(self, tz: zoneinfo.ZoneInfo) -> tuple[Tick, ...]:
        span = self.end - self.start
        step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS), TICK_STEPS[-1])
        first = -(-self.start // step) * step
        count = int((self.end - first) // step) + 1
        return tuple(Tick(self.x(first + i * step), clock(first + i * step, tz)) for i in range(max(count, 0)))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _axis(start: float, ends: Iterable[float | None], now: float) -> Axis:
    known = [end for end in ends if end is not None]
    end = max(known) if known else now
    return Axis(start, max(end, start + 1))


def _rows_height(count: int) -> float:
    return AXIS_HEIGHT + count * ROW_HEIGHT + 6


def call_timeline(
    record: Mapping[str, Any], media_changes: Sequence[tuple[float, str]], tz: zoneinfo.ZoneInfo, now: float
) -> Timeline:
    """The timeline of a CometChat-shaped record. ``media_changes`` are ``(seconds, new type)``
    from the call's ``call.type_changed`` events; ``now`` ends the bars of devices still in
    an ongoing call."""
    participants = [p for p in record.get("participants") or () if isinstance(p, dict)]
    recordings = [r for r in record.get("recordings") or () if isinstance(r, dict)]
    start = _number(record.get("initiatedAt")) or 0.0
    ongoing = record.get("endedAt") is None and record.get("status") in ("initiated", "ongoing")
    ends = [_number(record.get("endedAt")), *(_number(p.get("leftAt")) for p in participants)]
    ends += [_number(r.get("endTime")) for r in recordings] + [at for at, _ in media_changes]
    axis = _axis(start, [*ends, now if ongoing else None], now)
    rows: list[Row] = []
    for participant in participants:
        y = AXIS_HEIGHT + len(rows) * ROW_HEIGHT
        uid = str(participant.get("uid", ""))
        joined, left = _number(participant.get("joinedAt")), _number(participant.get("leftAt"))
        if joined is None:
            state = str(participant.get("state") or "never joined")
            rows.append(Row(y, uid, "invited", note=state))
            continue
        if left is None:
            label = f"{uid}: joined {clock(joined, tz)}, still in the call"
            bar = axis.bar(joined, axis.end, "joined", label)
        else:
            bar = axis.bar(joined, left, "joined", f"{uid}: joined {clock(joined, tz)}, left {clock(left, tz)}")
        rows.append(Row(y, uid, str(participant.get("deviceId") or ""), (bar,)))
    bands: list[Row] = []
    for recording in recordings:
        begin, finish = _number(recording.get("startTime")), _number(recording.get("endTime"))
        if begin is None or finish is None:
            continue
        y = AXIS_HEIGHT + (len(rows) + len(bands)) * ROW_HEIGHT
        name = str(recording.get("rid") or "recording")
        label = f"recording {name}: {clock(begin, tz)} to {clock(finish, tz)}"
        bands.append(Row(y, "recording", name, (axis.bar(begin, finish, "recording", label),)))
    markers = tuple(
        Marker(axis.x(at), "media", kind, f"switched to {kind} at {clock(at, tz)}") for at, kind in media_changes
    )
    height = _rows_height(len(rows) + len(bands))
    return Timeline(height, tuple(rows), axis.ticks(tz), markers, tuple(bands))


#: A phone call's phases: (name, the field it starts at, the fields that may end it, in order).
PHASES = (
    ("setup", "createdAt", ("ringingAt", "answeredAt", "endedAt")),
    ("ringing", "ringingAt", ("answeredAt", "endedAt")),
    ("answered", "answeredAt", ("endedAt",)),
)


def _phase_bars(call: Mapping[str, float], axis: Axis, who: str, tz: zoneinfo.ZoneInfo, now: float) -> list[Bar]:
    bars = []
    for name, start_field, end_fields in PHASES:
        begin = call.get(start_field)
        if begin is None:
            continue
        finish = next((call[f] for f in end_fields if call.get(f) is not None), None)
        if finish is None:
            bars.append(axis.bar(begin, max(now, begin), name, f"{who}: {name} from {clock(begin, tz)}, still going"))
        else:
            label = f"{who}: {name} {clock(begin, tz)} to {clock(finish, tz)}"
            bars.append(axis.bar(begin, finish, name, label))
    return bars


def phone_timeline(legs: Sequence[tuple[str, str, Mapping[str, float]]], tz: zoneinfo.ZoneInfo, now: float) -> Timeline:
    """Ringing → answered → ended for a phone call and its legs on one axis. Each leg is
    ``(name, detail, {"createdAt": s, "ringingAt": s, "answeredAt": s, "endedAt": s})`` with
    absent instants left out; a leg without ``endedAt`` is still in progress at ``now``."""
    start = min((leg["createdAt"] for _, _, leg in legs if "createdAt" in leg), default=now)
    ends = [leg.get("endedAt") or now for _, _, leg in legs]
    axis = _axis(start, ends, now)
    rows = tuple(
        Row(AXIS_HEIGHT + index * ROW_HEIGHT, name, detail, tuple(_phase_bars(leg, axis, name, tz, now)))
        for index, (name, detail, leg) in enumerate(legs)
    )
    return Timeline(_rows_height(len(rows)), rows, axis.ticks(tz))
