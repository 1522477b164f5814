"""Reading the ``usage_rollups`` table (written by :mod:`calltrail.store.usage_rollups`):
:class:`SeriesRead`.

See :mod:`calltrail.usage.rollups` and :mod:`calltrail.usage.edges` for what is read and why. A
bucket's sums are its UTC days' totals corrected by two day prefixes; its first hour is a run of
slot records, and the rest of its peak the level at its start plus the rise over its parts, so a
day that starts at 18:30 UTC reads the same day rows as a UTC day.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from operator import add, sub
from typing import Any, TypeVar

from calltrail.sessions.vocabulary import CALL_STATUSES
from calltrail.store.database import Connection, chunks, integer
from calltrail.store.usage_rollups import DAY, PEAK_TIMES
from calltrail.usage.edges import (
    Part,
    day_prefix,
    decompose_parts,
    fresh_run,
    part_profile,
    part_row,
    sums_before,
)
from calltrail.usage.figures import CallSums
from calltrail.usage.periods import Bucket, seconds_bounds
from calltrail.usage.rollups import (
    FIGURES,
    FRESH_SLOTS,
    LEVELS,
    LONG_CALL,
    NET,
    RISE,
    SHORT,
    SLOT,
    STATUS_COLUMNS,
    Block,
    BucketPeak,
    EventSlot,
    LongSpan,
    carried_by_bucket,
    ceil_slot,
    floor_slot,
    light_span,
    middle_spans,
    plan_bucket,
    window_peak,
)

#: Where a read row holds PEAK_TIMES (after the figures).
PEAK_FROM, PEAK_UNTIL = len(FIGURES), len(FIGURES) + 1
K = TypeVar("K")


Key = tuple[int, Any]
#: A bucket's middle run: ``(bucket, lo, hi, long earlier calls in progress per group value at
#: its start, the one such call that starts or ends inside it as ``(group value, instant, +1 or
#: -1)``)``. A run with such a call is one slot (:data:`calltrail.usage.rollups.EventSlot`).
MiddleRun = tuple[int, int, int, dict[str, int], tuple[str, int, int] | None]
_NO_SUMS = (0,) * NET
#: Windows whose calls one statement reads (SQLite allows 500 terms in a compound SELECT).
WINDOWS_PER_QUERY = 200


def _add_into(totals: dict[K, list[int]], key: K, figures: Sequence[int]) -> None:
    """Add ``figures`` to the running sums kept under ``key`` (a copy of them if none yet)."""
    total = totals.get(key)
    totals[key] = list(figures) if total is None else list(map(add, total, figures))


class SeriesRead:
    """One series read from the rollups: sums of whole slots, and every bucket's peak."""

    def __init__(self, conn: Connection, app_id: str, grp: str, only: str | None, series: list[Bucket], now_ms: int):
        self.conn, self.app_id, self.grp, self.only = conn, app_id, grp, only
        self.series, self.now_ms = series, now_ms
        self.rows: dict[Block, dict[str, Sequence[Any]]] = {}
        self.parts: dict[Part, dict[str, Sequence[int]]] = {}

    def _key(self, index: int, value: str) -> Key:
        return (index, value if self.grp and self.only is None else None)

    def fetch(self, blocks: Iterable[Block]) -> None:
        """Read these blocks' rows (once each): ``FIGURES``, then ``edges`` last."""
        by_level: dict[int, set[int]] = {}
        for block in blocks:
            if block not in self.rows:
                by_level.setdefault(block[0], set()).add(block[1])
        value = "" if self.only is None else " AND value = ?"
        extra = [] if self.only is None else [self.only]
        columns = ", ".join((*FIGURES, *PEAK_TIMES))
        select = f"SELECT block, value, {columns}, edges FROM usage_rollups WHERE app_id = ? AND grp = ? "
        for level, starts in sorted(by_level.items()):
            for start in starts:
                self.rows.setdefault((level, start), {})
            ordered = sorted(starts)
            if (ordered[-1] - ordered[0]) // LEVELS[level] < 2 * len(ordered):
                # Most of the blocks of a range (a year of days): one range scan, not a key each.
                queries = [(f"{select}AND level = ? AND block >= ? AND block <= ?{value}",
                            (self.app_id, self.grp, level, ordered[0], ordered[-1], *extra))]  # fmt: skip
            else:
                queries = []
                for part in chunks(ordered):
                    among, values = self.conn.any_of("block", part)
                    queries.append((f"{select}AND level = ? AND {among}{value}",
                                    (self.app_id, self.grp, level, *values, *extra)))  # fmt: skip
            for sql, params in queries:
                for row in self.conn.fetchall(sql, params):
                    found = self.rows.get((level, row[0]))
                    if found is not None:
                        found[row[1]] = row[2:]

    def part(self, part: Part) -> dict[str, Sequence[int]]:
        """A part's ``net`` and ``rise`` per group value (its row must have been fetched)."""
        level, lo, hi = part
        rows = self.rows[(level, lo - lo % LEVELS[level])]
        if not rows or hi - lo == LEVELS[level]:
            return rows  # nothing, or a whole block: its row
        found = self.parts.get(part)
        if found is None:
            found = self.parts[part] = {value: part_profile(part, row, row[-1]) for value, row in rows.items()}
        return found

    def sums(self) -> tuple[dict[Key, CallSums], dict[Key, dict[str, int]], list[tuple[int, int, int]]]:
        """Sums of each bucket's whole slots, and the ``(lo, hi, bucket)`` edges left to read. Sums
        subtract: a bucket's are its UTC days' totals, less what its first day had before its
        start, plus what its last day had before its end (a few records each, :func:`day_prefix`)."""
        plans = []
        edges = []
        for index, bucket in enumerate(self.series):
            lo, hi = seconds_bounds(bucket)
            first, last = ceil_slot(lo), floor_slot(hi)
            if first >= last:
                edges.append((lo, hi, index))
                continue
            plans.append((index, range(first - first % DAY, last - last % DAY, DAY), first, last))
            if lo < first:
                edges.append((lo, first, index))
            if last < hi:
                edges.append((last, hi, index))
        cuts = {cut for _, _, first, last in plans for cut in (first, last) if cut % DAY}
        self.fetch([*((3, day) for _, days, _, _ in plans for day in days),
                    *(block for cut in cuts for block, _ in day_prefix(cut))])  # fmt: skip
        before = {cut: self._before(cut) for cut in cuts}
        totals: dict[Key, Sequence[int]] = {}
        rows = self.rows
        for index, days, first, last in plans:
            adds: list[tuple[Mapping[str, Sequence[int]], Callable[[int, int], int]]] = [
                (found, add) for found in (rows[(3, day)] for day in days) if found
            ]  # most buckets: one day, or none with calls
            if last in before:
                adds.append((before[last], add))
            if first in before:
                adds.append((before[first], sub))
            for found, operation in adds:
                for value, figures in found.items():
                    key = self._key(index, value)
                    total = totals.get(key)
                    if total is None and operation is add:
                        totals[key] = figures[:NET]  # a row's own figures (a tuple): not copied
                    else:
                        totals[key] = list(map(operation, _NO_SUMS if total is None else total, figures[:NET]))
        sums: dict[Key, CallSums] = {}
        statuses: dict[Key, dict[str, int]] = {}
        counted = len(STATUS_COLUMNS)
        for key, total in totals.items():
            sums[key] = CallSums(sum(total[:counted]), *total[counted:])
            statuses[key] = dict(zip(CALL_STATUSES, total[:counted], strict=True))
        return sums, statuses, edges

    def _before(self, instant: int) -> dict[str, list[int]]:
        """Each group value's sums from the start of the UTC day holding ``instant`` to it."""
        found: dict[str, list[int]] = {}
        for block, position in day_prefix(instant):
            for value, row in self.rows[block].items():
                _add_into(found, value, sums_before(row[-1], position))
        return found

    def peaks(self, active: Collection[int] | None = None) -> dict[Key, int]:
        """Every bucket's ``peakConcurrent``, per group value; with ``active``, only those buckets'
        (a bucket in which no call was initiated has a peak of 0: its own calls count)."""
        chosen = range(len(self.series)) if active is None else sorted(active)
        if not chosen:
            return {}
        plans = []
        for index in chosen:
            bucket = self.series[index]
            lo, hi = seconds_bounds(bucket)
            plans.append(plan_bucket(lo, hi, bucket.start_ms, bucket.end_ms, self.now_ms))
        # Long calls initiated before the last bucket: what later buckets carry, and the members
        # of every earlier bucket's windows; the last bucket's own only if it has windows.
        last = plans[-1]
        long_calls = self._long_calls(after=plans[0].lo, until=last.lo)
        carried = carried_by_bucket(plans, long_calls.values())
        runs: list[MiddleRun] = []
        events: list[tuple[int, EventSlot]] = []
        for index, plan in enumerate(plans):
            if plan.middle:
                found: list[EventSlot] = []
                runs += [(index, *span, None) for span in middle_spans(plan, carried[index], found)]
                events += [(index, event) for event in found]
        runs += self._event_runs(plans, events)
        if last.windows:
            long_calls |= self._long_calls(after=last.lo, until=last.hi, since=last.lo)
        best: dict[Key, int] = {}
        self._heads(plans, best)
        self._middles(plans, runs, best)
        self._windows(plans, long_calls, best)
        if active is None:
            return best
        return {(chosen[index], value): height for (index, value), height in best.items()}

    def _event_runs(self, plans: list[BucketPeak], events: list[tuple[int, EventSlot]]) -> list[MiddleRun]:
        """The slots in which one carried call starts or ends, as runs read from the slot's row
        (its peak times); a slot whose row has none (written before ``m0019``) becomes a window."""
        self.fetch((0, event[0]) for _, event in events)
        runs: list[MiddleRun] = []
        for index, (slot, carried, value, instant, kind) in events:
            row = self.rows[(0, slot)].get(value)
            if row is None or row[PEAK_FROM] is None:
                plans[index].windows.append((slot * 1000, (slot + SLOT) * 1000))
            else:
                runs.append((index, slot, slot + SLOT, carried, (value, instant, kind)))
        return runs

    def _light(self, rows: Iterable[Sequence[Any]]) -> dict[str, LongSpan]:
        """``{session id: span}`` of the calls in ``rows`` (:meth:`_select`'s columns) this series
        counts."""
        found = {}
        for session_id, initiated, started, ended, status, value in rows:
            if self.only is None or value == self.only:
                span = light_span(value, initiated, started, ended, status)
                if span is not None:
                    found[session_id] = span
        return found

    def _select(self, source: str = "usage_calls") -> str:
        value = self.grp or "''"
        return f"SELECT session_id, initiated_at, started_at, ended_at, status, {value} FROM {source} WHERE app_id = ?"

    def _long_calls(self, *, after: int, until: int, since: int | None = None) -> dict[str, LongSpan]:
        """The long calls initiated before ``until`` (and from ``since``) not over by ``after``.
        Read from the partial index by end: a scan by initiation would read every earlier call."""
        select = f"{self._select('usage_calls' + self.conn.indexed_by('usage_calls_long_end'))} AND {LONG_CALL}"
        select += " AND initiated_at < ?" + ("" if since is None else " AND initiated_at >= ?")
        bounds = (until,) if since is None else (until, since)
        found = self._light(self.conn.fetchall(f"{select} AND ended_at IS NULL", (self.app_id, *bounds)))
        found |= self._light(self.conn.fetchall(f"{select} AND ended_at > ?", (self.app_id, *bounds, after)))
        return found

    def _heads(self, plans: list[BucketPeak], best: dict[Key, int]) -> None:
        # A bucket's first hour is a few slots, the k-th read at its f value k: records of its
        # day's row, which keeps one per slot (two rows if the hour crosses a UTC midnight).
        heads = []  # (bucket, day row, first slot's record, its f index, slots)
        for index, plan in enumerate(plans):
            if not plan.heads:
                continue
            (level, slot), fresh = plan.heads[0]
            count = FRESH_SLOTS if level else len(plan.heads)
            while count:
                day = slot - slot % DAY
                here = min(count, (day + DAY - slot) // SLOT)
                heads.append((index, (3, day), (slot - day) // SLOT, fresh, here))
                slot, fresh, count = day + DAY, fresh + here, count - here
        self.fetch(row for _, row, _, _, _ in heads)
        for index, row, position, fresh, count in heads:
            for value, figures in self.rows[row].items():
                height = fresh_run(figures[-1], position, fresh, count)
                key = self._key(index, value)
                if height > best.get(key, 0):
                    best[key] = height

    def _middles(self, plans: list[BucketPeak], runs: list[MiddleRun], best: dict[Key, int]) -> None:
        """Each run's peak: the level at its start (the days before it, then the record of its
        slot in its day's row) plus the rise over its parts, less the long calls it carries. A
        slot in which one carried call starts or ends is read from the slot's row: its peak is
        one less if the slot first reaches it once the call has started, one more if it is still
        there once the call has ended (``calltrail.usage.rollups.peak_span``)."""
        if not runs:
            return
        pieces = [(bucket, lo, carried, event, [(0, lo, hi)] if event else decompose_parts(lo, hi))
                  for bucket, lo, hi, carried, event in runs]  # fmt: skip
        first_day = min(lo for _, lo, *_ in pieces) // DAY * DAY
        days = range(first_day, max(lo for _, lo, *_ in pieces) // DAY * DAY + DAY, DAY)
        self.fetch([*((3, day) for day in days), *(part_row(part) for *_, found in pieces for part in found)])
        levels: dict[str, int] = self._levels_before(first_day)
        values = set(levels).union(*(found for found in self.rows.values()), *(run[3] for run in runs))
        for value in values:
            level = levels.get(value, 0)
            day_levels = {}
            for day in days:
                day_levels[day] = level
                figures = self.rows[(3, day)].get(value)
                level += figures[NET] if figures else 0
            for bucket, lo, carried_by_value, event, found in pieces:
                day = lo - lo % DAY
                before = self.part((3, day, lo)).get(value) if lo != day else None
                level = day_levels[day] + (before[NET] if before else 0)
                key, carried = self._key(bucket, value), carried_by_value.get(value, 0)
                for part in found:
                    figures = self.part(part).get(value)
                    height = level + (figures[RISE] if figures else 0) - carried
                    if event is not None and figures is not None and event[0] == value:
                        _, instant, kind = event
                        if kind < 0 and figures[PEAK_UNTIL] > instant:
                            height += 1  # at its peak after the carried call ended
                        elif kind > 0 and figures[PEAK_FROM] >= instant:
                            height -= 1  # at its peak only once the carried call had started
                    if height > best.get(key, 0):
                        best[key] = height
                    level += figures[NET] if figures else 0

    def _levels_before(self, start: int) -> dict[str, int]:
        value = "" if self.only is None else " AND value = ?"
        rows = self.conn.fetchall(
            f"SELECT value, sum(net) FROM usage_rollups WHERE app_id = ? AND grp = ? AND level = ? AND block < ?"
            f"{value} GROUP BY value",
            (self.app_id, self.grp, len(LEVELS) - 1, start, *([] if self.only is None else [self.only])),
        )
        return {found: integer(total) for found, total in rows}

    def _windows(self, plans: list[BucketPeak], long_calls: dict[str, LongSpan], best: dict[Key, int]) -> None:
        windows = [(index, lo_ms, hi_ms) for index, plan in enumerate(plans) for lo_ms, hi_ms in plan.windows]
        if not windows:
            return
        longs = sorted(long_calls.items(), key=lambda item: item[1][1])
        long_starts = [span[1] for _, span in longs]
        # Only the bucket's own calls count: the long ones initiated in it, and the short ones
        # initiated within an hour before the window, read if in progress during it (every
        # window's in one statement, each row tagged with its window).
        reads = []
        for position, (index, lo_ms, hi_ms) in enumerate(windows):
            plan = plans[index]
            lo, hi = max(plan.lo, lo_ms // 1000 - SHORT), min(plan.hi, -(-hi_ms // 1000))
            if lo < hi:
                reads.append((position, (self.app_id, lo, hi, hi, lo_ms // 1000)))
        rows: list[list[Sequence[Any]]] = [[] for _ in windows]
        select = self._select().replace("SELECT ", "SELECT ?, ", 1)  # the window's position first
        where = " AND initiated_at >= ? AND initiated_at < ? AND started_at < ? AND (ended_at IS NULL OR ended_at >= ?)"
        for start in range(0, len(reads), WINDOWS_PER_QUERY):
            part = reads[start : start + WINDOWS_PER_QUERY]
            sql = " UNION ALL ".join([select + where] * len(part))
            for position, *call in self.conn.fetchall(sql, [p for read in part for p in (read[0], *read[1])]):
                rows[int(position)].append(call)
        for (index, lo_ms, hi_ms), found in zip(windows, map(self._light, rows), strict=True):
            plan = plans[index]
            found.update(longs[bisect_left(long_starts, plan.lo) : bisect_left(long_starts, plan.hi)])
            by_value: dict[str, list[LongSpan]] = {}
            for span in found.values():
                by_value.setdefault(span[0], []).append(span)
            for group_value, group_calls in by_value.items():
                height = window_peak((lo_ms, hi_ms), (plan.lo, plan.hi), group_calls, self.now_ms)
                key = self._key(index, group_value)
                best[key] = max(best.get(key, 0), height)
