"""The ``usage_rollups`` table (migration ``m0013_usage_rollups``): kept exact by the call writers,
read by usage series without filters or with one low-cardinality grouping or equality.

Writing (:func:`refresh_slots`): the writers mark the slots the calls they change touch, before
and after (:func:`touched_slots`: initiation, start, end, and the three slots after initiation
that the ``f`` values look back over), in the usage backlog (``store/usage_backlog.py``), which
recomputes them together, before a read: each slot from the calls that can touch it, then each
parent block from its children, with its ``edges`` (migration ``m0016``: what the block had before each
child and from it on). Recomputing instead of adding deltas keeps the profile exact (a peak
does not subtract); on PostgreSQL one lock per app orders the writers that do it.

A day's edges keep a record per slot (migration ``m0018``), built from its slots' rows.

Reading (:class:`SeriesRead`): see :mod:`calltrail.usage.rollups` and :mod:`calltrail.usage.edges`
for what is read and why. A bucket's sums are its UTC days' totals corrected by two day prefixes;
its first hour is a run of slot records, and the rest of its peak the level at its start plus the
rise over its parts, so a day that starts at 18:30 UTC reads the same day rows as a UTC day.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from operator import add, sub
from typing import Any, TypeVar

from calltrail.sessions.vocabulary import CALL_STATUSES
from calltrail.store.database import Connection, Database, bounded_among, chunks, integer, placeholders
from calltrail.usage.edges import (
    Part,
    block_edges,
    day_prefix,
    decompose_parts,
    edge_children,
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
    GROUP_COLUMNS,
    LEVELS,
    LONG_CALL,
    NET,
    RISE,
    SHORT,
    SLOT,
    STATUS_COLUMNS,
    Block,
    BucketPeak,
    CallSpan,
    EventSlot,
    Figures,
    Group,
    LongSpan,
    block_end,
    carried_by_bucket,
    ceil_slot,
    children,
    compose,
    floor_slot,
    light_span,
    merge_ranges,
    middle_spans,
    parent,
    plan_bucket,
    slot_figures,
    window_peak,
)

GROUPS = ("", *GROUP_COLUMNS)
DAY = LEVELS[-1]
_SPAN_COLUMNS = ("session_id", "initiated_at", "started_at", "ended_at", *GROUP_COLUMNS, "duration_ms", "audio_ms",
                 "video_ms", "participant_ms")  # fmt: skip
_SELECT = f"SELECT {', '.join(_SPAN_COLUMNS)} FROM usage_calls WHERE app_id = ?"
#: Where a slot is at its peak (migration ``m0019``; null above a slot, and in older rows).
PEAK_TIMES = ("peak_from", "peak_until")
PEAK_FROM, PEAK_UNTIL = len(FIGURES), len(FIGURES) + 1
_ROW_COLUMNS = ("app_id", "grp", "level", "block", "value", *FIGURES, *PEAK_TIMES, "edges")
_GRP_IN = f"grp IN ({placeholders(len(GROUPS))})"
K = TypeVar("K")


def call_span(row: Sequence[Any]) -> CallSpan:
    """A ``usage_calls`` row (``_SPAN_COLUMNS``) as the rollups see it."""
    _, initiated, started, ended, kind, mode, status, receiver_type, duration, audio, video, participant = row
    groups = (("", ""), ("type", kind), ("mode", mode), ("status", status), ("receiver_type", receiver_type))
    sums = (int(started is not None), duration, duration if started is not None else 0, audio, video, participant)
    return CallSpan(initiated, started, ended, status, groups, sums)


def touched_slots(calls: Iterable[CallSpan]) -> set[int]:
    """The slots whose figures a call contributes to."""
    slots: set[int] = set()
    for call in calls:
        first = floor_slot(call.initiated)
        slots.add(first)  # its sums
        span = call.in_progress
        if span is None:
            continue
        start, end = span
        slots.add(floor_slot(start))  # its start and end events
        if end is not None:
            slots.add(floor_slot(end))
        # the f values of the slots of its first hour in which it is in progress
        slots.update(
            slot for slot in range(first, first + SHORT, SLOT) if start < slot + SLOT and (end is None or end > slot)
        )
    return slots


def refresh(conn: Connection, app_id: str, changed: Iterable[CallSpan]) -> None:
    """Recompute every block the changed calls (old and new versions) contribute to."""
    refresh_slots(conn, app_id, touched_slots(changed))


def refresh_slots(conn: Connection, app_id: str, touched: Iterable[int]) -> None:
    """Recompute these slots from their calls, then every block above them from its children."""
    slots = sorted(touched)
    if not slots:
        return
    conn.lock_keys([f"{app_id}/usage-rollups"])
    rows = _slot_rows(conn, app_id, slots)
    _replace(conn, app_id, 0, rows)
    blocks = set(rows)
    for level in range(1, len(LEVELS)):
        blocks = {parent(block) for block in blocks}
        ranges = merge_ranges((b[1], block_end(b)) for b in blocks)
        kids = _read_blocks(conn, app_id, level - 1, ranges)
        # A day's edges keep a record per slot (calltrail.usage.edges): its slots' rows, the
        # level-0 rows written above.
        edge_kids = _read_blocks(conn, app_id, 0, ranges) if level == len(LEVELS) - 1 else kids
        _replace(conn, app_id, level, {block: _compose_groups(block, kids, edge_kids) for block in blocks})


def _slot_rows(conn: Connection, app_id: str, slots: list[int]) -> dict[Block, dict[Group, list[Any]]]:
    """The rows of these slots (in order), from the calls that can touch them: each group's
    figures, where it is at its peak (``PEAK_TIMES``), and no edges."""
    by_start: dict[str, CallSpan] = {}
    for lo, hi in merge_ranges((slot - SHORT, slot + SLOT) for slot in slots):
        for row in conn.fetchall(f"{_SELECT} AND initiated_at >= ? AND initiated_at < ?", (app_id, lo, hi)):
            by_start[row[0]] = call_span(row)
    long_calls: dict[str, CallSpan] = {}
    for lo, hi in merge_ranges((slot, slot + SLOT) for slot in slots):
        for column, index in (("started_at", "usage_calls_long_start"), ("ended_at", "usage_calls_long_end")):
            source = f"usage_calls{conn.indexed_by(index)}"
            sql = f"SELECT {', '.join(_SPAN_COLUMNS)} FROM {source} WHERE app_id = ? AND {LONG_CALL} "
            sql += f"AND {column} >= ? AND {column} < ?"
            long_calls.update((row[0], call_span(row)) for row in conn.fetchall(sql, (app_id, lo, hi)))
    ordered = sorted(by_start.items(), key=lambda item: item[1].initiated)
    starts = [call.initiated for _, call in ordered]
    rows: dict[Block, dict[Group, list[Any]]] = {}
    for slot in slots:
        near = dict(ordered[bisect_left(starts, slot - SHORT) : bisect_left(starts, slot + SLOT)])
        times: dict[Group, tuple[int, int]] = {}
        found = slot_figures(slot, (near | long_calls).values(), times)  # each call once
        rows[(0, slot)] = {group: [*figures, *times[group], None] for group, figures in found.items()}
    return rows


def _compose_groups(
    block: Block, kids: dict[Block, dict[Group, Figures]], edge_kids: dict[Block, dict[Group, Figures]]
) -> dict[Group, list[Any]]:
    """Each group's figures (from the children) and edges (from the edge children) of a parent
    block. A group with a child row keeps its row even if its own figures are all 0: its edges
    may not be (a call ending in one child while another starts in the next)."""
    edge_rows = _by_group(edge_children(block), edge_kids)
    return {
        group: [*compose(block, mine), None, None, block_edges(block, edge_rows.get(group, {}))]
        for group, mine in _by_group(children(block), kids).items()
    }  # no peak times above a slot


def _by_group(blocks: Iterable[Block], rows: dict[Block, dict[Group, Figures]]) -> dict[Group, dict[Block, Figures]]:
    """The rows of ``blocks`` regrouped: each group's figures by block (blocks it has no row in
    left out)."""
    found: dict[Group, dict[Block, Figures]] = {}
    for block in blocks:
        for group, figures in rows.get(block, {}).items():
            found.setdefault(group, {})[block] = figures
    return found


def _read_blocks(
    conn: Connection, app_id: str, level: int, ranges: list[tuple[int, int]]
) -> dict[Block, dict[Group, Figures]]:
    found: dict[Block, dict[Group, Figures]] = {}
    for lo, hi in ranges:
        rows = conn.fetchall(
            f"SELECT block, grp, value, {', '.join(FIGURES)} FROM usage_rollups WHERE app_id = ? AND {_GRP_IN} "
            "AND level = ? AND block >= ? AND block < ?",
            (app_id, *GROUPS, level, lo, hi),
        )
        for block, grp, value, *figures in rows:
            found.setdefault((level, block), {})[(grp, value)] = figures
    return found


def _replace(conn: Connection, app_id: str, level: int, rows: dict[Block, dict[Group, list[Any]]]) -> None:
    starts = sorted(block[1] for block in rows)
    for part in chunks(starts):
        among, values = bounded_among(conn, "block", part)
        # One group at a time: with an equality on each column before ``block``, its range bounds
        # the scan (bounded_among).
        for grp in GROUPS:
            conn.execute(
                f"DELETE FROM usage_rollups WHERE app_id = ? AND grp = ? AND level = ? AND {among}",
                (app_id, grp, level, *values),
            )
    new = [
        (app_id, grp, level, block[1], value, *figures)
        for block, found in sorted(rows.items())
        for (grp, value), figures in sorted(found.items())
    ]
    conn.insert_rows("usage_rollups", _ROW_COLUMNS, new)


BACKFILL_PAGE = 2000


def backfill(db: Database) -> list[str]:
    """Compute the rollups of every app listed in ``usage_rollup_backfill`` (once, at open)."""
    with db.read() as conn:
        pending = [app_id for (app_id,) in conn.fetchall("SELECT app_id FROM usage_rollup_backfill ORDER BY 1")]
    for app_id in pending:
        with db.write() as conn:
            conn.lock_keys([f"{app_id}/usage-rollup-backfill-{n}" for n in range(64)])  # the app's exclusive bulk lock
            conn.execute("DELETE FROM usage_rollups WHERE app_id = ?", (app_id,))
            after: tuple[int, str] = (-(2**62), "")
            while True:
                rows = conn.fetchall(
                    f"{_SELECT} AND (initiated_at > ? OR (initiated_at = ? AND session_id > ?)) "
                    "ORDER BY initiated_at, session_id LIMIT ?",
                    (app_id, after[0], after[0], after[1], BACKFILL_PAGE),
                )
                if not rows:
                    break
                refresh(conn, app_id, [call_span(row) for row in rows])
                after = (rows[-1][1], rows[-1][0])
            conn.execute("DELETE FROM usage_rollup_backfill WHERE app_id = ?", (app_id,))
    return pending


#: Days whose edges one statement of :func:`backfill_day_edges` rewrites.
DAY_BACKFILL_PAGE = 64


def backfill_day_edges(db: Database) -> list[str]:
    """Rewrite the ``edges`` of the day rows of every app listed in ``usage_rollup_day_backfill``
    (migration ``m0018``: a record per slot) from the slots' rows; the figures do not change."""
    return _backfill_by_days(db, "usage_rollup_day_backfill", DAY_BACKFILL_PAGE, _rewrite_day_edges)


def _backfill_by_days(
    db: Database, table: str, page_size: int, step: Callable[[Connection, str, list[int]], None]
) -> list[str]:
    """For every app listed in ``table`` (a migration's to-do list), ``step`` over its days with
    rows, ``page_size`` days at a time, in one transaction holding the app's rollup lock; then
    the app leaves the list."""
    with db.read() as conn:
        pending = [app_id for (app_id,) in conn.fetchall(f"SELECT app_id FROM {table} ORDER BY 1")]
    for app_id in pending:
        with db.write() as conn:
            conn.lock_keys([f"{app_id}/usage-rollups"])
            days = conn.fetchall(
                "SELECT block FROM usage_rollups WHERE app_id = ? AND grp = '' AND level = 3 ORDER BY block", (app_id,)
            )  # every call counts in the group of all calls: its days are every day with a row
            for start in range(0, len(days), page_size):
                step(conn, app_id, [integer(day) for (day,) in days[start : start + page_size]])
            conn.execute(f"DELETE FROM {table} WHERE app_id = ?", (app_id,))
    return pending


def _rewrite_day_edges(conn: Connection, app_id: str, days: list[int]) -> None:
    slots = _read_blocks(conn, app_id, 0, merge_ranges((day, day + DAY) for day in days))
    rows = conn.fetchall(
        f"SELECT block, grp, value FROM usage_rollups WHERE app_id = ? AND {_GRP_IN} AND level = 3 "
        "AND block >= ? AND block <= ?",
        (app_id, *GROUPS, days[0], days[-1]),
    )
    by_day: dict[Block, dict[Group, dict[Block, Figures]]] = {}
    updates = []
    for block, grp, value in rows:
        day: Block = (3, integer(block))
        if day not in by_day:
            by_day[day] = _by_group(edge_children(day), slots)
        updates.append((block_edges(day, by_day[day].get((grp, value), {})), app_id, grp, day[1], value))
    conn.executemany(
        "UPDATE usage_rollups SET edges = ? WHERE app_id = ? AND grp = ? AND level = 3 AND block = ? AND value = ?",
        updates,
    )


#: Days whose slot rows one step of :func:`backfill_peak_times` recomputes.
PEAK_BACKFILL_DAYS = 8


def backfill_peak_times(db: Database) -> list[str]:
    """Recompute the slot rows of every app listed in ``usage_rollup_peak_backfill`` (migration
    ``m0019``: where each slot is at its peak) from the calls; their figures do not change."""
    return _backfill_by_days(db, "usage_rollup_peak_backfill", PEAK_BACKFILL_DAYS, _recompute_slots)


def _recompute_slots(conn: Connection, app_id: str, days: list[int]) -> None:
    slots = conn.fetchall(
        "SELECT block FROM usage_rollups WHERE app_id = ? AND grp = '' AND level = 0 AND block >= ? AND block < ? "
        "ORDER BY block",
        (app_id, days[0], days[-1] + DAY),
    )
    if slots:
        _replace(conn, app_id, 0, _slot_rows(conn, app_id, [integer(slot) for (slot,) in slots]))


# -- reading -------------------------------------------------------------------------------------


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
