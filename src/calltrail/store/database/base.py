"""The small interface every engine implements: :class:`Connection` (one transaction's
statements, with the few dialect differences as methods) and :class:`Database` (a connection
factory: nested reads, durable writes, driver errors as :class:`Unavailable`)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.kernel.errors import Unavailable
from calltrail.store.database.sql import MAX_KEY_LOCKS, MAX_ROWS_PER_INSERT, insert_sql, json_values_sql, placeholders
from calltrail.store.stats import DATABASE_ERRORS, StoreStats


class WouldWait(Exception):
    """A read on the event loop (:meth:`Database.reading_here`) would have to wait: no pooled
    connection is free, or a statement outlived its deadline. Nothing was changed; the caller
    runs the read again on a worker thread."""


Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Documents:
    """Stored JSON documents, in order, as the body of a JSON array: ``joined`` is the documents
    joined by commas (empty for none), ready to go between ``[`` and ``]``."""

    count: int
    joined: bytes

    @classmethod
    def of(cls, documents: Sequence[bytes]) -> Documents:
        return cls(len(documents), b",".join(documents))

    def parsed(self) -> list[Any]:
        """Each document decoded, in order (one parse of the whole array)."""
        result: list[Any] = orjson.loads(b"[" + self.joined + b"]")
        return result


class Connection:
    """One database connection inside a transaction (see :meth:`Database.read`/``write``)."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self.execute(sql, params).fetchall())

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self.execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    def fetch_documents(self, sql: str, params: Sequence[Any], column: str) -> list[bytes]:
        """``column`` of every row of ``sql``, in its order: stored JSON documents (whose text
        never holds a NUL), as bytes. Both drivers give a binary column as ``bytes`` already
        (``sqlite3`` a BLOB, psycopg a ``bytea``): no copy through ``bytes()`` per row, 7 us of a
        100-call page."""
        return [row[0] for row in self.execute(sql, params).fetchall()]

    def fetch_joined(self, sql: str, params: Sequence[Any], column: str) -> Documents:
        """:meth:`fetch_documents` as :class:`Documents`: what a list endpoint sends as they are.
        An engine may join them itself (SQLite does)."""
        return Documents.of(self.fetch_documents(sql, params, column))

    def counts_and_documents(
        self, count_sql: str, count_params: Sequence[Any], sql: str, params: Sequence[Any], column: str
    ) -> tuple[Row, Documents]:
        """The one row of ``count_sql`` and :meth:`fetch_joined` of ``sql``, from one snapshot:
        where each statement is a network round trip, one statement; in process, two in a read
        (which on SQLite is a snapshot even with ``snapshot=False``)."""
        counts = self.fetchone(count_sql, count_params)
        assert counts is not None, "a count statement returns one row"
        return counts, self.fetch_joined(sql, params, column)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = "") -> None:
        """Insert rows with multi-row ``INSERT`` statements (several times faster than one
        statement per row on PostgreSQL). ``tail`` may add an ``ON CONFLICT`` clause. Chunks are
        256 rows, then powers of two, so only a handful of statement shapes exist and each can be
        prepared once. (PostgreSQL copies rows without ``tail``; with one, it copies many through a
        temporary table and sends a few as one array per column.)"""
        start = 0
        while start < len(rows):
            size = min(MAX_ROWS_PER_INSERT, 1 << ((len(rows) - start).bit_length() - 1))
            chunk = rows[start : start + size]
            self.execute(insert_sql(table, tuple(columns), size, tail), [value for row in chunk for value in row])
            start += size

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """Insert rows whose ``(columns[0], columns[1])`` key is absent; return those inserted.

        The first two columns must be the table's primary key (tenant, id), and every row must
        belong to the same tenant. Rows repeating a key within ``rows`` count once.
        """
        raise NotImplementedError

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Serialise writers that touch the same keys until this transaction ends.

        Call it once per transaction, before reading what the keys guard."""
        raise NotImplementedError

    #: True when the planner needs to be told which plan to use (SQLite's has no statistics
    #: of correlation, so a store chooses between sorting and scanning in order itself).
    needs_plan_hints = False
    #: True where a statement costs microseconds (SQLite, in process): a store may run a few
    #: small ones to spare one that could grow with the data. On PostgreSQL each is a round trip.
    cheap_statements = False

    def indexed_by(self, index: str) -> str:
        """A clause forcing ``index`` where the engine supports one ("" elsewhere)."""
        return ""

    def unindexed(self, expression: str) -> str:
        """``expression`` in a form the planner cannot serve from an index (a plan hint)."""
        return expression

    def trailing_key(self, column: str) -> str:
        """``column`` in a condition meant for the index already chosen, which holds it after the
        filtered column: PostgreSQL tests it in that index (without reading the table), as is."""
        return column

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` among ``values``, as SQL and its parameters."""
        return f"{column} IN ({placeholders(len(values))})", list(values)

    def next_serials(self, table: str, column: str, count: int) -> list[int]:
        """``count`` new, increasing values for the serial ``column`` of ``table`` (an ordering
        key: values taken later in a transaction that holds a lock are larger)."""
        raise NotImplementedError

    def skip_locked(self, table: str) -> str:
        """A clause ending a ``SELECT`` that locks its rows of ``table`` for an update of non-key
        columns, skipping rows another transaction holds ("" where one writer excludes all)."""
        return ""

    def json_values(self, document: str, paths: Sequence[Sequence[str]]) -> str:
        """An expression reading the values at ``paths`` (two or more, of plain keys) in the JSON
        object ``document`` (a stored record's bytes): a compact JSON array (UTF-8 bytes), each
        value's JSON text in order, ``null`` for an absent one; or, for a document the engine
        cannot read, the document itself (it starts with ``{``, an array with ``[``).

        A value's text is its text in the document (numbers keep their digits), or another
        text of the same value; keys must be unique in the document (first and last agree)."""
        return json_values_sql(self.dialect, document, paths)


class Database:
    """A connection factory for one database URL. Thread-safe; share one per process."""

    dialect: str
    url: str
    #: New rows after which the planner's statistics are refreshed (0: the engine does it), and
    #: the factor by which that number grows after each refresh (see :meth:`note_written`).
    ANALYZE_EVERY = 0
    ANALYZE_GROWTH = 1
    #: Reads run in this process: their time is CPU time, with no wait for another process.
    IN_PROCESS = False
    #: How long the statements of a read on the event loop may take in all (see
    #: :meth:`reading_here`): a quick read takes a millisecond or two.
    HERE_SECONDS = 0.1
    #: Keys a write may lock while other writers go on (a background job's batch size): on
    #: PostgreSQL more than :data:`MAX_KEY_LOCKS` take the exclusive bulk lock; SQLite has one
    #: writer at a time whatever the keys.
    CONCURRENT_KEYS = MAX_KEY_LOCKS

    def __init__(self) -> None:
        self._local = threading.local()
        self._written_since_analyze = 0
        self._analyze_after = self.ANALYZE_EVERY
        #: Counters for monitoring (database errors here, events in the event log).
        self.stats = StoreStats()

    def read(self, *, snapshot: bool = True) -> AbstractContextManager[Connection]:
        """A read-only transaction: every query inside sees one consistent snapshot. A read
        opened inside another on the same thread joins it (the same snapshot).

        ``snapshot=False`` is for a read whose statements need no common snapshot (one
        statement, or a check and then a page): on PostgreSQL they run outside a transaction,
        sparing its ``BEGIN`` and ``COMMIT`` round trips. Such reads opened inside it join it; a
        read needing a snapshot opened inside it gets its own (another connection). In process
        (SQLite) a snapshot costs nothing: it is one, and every read inside joins it."""
        joined: Connection | None = getattr(self._local, "reading", None)
        if joined is None and not snapshot and not self.IN_PROCESS:
            joined = getattr(self._local, "each", None)
        if joined is not None:
            # Joined without a generator: every store method opens a read, so a request's
            # reads join its first one two or three times.
            return contextlib.nullcontext(joined)
        return self._open_read(snapshot)

    @contextmanager
    def _open_read(self, snapshot: bool) -> Iterator[Connection]:
        """:meth:`read` when it joins none: a snapshot, or (``snapshot=False`` over a network)
        statements each in their own transaction."""
        # Where reads opened inside it find it to join (see :meth:`read`).
        each = not snapshot and not self.IN_PROCESS
        joined_as = "each" if each else "reading"
        opened = self._read_each() if each else self._read()  # nothing runs before it is entered
        with self._guarded(), opened as conn:
            setattr(self._local, joined_as, conn)
            try:
                yield conn
            finally:
                setattr(self._local, joined_as, None)

    def reading_here(self) -> AbstractContextManager[None]:
        """Reads on this thread inside the block never wait for long: they run on the event loop
        (:func:`calltrail.api.http.run_point_read`), where a wait would hold up every request.
        In process (SQLite) a read by key or a quick page takes microseconds and waits for
        nothing, so this changes nothing. Over a network (PostgreSQL) a read borrows only a
        connection free at once and its statements share a deadline of :attr:`HERE_SECONDS`;
        otherwise it raises :class:`WouldWait`, having changed nothing."""
        return contextlib.nullcontext()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed (durably) when the block exits without error."""
        with self._guarded(), self._write() as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read-only transaction on a connection of its own, which any thread may use (one at
        a time): one consistent snapshot for a read spanning several worker trips (an export
        streamed page by page). Close it promptly; it never joins or is joined by :meth:`read`."""
        with self._guarded(), self._snapshot() as conn:
            yield conn

    def _snapshot(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Turn the driver's "cannot reach / busy" errors into :class:`Unavailable`, and count the
        transactions that failed so. (One wrapper, not two: every request enters it.)"""
        try:
            yield
        except Unavailable:
            self.stats.add(DATABASE_ERRORS)
            raise
        except Exception as exc:
            unavailable = self._unavailable(exc)
            if unavailable is None:
                raise
            self.stats.add(DATABASE_ERRORS)
            raise unavailable from exc

    def _read(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _read_each(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _unavailable(self, exc: Exception) -> Unavailable | None:
        """The :class:`Unavailable` a driver's error means ("cannot reach", "busy"), or None."""
        return None

    def close(self) -> None:
        raise NotImplementedError

    def analyze(self) -> None:
        """Refresh the query planner's statistics (cheap: sampled)."""
        raise NotImplementedError

    def prepare_to_serve(self) -> None:
        """Make sure the planner has statistics before serving reads."""
        return None

    def vacuum(self, tables: Sequence[str]) -> None:
        """Reclaim the deleted rows of these tables (queues, inserted and soon deleted again) now,
        outside any transaction. SQLite reuses a deleted row's space as it goes: nothing to do."""
        return None

    def note_written(self, rows: int) -> None:
        """Count new rows; refresh statistics after :attr:`ANALYZE_EVERY` of them, then after
        that number times :attr:`ANALYZE_GROWTH` more, and so on."""
        if not self.ANALYZE_EVERY:
            return
        self._written_since_analyze += rows
        if self._written_since_analyze >= self._analyze_after:
            self._written_since_analyze = 0
            self._analyze_after *= self.ANALYZE_GROWTH
            self.analyze()
