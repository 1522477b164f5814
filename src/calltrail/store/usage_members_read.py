"""Reading the per-user rollups (``usage_member_rollups``; written by
:mod:`calltrail.store.usage_members`): :class:`MemberSeriesRead`.

The users with the most minutes over the range (sums of whole blocks, plus the member rows of
the edges that cut through a slot), then the ranked users' rows of each bucket's blocks: their
sums, and their peaks: each bucket's first hour from ``f`` values, the rest from ``rise`` and
``net`` less the user's long calls initiated before the bucket (their rows in
``usage_long_members``, ``m0021``: each member of a long call, by user and end), and the few
windows those calls cut (and an edge off the slots, the slot holding *now*) from the user's calls
themselves. The level a user's walk starts from is counted from their calls in progress then
(the long ones and those of the hour before), not summed over history.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import groupby
from operator import add
from typing import Any

from calltrail.sessions.vocabulary import CALL_STATUSES
from calltrail.store.database import Connection, chunks, integer
from calltrail.store.usage_members import COLUMNS, MEMBERS_WITH_CALLS, MISSED, STILL_OPEN
from calltrail.usage.figures import CallSums
from calltrail.usage.periods import Bucket, seconds_bounds
from calltrail.usage.rollups import (
    F0,
    LATE,
    LEVELS,
    NET,
    RISE,
    SHORT,
    STATUS_COLUMNS,
    Block,
    BucketPeak,
    LongSpan,
    Run,
    block_end,
    ceil_slot,
    decompose,
    floor_slot,
    light_span,
    merge_ranges,
    plan_bucket,
    split_middle,
    window_peak,
)

Key = tuple[int, Any]
_CALLS_OF = " + ".join(STATUS_COLUMNS)


def _plus(total: Sequence[int], more: Sequence[int]) -> list[int]:
    return list(map(add, total[: len(COLUMNS)], more[: len(COLUMNS)]))


class _Middles:
    """The buckets with a middle (after their first hour), and which of a user's long calls
    initiated before each are in progress over it, in one pass over the calls (the same
    answer as :func:`calltrail.usage.rollups.carried_by_bucket` then :func:`split_middle`)."""

    def __init__(self, plans: list[BucketPeak]):
        middles = [(index, plan.middle) for index, plan in enumerate(plans) if plan.middle is not None]
        self.los = [plan.lo for plan in plans]
        self.buckets = [index for index, _ in middles]
        self.starts = [start for _, (start, _) in middles]
        self.ends = [end for _, (_, end) in middles]

    def carried(self, spans: list[LongSpan]) -> tuple[list[int], dict[int, list[LongSpan]]]:
        """Per middle (by position): how many of ``spans`` initiated before its bucket are in
        progress over all of it; and, for a middle one of them starts or ends inside, every span
        its bucket carries (to split it)."""
        delta = [0] * (len(self.buckets) + 1)
        cut: set[int] = set()
        placed = []
        for span in spans:
            _, initiated, start, end = span
            # The buckets carrying it: initiated before their start, not over by it.
            first = bisect_left(self.buckets, bisect_right(self.los, initiated))
            last = bisect_left(self.buckets, len(self.los) if end is None else bisect_left(self.los, end))
            placed.append((first, last, span))
            # Of those, the middles it overlaps: ending after its start and starting before its end.
            lo = max(first, bisect_right(self.ends, start))
            hi = last if end is None else min(last, bisect_left(self.starts, end))
            if lo >= hi:
                continue
            delta[lo] += 1
            delta[hi] -= 1
            for point in (start,) if end is None else (start, end):
                position = bisect_right(self.starts, point) - 1
                if lo <= position < hi and self.starts[position] < point < self.ends[position]:
                    cut.add(position)
        counts, running = [], 0
        for change in delta[:-1]:
            running += change
            counts.append(running)
        return counts, {position: [span for first, last, span in placed if first <= position < last]
                        for position in cut}  # fmt: skip


class MemberSeriesRead:
    """One ``groupBy=uid`` series without filters, read from the per-user rollups.

    :meth:`top` ranks the users, then :meth:`sums` and :meth:`peaks` read the figures of those
    users only (keys ``(bucket index, uid)``)."""

    def __init__(self, conn: Connection, app_id: str, series: list[Bucket], now_ms: int):
        self.conn, self.app_id, self.series, self.now_ms = conn, app_id, series, now_ms
        self.bounds = [seconds_bounds(bucket) for bucket in series]
        self.uids: list[str] = []
        self.rows: dict[Block, dict[str, Sequence[Any]]] = {}  # rows as fetched: COLUMNS, block, uid

    def _users(self, column: str = "uid") -> tuple[str, list[Any]]:
        return self.conn.any_of(column, self.uids)

    def top(self, limit: int) -> list[str]:
        """The ``limit`` users with the most own minutes over the range (ties: more calls, then
        uid), read from whole blocks and the member rows of the edges that cut through a slot."""
        lo, hi = self.bounds[0][0], self.bounds[-1][1]
        first, last = ceil_slot(lo), floor_slot(hi)
        rows: list[Sequence[Any]] = []
        edges = [(lo, hi)]
        if first < last:
            edges = [(lo, first), (last, hi)]
            # decompose() yields contiguous blocks: each run of one level is one range of starts.
            for level, blocks in groupby(decompose(first, last), key=lambda block: block[0]):
                starts = [block[1] for block in blocks]
                rows += self.conn.fetchall(
                    f"SELECT uid, sum(participant_ms), sum({_CALLS_OF}) FROM usage_member_rollups WHERE app_id = ? "
                    "AND level = ? AND block >= ? AND block <= ? GROUP BY uid",
                    (self.app_id, level, starts[0], starts[-1]),
                )
        for edge_lo, edge_hi in edges:
            if edge_lo < edge_hi:
                rows += self.conn.fetchall(
                    "SELECT uid, sum(minutes_ms), count(*) FROM call_members WHERE app_id = ? AND initiated_at >= ? "
                    "AND initiated_at < ? GROUP BY uid",
                    (self.app_id, edge_lo, edge_hi),
                )
        totals: dict[str, list[int]] = {}
        for uid, own, calls in rows:
            total = totals.setdefault(uid, [0, 0])
            total[0] += integer(own)
            total[1] += integer(calls)
        # Ranked in Python: the same order on every engine whatever the database's collation.
        ranked = sorted((-own, -calls, uid) for uid, (own, calls) in totals.items() if calls)
        self.uids = [uid for _, _, uid in ranked[:limit]]
        return self.uids

    def fetch(self, blocks: Iterable[Block]) -> None:
        """Read the ranked users' rows of these blocks (once each)."""
        by_level: dict[int, list[int]] = {}
        for block in blocks:
            if block not in self.rows:
                self.rows[block] = {}
                by_level.setdefault(block[0], []).append(block[1])
        if not self.uids:
            return
        users, names = self._users()
        for level, starts in sorted(by_level.items()):
            for part in chunks(sorted(starts)):
                among, values = self.conn.any_of("block", part)
                rows = self.conn.fetchall(
                    f"SELECT {', '.join(COLUMNS)}, block, uid FROM usage_member_rollups WHERE app_id = ? "
                    f"AND level = ? AND {among} AND {users}",
                    (self.app_id, level, *values, *names),
                )
                for row in rows:  # kept whole: the figures first, at their COLUMNS positions
                    self.rows[(level, row[-2])][row[-1]] = row

    def sums(self) -> tuple[dict[Key, CallSums], dict[Key, dict[str, int]]]:
        """Each bucket's sums per ranked user: whole blocks, then the edges off the slots."""
        plans = []
        edges = []
        for index, (lo, hi) in enumerate(self.bounds):
            first, last = ceil_slot(lo), floor_slot(hi)
            if first >= last:
                edges.append((lo, hi, index))
                continue
            plans.append((index, decompose(first, last)))
            if lo < first:
                edges.append((lo, first, index))
            if last < hi:
                edges.append((last, hi, index))
        self.fetch(block for _, blocks in plans for block in blocks)
        totals: dict[Key, Sequence[int]] = {}  # COLUMNS positions (the profile's are meaningless)
        for index, blocks in plans:
            for block in blocks:
                for uid, figures in self.rows[block].items():
                    total = totals.get((index, uid))
                    totals[(index, uid)] = figures if total is None else _plus(total, figures)
        if self.uids:
            users, names = self._users("m.uid")
            for lo, hi, index in edges:
                rows = self.conn.fetchall(
                    f"SELECT m.uid, u.status, count(*), sum(CASE WHEN u.started_at IS NULL THEN 0 ELSE 1 END), "
                    "sum(u.duration_ms), sum(CASE WHEN u.started_at IS NULL THEN 0 ELSE u.duration_ms END), "
                    f"sum(u.audio_ms), sum(u.video_ms), sum(m.minutes_ms), sum(m.missed) FROM {MEMBERS_WITH_CALLS} "
                    f"WHERE m.app_id = ? AND m.initiated_at >= ? AND m.initiated_at < ? AND {users} GROUP BY 1, 2",
                    (self.app_id, lo, hi, *names),
                )
                for uid, status, calls, *figures in rows:
                    edge = [0] * len(COLUMNS)
                    edge[CALL_STATUSES.index(status)] = integer(calls)
                    edge[len(STATUS_COLUMNS) : NET] = map(integer, figures[:-1])
                    edge[MISSED] = integer(figures[-1])
                    total = totals.get((index, uid))
                    totals[(index, uid)] = edge if total is None else _plus(total, edge)
        sums: dict[Key, CallSums] = {}
        statuses: dict[Key, dict[str, int]] = {}
        counted = len(STATUS_COLUMNS)
        for key, total in totals.items():
            calls = sum(total[:counted])
            if calls:  # a row may hold only the profile of calls initiated before its block
                started, duration, started_duration, audio, video, own = total[counted:NET]
                sums[key] = CallSums(calls, started, duration, started_duration, audio, video, own, total[MISSED])
                statuses[key] = dict(zip(CALL_STATUSES, total[:counted], strict=True))
        return sums, statuses

    def peaks(self) -> dict[Key, int]:
        """Each bucket's ``peakConcurrent`` per ranked user (see :mod:`calltrail.usage.rollups`)."""
        plans = [plan_bucket(lo, hi, bucket.start_ms, bucket.end_ms, self.now_ms)
                 for bucket, (lo, hi) in zip(self.series, self.bounds, strict=True)]  # fmt: skip
        if not self.uids:
            return {}
        # The runs of a user without long calls initiated before a bucket are the same for all.
        shared = [split_middle(index, plan, []) if plan.middle else [] for index, plan in enumerate(plans)]
        firsts = [runs[0].late or runs[0].blocks[0] for runs in shared if runs]
        lo, hi = plans[0].lo, plans[-1].hi
        walk = firsts[0][1] - firsts[0][1] % LEVELS[-1] if firsts else lo
        long_calls = self._long_calls(min(walk, lo), hi)
        best: dict[Key, int] = {}
        self._heads(plans, best)
        runs_of: dict[str, list[Run]] = {}
        windows: list[tuple[int, int, int, list[str]]] = [
            (index, lo_ms, hi_ms, self.uids) for index, plan in enumerate(plans) for lo_ms, hi_ms in plan.windows
        ]
        middles = _Middles(plans)
        for uid in self.uids:
            counts, cut = middles.carried(list(long_calls.get(uid, {}).values()))
            runs: list[Run] = []
            for position, index in enumerate(middles.buckets):
                if position in cut:  # a long call starts or ends inside the middle: split it there
                    mine = replace(plans[index], windows=[])
                    runs += split_middle(index, mine, cut[position])
                    windows += [(index, lo_ms, hi_ms, [uid]) for lo_ms, hi_ms in mine.windows]
                elif counts[position]:  # what split_middle() gives, less the long calls in progress all along
                    count = {uid: counts[position]}
                    runs += [Run(run.bucket, run.blocks, count, run.late) for run in shared[index]]
                else:  # none in progress: the shared runs themselves (read, never changed)
                    runs += shared[index]
            runs_of[uid] = runs
        if firsts:
            self._middles(walk, runs_of, self._levels_at(walk, long_calls), best)
        self._windows(plans, windows, long_calls, best)
        return best

    def _member_spans(self, lo: int, hi: int, users: Iterable[str]) -> list[tuple[str, str, LongSpan]]:
        """``(uid, session id, span)`` of these users' calls initiated in ``[lo, hi)`` and ever in progress."""
        among, names = self.conn.any_of("m.uid", sorted(users))
        found = []
        for uid, session_id, initiated, started, ended, status in self.conn.fetchall(
            f"SELECT m.uid, u.session_id, u.initiated_at, u.started_at, u.ended_at, u.status FROM {MEMBERS_WITH_CALLS} "
            f"WHERE m.app_id = ? AND m.initiated_at >= ? AND m.initiated_at < ? AND {among}",
            (self.app_id, lo, hi, *names),
        ):
            span = light_span(uid, initiated, started, ended, status)
            if span is not None:
                found.append((uid, session_id, span))
        return found

    def _long_calls(self, lo: int, hi: int) -> dict[str, dict[str, LongSpan]]:
        """The ranked users' long calls initiated before ``hi`` and not over before ``lo``, from
        ``usage_long_members``: one index range per user, from ``lo`` on."""
        users, names = self._users()
        found: dict[str, dict[str, LongSpan]] = {}
        for uid, session_id, initiated, started, until, status in self.conn.fetchall(
            "SELECT uid, session_id, initiated_at, started_at, open_until, status FROM usage_long_members "
            f"WHERE app_id = ? AND {users} AND open_until >= ? AND initiated_at < ?",
            (self.app_id, *names, lo, hi),
        ):
            span = light_span(uid, initiated, started, None if until == STILL_OPEN else until, status)
            if span is not None:
                found.setdefault(uid, {})[session_id] = span
        return found

    def _levels_at(self, walk: int, long_calls: dict[str, dict[str, LongSpan]]) -> dict[str, int]:
        """Each user's calls in progress just before ``walk`` (what the ``net`` of every block before
        it adds up to): long calls, and the short ones initiated in the hour before it."""
        levels: dict[str, int] = {}
        counted: set[tuple[str, str]] = set()
        for uid, spans in long_calls.items():
            for session_id, (_, _, start, end) in spans.items():
                if start < walk and (end is None or end >= walk):
                    levels[uid] = levels.get(uid, 0) + 1
                    counted.add((uid, session_id))
        for uid, session_id, (_, _, start, end) in self._member_spans(walk - SHORT, walk, self.uids):
            if start < walk and (end is None or end >= walk) and (uid, session_id) not in counted:
                levels[uid] = levels.get(uid, 0) + 1
        return levels

    def _heads(self, plans: list[BucketPeak], best: dict[Key, int]) -> None:
        heads = []
        for index, plan in enumerate(plans):
            for block, position in plan.heads:
                if block[0] == 1 and position == 0:
                    # An hour starting a day or 4-hour block that the sums read: its f0 is there.
                    block = next(((level, block[1]) for level in (3, 2) if (level, block[1]) in self.rows), block)
                heads.append((index, block, position))
        self.fetch(block for _, block, _ in heads)
        for index, block, position in heads:
            for uid, figures in self.rows[block].items():
                height = figures[F0 + position]
                if height > best.get((index, uid), 0):
                    best[(index, uid)] = height

    def _middles(self, walk: int, runs_of: dict[str, list[Run]], levels: dict[str, int], best: dict[Key, int]) -> None:
        walks: dict[str, list[tuple[Block, Run | None, int]]] = {}
        for uid, runs in runs_of.items():
            pieces: list[tuple[Block, Run | None, int]] = []  # (block, its run, RISE or LATE)
            cursor = walk
            for run in runs:
                first = run.late or run.blocks[0]
                if cursor < first[1]:
                    pieces += [(block, None, RISE) for block in decompose(cursor, first[1])]
                if run.late:
                    pieces.append((run.late, run, LATE))
                pieces += [(block, run, RISE) for block in run.blocks]
                cursor = block_end(run.blocks[-1]) if run.blocks else block_end(first)
            walks[uid] = pieces
        self.fetch({block for pieces in walks.values() for block, _, _ in pieces})
        for uid, pieces in walks.items():
            level = levels.get(uid, 0)
            for block, owner, rise in pieces:
                figures = self.rows[block].get(uid)
                if owner is not None:
                    height = level + (figures[rise] if figures else 0) - owner.carried.get(uid, 0)
                    key = (owner.bucket, uid)
                    if height > best.get(key, 0):
                        best[key] = height
                if figures:
                    level += figures[NET]

    def _windows(
        self, plans: list[BucketPeak], windows: list[tuple[int, int, int, list[str]]],
        long_calls: dict[str, dict[str, LongSpan]], best: dict[Key, int],
    ) -> None:  # fmt: skip
        """The exact peak of each window over the calls of its bucket that can be in progress in
        it: those initiated up to an hour before it, and the bucket's long calls."""
        if not windows:
            return
        needed = []
        for index, lo_ms, hi_ms, _ in windows:
            plan = plans[index]
            needed.append((max(plan.lo, lo_ms // 1000 - SHORT), min(plan.hi, -(-hi_ms // 1000))))
        users = {uid for *_, who in windows for uid in who}
        calls: dict[str, list[tuple[int, str, LongSpan]]] = {}
        for lo, hi in merge_ranges(needed):
            for uid, session_id, span in self._member_spans(lo, hi, users):
                calls.setdefault(uid, []).append((span[1], session_id, span))
        starts: dict[str, list[int]] = {}
        for uid, mine in calls.items():
            mine.sort()
            starts[uid] = [initiated for initiated, _, _ in mine]
        for (index, lo_ms, hi_ms, who), (lo, hi) in zip(windows, needed, strict=True):
            plan = plans[index]
            for uid in who:
                mine = calls.get(uid, [])
                near = {sid: span for sid, span in long_calls.get(uid, {}).items() if plan.lo <= span[1] < plan.hi}
                if lo < hi:
                    first, last = bisect_left(starts.get(uid, []), lo), bisect_left(starts.get(uid, []), hi)
                    near.update((sid, span) for _, sid, span in mine[first:last])
                height = window_peak((lo_ms, hi_ms), (plan.lo, plan.hi), near.values(), self.now_ms)
                if height > best.get((index, uid), 0):
                    best[(index, uid)] = height
