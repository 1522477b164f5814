"""Call storage: event ingestion, record import, and the indexed queries behind the list APIs.

Events are stored once per ``(app_id, event id)``; each write re-derives the records of the
sessions it touched from *all* their stored events, inside the same transaction, so the stored
record never depends on arrival order. Sessions are locked while re-derived, so concurrent
servers writing to one PostgreSQL database cannot lose each other's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.derivation import derive_record
from calltrail.events import Event
from calltrail.model import CallRow
from calltrail.pagination import PageRequest, window
from calltrail.query import OPERATORS, CallQuery, MemberCondition
from calltrail.record import row_from_record
from calltrail.store.database import Connection, Database, chunks, placeholders

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


class CallStore:
    """Reads and writes the calls of every app in one database."""

    def __init__(self, db: Database):
        self.db = db

    # -- writes ---------------------------------------------------------------------------

    def ingest(self, app_id: str, events: Sequence[Event]) -> IngestResult:
        """Store a validated batch and re-derive the records it touches, in one transaction.

        Returns once the transaction is committed: an acknowledged event is durable.
        """
        rows = [(app_id, e.id, e.session_id, e.type, e.at_ms, orjson.dumps(e.data)) for e in events]
        with self.db.write() as conn:
            new = conn.insert_new("call_events", EVENT_COLUMNS, rows)
            sessions = sorted({row[2] for row in new})
            self._rederive(conn, app_id, sessions)
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

    def _rederive(self, conn: Connection, app_id: str, sessions: Sequence[str]) -> None:
        if not sessions:
            return
        conn.lock_keys(f"{app_id}/{session}" for session in sessions)
        events: dict[str, list[Event]] = {}
        imported: set[str] = set()
        for part in chunks(sessions):
            imported.update(
                session
                for (session,) in conn.fetchall(
                    f"SELECT session_id FROM calls WHERE app_id = ? AND source = 'import' "
                    f"AND session_id IN ({placeholders(len(part))})",
                    (app_id, *part),
                )
            )
            todo = [session for session in part if session not in imported]
            if not todo:
                continue
            for session_id, event_id, event_type, at_ms, body in conn.fetchall(
                f"SELECT session_id, event_id, type, at_ms, body FROM call_events "
                f"WHERE app_id = ? AND session_id IN ({placeholders(len(todo))})",
                (app_id, *todo),
            ):
                events.setdefault(session_id, []).append(_decode_event(session_id, event_id, event_type, at_ms, body))
        rows = []
        for session_id, session_events in events.items():
            record = derive_record(session_id, session_events)
            if record is not None:
                rows.append(row_from_record(record, "events"))
        self._write_rows(conn, app_id, rows)

    def _write_rows(self, conn: Connection, app_id: str, rows: Sequence[CallRow]) -> None:
        if not rows:
            return
        conn.executemany(_UPSERT_CALL, (_call_values(app_id, row) for row in rows))
        sessions = [row.session_id for row in rows]
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
        source, where, params, order = self._compile(app_id, query)
        with self.db.read() as conn:
            (total,) = conn.fetchone(f"SELECT count(*) FROM {source} WHERE {where}", params) or (0,)
            reverse, offset, limit = window(total, page.offset, page.per_page)
            if limit == 0:
                return CallPage(total, [])
            direction = "ASC" if reverse else "DESC"
            rows = conn.fetchall(
                f"SELECT c.summary FROM {source} WHERE {where} "
                f"ORDER BY {order[0]} {direction}, {order[1]} {direction} LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
        items = [bytes(summary) for (summary,) in rows]
        if reverse:
            items.reverse()
        return CallPage(total, items)

    @staticmethod
    def _compile(app_id: str, query: CallQuery) -> tuple[str, str, list[Any], tuple[str, str]]:
        """``(FROM clause, WHERE clause, parameters, order columns)`` for a query.

        A query about a user is driven from that user's member index, already in list order;
        any other from the calls table. Column names come from :mod:`calltrail.query`'s
        allow-list, never from the request.
        """
        params: list[Any] = []
        clauses: list[str] = []
        rest: tuple[MemberCondition, ...] = ()
        if query.members:
            first, rest = query.members[0], query.members[1:]
            source = "call_members m JOIN calls c ON c.app_id = m.app_id AND c.session_id = m.session_id"
            clauses.append("m.app_id = ? AND m.uid = ?")
            params += [app_id, first.uid]
            for flag, value in first.flags:
                clauses.append(f"m.{flag} = ?")
                params.append(int(value))
            order = ("m.initiated_at", "m.session_id")
        else:
            source, order = "calls c", ("c.initiated_at", "c.session_id")
            clauses.append("c.app_id = ?")
            params.append(app_id)
        for index, member in enumerate(rest, start=2):
            alias = f"m{index}"
            sub = [f"{alias}.app_id = c.app_id", f"{alias}.session_id = c.session_id", f"{alias}.uid = ?"]
            params.append(member.uid)
            for flag, value in member.flags:
                sub.append(f"{alias}.{flag} = ?")
                params.append(int(value))
            clauses.append(f"EXISTS (SELECT 1 FROM call_members {alias} WHERE {' AND '.join(sub)})")
        for condition in query.conditions:
            if condition.op == "in":
                values = list(condition.value)  # type: ignore[call-overload]
                clauses.append(f"c.{condition.column} IN ({placeholders(len(values))})" if values else "1 = 0")
                params += values
            else:
                clauses.append(f"c.{condition.column} {OPERATORS[condition.op]} ?")
                params.append(condition.value)
        return source, " AND ".join(clauses), params, order


def events_of(store: CallStore, app_id: str, session_id: str) -> Iterable[Event]:
    """Every stored event of a session, in canonical order (for diagnostics and tests)."""
    with store.db.read() as conn:
        rows = conn.fetchall(
            "SELECT session_id, event_id, type, at_ms, body FROM call_events WHERE app_id = ? AND session_id = ? "
            "ORDER BY at_ms, event_id",
            (app_id, session_id),
        )
    return [_decode_event(*row) for row in rows]
