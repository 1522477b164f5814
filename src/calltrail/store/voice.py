"""Telephony storage: channels, status-event ingestion, whole-record import and keyset pages.

Status events are stored once per ``(app_id, event id)``; each write re-folds the calls it
touched from *all* their stored events, inside the same transaction, so a stored record never
depends on arrival order. Touched calls are locked while re-folded, so concurrent servers writing
to one PostgreSQL database cannot lose each other's events, nor bind one call to two channels.

A call belongs to exactly one channel: the channel of its first event or record. Events or a
record for it sent to another channel are refused (409) rather than moving it.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.kernel.errors import Conflict, InvalidRequest, NotFound
from calltrail.kernel.instants import now_ms
from calltrail.store.database import Connection, Database, chunks, placeholders
from calltrail.store.sessions import IngestResult
from calltrail.store.voice_sql import compile_page
from calltrail.voice.events import StatusEvent
from calltrail.voice.fold import fold
from calltrail.voice.query import ChannelCallQuery, Cursor
from calltrail.voice.record import ChannelCallRow, row_from_record
from calltrail.voice.vocabulary import UUID_RULE, canonical_uuid

MAX_NAME = 100
EVENT_COLUMNS = ("app_id", "event_id", "channel_id", "call_id", "at_ms", "body")
CALL_COLUMNS = (
    "app_id",
    "call_id",
    "channel_id",
    "source",
    "created_at",
    "status",
    "type",
    "direction",
    "call_from",
    "call_to",
    "duration",
    "body",
)
TAG_COLUMNS = ("app_id", "call_id", "tag", "channel_id", "created_at")
_UPSERT_CALL = "ON CONFLICT (app_id, call_id) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in CALL_COLUMNS[2:]
)
#: Rows per multi-row INSERT: far below SQLite's 32766 bound variables.
MAX_ROWS_PER_INSERT = 256
OTHER_CHANNEL = "belongs to another channel of this workspace"


class ChannelNotFound(NotFound):
    """Raised when a channel id names no channel of the app."""

    code = "ERR_CHANNEL_NOT_FOUND"
    default_message = "The channel does not exist."


@dataclass(frozen=True, slots=True)
class Channel:
    """A phone line or SIP trunk of an app (a Bird workspace)."""

    app_id: str
    channel_id: str
    name: str
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class ChannelCallPage:
    """One page: each call's JSON in order, and the cursor after the last one when more exist."""

    items: list[bytes]
    next_after: Cursor | None


@dataclass(frozen=True, slots=True)
class _Known:
    """What is stored about some calls: those bound to another channel, those with events,
    and those imported whole (which events no longer change)."""

    foreign: set[str]
    with_events: set[str]
    imported: set[str]


def _call_values(app_id: str, row: ChannelCallRow) -> tuple[Any, ...]:
    return (
        app_id,
        row.call_id,
        row.channel_id,
        row.source,
        row.created_at,
        row.status,
        row.type,
        row.direction,
        row.call_from,
        row.call_to,
        row.duration,
        row.body,
    )


@functools.cache
def _insert_sql(table: str, columns: tuple[str, ...], rows: int, tail: str) -> str:
    marks = "(" + placeholders(len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * rows)} {tail}"


def insert_rows(
    conn: Connection, table: str, columns: tuple[str, ...], rows: Sequence[Sequence[Any]], tail: str = ""
) -> None:
    """Insert rows with multi-row ``INSERT`` statements (several times faster than one statement
    per row on PostgreSQL). Chunks are 256 rows, then powers of two, so only a handful of
    statement shapes exist and each can be prepared once."""
    start = 0
    while start < len(rows):
        size = min(MAX_ROWS_PER_INSERT, 1 << ((len(rows) - start).bit_length() - 1))
        chunk = rows[start : start + size]
        conn.execute(_insert_sql(table, columns, size, tail), [value for row in chunk for value in row])
        start += size


def id_in(conn: Connection, ids: Sequence[str]) -> tuple[str, list[Any]]:
    """``call_id`` among ``ids``, as SQL and parameters.

    On PostgreSQL the ids travel as one array (``= ANY(?)``): a cached generic plan of a long
    ``IN (?, ?, ...)`` list filters the array linearly, row by row, when the planner has no
    statistics yet (a freshly loaded table), while the array form still probes the primary key.
    """
    if conn.dialect == "postgresql":
        return "call_id = ANY(?)", [list(ids)]
    return f"call_id IN ({placeholders(len(ids))})", list(ids)


def _decode_event(event_id: str, call_id: str, at_ms: int, body: Any) -> StatusEvent:
    stored = orjson.loads(bytes(body))
    return StatusEvent(id=event_id, call_id=call_id, status=stored["status"], at_ms=at_ms, data=stored["data"])


class VoiceStore:
    """Reads and writes the channels and telephony calls of every app in one database."""

    def __init__(self, db: Database):
        self.db = db
        self._page_secret: bytes | None = None

    # -- channels -------------------------------------------------------------------------

    def create_channel(self, app_id: str, name: str, channel_id: str | None = None) -> Channel:
        """Create a channel; a random UUID is chosen when ``channel_id`` is None."""
        if not 1 <= len(name) <= MAX_NAME or not name.strip():
            raise InvalidRequest(details={"name": [f"must be 1-{MAX_NAME} characters, not blank"]})
        if channel_id is None:
            channel_id = str(uuid.uuid4())
        else:
            canonical = canonical_uuid(channel_id)
            if canonical is None:
                raise InvalidRequest(details={"id": [UUID_RULE]})
            channel_id = canonical
        channel = Channel(app_id, channel_id, name, now_ms())
        with self.db.write() as conn:
            if not conn.fetchone("SELECT 1 FROM apps WHERE app_id = ?", (app_id,)):
                raise NotFound(f"There is no app with id {app_id!r}.")
            if conn.fetchone("SELECT 1 FROM channels WHERE app_id = ? AND channel_id = ?", (app_id, channel_id)):
                raise Conflict(f"A channel with id {channel_id!r} already exists in app {app_id!r}.")
            conn.execute(
                "INSERT INTO channels (app_id, channel_id, name, created_at) VALUES (?, ?, ?, ?)",
                (app_id, channel_id, name, channel.created_at_ms),
            )
        return channel

    def get_channel(self, app_id: str, channel_id: str) -> Channel | None:
        """The channel, or None (also for an id that is not a UUID)."""
        canonical = canonical_uuid(channel_id)
        if canonical is None:
            return None
        with self.db.read() as conn:
            row = conn.fetchone(
                "SELECT app_id, channel_id, name, created_at FROM channels WHERE app_id = ? AND channel_id = ?",
                (app_id, canonical),
            )
        return Channel(*row) if row else None

    @staticmethod
    def _require_channel(conn: Connection, app_id: str, channel_id: str) -> None:
        if not conn.fetchone("SELECT 1 FROM channels WHERE app_id = ? AND channel_id = ?", (app_id, channel_id)):
            raise ChannelNotFound()

    # -- page tokens ----------------------------------------------------------------------

    def page_secret(self) -> bytes:
        """The key that signs page tokens, shared by every server on this database.

        Read once per process: after rotating it (``UPDATE calltrail_secrets``), restart the
        servers; outstanding tokens then stop verifying (422).
        """
        if self._page_secret is None:
            with self.db.read() as conn:
                row = conn.fetchone("SELECT value FROM calltrail_secrets WHERE name = 'page_token'")
            # The migration always stores one; a random fallback keeps a damaged table from
            # turning every list into a 500 (tokens then only verify on this process).
            self._page_secret = bytes.fromhex(row[0]) if row else secrets.token_bytes(32)
        return self._page_secret

    # -- writes ---------------------------------------------------------------------------

    def ingest(self, app_id: str, channel_id: str, events: Sequence[StatusEvent]) -> IngestResult:
        """Store a validated batch for one channel and re-fold the calls it touches, in one
        transaction. Returns once committed: an acknowledged event is durable."""
        rows = [
            (app_id, e.id, channel_id, e.call_id, e.at_ms, orjson.dumps({"status": e.status, "data": e.data}))
            for e in events
        ]
        calls = sorted({event.call_id for event in events})
        with self.db.write() as conn:
            self._require_channel(conn, app_id, channel_id)
            # Lock first: what is known about the calls below then includes every event any
            # other writer committed for them, so no concurrent write can be missed.
            conn.lock_keys(f"{app_id}/channel-call/{call}" for call in calls)
            known = self._known(conn, app_id, channel_id, calls)
            if known.foreign:
                details = {
                    f"events[{index}].callId": [OTHER_CHANNEL]
                    for index, event in enumerate(events)
                    if event.call_id in known.foreign
                }
                raise Conflict("Some events are for calls of another channel; nothing was stored.", details)
            new = {row[1] for row in conn.insert_new("channel_call_events", EVENT_COLUMNS, rows)}
            fresh: dict[str, list[StatusEvent]] = {}
            for event in events:
                if event.id in new:
                    fresh.setdefault(event.call_id, []).append(event)
            self._refold(conn, app_id, channel_id, fresh, known)
        return IngestResult(accepted=len(new), duplicates=len(events) - len(new))

    def put_records(self, app_id: str, channel_id: str, records: Sequence[dict[str, Any]]) -> None:
        """Store whole records (already validated) of one channel, replacing stored ones.

        An imported record is served as it was sent; status events that arrive later for its
        call are stored but do not change it.
        """
        # A call repeated within one batch keeps its last record, as sequential PUTs would.
        rows = list({row.call_id: row for row in (row_from_record(r, "import") for r in records)}.values())
        with self.db.write() as conn:
            self._require_channel(conn, app_id, channel_id)
            calls = sorted(row.call_id for row in rows)
            conn.lock_keys(f"{app_id}/channel-call/{call}" for call in calls)
            if self._known(conn, app_id, channel_id, calls).foreign:
                raise Conflict("The call belongs to another channel; nothing was stored.", {"id": [OTHER_CHANNEL]})
            self._write_rows(conn, app_id, rows)

    @staticmethod
    def _known(conn: Connection, app_id: str, channel_id: str, calls: Sequence[str]) -> _Known:
        """What is stored about ``calls`` (two index probes per chunk)."""
        known = _Known(set(), set(), set())
        for part in chunks(calls):
            among, ids = id_in(conn, part)
            for call, channel, source in conn.fetchall(
                f"SELECT call_id, channel_id, source FROM channel_calls WHERE app_id = ? AND {among}", (app_id, *ids)
            ):
                if channel != channel_id:
                    known.foreign.add(call)
                if source == "import":
                    known.imported.add(call)
            for call, channel in conn.fetchall(
                f"SELECT DISTINCT call_id, channel_id FROM channel_call_events WHERE app_id = ? AND {among}",
                (app_id, *ids),
            ):
                known.with_events.add(call)
                if channel != channel_id:
                    known.foreign.add(call)
        return known

    def _refold(
        self, conn: Connection, app_id: str, channel_id: str, fresh: dict[str, list[StatusEvent]], known: _Known
    ) -> None:
        """Re-fold the calls that received new events. A call seen for the first time is folded
        from the batch in memory; only calls with earlier events are read back."""
        events = {call: list(batch) for call, batch in fresh.items() if call not in known.imported}
        stored = sorted(call for call in events if call in known.with_events)
        for part in chunks(stored):
            among, ids = id_in(conn, part)
            for event_id, call_id, at_ms, body in conn.fetchall(
                f"SELECT event_id, call_id, at_ms, body FROM channel_call_events WHERE app_id = ? AND {among}",
                (app_id, *ids),
            ):
                # fold() de-duplicates by id: the batch's own events are also read back here.
                events[call_id].append(_decode_event(event_id, call_id, at_ms, body))
        rows = []
        for call_id in sorted(events):
            record = fold(call_id, channel_id, events[call_id])
            if record is not None:
                rows.append(row_from_record(record, "events"))
        self._write_rows(conn, app_id, rows)

    @staticmethod
    def _write_rows(conn: Connection, app_id: str, rows: Sequence[ChannelCallRow]) -> None:
        if not rows:
            return
        insert_rows(conn, "channel_calls", CALL_COLUMNS, [_call_values(app_id, row) for row in rows], _UPSERT_CALL)
        for part in chunks([row.call_id for row in rows]):
            among, ids = id_in(conn, part)
            conn.execute(f"DELETE FROM channel_call_tags WHERE app_id = ? AND {among}", (app_id, *ids))
        tags = [(app_id, row.call_id, tag, row.channel_id, row.created_at) for row in rows for tag in row.tags]
        insert_rows(conn, "channel_call_tags", TAG_COLUMNS, tags)

    # -- reads ----------------------------------------------------------------------------

    def get(self, app_id: str, channel_id: str, call_id: str) -> bytes | None:
        """One call's JSON, or None; raises :class:`ChannelNotFound` for an unknown channel."""
        with self.db.read() as conn:
            self._require_channel(conn, app_id, channel_id)
            row = conn.fetchone(
                "SELECT body FROM channel_calls WHERE app_id = ? AND call_id = ? AND channel_id = ?",
                (app_id, call_id, channel_id),
            )
        return bytes(row[0]) if row else None

    def find(self, app_id: str, query: ChannelCallQuery, after: Cursor | None, limit: int) -> ChannelCallPage:
        """Up to ``limit`` calls matching ``query`` after ``after``, newest first, and the cursor
        for the next page when more exist. Raises :class:`ChannelNotFound` for a scope channel
        that does not exist."""
        with self.db.read() as conn:
            if query.scope is not None:
                self._require_channel(conn, app_id, query.scope)
            sql, params = compile_page(conn.dialect, app_id, query, after, limit + 1)
            rows = conn.fetchall(sql, params)
        more = len(rows) > limit
        rows = rows[:limit]
        next_after = Cursor(int(rows[-1][0]), str(rows[-1][1])) if more else None
        return ChannelCallPage([bytes(body) for _, _, body in rows], next_after)


def events_of(store: VoiceStore, app_id: str, call_id: str) -> Iterable[StatusEvent]:
    """Every stored event of a call (for diagnostics and tests)."""
    with store.db.read() as conn:
        rows = conn.fetchall(
            "SELECT event_id, call_id, at_ms, body FROM channel_call_events WHERE app_id = ? AND call_id = ? "
            "ORDER BY at_ms, event_id",
            (app_id, call_id),
        )
    return [_decode_event(*row) for row in rows]
