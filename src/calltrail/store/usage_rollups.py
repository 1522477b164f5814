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

Reading: :mod:`calltrail.store.usage_rollups_read`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from calltrail.store.database import Connection, Database, bounded_among, chunks, integer, placeholders
from calltrail.usage.edges import (
    block_edges,
    edge_children,
)
from calltrail.usage.rollups import (
    FIGURES,
    GROUP_COLUMNS,
    LEVELS,
    LONG_CALL,
    SHORT,
    SLOT,
    Block,
    CallSpan,
    Figures,
    Group,
    block_end,
    children,
    compose,
    floor_slot,
    merge_ranges,
    parent,
    slot_figures,
)

GROUPS = ("", *GROUP_COLUMNS)
DAY = LEVELS[-1]
_SPAN_COLUMNS = ("session_id", "initiated_at", "started_at", "ended_at", *GROUP_COLUMNS, "duration_ms", "audio_ms",
                 "video_ms", "participant_ms")  # fmt: skip
_SELECT = f"SELECT {', '.join(_SPAN_COLUMNS)} FROM usage_calls WHERE app_id = ?"
#: Where a slot is at its peak (migration ``m0019``; null above a slot, and in older rows).
PEAK_TIMES = ("peak_from", "peak_until")
_ROW_COLUMNS = ("app_id", "grp", "level", "block", "value", *FIGURES, *PEAK_TIMES, "edges")
_GRP_IN = f"grp IN ({placeholders(len(GROUPS))})"


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
