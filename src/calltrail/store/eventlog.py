"""The one ingest path: every call domain, and every inbound adapter, stores events through here.

An event log keeps a domain's events once per ``(app_id, event id)`` and the record folded from
each stream of them (a session, a phone call). Each write, in one transaction:

1. locks the streams it touches (bounded: see :meth:`Connection.lock_keys`), so concurrent
   servers writing to one PostgreSQL database cannot lose each other's events;
2. probes what is stored about them: which have events already, which were imported whole
   (events no longer change those), and which belong to another scope (a phone call is bound
   to the channel of its first event or record: 409 rather than moving it);
3. inserts the events not stored yet (a redelivery changes nothing);
4. re-folds every stream that got a new event from *all* its events, so a record never depends
   on arrival order; a stream seen for the first time is folded from the batch in memory;
5. writes the rows through the domain's writer (records, indexes, counters).

It returns only after COMMIT: an acknowledged event is durable. A domain describes itself with
an :class:`EventLogSpec`; the fold and the writer are the domain's, the algorithm is this one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from calltrail.kernel.errors import Conflict
from calltrail.store.database import Connection, Database, Row, chunks, hashed_among
from calltrail.store.stats import events_accepted, events_duplicate

E = TypeVar("E")
R = TypeVar("R")
OTHER_SCOPE = "belongs to another channel of this workspace"
#: A check run first inside a write transaction, or None.
Check = Callable[[Connection], None] | None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What a batch of events did: newly stored events and ignored redeliveries."""

    accepted: int
    duplicates: int


@dataclass(frozen=True)
class EventLogSpec(Generic[E, R]):
    """How one call domain keeps its events and records.

    ``event_columns`` start with ``(app_id, event_id)`` (the events' primary key);
    ``read_columns`` start with the stream key and are what :attr:`decode` reads back.
    ``scope_column`` (on both tables) binds each stream to one scope, or is None.
    ``key_hash_column``, when set, holds each event's :func:`key_hash` of its stream key and is
    what the events table's stream index holds (a long key's compact stand-in): reads by stream
    go through it.
    """

    name: str
    events_table: str
    event_columns: tuple[str, ...]
    read_columns: tuple[str, ...]
    records_table: str
    key_column: str
    key_field: str
    scope_column: str | None
    event_key: Callable[[E], str]
    event_id: Callable[[E], str]
    encode: Callable[[str, str | None, E], tuple[Any, ...]]
    decode: Callable[[Row], E]
    fold: Callable[[str, str | None, list[E]], R | None]
    row_key: Callable[[R], str]
    write: Callable[[Connection, str, Sequence[R]], None]
    key_hash_column: str | None = None

    def streams_among(self, conn: Connection, keys: Sequence[str]) -> tuple[str, list[Any]]:
        """The events of these streams, as SQL for the events table and its parameters."""
        if self.key_hash_column is None:
            return conn.any_of(self.key_column, keys)
        return hashed_among(conn, self.key_column, self.key_hash_column, keys)


@dataclass
class _Known:
    """What is stored about some streams."""

    foreign: set[str] = field(default_factory=set)
    with_events: set[str] = field(default_factory=set)
    imported: set[str] = field(default_factory=set)


class EventLog(Generic[E, R]):
    """One domain's events and records in one database."""

    def __init__(self, db: Database, spec: EventLogSpec[E, R]):
        self.db = db
        self.spec = spec

    def ingest(self, app_id: str, events: Sequence[E], scope: str | None = None, check: Check = None) -> IngestResult:
        """Store a validated batch and re-fold the streams it touches, in one transaction.

        ``check`` runs first inside the transaction (that the scope exists, say). Raises
        :class:`Conflict` (nothing stored) when a stream belongs to another scope."""
        spec = self.spec
        keys = sorted({spec.event_key(event) for event in events})
        rows = [spec.encode(app_id, scope, event) for event in events]
        with self.db.write() as conn:
            if check is not None:
                check(conn)
            known = self._lock_and_probe(conn, app_id, keys, scope)
            if known.foreign:
                details = {
                    f"events[{index}].{spec.key_field}": [OTHER_SCOPE]
                    for index, event in enumerate(events)
                    if spec.event_key(event) in known.foreign
                }
                raise Conflict("Some events are for calls of another channel; nothing was stored.", details)
            new = {row[1] for row in conn.insert_new(spec.events_table, spec.event_columns, rows)}
            fresh: dict[str, list[E]] = {}
            for event in events:
                key = spec.event_key(event)
                if spec.event_id(event) in new and key not in known.imported:
                    fresh.setdefault(key, []).append(event)
            self._refold(conn, app_id, scope, fresh, known)
        self.db.note_written(len(new))
        self.db.stats.add(events_accepted(spec.name), len(new))
        self.db.stats.add(events_duplicate(spec.name), len(events) - len(new))
        return IngestResult(accepted=len(new), duplicates=len(events) - len(new))

    def replace(self, app_id: str, rows: Sequence[R], scope: str | None = None, check: Check = None) -> None:
        """Store whole records (imported), replacing stored ones; events that arrive later for
        them are stored but no longer change them. A stream repeated within ``rows`` keeps its
        last record, as sequential PUTs would."""
        unique = list({self.spec.row_key(row): row for row in rows}.values())
        with self.db.write() as conn:
            if check is not None:
                check(conn)
            known = self._lock_and_probe(conn, app_id, sorted(self.spec.row_key(row) for row in unique), scope)
            if known.foreign:
                raise Conflict("The call belongs to another channel; nothing was stored.", {"id": [OTHER_SCOPE]})
            self.spec.write(conn, app_id, unique)
        self.db.note_written(len(unique))

    def events(self, app_id: str, key: str) -> list[E]:
        """Every stored event of a stream, in canonical order (for diagnostics and views)."""
        spec = self.spec
        with self.db.read() as conn:
            among, values = spec.streams_among(conn, [key])
            rows = conn.fetchall(
                f"SELECT {', '.join(spec.read_columns)} FROM {spec.events_table} "
                f"WHERE app_id = ? AND {among} ORDER BY at_ms, event_id",
                (app_id, *values),
            )
        return [spec.decode(row) for row in rows]

    def stored_streams(self, conn: Connection, app_id: str, keys: Sequence[str]) -> set[str]:
        """Which of these streams have stored events."""
        spec = self.spec
        found: set[str] = set()
        for part in chunks(keys):
            among, values = spec.streams_among(conn, part)
            found.update(key for (key,) in conn.fetchall(
                f"SELECT DISTINCT {spec.key_column} FROM {spec.events_table} WHERE app_id = ? AND {among}",
                (app_id, *values),
            ))  # fmt: skip
        return found

    def _lock_and_probe(self, conn: Connection, app_id: str, keys: Sequence[str], scope: str | None) -> _Known:
        # Lock first: what is probed below then includes every event any other writer committed
        # for these streams, so no concurrent write can be missed.
        conn.lock_keys(f"{app_id}/{self.spec.name}/{key}" for key in keys)
        spec = self.spec
        scope_sql = spec.scope_column or "NULL"
        known = _Known()
        for part in chunks(keys):
            among, values = conn.any_of(spec.key_column, part)
            for key, bound_to, source in conn.fetchall(
                f"SELECT {spec.key_column}, {scope_sql}, source FROM {spec.records_table} WHERE app_id = ? AND {among}",
                (app_id, *values),
            ):
                if bound_to != scope:
                    known.foreign.add(key)
                if source == "import":
                    known.imported.add(key)
            among, values = spec.streams_among(conn, part)
            for key, bound_to in conn.fetchall(
                f"SELECT DISTINCT {spec.key_column}, {scope_sql} FROM {spec.events_table} WHERE app_id = ? AND {among}",
                (app_id, *values),
            ):
                known.with_events.add(key)
                if bound_to != scope:
                    known.foreign.add(key)
        return known

    def _refold(
        self, conn: Connection, app_id: str, scope: str | None, fresh: dict[str, list[E]], known: _Known
    ) -> None:
        """Re-fold the streams that received new events; only those with earlier events are
        read back (the fold de-duplicates by id: the batch's own events are read back too)."""
        spec = self.spec
        stored = sorted(key for key in fresh if key in known.with_events)
        for part in chunks(stored):
            among, values = spec.streams_among(conn, part)
            for stored_row in conn.fetchall(
                f"SELECT {', '.join(spec.read_columns)} FROM {spec.events_table} WHERE app_id = ? AND {among}",
                (app_id, *values),
            ):
                fresh[stored_row[0]].append(spec.decode(stored_row))
        folded = [spec.fold(key, scope, fresh[key]) for key in sorted(fresh)]
        rows = [row for row in folded if row is not None]
        if rows:
            spec.write(conn, app_id, rows)
