"""PostgreSQL through a psycopg connection pool (psycopg loads on demand: only with PostgreSQL
in use)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar
from urllib.parse import urlsplit

from calltrail.kernel.errors import Unavailable
from calltrail.store.database.base import Connection, Database, Documents, Row, WouldWait
from calltrail.store.database.sql import MAX_KEY_LOCKS

#: The two-key advisory lock space of the per-tenant bulk locks: (this constant, hash of the app
#: id); distinct from the one-bigint space the per-key locks use.
_BULK_LOCK = (7_415_220,)


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
    ) -> tuple[Row, Documents]:
        # One round trip: the page as an array beside the counts. ARRAY(subquery) keeps the
        # subquery's ORDER BY; ``sql`` selects the one column.
        row = self.fetchone(
            f"SELECT ARRAY({sql}) AS documents, counted.* FROM ({count_sql}) AS counted", (*params, *count_params)
        )
        assert row is not None, "a count statement returns one row"
        return tuple(row[1:]), Documents.of(row[0])

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

        from calltrail.store.database.postgres_here import DeadlineConnection

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
