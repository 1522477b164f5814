"""The per-user rollups' backlog: their recompute coalesced over many writes, done before a read.

Recomputing a ``(slot, user)`` row of ``usage_member_rollups`` reads every call of the user that
can touch the slot, then recomputes the user's hour, 4-hour block and day from their children
(``store/usage_members.py``). Done by every write, a day's rows were recomputed by each batch
within it: with 1,000-event batches at the demo's density, each day about 40 times, and the
per-user rollups took a third of ingest (docs/storage.md). So a write only *marks* the keys it
changes (:func:`mark_members`, in its transaction); they are recomputed together:

- by the write that brings the marks since the last recompute to :data:`MARKS_BEFORE_RECOMPUTE`
  (so the backlog, and the wait of the read that settles it, stay bounded);
- by ``calltrail serve`` every 2 seconds (``jobs/settler.py``), so they wait a few seconds at most;
- before a read of the rollups (:func:`settle`, a write transaction per marked day): the read then
  sees none. A read whose snapshot still holds a backlog (a writer committed in between) reads
  the member rows instead (``store/usage_read.py``): the figures are exact at every read.

Recomputing a key later gives what recomputing it at once gave: a row depends only on the calls
stored when it is computed. Both steps run under the app's rollup lock (``<app>/usage-rollups``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import groupby
from typing import Any

from calltrail.store.database import Connection, Database
from calltrail.store.usage_members import recompute_members, touched_members
from calltrail.usage.rollups import LEVELS, CallSpan

#: Marks (``(slot, user)`` keys, counted each time marked) that make a write recompute the backlog:
#: about 20 batches of 1,000 events at the demo's density, a second or so of recomputing.
MARKS_BEFORE_RECOMPUTE = 20_000
_DAY = LEVELS[-1]
_SIZE_CONFLICT = "ON CONFLICT (app_id) DO UPDATE SET marks = usage_member_backlog_size.marks + excluded.marks"


def mark_members(conn: Connection, app_id: str, changed: Iterable[tuple[str, CallSpan]]) -> None:
    """Mark the keys the changed calls touch (``changed`` as :func:`touched_members` takes it); when
    the marks are due, recompute them with the backlog instead (never stored: a large batch, as
    ``calltrail demo`` writes, then pays nothing for its marks)."""
    touched = touched_members(changed)
    if not touched:
        return
    conn.lock_keys([f"{app_id}/usage-rollups"])
    marks = sum(map(len, touched.values()))
    row = conn.fetchone("SELECT marks FROM usage_member_backlog_size WHERE app_id = ?", (app_id,))
    if (int(row[0]) if row is not None else 0) + marks >= MARKS_BEFORE_RECOMPUTE:
        _recompute_with_backlog(conn, app_id, touched)
        return
    keys = sorted((app_id, slot, uid) for slot, uids in touched.items() for uid in uids)
    conn.insert_rows("usage_member_backlog", ("app_id", "slot", "uid"), keys,
                     "ON CONFLICT (app_id, slot, uid) DO NOTHING")  # fmt: skip
    conn.insert_rows("usage_member_backlog_size", ("app_id", "marks"), [(app_id, marks)], _SIZE_CONFLICT)


def _with_marks(touched: dict[int, set[str]], rows: Iterable[Sequence[Any]]) -> dict[int, set[str]]:
    """``touched`` (``{slot: users}``) with the marks of ``rows`` (``(slot, uid)``) added."""
    for slot, uid in rows:
        touched.setdefault(int(slot), set()).add(uid)
    return touched


def _recompute_with_backlog(conn: Connection, app_id: str, touched: dict[int, set[str]]) -> None:
    """Recompute ``touched`` and every marked key of the app, a UTC day at a time (a day's parents
    are its own), and clear the backlog. The caller holds the app's rollup lock."""
    rows = conn.fetchall("SELECT slot, uid FROM usage_member_backlog WHERE app_id = ?", (app_id,))
    due = _with_marks(touched, rows)
    for _, day in groupby(sorted(due), key=lambda slot: slot // _DAY):
        recompute_members(conn, app_id, {slot: due[slot] for slot in day})
    conn.execute("DELETE FROM usage_member_backlog WHERE app_id = ?", (app_id,))
    conn.execute("DELETE FROM usage_member_backlog_size WHERE app_id = ?", (app_id,))


def has_backlog(conn: Connection, app_id: str) -> bool:
    """Whether some rows of the app's per-user rollups are not recomputed yet (in this snapshot)."""
    return conn.fetchone("SELECT 1 FROM usage_member_backlog WHERE app_id = ? LIMIT 1", (app_id,)) is not None


def apps_with_backlog(db: Database) -> list[str]:
    """The apps with marks not recomputed yet."""
    with db.read() as conn:
        return [app_id for (app_id,) in conn.fetchall("SELECT app_id FROM usage_member_backlog_size ORDER BY 1")]


def recompute_first_day(conn: Connection, app_id: str) -> int | None:
    """Recompute the marked keys of the app's earliest marked UTC day and clear them; returns that
    day (Unix seconds // 86,400), or None when nothing is marked."""
    conn.lock_keys([f"{app_id}/usage-rollups"])
    first = conn.fetchone("SELECT min(slot) FROM usage_member_backlog WHERE app_id = ?", (app_id,))
    if first is None or first[0] is None:
        conn.execute("DELETE FROM usage_member_backlog_size WHERE app_id = ?", (app_id,))
        return None
    day = int(first[0]) // _DAY
    bounds = (app_id, day * _DAY, (day + 1) * _DAY)
    rows = conn.fetchall(
        "SELECT slot, uid FROM usage_member_backlog WHERE app_id = ? AND slot >= ? AND slot < ?", bounds
    )
    recompute_members(conn, app_id, _with_marks({}, rows))
    conn.execute("DELETE FROM usage_member_backlog WHERE app_id = ? AND slot >= ? AND slot < ?", bounds)
    if not has_backlog(conn, app_id):
        conn.execute("DELETE FROM usage_member_backlog_size WHERE app_id = ?", (app_id,))
    return day


def settle(db: Database, app_id: str) -> None:
    """Recompute the app's backlog, one UTC day per write transaction (a writer waits for one day's
    recompute at most, not for the whole backlog's), up to the last day marked when it starts."""
    with db.read() as conn:
        last = conn.fetchone("SELECT max(slot) FROM usage_member_backlog WHERE app_id = ?", (app_id,))
    if last is None or last[0] is None:
        return
    while True:
        with db.write() as conn:
            day = recompute_first_day(conn, app_id)
        if day is None or day >= int(last[0]) // _DAY:
            return
