"""The room log: calls of providers that only report rooms (Janus), folded per room.

A room is reused for many calls, and one fact (a join, a leave) cannot tell which call it
belongs to: one *occupancy* of a room is one call, known only from all of the room's facts. So
facts go through the one event log as the events of a *room* stream (``room_events``), and the
room's fold gives all of its calls at once (:func:`calltrail.adapters.janus.occupancies`). A late
fact can merge two calls or move a call's first join, which changes its session id: the writer
replaces the room's calls by the new result, deleting the sessions no longer produced, so the
calls stay a function of the set of facts received. Each call's record is derived by the sessions
domain exactly like one sent as native events, and written by its row writer (counters included).
A session imported whole (``PUT``) is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.adapters.janus import JanusFact, native_events, occupancies
from calltrail.kernel.problems import Problems
from calltrail.sessions.events import parse_event
from calltrail.sessions.fold import derive_record
from calltrail.sessions.record import row_from_record
from calltrail.sessions.vocabulary import CallRow
from calltrail.store.database import Connection, Database, Row, chunks, matching_keys
from calltrail.store.eventlog import EventLog, EventLogSpec, IngestResult

EVENT_COLUMNS = ("app_id", "event_id", "room_key", "at_ms", "body")


@dataclass(frozen=True, slots=True)
class RoomCalls:
    """Every call a room's facts make, as rows to store."""

    room_key: str
    rows: tuple[CallRow, ...]


class InvalidRoomEvent(RuntimeError):
    """A fold produced a native event the sessions domain rejects (an adapter bug)."""


def _decode(row: Row) -> JanusFact:
    return JanusFact.from_dict(orjson.loads(bytes(row[3])))


def _encode(app_id: str, scope: str | None, fact: JanusFact) -> tuple[Any, ...]:
    return (app_id, fact.event_key, fact.room_key.id, fact.at_us // 1000, orjson.dumps(fact.to_dict()))


def _fold(room_key: str, scope: str | None, facts: list[JanusFact]) -> RoomCalls:
    rows = []
    for occupancy in occupancies(facts):
        problems = Problems()
        events = [parse_event(raw, problems) for raw in native_events(occupancy)]
        if problems:
            raise InvalidRoomEvent(f"room {room_key}: {problems.errors}")
        record = derive_record(occupancy.session_id, [event for event in events if event is not None])
        if record is not None:
            rows.append(row_from_record(record, "events"))
    return RoomCalls(room_key, tuple(rows))


class RoomStore:
    """Room facts in, the rooms' calls out (into the sessions' tables)."""

    def __init__(
        self,
        db: Database,
        write_sessions: Callable[[Connection, str, Sequence[CallRow]], None],
        delete_sessions: Callable[[Connection, str, Sequence[str]], None],
    ):
        self.db = db
        self._write_sessions = write_sessions
        self._delete_sessions = delete_sessions
        self.log: EventLog[JanusFact, RoomCalls] = EventLog(
            db,
            EventLogSpec(
                name="room",
                events_table="room_events",
                event_columns=EVENT_COLUMNS,
                read_columns=("room_key", "event_id", "at_ms", "body"),
                records_table="rooms",
                key_column="room_key",
                key_field="room",
                scope_column=None,
                event_key=lambda fact: fact.room_key.id,
                event_id=lambda fact: fact.event_key,
                encode=_encode,
                decode=_decode,
                fold=_fold,
                row_key=lambda calls: calls.room_key,
                write=self._write,
            ),
        )

    def ingest(self, app_id: str, facts: Sequence[JanusFact]) -> IngestResult:
        """Store new facts and re-fold the rooms they touch, in one transaction."""
        return self.log.ingest(app_id, facts)

    def _write(self, conn: Connection, app_id: str, rooms: Sequence[RoomCalls]) -> None:
        keys = [room.room_key for room in rooms]
        before: dict[str, list[str]] = {}
        for part in chunks(keys):
            among, values = conn.any_of("room_key", part)
            for key, sessions in conn.fetchall(
                f"SELECT room_key, sessions FROM rooms WHERE app_id = ? AND {among}", (app_id, *values)
            ):
                before[key] = orjson.loads(sessions)
        produced = {row.session_id for room in rooms for row in room.rows}
        imported = self._imported(conn, app_id, sorted(produced | {s for old in before.values() for s in old}))
        stale = sorted({s for old in before.values() for s in old} - produced - imported)
        self._delete_sessions(conn, app_id, stale)
        self._write_sessions(
            conn, app_id, [row for room in rooms for row in room.rows if row.session_id not in imported]
        )
        conn.insert_rows(
            "rooms",
            ("app_id", "room_key", "source", "sessions"),
            [
                (app_id, room.room_key, "events", orjson.dumps([row.session_id for row in room.rows]).decode())
                for room in rooms
            ],
            "ON CONFLICT (app_id, room_key) DO UPDATE SET sessions = excluded.sessions",
        )

    @staticmethod
    def _imported(conn: Connection, app_id: str, sessions: Sequence[str]) -> set[str]:
        """Sessions imported whole: a room's fold never overwrites or deletes them."""
        sql = "SELECT session_id FROM calls WHERE app_id = ? AND source = 'import' AND {among}"
        return matching_keys(conn, sql, "session_id", app_id, sessions)
