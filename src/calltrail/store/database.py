"""Connections to the embedded SQLite database or to PostgreSQL, behind one small interface.

SQL is written once, with ``?`` placeholders and syntax both engines accept (``ON CONFLICT``,
``RETURNING``, row values); :class:`Connection` translates placeholders for psycopg. The few
real differences (bulk insert-if-absent, per-key write locks) are methods of the connection.

Durability: SQLite runs in WAL mode with ``synchronous=FULL`` and PostgreSQL with its default
``synchronous_commit=on``, and :meth:`Database.write` returns only after COMMIT, so anything
acknowledged after a write survives ``kill -9`` of the server (and, storage permitting, power loss).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from calltrail.kernel.errors import Unavailable

Row = tuple[Any, ...]
#: SQLite's default cap is 32766 bound variables; IN lists are chunked well below it.
CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Split a sequence into slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(count: int) -> str:
    """``?, ?, ?`` for an IN list of ``count`` values."""
    return ", ".join("?" * count)


def matching_keys(conn: Connection, sql: str, tenant: str, keys: Sequence[Any]) -> set[Any]:
    """The first column of ``sql`` run over ``keys`` in chunks.

    ``sql`` takes the tenant as its one ``?`` and has ``{keys}`` where the ``IN`` list goes:
    ``"SELECT id FROM t WHERE app_id = ? AND id IN ({keys})"``.
    """
    found: set[Any] = set()
    for part in chunks(keys):
        found.update(row[0] for row in conn.fetchall(sql.format(keys=placeholders(len(part))), (tenant, *part)))
    return found


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

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """Insert rows whose ``(columns[0], columns[1])`` key is absent; return those inserted.

        The first two columns must be the table's primary key (tenant, id), and every row must
        belong to the same tenant. Rows repeating a key within ``rows`` count once.
        """
        raise NotImplementedError

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Serialise writers that touch the same keys until this transaction ends."""
        raise NotImplementedError


class SQLiteConnection(Connection):
    dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection):
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.raw.executemany(sql, rows)

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        if not rows:
            return []
        tenant_col, key_col = columns[0], columns[1]
        unique = list({row[1]: row for row in reversed(rows)}.values())[::-1]
        sql = f"SELECT {key_col} FROM {table} WHERE {tenant_col} = ? AND {key_col} IN ({{keys}})"
        existing = matching_keys(self, sql, unique[0][0], [row[1] for row in unique])
        new = [row for row in unique if row[1] not in existing]
        # The writer holds SQLite's write lock (BEGIN IMMEDIATE), so nothing can slip in between.
        self.raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(len(columns))})", new)
        return new

    def lock_keys(self, keys: Iterable[str]) -> None:
        return None  # BEGIN IMMEDIATE already serialises every writer of the file.


class PostgresConnection(Connection):
    dialect = "postgresql"
    _cache: ClassVar[dict[str, str]] = {}

    def __init__(self, raw: Any):
        self.raw = raw

    @classmethod
    def _sql(cls, sql: str) -> str:
        translated = cls._cache.get(sql)
        if translated is None:
            translated = cls._cache[sql] = sql.replace("%", "%%").replace("?", "%s")
        return translated

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        if not rows:
            return []
        unique = list({row[1]: row for row in reversed(rows)}.values())[::-1]
        by_key = {row[1]: row for row in unique}
        inserted: list[Sequence[Any]] = []
        with self.raw.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                f"ON CONFLICT DO NOTHING RETURNING {columns[1]}",
                unique,
                returning=True,
            )
            while True:
                row = cursor.fetchone()
                if row is not None:
                    inserted.append(by_key[row[0]])
                if not cursor.nextset():
                    break
        return inserted

    def lock_keys(self, keys: Iterable[str]) -> None:
        ordered = sorted(set(keys))
        if ordered:
            # Advisory locks taken in one global order (by hash) cannot deadlock each other.
            self.raw.execute(
                "SELECT pg_advisory_xact_lock(h) FROM "
                "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(%s::text[]) AS k ORDER BY 1) AS s",
                (ordered,),
            )


class Database:
    """A connection factory for one database URL. Thread-safe; share one per process."""

    dialect: str
    url: str

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: every query inside sees one consistent snapshot."""
        raise NotImplementedError
        yield

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed (durably) when the block exits without error."""
        raise NotImplementedError
        yield

    def close(self) -> None:
        raise NotImplementedError

    def analyze(self) -> None:
        """Refresh the query planner's statistics (cheap: sampled)."""
        raise NotImplementedError


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///path`` URL (three slashes: relative, four: absolute)."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a sqlite:/// URL: {url!r}")
    path = url[len("sqlite:///") :]
    if not path:
        raise ValueError("the sqlite URL has no file path: use sqlite:///calltrail.db")
    return path


class SQLiteDatabase(Database):
    """The embedded database: one writer connection behind a lock, one reader per thread."""

    dialect = "sqlite"

    def __init__(self, url: str):
        self.url = url
        self.path = sqlite_path(url)
        parent = Path(self.path).parent
        if not parent.exists():
            raise Unavailable(f"directory {parent} does not exist (database {self.path})")
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # The writer gets a larger page cache (an upper bound, grown only as used): index inserts
        # at scattered keys are its main cost once the indexes outgrow the cache.
        self._writer = self._connect(cache_kib=1048576)

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
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        return raw

    def _reader(self) -> sqlite3.Connection:
        raw: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if raw is None:
            raw = self._local.conn = self._connect()
            with self._lock:
                self._readers.append(raw)
        return raw

    @contextmanager
    def read(self) -> Iterator[Connection]:
        raw = self._reader()
        raw.execute("BEGIN")
        try:
            yield SQLiteConnection(raw)
        finally:
            raw.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._lock:
            raw = self._writer
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield SQLiteConnection(raw)
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for raw in [*self._readers, self._writer]:
                raw.close()
            self._readers.clear()

    def analyze(self) -> None:
        # Sampling a few hundred rows per index takes milliseconds even at millions of calls,
        # and is enough for the planner to tell a selective index from an unselective one.
        with self.write() as conn:
            conn.execute("PRAGMA analysis_limit=400")
            conn.execute("ANALYZE")


class PostgresDatabase(Database):
    """PostgreSQL through a psycopg connection pool."""

    dialect = "postgresql"

    def __init__(self, url: str, *, max_connections: int = 16):
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        try:
            # One direct attempt first: a clear error at once, instead of the pool's retries.
            psycopg.connect(url, connect_timeout=5).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise Unavailable(f"cannot connect to PostgreSQL at {_redact(url)}: {reason}") from None
        self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=False, timeout=30)
        try:
            self._pool.open(wait=True, timeout=10)
        except Exception as exc:
            self._pool.close()
            raise Unavailable(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}") from exc

    @contextmanager
    def _transaction(self, read_only: bool) -> Iterator[Connection]:
        import psycopg

        try:
            with self._pool.connection() as raw:
                raw.read_only = read_only
                # Reads run at REPEATABLE READ so a page and its total come from one snapshot.
                raw.isolation_level = (
                    psycopg.IsolationLevel.REPEATABLE_READ if read_only else psycopg.IsolationLevel.READ_COMMITTED
                )
                with raw.transaction():
                    yield PostgresConnection(raw)
        except psycopg.OperationalError as exc:
            raise Unavailable(f"PostgreSQL is unavailable: {exc}") from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._transaction(read_only=True) as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._transaction(read_only=False) as conn:
            yield conn

    def close(self) -> None:
        self._pool.close()

    def analyze(self) -> None:
        # autovacuum analyzes on its own schedule; this is for right after a bulk load.
        with self.write() as conn:
            conn.execute("ANALYZE")


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
