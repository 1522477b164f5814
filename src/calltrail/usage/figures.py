"""What each call contributes to a usage series, and how a series row is rendered.

Pure: no I/O. The store keeps these contributions (per call, and summed per 15-minute slot) and
sums them; the definitions live here once, so the figures equal what a program computes from
the records the list endpoints return:

* Minutes are counted to the millisecond: each value (a call's ``totalDurationInMinutes``,
  ``totalAudioMinutes``, ``totalVideoMinutes``, each participant entry's minutes) becomes
  ``int(minutes * 60000 + 0.5)`` milliseconds, summed exactly as integers, and reported as
  minutes (``ms / 60000``). Sums never drift, however often a call is re-imported.
* A participant entry's minutes are its ``totalDuration`` (minutes), else its
  ``totalDurationInMinutes``, else ``totalAudioMinutes + totalVideoMinutes``.
* PDD is counted to the millisecond and MOS to 0.001 (``qualityInsights.pdd``/``.mos``, decimal
  strings); a call reports MOS when it is above 0 (Bird writes ``0.00`` when nothing was measured)
  and PDD when it is 0 or more.
* ``peakConcurrent``: the largest number of the row's calls (those bucketed in it) in progress
  at one instant inside the bucket; a call is in progress over ``[start, end)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from calltrail.sessions.vocabulary import CALL_STATUSES
from calltrail.voice.vocabulary import STATUSES as VOICE_STATUSES

MINUTE_MS = 60_000
#: What JSON numbers parse to (not ``bool``, an ``int`` subclass: never minutes).
_JSON_NUMBERS = frozenset((int, float))


def to_ms(minutes: object) -> int:
    """Minutes (a JSON number) as whole milliseconds; anything else is 0."""
    # By exact type first (every call's and entry's minutes pass here); bool is an int, never minutes.
    if type(minutes) not in _JSON_NUMBERS and (isinstance(minutes, bool) or not isinstance(minutes, int | float)):
        return 0
    number = cast(float, minutes)
    return int(number * MINUTE_MS + 0.5) if math.isfinite(number) else 0


def entry_ms(entry: Mapping[str, Any]) -> int:
    """A participant entry's minutes, in ms (see the module docstring)."""
    for key in ("totalDuration", "totalDurationInMinutes"):
        value = entry.get(key)
        # By exact type first, as in to_ms (every entry of every written call passes here).
        if type(value) in _JSON_NUMBERS or (isinstance(value, int | float) and not isinstance(value, bool)):
            return to_ms(value)
    return to_ms(entry.get("totalAudioMinutes", 0)) + to_ms(entry.get("totalVideoMinutes", 0))


def participant_ms(record: Mapping[str, Any]) -> tuple[int, dict[str, int]]:
    """A call's participant minutes in ms: every entry's summed, and each user's own (their
    entries summed; an entry without a uid counts in the total only), in one pass."""
    total = 0
    found: dict[str, int] = {}
    for entry in record.get("participants") or ():
        # A parsed entry is a dict: the abstract Mapping check (slower) only for anything else.
        if type(entry) is not dict and not isinstance(entry, Mapping):
            continue
        ms = entry_ms(entry)
        total += ms
        uid = entry.get("uid")
        if isinstance(uid, str):
            found[uid] = found.get(uid, 0) + ms
    return total, found


def billable_minutes(duration: int | None) -> int:
    """An answered call's duration (seconds) rounded up to whole minutes."""
    return -(-duration // 60) if duration else 0


def _decimal(value: object, scale: int) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number * scale + 0.5) if math.isfinite(number) and 0 <= number <= 1e6 else None


def quality(record: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """``(pdd in ms, mos in thousandths)`` a phone call reports, each None when absent."""
    insights = record.get("qualityInsights")
    if not isinstance(insights, Mapping):
        return None, None
    pdd = _decimal(insights.get("pdd"), 1000)
    mos = _decimal(insights.get("mos"), 1000)
    return pdd, (mos if mos else None)


def peak(intervals: Iterable[tuple[int, int]], lo: int, hi: int) -> int:
    """The most intervals ``[start, end)`` covering one instant of ``[lo, hi)``."""
    starts: list[int] = []
    ends: list[int] = []
    for start, end in intervals:
        start, end = max(start, lo), min(end, hi)
        if start < end:
            starts.append(start)
            ends.append(end)
    starts.sort()
    ends.sort()
    best = current = j = 0
    for start in starts:
        # An interval ending at t does not overlap one starting at t.
        while ends[j] <= start:
            current -= 1
            j += 1
        current += 1
        best = max(best, current)
    return best


@dataclass(slots=True)
class CallSums:
    """The summed figures of one row of ``/api/usage/calls``."""

    calls: int = 0
    started: int = 0
    duration_ms: int = 0
    started_duration_ms: int = 0
    audio_ms: int = 0
    video_ms: int = 0
    participant_ms: int = 0
    missed: int = 0

    def add(self, other: CallSums) -> None:
        """Add another partial sum (slots and edges of the same row)."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_NO_CALLS = dict.fromkeys(CALL_STATUSES, 0)


def call_row(
    period: str, group: object, sums: CallSums, statuses: Mapping[str, int], peak_now: int, *, grouped: bool, uid: bool
) -> dict[str, Any]:
    """One row of ``/api/usage/calls``."""
    row: dict[str, Any] = {"period": period}
    if grouped:
        row["group"] = group
    row["calls"] = sums.calls
    row["statuses"] = {**_NO_CALLS, **statuses}  # in CALL_STATUSES order (a status is one of them)
    row["totalMinutes"] = sums.duration_ms / MINUTE_MS
    row["audioMinutes"] = sums.audio_ms / MINUTE_MS
    row["videoMinutes"] = sums.video_ms / MINUTE_MS
    row["participantMinutes"] = sums.participant_ms / MINUTE_MS
    row["avgDurationMinutes"] = sums.started_duration_ms / sums.started / MINUTE_MS if sums.started else 0.0
    row["peakConcurrent"] = peak_now
    if uid:
        row["missed"] = sums.missed
    return row


@dataclass(slots=True)
class VoiceSums:
    """The summed figures of one row of ``/api/usage/voice``."""

    calls: int = 0
    answered: int = 0
    duration: int = 0
    answered_timed: int = 0
    answered_duration: int = 0
    billable: int = 0
    pdd_count: int = 0
    pdd_ms: int = 0
    mos_count: int = 0
    mos_milli: int = 0


def voice_row(
    period: str, group: object, sums: VoiceSums, statuses: Mapping[str, int], peak_now: int, *, grouped: bool
) -> dict[str, Any]:
    """One row of ``/api/usage/voice``."""
    row: dict[str, Any] = {"period": period}
    if grouped:
        row["group"] = group
    row["calls"] = sums.calls
    row["statuses"] = {status: int(statuses.get(status, 0)) for status in VOICE_STATUSES}
    row["answered"] = sums.answered
    row["asr"] = sums.answered / sums.calls if sums.calls else 0.0
    row["acdSeconds"] = sums.answered_duration / sums.answered_timed if sums.answered_timed else 0.0
    row["durationSeconds"] = sums.duration
    row["billableMinutes"] = sums.billable
    row["avgPddSeconds"] = sums.pdd_ms / sums.pdd_count / 1000 if sums.pdd_count else None
    row["avgMos"] = sums.mos_milli / sums.mos_count / 1000 if sums.mos_count else None
    row["peakConcurrent"] = peak_now
    return row
