"""Call storage: event ingestion, record import, and the indexed queries behind the list APIs.

Events are stored once per ``(app_id, event id)``; each write re-derives the records of the
sessions it touched from *all* their stored events, inside the same transaction, so the stored
record never depends on arrival order. Sessions are locked while re-derived, so concurrent
servers writing to one PostgreSQL database cannot lose each other's events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.sessions.events import Event
from calltrail.sessions.fold import derive_record
from calltrail.sessions.pages import PageRequest, window
from calltrail.sessions.query import CallQuery
from calltrail.sessions.record import row_from_record
from calltrail.sessions.vocabulary import CallRow
from calltrail.store.database import Connection, Database, chunks, matching_keys, placeholders
from calltrail.store.sessions_sql import COUNTED_COLUMNS, app_total_sql, compile_query, prefer_sort

EVENT_COLUMNS = ("app_id", "event_id", "session_id", "type", "at_ms", "body")
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
)
MEMBER_COLUMNS = ("app_id", "session_id", "uid", "initiated_at", "is_initiator", "joined", "rejected", "missed")

_UPSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({placeholders(len(CALL_COLUMNS))}) "
    "ON CONFLICT (app_id, session_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in CALL_COLUMNS[2:])
)
_UPSERT_COUNT = (
    f"INSERT INTO call_counts (app_id, {', '.join(COUNTED_COLUMNS)}, n) "
    f"VALUES ({placeholders(len(COUNTED_COLUMNS) + 2)}) "
    f"ON CONFLICT (app_id, {', '.join(COUNTED_COLUMNS)}) DO UPDATE SET n = call_counts.n + excluded.n"
)
_MEMBER_COUNT_KEY = ("uid", *COUNTED_COLUMNS, "is_initiator", "missed")
_UPSERT_MEMBER_COUNT = (
    f"INSERT INTO member_counts (app_id, {', '.join(_MEMBER_COUNT_KEY)}, n) "
    f"VALUES ({placeholders(len(_MEMBER_COUNT_KEY) + 2)}) "
    f"ON CONFLICT (app_id, {', '.join(_MEMBER_COUNT_KEY)}) DO UPDATE SET n = member_counts.n + excluded.n"
)
_INSERT_MEMBER = f"INSERT INTO call_members ({', '.join(MEMBER_COLUMNS)}) VALUES ({placeholders(len(MEMBER_COLUMNS))})"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What a batch of events did: newly stored events and ignored redeliveries."""

    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A call as read back: the list-shape JSON and the JSON of the detail-only fields."""

    summary: bytes
    extra: bytes | None


@dataclass(frozen=True, slots=True)
class CallPage:
    """One page of a list: the exact total and each call's list-shape JSON, in order."""

    total: int
    items: list[bytes]


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
    )


def _decode_event(session_id: str, event_id: str, event_type: str, at_ms: int, body: Any) -> Event:
    return Event(id=event_id, type=event_type, session_id=session_id, at_ms=at_ms, data=orjson.loads(bytes(body)))


class SessionStore:
    """Reads and writes the calls of every app in one database."""

    #: Refresh planner statistics after this many new events (SQLite has no autovacuum).
    ANALYZE_EVERY = 200_000

    def __init__(self, db: Database):
        self.db = db
        self._since_analyze = 0

    # -- writes ---------------------------------------------------------------------------

    def ingest(self, app_id: str, events: Sequence[Event]) -> IngestResult:
        """Store a validated batch and re-derive the records it touches, in one transaction.

        Returns once the transaction is committed: an acknowledged event is durable.
        """
        rows = [(app_id, e.id, e.session_id, e.type, e.at_ms, orjson.dumps(e.data)) for e in events]
        sessions = sorted({e.session_id for e in events})
        with self.db.write() as conn:
            # Lock first: a session's earlier events, checked under the lock, include every
            # event any other writer committed for it, so no concurrent write can be missed.
            conn.lock_keys(f"{app_id}/{session}" for session in sessions)
            seen_before = self._sessions_with_events(conn, app_id, sessions)
            new = conn.insert_new("call_events", EVENT_COLUMNS, rows)
            new_ids = {row[1] for row in new}
            fresh: dict[str, list[Event]] = {}
            for event in events:
                if event.id in new_ids:
                    fresh.setdefault(event.session_id, []).append(event)
            self._rederive(conn, app_id, fresh, seen_before)
        self._since_analyze += len(new)
        if self._since_analyze >= self.ANALYZE_EVERY and self.db.dialect == "sqlite":
            self._since_analyze = 0
            self.db.analyze()
        return IngestResult(accepted=len(new), duplicates=len(events) - len(new))

    def put_records(self, app_id: str, records: Sequence[dict[str, Any]]) -> None:
        """Store whole records (already validated), replacing any stored record of the same
        session. An imported record is served as it was sent; events that arrive later for its
        session are stored but do not change it."""
        # A session repeated within one batch keeps its last record, as sequential PUTs would.
        rows = list({row.session_id: row for row in (row_from_record(r, "import") for r in records)}.values())
        with self.db.write() as conn:
            conn.lock_keys(f"{app_id}/{row.session_id}" for row in rows)
            self._write_rows(conn, app_id, rows)

    @staticmethod
    def _sessions_with_events(conn: Connection, app_id: str, sessions: Sequence[str]) -> set[str]:
        """The sessions that already have stored events (an index-only probe)."""
        sql = "SELECT DISTINCT session_id FROM call_events WHERE app_id = ? AND session_id IN ({keys})"
        return matching_keys(conn, sql, app_id, sessions)

    def _rederive(self, conn: Connection, app_id: str, fresh: dict[str, list[Event]], seen_before: set[str]) -> None:
        """Re-derive the sessions that received new events. A session seen for the first time is
        folded from the batch in memory; only sessions with earlier events are read back."""
        sessions = sorted(fresh)
        imported = matching_keys(
            conn,
            "SELECT session_id FROM calls WHERE app_id = ? AND source = 'import' AND session_id IN ({keys})",
            app_id,
            sessions,
        )
        events = {session: fresh[session] for session in sessions if session not in imported}
        stored = [session for session in events if session in seen_before]
        for part in chunks(stored):
            for session_id, event_id, event_type, at_ms, body in conn.fetchall(
                f"SELECT session_id, event_id, type, at_ms, body FROM call_events "
                f"WHERE app_id = ? AND session_id IN ({placeholders(len(part))})",
                (app_id, *part),
            ):
                events[session_id].append(_decode_event(session_id, event_id, event_type, at_ms, body))
        rows = []
        for session_id, session_events in events.items():
            # derive_record de-duplicates by id: the batch's events are also among those read back.
            record = derive_record(session_id, session_events)
            if record is not None:
                rows.append(row_from_record(record, "events"))
        self._write_rows(conn, app_id, rows)

    def _write_rows(self, conn: Connection, app_id: str, rows: Sequence[CallRow]) -> None:
        if not rows:
            return
        sessions = [row.session_id for row in rows]
        self._update_counts(conn, app_id, rows)
        conn.executemany(_UPSERT_CALL, (_call_values(app_id, row) for row in rows))
        for part in chunks(sessions):
            conn.execute(
                f"DELETE FROM call_members WHERE app_id = ? AND session_id IN ({placeholders(len(part))})",
                (app_id, *part),
            )
        conn.executemany(
            _INSERT_MEMBER,
            (
                (
                    app_id,
                    row.session_id,
                    m.uid,
                    row.initiated_at,
                    int(m.is_initiator),
                    int(m.joined),
                    int(m.rejected),
                    int(m.missed),
                )
                for row in rows
                for m in row.members
            ),
        )

    @staticmethod
    def _update_counts(conn: Connection, app_id: str, rows: Sequence[CallRow]) -> None:
        """Move each written call, and each of its members, between count buckets (``call_counts``
        and ``member_counts``, see :mod:`call_sql`). Runs before the rows are overwritten."""
        columns = ", ".join(COUNTED_COLUMNS)
        previous: dict[str, tuple[Any, ...]] = {}
        previous_members: dict[str, list[tuple[str, int, int]]] = {}
        for part in chunks([row.session_id for row in rows]):
            marks = placeholders(len(part))
            for session_id, *stored in conn.fetchall(
                f"SELECT session_id, {columns} FROM calls WHERE app_id = ? AND session_id IN ({marks})",
                (app_id, *part),
            ):
                previous[session_id] = tuple(stored)
            for session_id, uid, is_initiator, missed in conn.fetchall(
                f"SELECT session_id, uid, is_initiator, missed FROM call_members "
                f"WHERE app_id = ? AND session_id IN ({marks})",
                (app_id, *part),
            ):
                previous_members.setdefault(session_id, []).append((uid, int(is_initiator), int(missed)))
        calls: Counter[tuple[Any, ...]] = Counter()
        members: Counter[tuple[Any, ...]] = Counter()
        for row in rows:
            bucket = (row.status, row.type, row.mode, row.receiver_type, int(row.has_recording))
            before = previous.get(row.session_id)
            if before is not None:
                calls[before] -= 1
                for uid, is_initiator, missed in previous_members.get(row.session_id, ()):
                    members[(uid, *before, is_initiator, missed)] -= 1
            calls[bucket] += 1
            for m in row.members:
                members[(m.uid, *bucket, int(m.is_initiator), int(m.missed))] += 1
        # Sorted, so concurrent PostgreSQL writers lock counter rows in one order (no deadlock).
        conn.executemany(_UPSERT_COUNT, [(app_id, *key, delta) for key, delta in sorted(calls.items()) if delta])
        conn.executemany(
            _UPSERT_MEMBER_COUNT, [(app_id, *key, delta) for key, delta in sorted(members.items()) if delta]
        )

    # -- reads ----------------------------------------------------------------------------

    def get(self, app_id: str, session_id: str) -> StoredCall | None:
        """One call, or None."""
        with self.db.read() as conn:
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
        with self.db.read() as conn:
            # int(): PostgreSQL sums bigints as numeric (a Decimal in Python).
            total = int((conn.fetchone(compiled.count_sql, compiled.count_params) or (0,))[0])
            reverse, offset, limit = window(total, page.offset, page.per_page)
            if limit == 0:
                return CallPage(total, [])
            sort = False
            if compiled.ranged and self.db.dialect == "sqlite":
                app_total = int((conn.fetchone(app_total_sql(), (app_id,)) or (0,))[0])
                sort = prefer_sort(total, app_total, offset + limit)
            sql = compiled.page_sql("ASC" if reverse else "DESC", sort=sort, dialect=self.db.dialect)
            rows = conn.fetchall(sql, (*compiled.params, limit, offset))
        items = [bytes(summary) for (summary,) in rows]
        if reverse:
            items.reverse()
        return CallPage(total, items)


def events_of(store: SessionStore, app_id: str, session_id: str) -> Iterable[Event]:
    """Every stored event of a session, in canonical order (for diagnostics and tests)."""
    with store.db.read() as conn:
        rows = conn.fetchall(
            "SELECT session_id, event_id, type, at_ms, body FROM call_events WHERE app_id = ? AND session_id = ? "
            "ORDER BY at_ms, event_id",
            (app_id, session_id),
        )
    return [_decode_event(*row) for row in rows]
