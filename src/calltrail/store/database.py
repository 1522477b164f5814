"""Connections to the embedded SQLite database or to PostgreSQL, behind one small interface.

SQL is written once, with ``?`` placeholders and syntax both engines accept (``ON CONFLICT``,
``RETURNING``, row values); :class:`Connection` translates placeholders for psycopg. The few
real differences (bulk insert-if-absent, per-key write locks, planner hints, array parameters)
are methods of the connection: no module outside this one branches on the SQL dialect.

Driver errors never leave this module: a database that cannot be reached or is busy raises
:class:`~calltrail.kernel.errors.Unavailable`, so no API module imports a driver.

Reads nest: a :meth:`Database.read` inside another on the same thread joins the outer
transaction, so one request's reads (credentials, records, profiles) share one snapshot.

Durability: SQLite runs in WAL mode with ``synchronous=FULL`` and PostgreSQL with its default
``synchronous_commit=on``, and :meth:`Database.write` returns only after COMMIT, so anything
acknowledged after a write survives ``kill -9`` of the server (and, storage permitting, power loss).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import queue
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from calltrail.kernel.errors import Unavailable
from calltrail.store.stats import DATABASE_ERRORS, StoreStats

Row = tuple[Any, ...]


class WouldWait(Exception):
    """A read on the event loop (:meth:`Database.reading_here`) would have to wait: no pooled
    connection is free, or a statement outlived its deadline. Nothing was changed; the caller
    runs the read again on a worker thread."""


#: SQLite's default cap is 32766 bound variables; IN lists are chunked well below it.
CHUNK = 500
#: Per-key advisory locks one PostgreSQL transaction may take. A stock server has 64 slots per
#: connection (``max_locks_per_transaction``) shared by every session; a transaction touching
#: more keys takes the exclusive bulk lock instead (see :meth:`PostgresConnection.lock_keys`).
MAX_KEY_LOCKS = 32
#: Rows per multi-row INSERT: far below SQLite's 32766 bound variables.
MAX_ROWS_PER_INSERT = 256
#: The two-key advisory lock space of the per-tenant bulk locks: (this constant, hash of the app
#: id); distinct from the one-bigint space the per-key locks use.
_BULK_LOCK = (7_415_220,)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Split a sequence into slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def integer(value: Any) -> int:
    """A fetched sum as an int: PostgreSQL sums bigints as numeric (a ``Decimal``), and the sum
    of no rows is NULL."""
    return int(value or 0)


def placeholders(count: int) -> str:
    """``?, ?, ?`` for an IN list of ``count`` values."""
    return ", ".join("?" * count)


@functools.cache
def _insert_sql(table: str, columns: tuple[str, ...], rows: int, tail: str) -> str:
    marks = "(" + placeholders(len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * rows)} {tail}"


def matching_keys(
    conn: Connection, sql: str, column: str, tenant: str, keys: Sequence[Any], after: Sequence[Any] = ()
) -> set[Any]:
    """The first column of ``sql`` run over ``keys`` in chunks.

    ``sql`` takes the tenant as its first ``?``, has ``{among}`` where ``column`` among the keys
    goes (:meth:`Connection.any_of`), then any ``?`` of ``after``:
    ``"SELECT id FROM t WHERE app_id = ? AND {among}"``.
    """
    found: set[Any] = set()
    for part in chunks(keys):
        among, values = conn.any_of(column, part)
        found.update(row[0] for row in conn.fetchall(sql.format(among=among), (tenant, *values, *after)))
    return found


def key_hash(key: str) -> int:
    """A long text key's indexed stand-in (``call_events.session_hash``, ``m0024``): the first 8
    bytes of its MD5, big-endian, as a signed 64-bit integer. An index entry of a 62-character
    session id took about 89 bytes, of its hash about 20; a lookup matches the key itself too, so
    two keys sharing a hash are told apart. :func:`key_hash_sql` computes it in SQL."""
    return int.from_bytes(hashlib.md5(key.encode(), usedforsecurity=False).digest()[:8], "big", signed=True)


def key_hash_sql(dialect: str, column: str) -> str:
    """:func:`key_hash` of ``column`` in SQL (for migrations): on SQLite the function every
    connection of :class:`SQLiteDatabase` registers, on PostgreSQL from its own ``md5``."""
    if dialect == "sqlite":
        return f"calltrail_key_hash({column})"
    return f"('x' || substr(md5({column}), 1, 16))::bit(64)::bigint"


def hashed_among(conn: Connection, column: str, hash_column: str, keys: Sequence[str]) -> tuple[str, list[Any]]:
    """``column`` among ``keys``, found through the index on ``hash_column`` (their :func:`key_hash`)."""
    hashes, hash_values = conn.any_of(hash_column, [key_hash(key) for key in keys])
    among, values = conn.any_of(column, keys)
    return f"{hashes} AND {among}", [*hash_values, *values]


def bounded_among(conn: Connection, column: str, keys: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column`` among the sorted ``keys``, also bounded by their range. A plan may probe a list
    of keys in a column after the first of its index, or read every row of the app there and filter
    them (PostgreSQL's generic plan without statistics did, so a write's cost grew with the app's
    history); a range on the column bounds that scan whatever the planner estimates."""
    among, values = conn.any_of(column, keys)
    return f"{column} >= ? AND {column} <= ? AND {among}", [keys[0], keys[-1], *values]


def json_keys(paths: Sequence[Sequence[str]]) -> list[Sequence[str]]:
    """``paths`` checked to be at least two, each of plain keys (they are written into SQL)."""
    checked = [path for path in paths if path and all(key.isascii() and key.isalnum() for key in path)]
    if len(checked) != len(paths) or len(paths) < 2:
        raise ValueError(f"JSON value paths must be two or more, of letters and digits: {paths!r}")
    return checked


def json_values_sql(dialect: str, document: str, paths: Sequence[Sequence[str]]) -> str:
    """The expression :meth:`Connection.json_values` gives on ``dialect`` (also for migrations,
    which have no connection object to ask)."""
    if dialect == "sqlite":
        # One json_extract of several paths parses the document once and answers an array of
        # the values' own texts; a BLOB argument would be read as JSONB (3.45+), so it is cast.
        # Plain keys need no quotes in a path (unquoted ones are found a little faster).
        listed = ", ".join("'$" + "".join(f".{key}" for key in path) + "'" for path in json_keys(paths))
        return f"CAST(json_extract(CAST({document} AS TEXT), {listed}) AS BLOB)"
    # json (not jsonb, which rewrites numbers) keeps each value's text; json_to_record parses
    # the document once. PostgreSQL refuses \u0000 in any JSON text it parses: such documents
    # come back whole.
    checked = json_keys(paths)
    tops = list(dict.fromkeys(path[0] for path in checked))
    columns = ", ".join(f'"{key}" json' for key in tops)
    values = [f'x."{path[0]}"' + "".join(f" -> '{key}'" for key in path[1:]) for path in checked]
    array = " || ',' || ".join(f"coalesce(({value})::text, 'null')" for value in values)
    parsed = f"json_to_record(convert_from({document}, 'UTF8')::json) AS x({columns})"
    return (
        f"CASE WHEN position('\\\\u0000'::bytea in {document}) = 0 "
        f"THEN (SELECT convert_to('[' || {array} || ']', 'UTF8') FROM {parsed}) ELSE {document} END"
    )


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
        never holds a NUL), as bytes."""
        return [bytes(row[0]) for row in self.fetchall(sql, params)]

    def counts_and_documents(
        self, count_sql: str, count_params: Sequence[Any], sql: str, params: Sequence[Any], column: str
    ) -> tuple[Row, list[bytes]]:
        """The one row of ``count_sql`` and :meth:`fetch_documents` of ``sql``, from one snapshot:
        where each statement is a network round trip, one statement; in process, two in a read
        (which on SQLite is a snapshot even with ``snapshot=False``)."""
        counts = self.fetchone(count_sql, count_params)
        assert counts is not None, "a count statement returns one row"
        return counts, self.fetch_documents(sql, params, column)

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
            self.execute(_insert_sql(table, tuple(columns), size, tail), [value for row in chunk for value in row])
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


class SQLiteConnection(Connection):
    dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection, others_reading: Callable[[], bool] = lambda: False):
        self.raw = raw
        self._others_reading = others_reading

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.raw.executemany(sql, rows)

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        if not rows:
            return []
        tenant_col, key_col = columns[0], columns[1]
        unique = list({row[1]: row for row in reversed(rows)}.values())[::-1]
        sql = f"SELECT {key_col} FROM {table} WHERE {tenant_col} = ? AND {{among}}"
        existing = matching_keys(self, sql, key_col, unique[0][0], [row[1] for row in unique])
        new = [row for row in unique if row[1] not in existing]
        # The writer holds SQLite's write lock (BEGIN IMMEDIATE), so nothing can slip in between.
        self.raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(len(columns))})", new)
        return new

    def lock_keys(self, keys: Iterable[str]) -> None:
        return None  # BEGIN IMMEDIATE already serialises every writer of the file.

    def next_serials(self, table: str, column: str, count: int) -> list[int]:
        # The one writer (BEGIN IMMEDIATE) makes "after the largest" race-free; ``column`` is indexed.
        last = int((self.fetchone(f"SELECT COALESCE(MAX({column}), 0) FROM {table}") or (0,))[0])
        return list(range(last + 1, last + 1 + count))

    def fetch_documents(self, sql: str, params: Sequence[Any], column: str) -> list[bytes]:
        # While other reads run, one step for the whole page, not one per row. The sqlite3
        # module releases the GIL around every step, and with other threads (or a busy event
        # loop) wanting it, each step's thread then waits to get it back: a 100-call page made
        # some 100 such hand-overs, which cost more than the page itself (docs/deploy.md and
        # docs/storage.md give the runs side by side). Alone, the rows are cheaper: joining
        # them in SQLite costs about 80 us more for 100 calls than stepping through them.
        if not self._others_reading():
            return super().fetch_documents(sql, params, column)
        return self.joined_documents(sql, params, column)

    def joined_documents(self, sql: str, params: Sequence[Any], column: str) -> list[bytes]:
        """:meth:`fetch_documents` in one step. The subquery keeps its ORDER BY and LIMIT, so it
        is not flattened into the aggregate and feeds it rows in its order; JSON text never
        holds a NUL, the separator."""
        joined_sql = f"SELECT CAST(group_concat({column}, char(0)) AS BLOB) FROM ({sql})"
        (joined,) = self.fetchone(joined_sql, params) or (None,)
        return bytes(joined).split(b"\x00") if joined is not None else []

    needs_plan_hints = True
    cheap_statements = True

    def indexed_by(self, index: str) -> str:
        return f" INDEXED BY {index}"

    def unindexed(self, expression: str) -> str:
        # Unary + keeps SQLite from using an index on the column (for filtering or ordering).
        return f"+{expression}"

    def trailing_key(self, column: str) -> str:
        # SQLite would rather take the column's own index for a bare one.
        return self.unindexed(column)


class ColumnTypes:
    """Each table's column types, as PostgreSQL names them (``bigint``, ``text``...), read from
    its catalog when first needed and again when a column is missing (a migration added it)."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, str]] = {}

    def of(self, raw: Any, table: str, columns: Sequence[str]) -> list[str]:
        known = self._tables.get(table, {})
        if not all(column in known for column in columns):
            rows = raw.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
                (table,),
            ).fetchall()
            known = self._tables[table] = dict(rows)
        return [known[column] for column in columns]


class PostgresConnection(Connection):
    dialect = "postgresql"
    _cache: ClassVar[dict[str, str]] = {}
    #: Rows per statement of :meth:`insert_rows` (bounds the arrays a statement carries).
    ARRAY_ROWS = 5000
    #: Rows from which an upsert or :meth:`insert_new` copies them into a temporary table first
    #: (:meth:`_staged`): three statements more, worth it for a bulk batch (the demo's and an
    #: import's), not below. Above what a client's request carries (``kernel.batches.MAX_BATCH``,
    #: 1,000 events): from 1,000, batches of 1,000 events ran some 7 % slower (one pair).
    STAGE_ROWS = 2000

    def __init__(self, raw: Any, column_types: ColumnTypes | None = None):
        self.raw = raw
        self._column_types = column_types or ColumnTypes()

    @classmethod
    def _sql(cls, sql: str) -> str:
        translated = cls._cache.get(sql)
        if translated is None:
            translated = cls._cache[sql] = sql.replace("%", "%%").replace("?", "%s")
        return translated

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        # Results in binary: a call's record (bytea) and a day's rollup edges come as they are
        # stored, not as hex text twice their size to be decoded (a 100-call page, 365 day rows).
        return self.raw.execute(self._sql(sql), params, binary=True)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = "") -> None:
        # Plain inserts through COPY (binary; psycopg formats the rows in C); many rows with a tail
        # through COPY into a temporary table. Fewer rows with a tail as one array per column,
        # unnested into rows: a statement of 25 parameters, not 25 per row. Binding and planning
        # thousands of scalars cost more than the rows' writes; through the arrays, durable ingest
        # of the demo's events ran 1.6-2x faster, and through COPY 1.3-1.4x faster again
        # (docs/storage.md).
        if not rows:
            return
        if not tail:
            self._copy_rows(table, columns, rows)
            return
        for sql, params in self._with_tail(table, columns, rows, tail):
            self.execute(sql, params)

    def _with_tail(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], tail: str
    ) -> Iterator[tuple[str, Sequence[Any]]]:
        """The statements inserting ``rows`` with ``tail``, each with its parameters, to run in
        order: from :attr:`STAGE_ROWS` rows one, from a temporary table; below, one per
        :attr:`ARRAY_ROWS` rows, from one array per column."""
        if len(rows) >= self.STAGE_ROWS:
            yield f"{self._staged(table, columns, rows)} {tail}", ()
            return
        sql = f"{self._unnest_insert(table, columns)} {tail}"
        for arrays in self._column_arrays(rows):
            yield sql, arrays

    def _staged(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
        """Copy the rows into a temporary table; returns the ``INSERT`` of them into ``table``
        (to be given its tail). Through ``COPY`` the rows are formatted in C; as arrays, psycopg
        dumps them element by element in Python, a tenth of a bulk ingest's time
        (docs/storage.md, "PostgreSQL: rows sent in binary, plain inserts by COPY").

        The temporary table has the columns' own types, is made in this transaction if the
        session has none yet (so PgBouncer's transaction mode, which may hand each transaction
        another session, finds one), is emptied before each use, and by every commit: it never
        holds rows between transactions, and never writes to the WAL."""
        names = ", ".join(columns)
        stage = f"calltrail_stage_{table}_{zlib.crc32(names.encode()):08x}"
        self.raw.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS SELECT {names} FROM {table} WITH NO DATA"
        )
        self.raw.execute(f"DELETE FROM {stage}")  # used before in this transaction (an upsert per level, say)
        self._copy_rows(stage, columns, rows)
        return f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}"

    def _copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """``COPY`` the rows in binary, each value dumped as its column's type."""
        types = self._column_types.of(self.raw, table, columns)
        with (
            self.raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def _unnest_insert(self, table: str, columns: Sequence[str]) -> str:
        """``INSERT`` of ``columns`` from one array parameter per column, typed as the table's."""
        arrays = ", ".join(f"?::{name}[]" for name in self._column_types.of(self.raw, table, columns))
        return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"

    def _column_arrays(self, rows: Sequence[Sequence[Any]]) -> Iterator[list[list[Any]]]:
        """The parameters of :meth:`_unnest_insert`'s statements: per statement of at most
        :attr:`ARRAY_ROWS` rows, one list per column."""
        for start in range(0, len(rows), self.ARRAY_ROWS):
            yield [list(column) for column in zip(*rows[start : start + self.ARRAY_ROWS], strict=True)]

    def counts_and_documents(
        self, count_sql: str, count_params: Sequence[Any], sql: str, params: Sequence[Any], column: str
    ) -> tuple[Row, list[bytes]]:
        # One round trip: the page as an array beside the counts. ARRAY(subquery) keeps the
        # subquery's ORDER BY; ``sql`` selects the one column.
        row = self.fetchone(
            f"SELECT ARRAY({sql}) AS documents, counted.* FROM ({count_sql}) AS counted", (*params, *count_params)
        )
        assert row is not None, "a count statement returns one row"
        return tuple(row[1:]), [bytes(document) for document in row[0]]

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        if not rows:
            return []
        unique = list({row[1]: row for row in reversed(rows)}.values())[::-1]
        inserted: set[Any] = set()
        for sql, params in self._with_tail(table, columns, unique, f"ON CONFLICT DO NOTHING RETURNING {columns[1]}"):
            inserted.update(key for (key,) in self.execute(sql, params).fetchall())
        return [row for row in unique if row[1] in inserted]

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Bounded whatever the number of keys: up to :data:`MAX_KEY_LOCKS` keys are locked one
        by one under a *shared* bulk lock; more take the *exclusive* bulk lock alone. Any two
        transactions touching a common key still exclude each other (key against key, or bulk
        against bulk), and a 100,000-record import holds one lock, not 100,000.

        The bulk lock is per tenant (the part of each key before its first ``/``, the app id), so
        a large import holds up writers of its own app only, not of every app on the server."""
        ordered = sorted(set(keys))
        if not ordered:
            return
        scopes = sorted({key.split("/", 1)[0] for key in ordered})
        bulk = "pg_advisory_xact_lock" if len(ordered) > MAX_KEY_LOCKS else "pg_advisory_xact_lock_shared"
        # Two-key advisory locks live apart from the one-bigint locks taken per key below.
        self.raw.execute(
            f"SELECT {bulk}(%s, h) FROM "
            "(SELECT DISTINCT hashtext(s) AS h FROM unnest(%s::text[]) AS s ORDER BY 1) AS b",
            (_BULK_LOCK[0], scopes),
        )
        if len(ordered) > MAX_KEY_LOCKS:
            return
        # Advisory locks taken in one global order (by hash) cannot deadlock each other.
        self.raw.execute(
            "SELECT pg_advisory_xact_lock(h) FROM "
            "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(%s::text[]) AS k ORDER BY 1) AS s",
            (ordered,),
        )

    def next_serials(self, table: str, column: str, count: int) -> list[int]:
        # The column's own sequence: never blocks a concurrent writer.
        rows = self.raw.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", (table, column, count)
        ).fetchall()
        return sorted(int(row[0]) for row in rows)

    def skip_locked(self, table: str) -> str:
        # NO KEY UPDATE: does not wait for (nor block) inserts that reference the rows.
        return f" FOR NO KEY UPDATE OF {table} SKIP LOCKED"

    #: A list with a range filter (``startedAt``, ``duration``...) chooses its plan from its exact
    #: total, as on SQLite: left to itself, PostgreSQL walked the list's index in order for page 1
    #: of a one-day ``startedAt`` range a month back (3,827 of 1M calls), 313 ms, where sorting
    #: the matches took a few.
    needs_plan_hints = True

    def unindexed(self, expression: str) -> str:
        # PostgreSQL takes no hints, but an index serves a column, not an expression of it:
        # COALESCE(x, x) is x, of x's type.
        return f"COALESCE({expression}, {expression})"

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        # One array parameter: a cached generic plan of a long ``IN (?, ?, ...)`` list filters
        # row by row when the planner has no statistics yet (a freshly loaded table), while the
        # array form still probes the index.
        return f"{column} = ANY(?)", [list(values)]


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
        if not snapshot and not self.IN_PROCESS:
            with self._guarded(), self._read_each() as conn:
                self._local.each = conn
                try:
                    yield conn
                finally:
                    self._local.each = None
            return
        with self._guarded(), self._read() as conn:
            self._local.reading = conn
            try:
                yield conn
            finally:
                self._local.reading = None

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


def backup_sqlite(source: str, out: Path) -> int:
    """Copy the SQLite database file ``source`` to ``out`` online; returns the copy's size.

    SQLite's backup API copies in one step inside one read transaction: a snapshot of one moment
    while writers go on (WAL). The copy goes to ``OUT.partial``, passes ``PRAGMA quick_check``, and
    only then is renamed to ``out``, so a failed backup never leaves a file that looks complete.
    Raises :class:`Unavailable` when the copy fails its check.
    """
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: one step, one read transaction, one snapshot
            (verdict,) = dst.execute("PRAGMA quick_check").fetchone()
        finally:
            dst.close()
    finally:
        src.close()
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise Unavailable(f"the copy failed its integrity check: {verdict}")
    os.replace(partial, out)
    return out.stat().st_size


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///path`` URL (three slashes: relative, four: absolute)."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a sqlite:/// URL: {url!r}")
    path = url[len("sqlite:///") :]
    if not path:
        raise ValueError("the sqlite URL has no file path: use sqlite:///calltrail.db")
    return path


class SQLiteDatabase(Database):
    """The embedded database: one writer connection behind a lock, and a bounded pool of reader
    connections shared by every thread.

    Readers are borrowed for one transaction and given back, so the number of open connections
    is bounded by :attr:`MAX_READERS` whatever the threads (a worker pool retires idle threads and
    starts new ones: one connection per thread would grow without bound). A reader left unused
    for :attr:`READER_IDLE_SECONDS` is closed when the pool is next used: each reader's page
    cache fills with the pages it happened to read, so without this the memory after a burst
    kept the sum of every earlier burst's pages."""

    dialect = "sqlite"
    IN_PROCESS = True
    CONCURRENT_KEYS = 500
    #: SQLite has no autovacuum: refresh planner statistics after this many new events.
    ANALYZE_EVERY = 200_000
    #: Reader connections at most; more concurrent reads wait for one to be given back.
    MAX_READERS = 16
    #: A reader unused this long is closed (its page cache freed) when the pool is next used.
    READER_IDLE_SECONDS = 10.0
    #: Each reader's page cache (KiB): the hot pages only. The operating system caches the file
    #: for every reader at once, so larger caches mostly held the same pages sixteen times
    #: (64 MiB each let RSS grow with every burst; with 4 MiB, ten bursts at 1M calls end at
    #: 1.15x the first's RSS, at the same requests/s).
    READER_CACHE_KIB = 4096
    #: WAL pages (4 KiB) after which the writer's commit copies them into the database file
    #: (SQLite's default: 1,000). A batch of 1,000 events writes about 2,000 pages, so the
    #: default made every commit a checkpoint too; less often, a page that many commits rewrite
    #: (a count row, a user's newest index entries) is copied once. The WAL file stays near 40-80
    #: MiB; durability is unchanged (every commit is synced to the WAL). docs/storage.md.
    WAL_AUTOCHECKPOINT = 10_000

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.path = sqlite_path(url)
        parent = Path(self.path).parent
        if not parent.exists():
            raise Unavailable(f"directory {parent} does not exist (database {self.path})")
        self._readers: list[sqlite3.Connection] = []
        # Readers given back, with when: the most recently used (its cache warm) last.
        self._idle: list[tuple[sqlite3.Connection, float]] = []
        self._clock = time.monotonic
        # One token per reader that may be borrowed: a SimpleQueue, whose get and put are C
        # (a threading.Semaphore is Python around a Condition: a microsecond of every read).
        self._reader_slots: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(self.MAX_READERS):
            self._reader_slots.put(None)
        # Two locks: the pool's (held for a list operation) and the writer's (held for a whole
        # write transaction). Under one lock, every read waited for the write in progress to
        # commit, which WAL exists to avoid (tests/store/test_connections.py).
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        # The writer gets a larger page cache (an upper bound, grown only as used): index inserts
        # at scattered keys are its main cost once the indexes outgrow the cache.
        self._writer = self._connect(cache_kib=1048576)
        self._writer.execute(f"PRAGMA wal_autocheckpoint={self.WAL_AUTOCHECKPOINT}")  # only writers checkpoint

    def _connect(self, cache_kib: int = 65536) -> sqlite3.Connection:
        try:
            raw = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=FULL")
            raw.execute("PRAGMA foreign_keys=ON")
            raw.execute("PRAGMA busy_timeout=30000")
            raw.execute(f"PRAGMA cache_size=-{cache_kib}")
            raw.execute("PRAGMA mmap_size=1073741824")
            raw.execute("PRAGMA temp_store=MEMORY")
            raw.create_function("calltrail_key_hash", 1, key_hash, deterministic=True)
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        return raw

    def _borrow_reader(self) -> sqlite3.Connection:
        """Borrow a reader (the most recently used, its cache warm), opening one while fewer
        than :attr:`MAX_READERS` exist; wait while that many are borrowed. Give it back with
        :meth:`_give_back`."""
        self._reader_slots.get()
        try:
            raw = self._idle_reader()
            if raw is None:
                raw = self._connect(cache_kib=self.READER_CACHE_KIB)
                with self._lock:
                    self._readers.append(raw)
        except BaseException:
            self._reader_slots.put(None)
            raise
        return raw

    def _give_back(self, raw: sqlite3.Connection) -> None:
        with self._lock:
            self._idle.append((raw, self._clock()))
        self._reader_slots.put(None)

    def _idle_reader(self) -> sqlite3.Connection | None:
        """The most recently used idle reader, after closing those idle too long; None if none."""
        stale_before = self._clock() - self.READER_IDLE_SECONDS
        with self._lock:
            while self._idle and self._idle[0][1] < stale_before:
                stale, _ = self._idle.pop(0)
                self._readers.remove(stale)
                stale.close()
            return self._idle.pop()[0] if self._idle else None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        raw = self._borrow_reader()
        try:
            raw.execute("BEGIN")
            try:
                yield SQLiteConnection(raw, self._others_reading)
            finally:
                raw.execute("COMMIT")
        finally:
            self._give_back(raw)

    def _others_reading(self) -> bool:
        """Whether a reader besides the caller's is borrowed (read without the lock: a hint)."""
        return len(self._readers) - len(self._idle) > 1

    def reader_count(self) -> int:
        """How many reader connections are open (bounded by :attr:`MAX_READERS`)."""
        with self._lock:
            return len(self._readers)

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        # No memory map and a small page cache: an export reads the whole table once, and mapped
        # pages would count against the server's memory while gaining nothing on a single pass.
        raw = self._connect(cache_kib=16384)
        try:
            raw.execute("PRAGMA mmap_size=0")
            raw.execute("BEGIN")
            raw.execute("SELECT count(*) FROM sqlite_master")  # the first read fixes the snapshot
            yield SQLiteConnection(raw)
        finally:
            raw.close()  # ends the read transaction

    def _unavailable(self, exc: Exception) -> Unavailable | None:
        if isinstance(exc, sqlite3.OperationalError):
            return Unavailable(f"The database is busy or unavailable: {exc}")
        return None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock:
            raw = self._writer
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield SQLiteConnection(raw)
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")

    def close(self) -> None:
        with self._write_lock, self._lock:
            for raw in [*self._readers, self._writer]:
                raw.close()
            self._readers.clear()
            self._idle.clear()

    def analyze(self) -> None:
        # Sampling a few hundred rows per index takes milliseconds even at millions of calls,
        # and is enough for the planner to tell a selective index from an unselective one.
        with self.write() as conn:
            conn.execute("PRAGMA analysis_limit=400")
            conn.execute("ANALYZE")

    def prepare_to_serve(self) -> None:
        # SQLite keeps no statistics on its own (PostgreSQL's autovacuum does): sampled, cheap.
        self.analyze()


class PostgresDatabase(Database):
    """PostgreSQL through a psycopg connection pool."""

    dialect = "postgresql"
    #: autovacuum may be off (as on this project's test machines) or not have run yet after a bulk load,
    #: and a table never analyzed gets plans from default estimates: a generic plan then read
    #: every row of an app to find a batch's calls (docs/storage.md). So the writer refreshes the
    #: statistics itself after the first 20,000 new events, then after 40,000 more, 80,000 more...:
    #: soon after a fresh start, and a handful of times (2.8 s each at 100,000 demo calls) as the
    #: data grows by orders of magnitude.
    ANALYZE_EVERY = 20_000
    ANALYZE_GROWTH = 2

    def __init__(self, url: str, *, max_connections: int = 16):
        import psycopg
        from psycopg_pool import ConnectionPool

        from calltrail.store.postgres_here import DeadlineConnection

        super().__init__()
        self.url = url
        try:
            # One direct attempt first: a clear error at once, instead of the pool's retries.
            psycopg.connect(url, connect_timeout=5).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise Unavailable(f"cannot connect to PostgreSQL at {_redact(url)}: {reason}") from None
        self._pool = ConnectionPool(
            url,
            connection_class=DeadlineConnection,
            min_size=1,
            max_size=max_connections,
            open=False,
            timeout=30,
            configure=_serving_settings,
        )
        self._column_types = ColumnTypes()
        try:
            self._pool.open(wait=True, timeout=10)
        except Exception as exc:
            self._pool.close()
            raise Unavailable(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}") from exc

    @contextmanager
    def reading_here(self) -> Iterator[None]:
        self._local.here = True
        try:
            yield
        finally:
            self._local.here = False

    @contextmanager
    def _borrowed(self) -> Iterator[Any]:
        """A pooled connection, given back at the end; a lost server is :class:`Unavailable`.
        Inside :meth:`reading_here`, one free at once, its statements bounded, or :class:`WouldWait`."""
        import psycopg
        from psycopg_pool import PoolTimeout

        here = getattr(self._local, "here", False)
        try:
            # The pool refuses a timeout of 0 outright, even with a connection free: wait 2 ms at most.
            with self._pool.connection(timeout=0.002 if here else None) as raw:
                raw.deadline = time.monotonic() + self.HERE_SECONDS if here else None
                try:
                    yield raw
                finally:
                    raw.deadline = None
        except PoolTimeout:
            if here:
                raise WouldWait("no pooled connection is free") from None
            raise
        except psycopg.OperationalError as exc:
            raise Unavailable(f"PostgreSQL is unavailable: {exc}") from exc

    @contextmanager
    def _transaction(self, read_only: bool) -> Iterator[Connection]:
        import psycopg

        if not read_only and getattr(self._local, "here", False):
            # Never on the loop: past a deadline a COMMIT's outcome is unknown, and running the
            # function again could write twice.
            raise WouldWait("a write runs on a worker thread")
        with self._borrowed() as raw:
            raw.read_only = read_only
            # Reads run at REPEATABLE READ so a page and its total come from one snapshot.
            raw.isolation_level = (
                psycopg.IsolationLevel.REPEATABLE_READ if read_only else psycopg.IsolationLevel.READ_COMMITTED
            )
            with raw.transaction():
                yield PostgresConnection(raw, self._column_types)

    def _read(self) -> AbstractContextManager[Connection]:
        return self._transaction(read_only=True)

    @contextmanager
    def _read_each(self) -> Iterator[Connection]:
        import psycopg

        with self._borrowed() as raw:
            # Each statement its own transaction: two round trips fewer than BEGIN ... COMMIT
            # (0.06 ms of a 1.5 ms Bird page here). Restored before the pool lends it again.
            raw.autocommit = True
            try:
                yield PostgresConnection(raw, self._column_types)
            finally:
                if raw.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                    raw.autocommit = False
                else:
                    raw.close()  # broken or mid-statement: the pool replaces it, never lends it so

    def _write(self) -> AbstractContextManager[Connection]:
        return self._transaction(read_only=False)

    def _snapshot(self) -> AbstractContextManager[Connection]:
        return self._transaction(read_only=True)  # REPEATABLE READ: one snapshot

    def _unavailable(self, exc: Exception) -> Unavailable | None:
        import psycopg
        from psycopg_pool import PoolTimeout

        if isinstance(exc, psycopg.OperationalError | PoolTimeout):
            return Unavailable("The database is unavailable.")
        return None

    def close(self) -> None:
        self._pool.close()

    def analyze(self) -> None:
        # After a bulk load, and as the writer counts new events (ANALYZE_EVERY). The tables of
        # this schema only: a database may hold others' (a plain ANALYZE samples them all).
        with self.write() as conn:
            tables = conn.fetchall(
                "SELECT quote_ident(relname) FROM pg_class WHERE relkind = 'r' "
                "AND relnamespace = to_regnamespace(current_schema())::oid ORDER BY relname"
            )
            if tables:
                conn.execute(f"ANALYZE {', '.join(name for (name,) in tables)}")

    def vacuum(self, tables: Sequence[str]) -> None:
        # Without autovacuum (it may be off) a queue's deleted rows stay, and every scan of its
        # index reads them again: the marks' earliest slot was read through 99 MB of dead entries
        # after a 1M-call demo. VACUUM refuses to run in a transaction: a statement of its own.
        # SKIP_LOCKED: a table another server is vacuuming is skipped, not waited for.
        with self._guarded(), self._read_each() as conn:
            conn.execute(f"VACUUM (SKIP_LOCKED) {', '.join(tables)}")

    def prepare_to_serve(self) -> None:
        # autovacuum keeps the statistics where it runs; a table that was never analyzed (it is
        # off, or has not run yet: data loaded by an older version, say) is analyzed once here.
        with self.read() as conn:
            never = conn.fetchone(
                "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND last_analyze IS NULL AND last_autoanalyze IS NULL"
            )
        if never is not None and int(never[0]):
            self.analyze()


def _serving_settings(raw: Any) -> None:
    """Session settings of every pooled PostgreSQL connection.

    No parallel workers: every query here reads an index range for one app, and a Gather's
    worker start-up (tens of ms on a busy machine) dwarfs such a read; the planner picks them
    from row estimates even for a 30-row page (a user-view page 20 at 1M calls: 137 ms with, 5 ms
    without)."""
    from psycopg.types.array import ListBinaryDumper

    raw.execute("SET max_parallel_workers_per_gather = 0")
    raw.commit()
    # Lists (the arrays of insert_rows, any_of and lock_keys) in binary: psycopg's text format
    # quotes and escapes every element in Python (a byte string twice, as hex and then for the
    # array), which took a fifth of `calltrail demo`'s time into PostgreSQL; binary is a length
    # and the bytes. Both refuse a list of mixed types alike.
    raw.adapters.register_dumper(list, ListBinaryDumper)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def open_database(url: str) -> Database:
    """Open ``sqlite:///path`` or ``postgresql://...``; raises ValueError for other schemes."""
    if url.startswith("sqlite:///"):
        return SQLiteDatabase(url)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://...")
