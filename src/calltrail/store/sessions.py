"""Storage of CometChat-shaped sessions: their event log, record import, and the indexed
queries behind the list APIs.

Events go through the one event log (:mod:`calltrail.store.eventlog`); this module supplies
what is particular to sessions: the row writer (the call, the count tables that make totals
O(1) and deep pages a seek, and through :func:`calltrail.store.usage.account_calls` the per-user
member rows with each user's minutes) and the list queries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.sessions.events import Event
from calltrail.sessions.fold import derive_record
from calltrail.sessions.pages import PageRequest, window
from calltrail.sessions.query import CallQuery
from calltrail.sessions.record import row_from_record
from calltrail.sessions.vocabulary import CallRow
from calltrail.store import page_index
from calltrail.store.database import Connection, Database, Documents, Row, chunks, key_hash, matching_keys
from calltrail.store.eventlog import EventLog, EventLogSpec, IngestResult
from calltrail.store.outbox import raise_session_events
from calltrail.store.room_map import forget_room_sessions
from calltrail.store.sessions_sql import (
    COUNTED_COLUMNS,
    UNBOUNDED,
    VALUE_COUNTED,
    CompiledQuery,
    app_total_sql,
    compile_query,
    latest_initiation,
    prefer_sort,
)
from calltrail.store.usage import account_calls, unaccount_calls

EVENT_COLUMNS = ("app_id", "event_id", "session_id", "session_hash", "type", "at_ms", "body")
CALL_COLUMNS = (
    "app_id",
    "session_id",
    "source",
    "initiated_at",
    "status",
    "type",
    "mode",
    "receiver_type",
    "initiator",
    "receiver",
    "started_at",
    "ended_at",
    "duration",
    "audio_minutes",
    "video_minutes",
    "total_participants",
    "participants_count",
    "has_recording",
    "summary",
    "extra",
    "scalars",
)

# Upserts through Connection.insert_rows: many rows a statement (on PostgreSQL one array per
# column), each row applied in the order given, so sorted rows are locked in one order.
_CALL_CONFLICT = "ON CONFLICT (app_id, session_id) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in CALL_COLUMNS[2:]
)
_COUNT_COLUMNS = ("app_id", *COUNTED_COLUMNS, "n")
_COUNT_CONFLICT = f"ON CONFLICT (app_id, {', '.join(COUNTED_COLUMNS)}) DO UPDATE SET n = call_counts.n + excluded.n"
_VALUE_COUNT_COLUMNS = ("app_id", "name", "value", "n")
_VALUE_COUNT_CONFLICT = "ON CONFLICT (app_id, name, value) DO UPDATE SET n = call_value_counts.n + excluded.n"
_MEMBER_COUNT_KEY = ("uid", *COUNTED_COLUMNS, "is_initiator", "missed")
_MEMBER_COUNT_COLUMNS = ("app_id", *_MEMBER_COUNT_KEY, "n")
_MEMBER_COUNT_CONFLICT = (
    f"ON CONFLICT (app_id, {', '.join(_MEMBER_COUNT_KEY)}) DO UPDATE SET n = member_counts.n + excluded.n"
)


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A call as read back: the list-shape JSON and the JSON of the detail-only fields."""

    summary: bytes
    extra: bytes | None


@dataclass(frozen=True, slots=True)
class CallPage:
    """One page of a list: the exact total and the page's calls, their list-shape JSON in order
    (joined as a JSON array's body: most pages go out as they are)."""

    total: int
    calls: Documents


def _call_values(app_id: str, row: CallRow) -> tuple[Any, ...]:
    return (
        app_id,
        row.session_id,
        row.source,
        row.initiated_at,
        row.status,
        row.type,
        row.mode,
        row.receiver_type,
        row.initiator,
        row.receiver,
        row.started_at,
        row.ended_at,
        row.duration,
        row.audio_minutes,
        row.video_minutes,
        row.total_participants,
        row.participants_count,
        int(row.has_recording),
        row.summary,
        row.extra,
        row.scalars,
    )


def _decode_event(row: Row) -> Event:
    session_id, event_id, event_type, at_ms, body = row
    return Event(id=event_id, type=event_type, session_id=session_id, at_ms=at_ms, data=orjson.loads(bytes(body)))


def _encode_event(app_id: str, scope: str | None, event: Event) -> tuple[Any, ...]:
    return (app_id, event.id, event.session_id, key_hash(event.session_id), event.type, event.at_ms,
            orjson.dumps(event.data))  # fmt: skip


def _fold(session_id: str, scope: str | None, events: list[Event]) -> CallRow | None:
    record = derive_record(session_id, events)
    return row_from_record(record, "events") if record is not None else None


def _spec(write: Callable[[Connection, str, Sequence[CallRow]], None]) -> EventLogSpec[Event, CallRow]:
    return EventLogSpec(
        name="session",
        events_table="call_events",
        event_columns=EVENT_COLUMNS,
        read_columns=("session_id", "event_id", "type", "at_ms", "body"),
        records_table="calls",
        key_column="session_id",
        key_field="sessionId",
        scope_column=None,
        key_hash_column="session_hash",
        event_key=lambda event: event.session_id,
        event_id=lambda event: event.id,
        encode=_encode_event,
        decode=_decode_event,
        fold=_fold,
        row_key=lambda row: row.session_id,
        write=write,
    )


class SessionStore:
    """Reads and writes the calls of every app in one database."""

    def __init__(self, db: Database):
        self.db = db
        self.log = EventLog(db, _spec(self._write_rows))

    # -- writes ---------------------------------------------------------------------------

    def ingest(self, app_id: str, events: Sequence[Event]) -> IngestResult:
        """Store a validated batch and re-derive the records it touches, in one transaction
        (see :mod:`calltrail.store.eventlog`). Returns once committed: acknowledged is durable."""
        return self.log.ingest(app_id, events)

    def put_records(self, app_id: str, records: Sequence[dict[str, Any]]) -> None:
        """Store whole records (already validated), replacing any stored record of the same
        session. An imported record is served as it was sent; events that arrive later for its
        session are stored but do not change it."""
        self.log.replace(app_id, [row_from_record(record, "import") for record in records])

    def events_of(self, app_id: str, session_id: str) -> list[Event]:
        """Every stored event of a session, in canonical order."""
        return self.log.events(app_id, session_id)

    def _write_rows(self, conn: Connection, app_id: str, rows: Sequence[CallRow]) -> None:
        if not rows:
            return
        raise_session_events(conn, app_id, rows)  # webhooks: compares with the stored calls, so first
        self._update_counts(conn, app_id, rows)
        conn.insert_rows("calls", CALL_COLUMNS, [_call_values(app_id, row) for row in rows], _CALL_CONFLICT)
        # The member rows (with each user's own minutes) and the usage figures, in the same
        # transaction; after the calls, which the member rows reference.
        account_calls(conn, app_id, rows)

    def delete(self, app_id: str, session_ids: Sequence[str]) -> list[str]:
        """Delete these calls with their stored events, member rows and room mappings, keeping
        totals and usage figures exact, in one transaction holding the streams' locks. Returns
        the ids that existed (a call or events of it); the others are ignored."""
        keys = sorted(set(session_ids))
        with self.db.write() as conn:
            conn.lock_keys(f"{app_id}/session/{key}" for key in keys)
            return self.delete_locked(conn, app_id, keys)

    def delete_locked(self, conn: Connection, app_id: str, session_ids: Sequence[str]) -> list[str]:
        """:meth:`delete` inside a transaction that already holds the streams' locks."""
        found = matching_keys(conn, "SELECT session_id FROM calls WHERE app_id = ? AND {among}", "session_id", app_id,
                              session_ids)  # fmt: skip
        gone = sorted(found | self.log.stored_streams(conn, app_id, session_ids))
        self._delete_rows(conn, app_id, gone)
        for part in chunks(gone):
            among, values = self.log.spec.streams_among(conn, part)
            conn.execute(f"DELETE FROM call_events WHERE app_id = ? AND {among}", (app_id, *values))
        forget_room_sessions(conn, app_id, gone)
        return gone

    def _delete_rows(self, conn: Connection, app_id: str, session_ids: Sequence[str]) -> None:
        """Remove calls with their member rows, keeping the count tables exact."""
        if not session_ids:
            return
        self._update_counts(conn, app_id, [], removed=session_ids)
        unaccount_calls(conn, app_id, session_ids)  # usage figures and member rows, in the same transaction
        for part in chunks(session_ids):
            among, values = conn.any_of("session_id", part)
            conn.execute(f"DELETE FROM calls WHERE app_id = ? AND {among}", (app_id, *values))

    @staticmethod
    def _update_counts(conn: Connection, app_id: str, rows: Sequence[CallRow], removed: Sequence[str] = ()) -> None:
        """Move each written call, and each of its members, between count buckets (``call_counts``,
        ``call_value_counts`` and ``member_counts``, see :mod:`calltrail.store.sessions_sql`; ``call_page_counts``, see
        :mod:`calltrail.store.page_index`); take ``removed`` calls out of theirs. Runs before the
        rows are overwritten or deleted."""
        columns = ", ".join((*COUNTED_COLUMNS, *VALUE_COUNTED))
        previous: dict[str, tuple[Any, ...]] = {}
        previous_values: dict[str, tuple[int, ...]] = {}
        previous_at: dict[str, int] = {}
        previous_members: dict[str, list[tuple[str, int, int]]] = {}
        for part in chunks([*(row.session_id for row in rows), *removed]):
            # Through any_of: as a long IN list, PostgreSQL's generic plan read every row of the
            # app through another index while the tables had no statistics (0.6-1.3 s a batch).
            among, ids = conn.any_of("session_id", part)
            for session_id, initiated_at, *stored in conn.fetchall(
                f"SELECT session_id, initiated_at, {columns} FROM calls WHERE app_id = ? AND {among}", (app_id, *ids)
            ):
                previous[session_id] = tuple(stored[: len(COUNTED_COLUMNS)])
                previous_values[session_id] = tuple(int(value) for value in stored[len(COUNTED_COLUMNS) :])
                previous_at[session_id] = int(initiated_at)
            for session_id, uid, is_initiator, missed in conn.fetchall(
                f"SELECT session_id, uid, is_initiator, missed FROM call_members WHERE app_id = ? AND {among}",
                (app_id, *ids),
            ):
                previous_members.setdefault(session_id, []).append((uid, int(is_initiator), int(missed)))
        calls: Counter[tuple[Any, ...]] = Counter()
        members: Counter[tuple[Any, ...]] = Counter()
        pages: page_index.Deltas = Counter()
        values: Counter[tuple[str, int]] = Counter()

        def take_out(session_id: str) -> None:
            before = previous.get(session_id)
            if before is not None:
                calls[before] -= 1
                for name, value in zip(VALUE_COUNTED, previous_values[session_id], strict=True):
                    values[(name, value)] -= 1
                page_index.account(pages, previous_at[session_id], before, -1)
                for uid, is_initiator, missed in previous_members.get(session_id, ()):
                    members[(uid, *before, is_initiator, missed)] -= 1

        for session_id in removed:
            take_out(session_id)
        # The written calls' keys, counted at once below (Counter.update counts in C; ``+= 1``
        # calls Counter.__missing__ for every new key). The deltas are sums: order is free.
        added_calls: list[tuple[Any, ...]] = []
        added_values: list[tuple[str, int]] = []
        added_members: list[tuple[Any, ...]] = []
        for row in rows:
            take_out(row.session_id)
            bucket = (row.status, row.type, row.mode, row.receiver_type, int(row.has_recording))
            added_calls.append(bucket)
            added_values += [(name, getattr(row, name)) for name in VALUE_COUNTED]
            page_index.account(pages, row.initiated_at, bucket, 1)
            added_members += [(m.uid, *bucket, int(m.is_initiator), int(m.missed)) for m in row.members]
        calls.update(added_calls)
        values.update(added_values)
        members.update(added_members)
        # Sorted, so concurrent PostgreSQL writers lock counter rows in one order (no deadlock).
        call_rows = [(app_id, *key, delta) for key, delta in sorted(calls.items()) if delta]
        conn.insert_rows("call_counts", _COUNT_COLUMNS, call_rows, _COUNT_CONFLICT)
        value_rows = [(app_id, *key, delta) for key, delta in sorted(values.items()) if delta]
        conn.insert_rows("call_value_counts", _VALUE_COUNT_COLUMNS, value_rows, _VALUE_COUNT_CONFLICT)
        member_rows = [(app_id, *key, delta) for key, delta in sorted(members.items()) if delta]
        conn.insert_rows("member_counts", _MEMBER_COUNT_COLUMNS, member_rows, _MEMBER_COUNT_CONFLICT)
        page_index.write(conn, app_id, pages)

    # -- reads ----------------------------------------------------------------------------

    def get(self, app_id: str, session_id: str) -> StoredCall | None:
        """One call, or None."""
        with self.db.read(snapshot=False) as conn:  # one statement
            row = conn.fetchone(
                "SELECT summary, extra FROM calls WHERE app_id = ? AND session_id = ?", (app_id, session_id)
            )
        if row is None:
            return None
        return StoredCall(bytes(row[0]), bytes(row[1]) if row[1] is not None else None)

    def involves(self, app_id: str, session_id: str, uid: str) -> bool:
        """True when ``uid`` is the initiator, receiver, a participant or an invitee of the call."""
        with self.db.read() as conn:
            row = conn.fetchone(
                "SELECT 1 FROM call_members WHERE app_id = ? AND session_id = ? AND uid = ?", (app_id, session_id, uid)
            )
        return row is not None

    def find(self, app_id: str, query: CallQuery, page: PageRequest) -> CallPage:
        """The exact number of matching calls and one page of them, newest first."""
        compiled = compile_query(app_id, query)
        if page.offset == 0:
            # One statement on PostgreSQL: its own snapshot, no transaction around it. (SQLite's
            # two statements still share one: there every read is a snapshot.) A range filter's
            # plan depends on its total, and a filtered page's place on the counts: below.
            with self.db.read(snapshot=False) as conn:
                if not (compiled.ranged and conn.needs_plan_hints) and not _always_located(compiled, conn):
                    return _first_page(conn, app_id, compiled, page.per_page)
        with self.db.read() as conn:
            # int(): PostgreSQL sums bigints as numeric (a Decimal in Python).
            coarsest = None
            located = _always_located(compiled, conn)
            counts: Sequence[Any]
            if compiled.window is not None:
                bounds = compiled.window
                counts = (page_index.count_between(conn, app_id, bounds.counted, bounds.lower, bounds.upper), 0)
            elif compiled.counted is not None and (page.offset >= page_index.SEEK_FROM or located):
                # Likely located: the walk's first span comes with the counts.
                counted, count_sql, count_params = compiled.counted, compiled.count_sql, compiled.count_params
                counts, coarsest = page_index.counts_and_coarsest(conn, app_id, counted, count_sql, count_params)
            elif compiled.ranged and conn.needs_plan_hints:
                # The app's total too, and the calls newer than any match can be, in the same
                # statement: they decide the plan (prefer_sort).
                cap = None if query.members else latest_initiation(compiled.ranged)
                newer = ("SELECT 0", []) if cap is None else page_index.count_between_sql(app_id, (), cap, UNBOUNDED)
                both = f"SELECT ({compiled.count_sql}), ({app_total_sql()}), ({newer[0]})"
                counts = conn.fetchone(both, (*compiled.count_params, app_id, *newer[1])) or (0, 0, 0)
            else:
                counts = conn.fetchone(compiled.count_sql, compiled.count_params) or (0, 0)
            total = int(counts[0])
            reverse, offset, limit = window(total, page.offset, page.per_page)
            if limit == 0:
                return CallPage(total, Documents(0, b""))
            direction = "ASC" if reverse else "DESC"
            # An OFFSET passes the matching rows before the page and, when filtered, the others
            # between them (about offset x app total / total): past SEEK_FROM, the page counts
            # locate the page's range instead, when they hold the list (see store/page_index.py).
            seek = None
            if compiled.counted is not None and (
                located or offset * int(counts[1]) >= max(1, page_index.SEEK_FROM * total)
            ):
                rows = (offset, offset + limit - 1)
                seek = page_index.locate(conn, app_id, compiled.counted, *rows, not reverse, coarsest)
            elif compiled.window is not None and offset >= page_index.SEEK_FROM:
                args = (compiled.window, app_id, offset, offset + limit - 1, not reverse)
                seek = page_index.locate_within(conn, *args)
                # The seek lies within the window: its own bounds would only give the planner a
                # second, looser range to pick for the index.
                if seek is not None:
                    compiled = compile_query(app_id, CallQuery(compiled.window.counted))
            if seek is not None:  # same snapshot as the total
                sql = compiled.page_sql(direction, sort=False, conn=conn, bounded=True)
                params = (*compiled.params, seek.lower, seek.upper, limit, seek.skip)
                return _page(conn, total, sql, params, reverse)
            sort = False
            if compiled.ranged and conn.needs_plan_hints:
                sort = prefer_sort(total, int(counts[1]), offset + limit, int(counts[2]))
            sql = compiled.page_sql(direction, sort=sort, conn=conn)
            return _page(conn, total, sql, compiled.page_params(sort, conn, limit, offset), reverse)


def _always_located(compiled: CompiledQuery, conn: Connection) -> bool:
    """Whether every page of this list, the first included, is located by the page counts.

    So is a whole-app list filtered on the counted columns where statements are cheap (SQLite:
    the walk costs microseconds). Matches are not spread evenly: the newest calls are mostly
    still ringing or in progress, so the newest ended call came after 2,001 others at 1M demo
    calls and 20,010 at 10M (ten times as dense), which page 1 of ``status=ended`` passed one by
    one (2.5 and 19.8 ms over HTTP; ``status=initiated`` 640 ms in process at 1M). Located, it
    reads the buckets that hold its rows. On PostgreSQL each statement of the walk is a round
    trip, and its planner, with statistics, chose well (0.3-0.4 ms; located, 0.9-1.4 ms)."""
    return bool(compiled.counted) and conn.cheap_statements


def _first_page(conn: Connection, app_id: str, compiled: CompiledQuery, per_page: int) -> CallPage:
    """Page 1: never located, never read backwards, so its rows need nothing from its total and
    both come from one statement where statements are round trips (the most asked page)."""
    if compiled.window is not None:
        bounds = compiled.window
        count = page_index.count_between_sql(app_id, bounds.counted, bounds.lower, bounds.upper)
    else:
        count = (compiled.count_sql, list(compiled.count_params))
    sql = compiled.page_sql("DESC", sort=False, conn=conn, top=per_page)
    counts, calls = conn.counts_and_documents(*count, sql, compiled.params, "summary")
    return CallPage(int(counts[0]), calls)  # PostgreSQL sums bigints as numeric


def _page(conn: Connection, total: int, sql: str, params: Sequence[Any], reverse: bool) -> CallPage:
    """The page's calls by ``sql``, which reads them backwards (oldest first) when ``reverse``."""
    if reverse:
        return CallPage(total, Documents.of(conn.fetch_documents(sql, params, "summary")[::-1]))
    return CallPage(total, conn.fetch_joined(sql, params, "summary"))
