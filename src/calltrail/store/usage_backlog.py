"""The usage rollups' backlog: their recompute coalesced over many writes, done before a read.

Two tables of figures per aligned block are recomputed, not added to, when a call changes: the
app's rollups (``usage_rollups``, ``store/usage_rollups.py``) and the per-user rollups
(``usage_member_rollups``, ``store/usage_members.py``). Recomputing a slot reads every call that
can touch it, then its hour, 4-hour block and day from their children. Done by every write, a
day's rows were recomputed by each batch within it: with 1,000-event batches at the demo's
density, each day about 40 times, and the two took nearly half of ingest (docs/storage.md). So
a write only *marks* what it changes (:func:`mark`, in its transaction): the slots of the app's
rollups (``usage_rollup_backlog``, ``m0027``) and the ``(slot, user)`` keys of the per-user ones
(``usage_member_backlog``, ``m0026``). They are recomputed together:

- by a write that finds the marks at :data:`MARKS_BEFORE_RECOMPUTE` or more: the days it touches,
  with its own marks (never stored), and the earliest marked day. So the backlog stays bounded
  without a settler, and such a write waits for its own days and one more, never for the whole
  backlog (at worst, a write recomputes what it changed, as every write did before the backlog);
- by ``calltrail serve`` every 2 seconds (``jobs/settler.py``), so they wait a few seconds at most;
- before a read of the rollups (:func:`settle`, a write transaction per marked day): the read then
  sees none. A read whose snapshot still holds marks (writes committed in between, as a steady
  ingest does) recomputes them and reads in one write transaction (:func:`settle_in`,
  ``store/usage_read.py``), so no write comes between: the figures are exact at every read.

Recomputing a block later gives what recomputing it at once gave: a row depends only on the calls
stored when it is computed. Every step runs under the app's rollup lock (``<app>/usage-rollups``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from calltrail.store.database import Connection, Database
from calltrail.store.usage_members import recompute_members, touched_members
from calltrail.store.usage_rollups import refresh_slots, touched_slots
from calltrail.usage.rollups import LEVELS, CallSpan

#: Marks (app slots and ``(slot, user)`` keys, counted each time marked) that make a write
#: recompute its days' backlog: about 20 batches of 1,000 events at the demo's density.
MARKS_BEFORE_RECOMPUTE = 20_000
_DAY = LEVELS[-1]
_SIZE_CONFLICT = "ON CONFLICT (app_id) DO UPDATE SET marks = usage_member_backlog_size.marks + excluded.marks"
_MARKED = "SELECT {columns} FROM {table} WHERE app_id = ? AND slot >= ? AND slot < ?"
#: Where marks are kept: the app's rollup slots, the per-user keys (each has ``app_id`` and ``slot``).
_MARK_TABLES = ("usage_rollup_backlog", "usage_member_backlog")


class Marks:
    """What a write changed: the app's slots and each slot's users (``{slot: users}``)."""

    __slots__ = ("members", "slots")

    def __init__(self, slots: set[int], members: dict[int, set[str]]):
        self.slots, self.members = slots, members

    def count(self) -> int:
        return len(self.slots) + sum(map(len, self.members.values()))

    def days(self) -> list[int]:
        """The UTC days (Unix seconds // 86,400) marked, in order."""
        return sorted({slot // _DAY for slot in (*self.slots, *self.members)})

    def of_day(self, day: int) -> Marks:
        inside = range(day * _DAY, (day + 1) * _DAY)
        return Marks({slot for slot in self.slots if slot in inside},
                     {slot: uids for slot, uids in self.members.items() if slot in inside})  # fmt: skip

    def add(self, slots: Iterable[Sequence[Any]], members: Iterable[Sequence[Any]]) -> Marks:
        """These marks with stored ones added: rows ``(slot,)`` and ``(slot, uid)``."""
        self.slots.update(int(row[0]) for row in slots)
        for slot, uid in members:
            self.members.setdefault(int(slot), set()).add(uid)
        return self


def mark(conn: Connection, app_id: str, spans: Iterable[CallSpan], members: Iterable[tuple[str, CallSpan]]) -> None:
    """Mark what the changed calls touch: ``spans`` (each call as it was and as it is) for the app's
    rollups, ``members`` (``(uid, span)`` of each of their members) for the per-user ones. When the
    marks are due, recompute the marked days this write touches instead, with its own marks."""
    marks = Marks(touched_slots(spans), touched_members(members))
    count = marks.count()
    if not count:
        return
    conn.lock_keys([f"{app_id}/usage-rollups"])
    row = conn.fetchone("SELECT marks FROM usage_member_backlog_size WHERE app_id = ?", (app_id,))
    if (int(row[0]) if row is not None else 0) + count >= MARKS_BEFORE_RECOMPUTE:
        earliest = _marked_day(conn, app_id)  # drained too: days no write comes back to
        for day in sorted({*marks.days(), *([] if earliest is None else [earliest])}):
            _recompute_day(conn, app_id, day, marks.of_day(day))
        _recount(conn, app_id)
        return
    conn.insert_rows("usage_rollup_backlog", ("app_id", "slot"), [(app_id, slot) for slot in sorted(marks.slots)],
                     "ON CONFLICT (app_id, slot) DO NOTHING")  # fmt: skip
    keys = sorted((app_id, slot, uid) for slot, uids in marks.members.items() for uid in uids)
    conn.insert_rows("usage_member_backlog", ("app_id", "slot", "uid"), keys,
                     "ON CONFLICT (app_id, slot, uid) DO NOTHING")  # fmt: skip
    conn.insert_rows("usage_member_backlog_size", ("app_id", "marks"), [(app_id, count)], _SIZE_CONFLICT)


def _recompute_day(conn: Connection, app_id: str, day: int, marks: Marks) -> None:
    """Recompute ``marks`` and the stored marks of one UTC day (a day's parents are its own) and
    clear the stored ones. The caller holds the app's rollup lock."""
    bounds = (app_id, day * _DAY, (day + 1) * _DAY)
    slots = conn.fetchall(_MARKED.format(columns="slot", table="usage_rollup_backlog"), bounds)
    members = conn.fetchall(_MARKED.format(columns="slot, uid", table="usage_member_backlog"), bounds)
    marks.add(slots, members)
    refresh_slots(conn, app_id, marks.slots)
    recompute_members(conn, app_id, marks.members)
    for table in _MARK_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE app_id = ? AND slot >= ? AND slot < ?", bounds)


def _recount(conn: Connection, app_id: str) -> None:
    """Reset the app's count of marks to what is still marked (a due write cleared some days)."""
    left = 0
    for table in _MARK_TABLES:
        row = conn.fetchone(f"SELECT count(*) FROM {table} WHERE app_id = ?", (app_id,))
        left += int(row[0]) if row is not None else 0
    if left:
        conn.execute("UPDATE usage_member_backlog_size SET marks = ? WHERE app_id = ?", (left, app_id))
    else:
        conn.execute("DELETE FROM usage_member_backlog_size WHERE app_id = ?", (app_id,))


#: Bulk batches (a demo's, an import's) between two calls of :func:`tidy`: their marks are
#: inserted and deleted again every few batches.
TIDY_EVERY = 5


def tidy(db: Database) -> None:
    """Reclaim the marks' deleted rows (PostgreSQL without autovacuum keeps them, and each scan
    for the earliest mark, each count and each new mark's uniqueness check reads them again)."""
    db.vacuum((*_MARK_TABLES, "usage_member_backlog_size"))


def tidying(tidy_now: Callable[[], None], every: int = TIDY_EVERY) -> Callable[[], None]:
    """What a bulk loader (the demo's feeder, an import) calls after each batch it stores, between
    transactions: ``tidy_now`` after every ``every`` of them."""
    stored = 0

    def batch_stored() -> None:
        nonlocal stored
        stored += 1
        if stored % every == 0:
            tidy_now()

    return batch_stored


def has_backlog(conn: Connection, app_id: str) -> bool:
    """Whether some rows of the app's per-user rollups are not recomputed yet (in this snapshot)."""
    return conn.fetchone("SELECT 1 FROM usage_member_backlog WHERE app_id = ? LIMIT 1", (app_id,)) is not None


def has_rollup_backlog(conn: Connection, app_id: str) -> bool:
    """Whether some rows of the app's rollups are not recomputed yet (in this snapshot)."""
    return conn.fetchone("SELECT 1 FROM usage_rollup_backlog WHERE app_id = ? LIMIT 1", (app_id,)) is not None


def waiting_marks(db: Database) -> dict[str, int]:
    """The marks counted since each app's last recompute, by app (the apps with a backlog)."""
    with db.read() as conn:
        rows = conn.fetchall("SELECT app_id, marks FROM usage_member_backlog_size ORDER BY 1")
    return {app_id: int(marks) for app_id, marks in rows}


def _marked_day(conn: Connection, app_id: str, pick: str = "min") -> int | None:
    """The earliest (``pick="max"``: the latest) marked UTC day of the app, or None."""
    found = [
        row[0]
        for table in _MARK_TABLES
        if (row := conn.fetchone(f"SELECT {pick}(slot) FROM {table} WHERE app_id = ?", (app_id,))) is not None
        and row[0] is not None
    ]
    if not found:
        return None
    return int(min(found) if pick == "min" else max(found)) // _DAY


def recompute_first_day(conn: Connection, app_id: str) -> int | None:
    """Recompute the marks of the app's earliest marked UTC day and clear them; returns that day
    (Unix seconds // 86,400), or None when nothing is marked."""
    conn.lock_keys([f"{app_id}/usage-rollups"])
    day = _marked_day(conn, app_id)
    if day is not None:
        _recompute_day(conn, app_id, day, Marks(set(), {}))
    if _marked_day(conn, app_id) is None:
        conn.execute("DELETE FROM usage_member_backlog_size WHERE app_id = ?", (app_id,))
    return day


def settle_in(conn: Connection, app_id: str) -> None:
    """Recompute every marked day of the app in the caller's write transaction (then read there:
    no write comes between)."""
    while recompute_first_day(conn, app_id) is not None:
        pass


def settle(db: Database, app_id: str) -> None:
    """Recompute the app's backlog, one UTC day per write transaction (a writer waits for one day's
    recompute at most, not for the whole backlog's), up to the last day marked when it starts."""
    with db.read() as conn:
        last = _marked_day(conn, app_id, "max")
    if last is None:
        return
    while True:
        with db.write() as conn:
            day = recompute_first_day(conn, app_id)
        if day is None or day >= last:
            return
