"""Per-user rollups (``usage_member_rollups``, migration ``m0014_member_rollups``): what a
``groupBy=uid`` series without filters reads instead of every member row of its range.

The blocks, figures and concurrency profile of :mod:`calltrail.store.usage_rollups`, one row per
app x block x user: the calls the user is part of initiated in the block, by status, and their
sums, ``participant_ms`` being the user's *own* minutes and ``missed`` the calls they missed;
then the profile (``net``, ``rise``, ``late``, ``f0``..``f3``) of the user's calls, so
``peakConcurrent`` is read from a few rows per bucket and user, exactly (the pure functions of
:mod:`calltrail.usage.rollups` compute and read both tables). One difference: a 4-hour block's
and a day's ``f0`` (0 in ``usage_rollups``) is that of its first hour, so a bucket starting on
one reads its first hour from the row it sums: a UTC day is one row per user.

Writing (:func:`recompute_members`): every marked ``(user, slot)`` (``store/usage.py`` marks
those each changed call's members touch, as it was and as it is: :func:`touched_members`, kept in
``store/usage_backlog.py`` until recomputed) is recomputed from the calls that can touch
it, then each parent block of that user from its children, in a writer's transaction and under
the same per-app lock as the rollups. Apps that had calls before
the table existed are listed in ``usage_member_rollup_backfill`` and computed once by
``open_stores`` (:func:`backfill`).

Reading (:class:`MemberSeriesRead`): the users with the most minutes over the range (sums of
whole blocks, plus the member rows of the edges that cut through a slot), then the ranked
users' rows of each bucket's blocks: their sums, and their peaks: each bucket's first hour from
``f`` values, the rest from ``rise`` and ``net`` less the user's long calls initiated before the
bucket (their rows in ``usage_long_members``, ``m0021``: each member of a long call, by user and
end), and the few windows those calls cut (and an edge off the slots, the slot holding *now*)
from the user's calls themselves. The level a user's walk starts from is counted from their
calls in progress then (the long ones and those of the hour before), not summed over history.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import groupby
from operator import add
from typing import Any, cast

from calltrail.sessions.vocabulary import CALL_STATUSES
from calltrail.store.database import Connection, Database, chunks, integer
from calltrail.store.usage_rollups import touched_slots
from calltrail.usage.figures import CallSums
from calltrail.usage.periods import Bucket, seconds_bounds
from calltrail.usage.rollups import (
    F0,
    FIGURES,
    LATE,
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
    Figures,
    LongSpan,
    Run,
    block_end,
    ceil_slot,
    compose,
    decompose,
    floor_slot,
    light_span,
    merge_ranges,
    parent,
    plan_bucket,
    slot_figures,
    split_middle,
    window_peak,
)

#: The stored figures: the rollups' (``participant_ms`` is the user's own minutes), then ``missed``.
COLUMNS = (*FIGURES, "missed")
MISSED = len(FIGURES)
_OWN = FIGURES.index("participant_ms")
_ROW_COLUMNS = ("app_id", "level", "block", "uid", *COLUMNS)
_CALLS = "u.session_id, u.initiated_at, u.started_at, u.ended_at, u.status, u.duration_ms, u.audio_ms, u.video_ms"
_MEMBERS = (
    "call_members m JOIN usage_calls u ON u.app_id = m.app_id AND u.initiated_at = m.initiated_at "
    "AND u.session_id = m.session_id"
)
_CALLS_OF = " + ".join(STATUS_COLUMNS)
_DELETE = "DELETE FROM usage_member_rollups WHERE app_id = ? AND level = ? AND block = ? AND uid = ?"
_UPSERT = "ON CONFLICT (app_id, level, block, uid) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in COLUMNS
)

Key = tuple[int, Any]
#: A user's figures per block: ``{(block, uid): figures}``.
Rows = dict[tuple[Block, str], Figures]


def _plus(total: Sequence[int], more: Sequence[int]) -> list[int]:
    return list(map(add, total[: len(COLUMNS)], more[: len(COLUMNS)]))


def stored_members(conn: Connection, app_id: str, session_ids: Sequence[str]) -> dict[str, list[str]]:
    """The users of these calls as ``call_members`` holds them (read before the rows change)."""
    found: dict[str, list[str]] = {}
    for part in chunks(list(session_ids)):
        among, ids = conn.any_of("session_id", part)
        for session_id, uid in conn.fetchall(
            f"SELECT session_id, uid FROM call_members WHERE app_id = ? AND {among}", (app_id, *ids)
        ):
            found.setdefault(session_id, []).append(uid)
    return found


#: ``usage_long_members``' ``open_until`` of a call without an end (``m0021_long_members``).
STILL_OPEN = 2**62
_LONG_COLUMNS = ("app_id", "uid", "open_until", "session_id", "initiated_at", "started_at", "status")
_DELETE_LONG = "DELETE FROM usage_long_members WHERE app_id = ? AND uid = ? AND open_until = ? AND session_id = ?"


def long_member_rows(app_id: str, session_id: str, span: CallSpan, uids: Iterable[str]) -> list[tuple[Any, ...]]:
    """A call's ``usage_long_members`` rows: one per member if the call is long, else none."""
    if not span.is_long():
        return []
    until = STILL_OPEN if span.ended is None else span.ended
    return [(app_id, uid, until, session_id, span.initiated, span.started, span.status) for uid in uids]


def write_long_members(conn: Connection, gone: Sequence[tuple[Any, ...]], new: Sequence[tuple[Any, ...]]) -> None:
    """Delete the rows of the calls as they were (by key), then insert them as they are."""
    conn.executemany(_DELETE_LONG, [row[:4] for row in gone])
    conn.insert_rows("usage_long_members", _LONG_COLUMNS, new)


# -- writing -----------------------------------------------------------------------------------


class _Call:
    """A call as the writer recomputes slots from it: its span grouped by its (touched) users,
    and each user's own minutes and missed flag."""

    __slots__ = ("members", "span")

    def __init__(self, row: Sequence[Any], uids: Iterable[str]):
        _, initiated, started, ended, status, duration, audio, video = row
        self.members: list[tuple[str, int, int]] = []
        sums = (int(started is not None), duration, duration if started is not None else 0, audio, video, 0)
        self.span = CallSpan(initiated, started, ended, status, tuple(("", uid) for uid in uids), sums)


def _from_rows(rows: Sequence[Sequence[Any]], wanted: set[str]) -> dict[str, _Call]:
    """``{session id: call}`` from rows ``(uid, minutes_ms, missed, *_CALLS)``, with the wanted users."""
    by_session: dict[str, list[Sequence[Any]]] = {}
    for row in rows:
        if row[0] in wanted:
            by_session.setdefault(row[3], []).append(row)
    found = {}
    for session_id, mine in by_session.items():
        call = _Call(mine[0][3:], (row[0] for row in mine))
        call.members = [(row[0], int(row[1]), int(row[2])) for row in mine]
        found[session_id] = call
    return found


def _long_sql(conn: Connection, index: str, where: str, columns: str) -> str:
    """``columns`` of the long calls (the partial indexes' predicate, verbatim) matching ``where``,
    joined to their members (``m``) through the time index. ``CROSS JOIN`` keeps SQLite reading
    the few calls first (it may otherwise scan every member row initiated before them)."""
    calls = f"SELECT app_id, {_CALLS.replace('u.', '')} FROM usage_calls{conn.indexed_by(index)}"
    members = f"call_members m{conn.indexed_by('call_members_by_time')}"
    return (
        f"SELECT {columns} FROM ({calls} WHERE app_id = ? AND {LONG_CALL} AND {where}) u CROSS JOIN {members} "
        "WHERE m.app_id = u.app_id AND m.initiated_at = u.initiated_at AND m.session_id = u.session_id"
    )


def touched_members(changed: Iterable[tuple[str, CallSpan]]) -> dict[int, set[str]]:
    """The users of each slot the changed calls touch: ``changed`` holds ``(uid, span)`` for each
    member of each call written or deleted, as it was and as it is now."""
    touched: dict[int, set[str]] = {}
    slots_of: dict[int, tuple[CallSpan, set[int]]] = {}  # by span (kept alive): a call's members share it
    for uid, span in changed:
        known = slots_of.get(id(span))
        if known is None:
            known = slots_of[id(span)] = (span, touched_slots([span]))
        for slot in known[1]:
            touched.setdefault(slot, set()).add(uid)
    return touched


def refresh_members(conn: Connection, app_id: str, changed: Iterable[tuple[str, CallSpan]]) -> None:
    """Recompute every ``(user, block)`` the changed calls touch (see :func:`touched_members`)."""
    recompute_members(conn, app_id, touched_members(changed))


def recompute_members(conn: Connection, app_id: str, touched: dict[int, set[str]]) -> None:
    """Recompute the rows of these users in these slots (``{slot: users}``), then each parent
    block of theirs from its children."""
    if not touched:
        return
    conn.lock_keys([f"{app_id}/usage-rollups"])  # the rollups' lock: one writer per app recomputes
    slots = sorted(touched)
    wanted = set().union(*touched.values())
    calls: dict[str, _Call] = {}
    near_sql = (
        f"SELECT m.uid, m.minutes_ms, m.missed, {_CALLS} FROM {_MEMBERS} WHERE m.app_id = ? "
        "AND m.initiated_at >= ? AND m.initiated_at < ?"
    )
    for lo, hi in merge_ranges((slot - SHORT, slot + SLOT) for slot in slots):
        calls.update(_from_rows(conn.fetchall(near_sql, (app_id, lo, hi)), wanted))
    long_calls: dict[str, _Call] = {}
    for lo, hi in merge_ranges((slot, slot + SLOT) for slot in slots):
        for column, index in (("started_at", "usage_calls_long_start"), ("ended_at", "usage_calls_long_end")):
            sql = _long_sql(conn, index, f"{column} >= ? AND {column} < ?", f"m.uid, m.minutes_ms, m.missed, {_CALLS}")
            long_calls.update(_from_rows(conn.fetchall(sql, (app_id, lo, hi)), wanted))
    ordered = sorted(calls.items(), key=lambda item: item[1].span.initiated)
    starts = [call.span.initiated for _, call in ordered]
    rows: Rows = {}
    for slot in slots:
        near = dict(ordered[bisect_left(starts, slot - SHORT) : bisect_left(starts, slot + SLOT)])
        figures = slot_figures(slot, [call.span for call in (near | long_calls).values()])  # each call once
        users = touched[slot]
        for uid in users:
            row = figures.get(("", uid))
            if row is not None:
                rows[((0, slot), uid)] = [*row, 0]
        for _, call in ordered[bisect_left(starts, slot) : bisect_left(starts, slot + SLOT)]:
            for uid, own, missed in call.members:
                if uid in users:
                    row = rows[((0, slot), uid)]  # the call's status count made the row
                    row[_OWN] += own
                    row[MISSED] += missed
    keys = {((0, slot), uid) for slot, users in touched.items() for uid in users}
    _replace(conn, app_id, keys, rows)
    for level in range(1, len(LEVELS)):
        keys = {(parent(block), uid) for block, uid in keys}
        kids = _children(conn, app_id, level, keys)
        rows = {}
        for key in keys:
            mine = kids.get(key, {})
            # compose() only reads its rows: the fetched tuples serve as they are.
            composed = [*compose(key[0], cast(dict[Block, Figures], mine)), sum(row[MISSED] for row in mine.values())]
            if level >= 2:
                # A 4-hour block's or a day's f0 is its first hour's: a bucket starting on it reads
                # its first hour from the row it sums anyway.
                first = mine.get((level - 1, key[0][1]))
                composed[F0] = first[F0] if first else 0
            if any(composed):
                rows[key] = composed
        _replace(conn, app_id, keys, rows)


def _children(
    conn: Connection, app_id: str, level: int, parents: set[tuple[Block, str]]
) -> dict[tuple[Block, str], dict[Block, Sequence[Any]]]:
    """The stored rows of the children of these ``(block, uid)`` (blocks of ``level``), by parent."""
    uids = sorted({uid for _, uid in parents})
    found: dict[tuple[Block, str], dict[Block, Sequence[Any]]] = {}
    size = LEVELS[level]
    for lo, hi in merge_ranges((block[1], block[1] + size) for block, _ in parents):
        for users in chunks(uids):
            # The range's rows are read and filtered (unindexed): as an index term the users would
            # multiply the probes.
            within, names = conn.any_of(conn.unindexed("uid"), users)
            rows = conn.fetchall(
                f"SELECT {', '.join(COLUMNS)}, block, uid FROM usage_member_rollups WHERE app_id = ? AND level = ? "
                f"AND block >= ? AND block < ? AND {within}",
                (app_id, level - 1, lo, hi, *names),
            )
            for row in rows:  # the figures first, at their COLUMNS positions
                block = row[-2]
                key = ((level, block - block % size), row[-1])
                if key in parents:
                    found.setdefault(key, {})[(level - 1, block)] = row
    return found


def _replace(conn: Connection, app_id: str, keys: set[tuple[Block, str]], rows: Rows) -> None:
    # Unsorted: the app's lock (refresh_members) orders the writers that could touch these rows.
    new = [(app_id, block[0], block[1], uid, *figures) for (block, uid), figures in rows.items()]
    conn.insert_rows("usage_member_rollups", _ROW_COLUMNS, new, _UPSERT)
    emptied = [key for key in keys if key not in rows]
    conn.executemany(_DELETE, [(app_id, block[0], block[1], uid) for block, uid in emptied])


BACKFILL_PAGE = 2000


def backfill(db: Database) -> list[str]:
    """Compute the per-user rollups of every app listed in ``usage_member_rollup_backfill``
    (once, at open), one transaction per app under the app's exclusive bulk lock."""
    with db.read() as conn:
        pending = [app_id for (app_id,) in conn.fetchall("SELECT app_id FROM usage_member_rollup_backfill ORDER BY 1")]
    for app_id in pending:
        with db.write() as conn:
            conn.lock_keys([f"{app_id}/usage-member-backfill-{n}" for n in range(64)])  # > 32 keys: exclusive
            conn.execute("DELETE FROM usage_member_rollups WHERE app_id = ?", (app_id,))
            after: tuple[int, str] = (-(2**62), "")
            while True:
                rows = conn.fetchall(
                    "SELECT session_id, initiated_at, started_at, ended_at, status FROM usage_calls WHERE app_id = ? "
                    "AND (initiated_at > ? OR (initiated_at = ? AND session_id > ?)) "
                    "ORDER BY initiated_at, session_id LIMIT ?",
                    (app_id, after[0], after[0], after[1], BACKFILL_PAGE),
                )
                if not rows:
                    break
                spans = {row[0]: CallSpan(row[1], row[2], row[3], row[4], ()) for row in rows}
                members = conn.fetchall(
                    "SELECT session_id, uid FROM call_members WHERE app_id = ? AND initiated_at >= ? "
                    "AND initiated_at <= ?",
                    (app_id, rows[0][1], rows[-1][1]),
                )
                refresh_members(conn, app_id, [(uid, spans[sid]) for sid, uid in members if sid in spans])
                after = (rows[-1][1], rows[-1][0])
            conn.execute("DELETE FROM usage_member_rollup_backfill WHERE app_id = ?", (app_id,))
    return pending


# -- reading -------------------------------------------------------------------------------------


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
                    f"sum(u.audio_ms), sum(u.video_ms), sum(m.minutes_ms), sum(m.missed) FROM {_MEMBERS} "
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
            f"SELECT m.uid, u.session_id, u.initiated_at, u.started_at, u.ended_at, u.status FROM {_MEMBERS} "
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
