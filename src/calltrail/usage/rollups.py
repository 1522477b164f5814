"""Pre-computed usage figures per aligned time block, and ``peakConcurrent`` read from them.

Pure: no I/O. ``store/usage_rollups.py`` keeps the rows, ``store/usage_rollups_read.py`` reads them.

**Blocks.** A block is a 15-minute slot, an hour, 4 hours or a UTC day (levels 0-3), aligned
to its own length. Every zone's calendar boundaries fall on slots, so a bucket is a few blocks
(:func:`decompose`): a UTC day is one, a day in ``Asia/Kolkata`` about a dozen.

**Sums** (calls by status, minutes) of the calls *initiated* in a block add up.

**Concurrency.** ``peakConcurrent`` of a bucket ``[lo, hi)`` is the most calls initiated in the
bucket that are in progress at one instant of it: ``A(t) = #{c : i_c >= lo, s_c <= t < e_c}``,
where ``s_c`` is ``max(startedAt, initiatedAt)`` and an ongoing call has no end (it is in
progress until now; instants from the slot holding *now* on are always computed from calls).
``A`` differs from the plain concurrency ``G(t) = #{c : s_c <= t < e_c}`` only by the calls
initiated before ``lo`` and still in progress. A *short* call ends within ``SHORT`` seconds of
its initiation, so an hour after ``lo`` only *long* calls (few; a partial index finds them)
separate ``A`` from ``G``. Each block therefore stores:

* ``net``: starts minus ends in the block, and ``rise``: the highest ``G`` inside the block
  relative to ``G`` at its start; both compose from the children (:func:`compose`), so ``G``'s
  maximum over any run of blocks is read from a few rows plus the level before them;
* ``f0``..``f3`` (slots): the most calls initiated at most ``d`` slots before this slot's
  start that are in progress at one instant of it, for ``d`` = 0..3; at the hour level ``f0``
  is the same for the hour (the calls initiated in it). These answer a bucket's first hour.

So a bucket's peak is the largest of: its first hour from ``f`` values; each later run of
blocks with the same long earlier calls in progress, ``level + rise - those calls``; and the
few windows computed from calls (an edge that is not on a slot, the slot holding now, a slot in
which such a long call starts or ends). :func:`plan_bucket` says which; the store reads them.

Each parent's row also keeps its ``edges`` (:mod:`calltrail.usage.edges`; a day's, one record per
slot), so a zone whose days do not start on a UTC day reads the same day rows as UTC, not a dozen
blocks per day.
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from operator import add
from typing import Any

from calltrail.sessions.vocabulary import CALL_STATUSES
from calltrail.usage.figures import peak

SLOT = 900
#: Block lengths in seconds, by level; each divides the next.
LEVELS = (900, 3600, 14_400, 86_400)
#: Slots after a bucket's start that the ``f`` values cover (one hour).
FRESH_SLOTS = 4
#: A call is short when it ends within this many seconds of its initiation.
SHORT = FRESH_SLOTS * SLOT
#: The predicate of the long-call partial indexes (queries repeat it verbatim to use them).
LONG_CALL = "started_at IS NOT NULL AND (ended_at IS NULL OR ended_at > initiated_at + 3600)"
#: The groups kept: every call, and each low-cardinality column by its value.
GROUP_COLUMNS = ("type", "mode", "status", "receiver_type")
STATUS_COLUMNS = tuple(f"n_{status}" for status in CALL_STATUSES)
SUM_COLUMNS = ("started", "duration_ms", "started_duration_ms", "audio_ms", "video_ms", "participant_ms")
PROFILE_COLUMNS = ("net", "rise", "late", "f0", "f1", "f2", "f3")
FIGURES = (*STATUS_COLUMNS, *SUM_COLUMNS, *PROFILE_COLUMNS)
_SUMS = len(STATUS_COLUMNS) + len(SUM_COLUMNS)
NET, RISE, LATE, F0 = _SUMS, _SUMS + 1, _SUMS + 2, _SUMS + 3
_STATUS_INDEX = {status: index for index, status in enumerate(CALL_STATUSES)}

Group = tuple[str, str]
Figures = list[int]


@dataclass(frozen=True)
class CallSpan:
    """What the rollups need of one call (times in Unix seconds)."""

    initiated: int
    started: int | None
    ended: int | None
    status: str
    groups: tuple[Group, ...]
    sums: tuple[int, ...] = ()  # started, duration, started duration, audio, video, participant

    @functools.cached_property
    def in_progress(self) -> tuple[int, int | None] | None:
        return self.span()

    def span(self) -> tuple[int, int | None] | None:
        """``(start, end)`` while in progress (end ``None``: ongoing, no end yet); ``None`` if never."""
        if self.started is None:
            return None
        start = max(self.started, self.initiated)
        if self.ended is None:
            return (start, None) if self.status == "ongoing" else None
        return (start, self.ended) if self.ended > start else None

    def is_long(self) -> bool:
        return self.started is not None and (self.ended is None or self.ended > self.initiated + SHORT)


def groups_of(columns: dict[str, Any]) -> tuple[Group, ...]:
    return (("", ""), *((name, str(columns[name])) for name in GROUP_COLUMNS))


#: An aligned block: ``(level, start)``, the level 0 to 3 and the start in Unix seconds (a plain
#: tuple: series make and hash thousands of them).
Block = tuple[int, int]


def block_end(block: Block) -> int:
    return block[1] + LEVELS[block[0]]


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Half-open ranges merged where they overlap or touch, in order; empty ones dropped."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        elif lo < hi:
            merged.append((lo, hi))
    return merged


def floor_slot(seconds: int) -> int:
    return seconds - seconds % SLOT


def ceil_slot(seconds: int) -> int:
    return -(-seconds // SLOT) * SLOT


def decompose(start: int, end: int, top: int = len(LEVELS) - 1) -> list[Block]:
    """``[start, end)`` (on slots) as the fewest aligned blocks of at most level ``top``, in order."""
    day = start - start % LEVELS[-1]
    if end - start > 64 * LEVELS[-1]:
        return _decompose(start, end, top)
    # Every level divides a day, so the blocks of ranges a whole number of days apart are the
    # same shifted: cached by the position in the day and the length.
    return [(level, day + offset) for level, offset in _shape(start - day, end - day, top)]


@functools.lru_cache(maxsize=4096)
def _shape(start: int, end: int, top: int) -> tuple[Block, ...]:
    return tuple(_decompose(start, end, top))


def _decompose(start: int, end: int, top: int) -> list[Block]:
    found = []
    while start < end:
        level = top
        while level and (start % LEVELS[level] or start + LEVELS[level] > end):
            level -= 1
        found.append((level, start))
        start += LEVELS[level]
    return found


def parent(block: Block) -> Block:
    level, start = block
    return level + 1, start - start % LEVELS[level + 1]


@functools.lru_cache(maxsize=8192)
def children(block: Block) -> tuple[Block, ...]:
    """A block's children, in order (cached: a write composes each parent once per group)."""
    return tuple(decompose(block[1], block_end(block), block[0] - 1))


# -- writing: one slot's figures from its calls, a parent's from its children --------------------


def slot_figures(
    slot: int, calls: Iterable[CallSpan], peak_times: dict[Group, tuple[int, int]] | None = None
) -> dict[Group, Figures]:
    """Every group's figures for one slot, from the calls that can touch it (a superset is fine);
    with ``peak_times``, each group's :func:`peak_span` is put there too."""
    end = slot + SLOT
    found: dict[Group, Figures] = {}
    events: dict[Group, list[tuple[int, int]]] = {}
    fresh: dict[Group, list[tuple[int, int]]] = {}
    width = len(STATUS_COLUMNS)
    for call in calls:
        if slot <= call.initiated < end:
            for group in call.groups:
                row = found.get(group) or found.setdefault(group, [0] * len(FIGURES))
                row[_STATUS_INDEX[call.status]] += 1
                for index, value in enumerate(call.sums, width):
                    row[index] += value
        span = call.in_progress
        if span is None:
            continue
        start, stop = span
        mine = []
        if slot <= start < end:
            mine.append((start, 1))
        if stop is not None and slot <= stop < end:
            mine.append((stop, -1))
        if mine:
            for group in call.groups:
                events.setdefault(group, []).extend(mine)
        back = (slot - call.initiated + SLOT - 1) // SLOT  # slots from the call's initiation slot
        if back < FRESH_SLOTS and start < end and (stop is None or stop > slot):
            back = max(back, 0)
            edges = [(max(start, slot), back)] + ([(stop, -1 - back)] if stop is not None and stop < end else [])
            for group in call.groups:
                fresh.setdefault(group, []).extend(edges)
    spans: dict[Group, tuple[int, int]] = {}
    for group in events.keys() | fresh.keys():
        row = found.setdefault(group, [0] * len(FIGURES))
        stretches = _stretches(slot, events.get(group, []))
        row[NET], row[RISE] = _profile_of(stretches)
        if peak_times is not None:
            spans[group] = _span_of(stretches, row[RISE], end)
        row[F0 : F0 + FRESH_SLOTS] = fresh_peaks(fresh.get(group, []))
    kept = {group: row for group, row in found.items() if any(row)}
    if peak_times is not None:
        # A group with only sums (no event, no first-hour call) stays at level 0 all along.
        peak_times.update((group, spans.get(group, (slot, end))) for group in kept)
    return kept


def fresh_peaks(events: list[tuple[int, int]]) -> list[int]:
    """``f0``..``f3`` in one sweep. An event is ``(instant, k)`` for a start and ``(instant,
    -1 - k)`` for an end of a call initiated ``k`` slots back; ``f_d`` counts ``k <= d``.
    Ends sort before starts at one instant, so the counts after each start are candidates."""
    events.sort()
    counts, best = [0] * FRESH_SLOTS, [0] * FRESH_SLOTS
    for _, k in events:
        if k < 0:
            counts[-1 - k] -= 1
            continue
        counts[k] += 1
        running = sum(counts[:k])
        for d in range(k, FRESH_SLOTS):
            running += counts[d]
            if running > best[d]:
                best[d] = running
    return best


def profile(start: int, events: list[tuple[int, int]]) -> tuple[int, int]:
    """``(net, rise)`` of ``(instant, +1 | -1)`` events in a block starting at ``start``."""
    return _profile_of(_stretches(start, events))


def peak_span(start: int, end: int, events: list[tuple[int, int]]) -> tuple[int, int]:
    """Where a block of ``[start, end)`` is at its ``rise`` (:func:`profile`): the first instant,
    and the end of the last stretch at that level. A slot keeps them (migration ``m0019``): a
    series whose run starts or ends one carried call inside the slot reads its peak from them."""
    stretches = _stretches(start, events)
    return _span_of(stretches, _profile_of(stretches)[1], end)


def _stretches(start: int, events: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``(from, level)`` of each stretch of constant level, in order: the start's own (level 0)
    unless an event falls on it, then one after each instant with events."""
    deltas: dict[int, int] = {}
    for instant, delta in events:
        deltas[instant] = deltas.get(instant, 0) + delta
    stretches = [] if start in deltas else [(start, 0)]
    level = 0
    for instant, delta in sorted(deltas.items()):
        level += delta
        stretches.append((instant, level))
    return stretches


def _profile_of(stretches: list[tuple[int, int]]) -> tuple[int, int]:
    return stretches[-1][1], max(level for _, level in stretches)


def _span_of(stretches: list[tuple[int, int]], rise: int, end: int) -> tuple[int, int]:
    first = until = None
    for position, (since, height) in enumerate(stretches):
        if height == rise:
            first = since if first is None else first
            until = stretches[position + 1][0] if position + 1 < len(stretches) else end
    assert first is not None and until is not None, "the rise is the level of a stretch"
    return first, until


def compose(block: Block, rows: dict[Block, Figures]) -> Figures:
    """A parent block's figures from its children's (a missing child had nothing). ``late`` is
    the rise over the block after its first hour (4-hour blocks and days)."""
    sums: list[int] | None = None
    level, rise, late, fresh = 0, None, None, 0
    late_from = block[1] + SHORT if block[0] >= 2 else None
    for position, child in enumerate(children(block)):
        row = rows.get(child)
        net, child_rise, child_late = (row[NET], row[RISE], row[LATE]) if row else (0, 0, 0)
        rise = level + child_rise if rise is None else max(rise, level + child_rise)
        if late_from is not None and child[1] + LEVELS[child[0]] > late_from:
            height = level + (child_rise if child[1] >= late_from else child_late)
            late = height if late is None else max(late, height)
        level += net
        if row:
            sums = list(row[:_SUMS]) if sums is None else list(map(add, sums, row[:_SUMS]))
            if block[0] == 1:
                fresh = max(fresh, row[F0 + position])
    return [*(sums or [0] * _SUMS), level, rise or 0, late or 0, fresh, *[0] * (FRESH_SLOTS - 1)]


# -- reading: which rows and windows give each bucket's peak ---------------------------------------


@dataclass(slots=True)
class BucketPeak:
    """What one bucket's peak is made of (times in seconds unless named ``_ms``)."""

    lo: int
    hi: int
    heads: list[tuple[Block, int]] = field(default_factory=list)  # (block, f index)
    late_from: int | None = None  # the middle may start with the late part of a block starting here
    windows: list[tuple[int, int]] = field(default_factory=list)  # exact, in ms
    middle: tuple[int, int] | None = None


def plan_bucket(lo: int, hi: int, lo_ms: int, hi_ms: int, now_ms: int) -> BucketPeak:
    """Split a bucket into its first hour (``f`` values), its middle and its exact windows."""
    plan = BucketPeak(lo, hi)
    first, last = ceil_slot(lo), min(floor_slot(hi), floor_slot(now_ms // 1000))
    if first >= last:
        plan.windows.append((lo_ms, hi_ms))
        return plan
    head_end = min(first + SHORT, last)
    if lo < first:
        plan.windows.append((lo_ms, head_end * 1000))
    elif head_end == first + SHORT and first % LEVELS[1] == 0:
        plan.heads.append(((1, first), 0))
        plan.late_from = first if first % LEVELS[2] == 0 else None
    else:
        plan.heads += [((0, slot), (slot - first) // SLOT) for slot in range(first, head_end, SLOT)]
    if last * 1000 < hi_ms:
        plan.windows.append((last * 1000, hi_ms))
    if head_end < last:
        plan.middle = (head_end, last)
    return plan


@dataclass(slots=True)
class Run:
    """Middle blocks of one bucket over which the same ``carried`` long calls are in progress."""

    bucket: int
    blocks: list[Block]
    carried: dict[str, int]  # per group value
    late: Block | None = None  # read before ``blocks``: its ``late`` rise, its whole ``net``


#: A call as a series reads it: ``(group value, initiated, start, end or None)``, in progress
#: from start to end (``None``: ongoing). Calls never in progress are left out.
LongSpan = tuple[str, int, int, int | None]


def light_span(value: str, initiated: int, started: int | None, ended: int | None, status: str) -> LongSpan | None:
    """The series' view of a call (the same rule as :meth:`CallSpan.span`)."""
    if started is None:
        return None
    start = max(started, initiated)
    if ended is None:
        return (value, initiated, start, None) if status == "ongoing" else None
    return (value, initiated, start, ended) if ended > start else None


def carried_by_bucket(plans: Sequence[BucketPeak], long_calls: Iterable[LongSpan]) -> list[list[LongSpan]]:
    """For each bucket, the long calls initiated before it and still in progress after its start
    (each call is placed in the buckets its span reaches: no bucket scans every long call)."""
    starts = [plan.lo for plan in plans]
    carried: list[list[LongSpan]] = [[] for _ in plans]
    for span in long_calls:
        _, initiated, _, end = span
        first = bisect_right(starts, initiated)
        last = len(plans) if end is None else bisect_left(starts, end)
        for index in range(first, last):
            carried[index].append(span)
    return carried


def split_middle(bucket: int, plan: BucketPeak, carried: Sequence[LongSpan]) -> list[Run]:
    """The middle's runs as blocks (:func:`middle_spans`), the first reading a ``late`` rise."""
    assert plan.middle is not None
    runs = [Run(bucket, decompose(lo, hi), counts) for lo, hi, counts in middle_spans(plan, carried)]
    if runs and runs[0].blocks[0][1] == plan.middle[0]:
        runs[0] = _with_late(runs[0], plan)
    return runs


#: A middle's slot in which exactly one long earlier call starts or ends, off the slot's start:
#: ``(slot, carried calls per group value at its start, the call's group value, the instant, +1
#: for a start or -1 for an end)``. Its peak is the slot's, from its :func:`peak_span`.
EventSlot = tuple[int, dict[str, int], str, int, int]


def middle_spans(
    plan: BucketPeak, carried: Sequence[LongSpan], singles: list[EventSlot] | None = None
) -> list[tuple[int, int, dict[str, int]]]:
    """The middle's runs ``(lo, hi, carried calls per group value)``; a slot in which a long
    earlier call starts or ends becomes a window (added to ``plan``), or, with ``singles``, when
    one call does so there, an :data:`EventSlot` (added to ``singles``). ``carried``: the long
    calls initiated before the bucket (:func:`carried_by_bucket`)."""
    assert plan.middle is not None
    start, end = plan.middle
    spans = [(value, a, b) for value, _, a, b in carried if a < end and (b is None or b > start)]
    if not spans:
        return [(start, end, {})]
    cuts = {start, end}
    inside: dict[int, list[tuple[str, int, int]]] = {}  # slot -> (value, instant, +1 | -1)
    for value, a, b in spans:
        for point, kind in ((a, 1), (b, -1)):
            if point is not None and start < point < end:
                if point % SLOT:
                    inside.setdefault(floor_slot(point), []).append((value, point, kind))
                else:
                    cuts.add(point)
    for slot, found in inside.items():
        if singles is not None and len(found) == 1:
            singles.append((slot, _carried_at(spans, slot), *found[0]))
        else:
            plan.windows.append((slot * 1000, (slot + SLOT) * 1000))
        cuts |= {slot, slot + SLOT}
    return [(a, b, _carried_at(spans, a)) for a, b in pairwise(sorted(cuts)) if a not in inside]


def _carried_at(spans: Sequence[tuple[str, int, int | None]], instant: int) -> dict[str, int]:
    """How many of ``spans`` are in progress at ``instant``, per group value."""
    counts: dict[str, int] = {}
    for value, s, e in spans:
        if s <= instant and (e is None or e > instant):
            counts[value] = counts.get(value, 0) + 1
    return counts


def _with_late(run: Run, plan: BucketPeak) -> Run:
    """The run starting an hour into an aligned 4-hour block or day reads that block's ``late``
    rise instead of the three hours and blocks after its first hour."""
    if plan.late_from is None:
        return run
    end = block_end(run.blocks[-1])
    level = len(LEVELS) - 1
    while level >= 2 and (plan.late_from % LEVELS[level] or plan.late_from + LEVELS[level] > end):
        level -= 1
    if level < 2:
        return run
    late = (level, plan.late_from)
    return Run(run.bucket, decompose(block_end(late), end), run.carried, late)


def window_peak(window: tuple[int, int], bucket: tuple[int, int], calls: Iterable[LongSpan], now_ms: int) -> int:
    """The exact peak over ``window`` (ms) of the calls initiated in ``bucket`` (seconds)."""
    lo, hi = bucket
    spans = [(start * 1000, now_ms if end is None else end * 1000) for _, initiated, start, end in calls
             if lo <= initiated < hi]  # fmt: skip
    return peak(spans, *window)
