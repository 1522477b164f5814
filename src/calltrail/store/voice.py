"""Telephony storage: channels, status-event ingestion, whole-record import and keyset pages.

Status events are stored once per ``(app_id, event id)``; each write re-folds the calls it
touched from *all* their stored events, inside the same transaction, so a stored record never
depends on arrival order. Touched calls are locked while re-folded, so concurrent servers writing
to one PostgreSQL database cannot lose each other's events, nor bind one call to two channels.

A call belongs to exactly one channel: the channel of its first event or record. Events or a
record for it sent to another channel are refused (409) rather than moving it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.kernel.cursors import Cursor
from calltrail.kernel.errors import ChannelNotFound, Conflict, NotFound
from calltrail.kernel.instants import now_ms
from calltrail.store.database import Connection, Database, Row, chunks, matching_keys
from calltrail.store.eventlog import EventLog, EventLogSpec, IngestResult
from calltrail.store.outbox import raise_voice_events
from calltrail.store.usage import account_voice, unaccount_voice
from calltrail.store.voice_sql import CHANNEL_EXISTS, compile_page, in_channel
from calltrail.voice.events import StatusEvent
from calltrail.voice.fold import fold
from calltrail.voice.query import ChannelCallQuery
from calltrail.voice.record import ChannelCallRow, row_from_record
from calltrail.voice.vocabulary import canonical_uuid

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


def _decode_event(row: Row) -> StatusEvent:
    call_id, event_id, at_ms, body = row
    stored = orjson.loads(bytes(body))
    return StatusEvent(id=event_id, call_id=call_id, status=stored["status"], at_ms=at_ms, data=stored["data"])


def _encode_event(app_id: str, channel_id: str | None, event: StatusEvent) -> tuple[Any, ...]:
    body = orjson.dumps({"status": event.status, "data": event.data})
    return (app_id, event.id, channel_id, event.call_id, event.at_ms, body)


def _fold(call_id: str, channel_id: str | None, events: list[StatusEvent]) -> ChannelCallRow | None:
    record = fold(call_id, str(channel_id), events)
    return row_from_record(record, "events") if record is not None else None


def _spec(
    write: Callable[[Connection, str, Sequence[ChannelCallRow]], None],
) -> EventLogSpec[StatusEvent, ChannelCallRow]:
    return EventLogSpec(
        name="channel-call",
        events_table="channel_call_events",
        event_columns=EVENT_COLUMNS,
        read_columns=("call_id", "event_id", "at_ms", "body"),
        records_table="channel_calls",
        key_column="call_id",
        key_field="callId",
        scope_column="channel_id",
        event_key=lambda event: event.call_id,
        event_id=lambda event: event.id,
        encode=_encode_event,
        decode=_decode_event,
        fold=_fold,
        row_key=lambda row: row.call_id,
        write=write,
    )


class VoiceStore:
    """Reads and writes the channels and telephony calls of every app in one database."""

    def __init__(self, db: Database):
        self.db = db
        self.log = EventLog(db, _spec(self._write_rows))
        self._page_secret: bytes | None = None

    # -- channels -------------------------------------------------------------------------

    def create_channel(self, app_id: str, settings: tuple[str, str]) -> Channel:
        """Create a channel from checked ``(name, channel id)``
        (:func:`calltrail.voice.vocabulary.new_channel_settings`)."""
        name, channel_id = settings
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

    def list_channels(self, app_id: str, limit: int = 1000) -> list[Channel]:
        """The app's channels, oldest first (at most ``limit``)."""
        with self.db.read() as conn:
            rows = conn.fetchall(
                "SELECT app_id, channel_id, name, created_at FROM channels WHERE app_id = ? "
                "ORDER BY created_at, channel_id LIMIT ?",
                (app_id, limit),
            )
        return [Channel(*row) for row in rows]

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
        transaction (see :mod:`calltrail.store.eventlog`). Returns once committed: an
        acknowledged event is durable. Raises :class:`ChannelNotFound`, or :class:`Conflict`
        for calls of another channel (nothing stored)."""
        return self.log.ingest(app_id, events, scope=channel_id, check=self._channel_check(app_id, channel_id))

    def put_records(self, app_id: str, channel_id: str, records: Sequence[dict[str, Any]]) -> None:
        """Store whole records (already validated) of one channel, replacing stored ones.

        An imported record is served as it was sent; status events that arrive later for its
        call are stored but do not change it.
        """
        rows = [row_from_record(record, "import") for record in records]
        self.log.replace(app_id, rows, scope=channel_id, check=self._channel_check(app_id, channel_id))

    def events_of(self, app_id: str, call_id: str) -> list[StatusEvent]:
        """Every stored event of a call, in canonical order."""
        return self.log.events(app_id, call_id)

    def _channel_check(self, app_id: str, channel_id: str) -> Callable[[Connection], None]:
        return lambda conn: self._require_channel(conn, app_id, channel_id)

    @staticmethod
    def _write_rows(conn: Connection, app_id: str, rows: Sequence[ChannelCallRow]) -> None:
        if not rows:
            return
        raise_voice_events(conn, app_id, rows)  # webhooks: compares with the stored calls, so first
        conn.insert_rows("channel_calls", CALL_COLUMNS, [_call_values(app_id, row) for row in rows], _UPSERT_CALL)
        account_voice(conn, app_id, rows)  # usage figures, in the same transaction
        for part in chunks([row.call_id for row in rows]):
            among, ids = conn.any_of("call_id", part)
            conn.execute(f"DELETE FROM channel_call_tags WHERE app_id = ? AND {among}", (app_id, *ids))
        tags = [(app_id, row.call_id, tag, row.channel_id, row.created_at) for row in rows for tag in row.tags]
        conn.insert_rows("channel_call_tags", TAG_COLUMNS, tags)

    def delete(self, app_id: str, call_ids: Sequence[str], channel_id: str | None = None) -> list[str]:
        """Delete these phone calls (of ``channel_id`` only, when given) with their tags and
        stored status events, keeping usage figures exact, in one transaction holding the calls'
        locks. Returns the ids deleted."""
        keys = sorted(set(call_ids))
        with self.db.write() as conn:
            conn.lock_keys(f"{app_id}/channel-call/{key}" for key in keys)
            return self.delete_locked(conn, app_id, keys, channel_id)

    @staticmethod
    def delete_locked(
        conn: Connection, app_id: str, call_ids: Sequence[str], channel_id: str | None = None
    ) -> list[str]:
        """:meth:`delete` inside a transaction that already holds the calls' locks."""
        scoped = " AND channel_id = ?" if channel_id is not None else ""
        extra = (channel_id,) if channel_id is not None else ()
        found: set[str] = set()
        for table in ("channel_calls", "channel_call_events"):
            sql = f"SELECT DISTINCT call_id FROM {table} WHERE app_id = ? AND {{among}}{scoped}"
            found |= matching_keys(conn, sql, "call_id", app_id, call_ids, extra)
        gone = sorted(found)
        unaccount_voice(conn, app_id, gone)  # usage figures, in the same transaction
        for part in chunks(gone):
            among, values = conn.any_of("call_id", part)
            for table in ("channel_call_tags", "channel_call_events", "channel_calls"):
                conn.execute(f"DELETE FROM {table} WHERE app_id = ? AND {among}", (app_id, *values))
        return gone

    # -- reads ----------------------------------------------------------------------------

    def get(self, app_id: str, channel_id: str, call_id: str) -> bytes | None:
        """One call's JSON, or None; raises :class:`ChannelNotFound` for an unknown channel."""
        with self.db.read(snapshot=False) as conn:
            row = conn.fetchone(
                "SELECT body FROM channel_calls WHERE app_id = ? AND call_id = ? AND channel_id = ? "
                f"AND {CHANNEL_EXISTS}",
                (app_id, call_id, channel_id, app_id, channel_id),
            )
            if row is None:
                self._require_channel(conn, app_id, channel_id)
        return bytes(row[0]) if row else None

    def find(self, app_id: str, query: ChannelCallQuery, after: Cursor | None, limit: int) -> ChannelCallPage:
        """Up to ``limit`` calls matching ``query`` after ``after``, newest first, and the cursor
        for the next page when more exist. Raises :class:`ChannelNotFound` for a scope channel
        that does not exist."""
        # One statement: the keyset page, read only while its channel exists; the check alone
        # runs again only to tell an unknown channel from an empty page.
        with self.db.read(snapshot=False) as conn:
            sql, params = compile_page(conn, app_id, query, after, limit + 1)
            if query.scope is not None:
                sql, params = in_channel(sql, params, app_id, query.scope)
            rows = conn.fetchall(sql, params)
            if not rows and query.scope is not None:
                self._require_channel(conn, app_id, query.scope)
        more = len(rows) > limit
        rows = rows[:limit]
        next_after = Cursor(int(rows[-1][0]), str(rows[-1][1])) if more else None
        return ChannelCallPage([bytes(body) for _, _, body in rows], next_after)
