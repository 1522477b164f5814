"""The embedded engine: SQLite in WAL mode, one writer connection behind a lock and a bounded
pool of readers; its online backup."""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from calltrail.kernel.errors import Unavailable
from calltrail.store.database.base import Connection, Database, Documents
from calltrail.store.database.sql import key_hash, matching_keys, placeholders


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
        # docs/storage.md give the runs side by side). Alone, the rows are cheaper than joining
        # them around a NUL and splitting them again (which costs about 80 us more for 100 calls).
        if not self._others_reading():
            return super().fetch_documents(sql, params, column)
        joined = self._joined(sql, params, column, "char(0)")
        return joined[1].split(b"\x00") if joined[0] else []

    def fetch_joined(self, sql: str, params: Sequence[Any], column: str) -> Documents:
        # One step, and one bytes object for the page rather than one per row, joined once: a
        # 100-call list page of the 1M-call demo took 171-180 us in process against 196-210 us
        # stepping through the rows and joining them in Python (docs/storage.md).
        return Documents(*self._joined(sql, params, column, "','"))

    def _joined(self, sql: str, params: Sequence[Any], column: str, separator: str) -> tuple[int, bytes]:
        """The rows of ``sql`` (its one ``column``) and their documents joined around ``separator``
        (SQL), in one step. The subquery keeps its ORDER BY and LIMIT, so it is not flattened into
        the aggregate and feeds it rows in its order. JSON text never holds a NUL."""
        joined_sql = f"SELECT count(*), CAST(group_concat({column}, {separator}) AS BLOB) FROM ({sql})"
        count, joined = self.fetchone(joined_sql, params) or (0, None)
        return int(count), joined or b""

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
        # commit, which WAL exists to avoid (tests/store/database/test_sqlite.py).
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
