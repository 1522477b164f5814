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

Reading: :mod:`calltrail.store.usage_members_read`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any, cast

from calltrail.store.database import Connection, Database, chunks
from calltrail.store.usage_rollups import touched_slots
from calltrail.usage.rollups import (
    F0,
    FIGURES,
    LEVELS,
    LONG_CALL,
    SHORT,
    SLOT,
    Block,
    CallSpan,
    Figures,
    compose,
    merge_ranges,
    parent,
    slot_figures,
)

#: The stored figures: the rollups' (``participant_ms`` is the user's own minutes), then ``missed``.
COLUMNS = (*FIGURES, "missed")
MISSED = len(FIGURES)
_OWN = FIGURES.index("participant_ms")
_ROW_COLUMNS = ("app_id", "level", "block", "uid", *COLUMNS)
_CALLS = "u.session_id, u.initiated_at, u.started_at, u.ended_at, u.status, u.duration_ms, u.audio_ms, u.video_ms"
#: Member rows with their calls' usage columns (``m`` and ``u``).
MEMBERS_WITH_CALLS = (
    "call_members m JOIN usage_calls u ON u.app_id = m.app_id AND u.initiated_at = m.initiated_at "
    "AND u.session_id = m.session_id"
)
_DELETE = "DELETE FROM usage_member_rollups WHERE app_id = ? AND level = ? AND block = ? AND uid = ?"
_UPSERT = "ON CONFLICT (app_id, level, block, uid) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in COLUMNS
)

#: A user's figures per block: ``{(block, uid): figures}``.
Rows = dict[tuple[Block, str], Figures]


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
        f"SELECT m.uid, m.minutes_ms, m.missed, {_CALLS} FROM {MEMBERS_WITH_CALLS} WHERE m.app_id = ? "
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
