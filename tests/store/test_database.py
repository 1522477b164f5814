"""Settings the database module gives every connection it hands out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from calltrail.store.database import (
    Connection,
    SQLiteConnection,
    SQLiteDatabase,
    key_hash,
    key_hash_sql,
    open_database,
)

Fetch = Callable[[str, Sequence[Any], str], list[bytes]]


def test_postgresql_connections_plan_without_parallel_workers(pg_database: Callable[[], str]) -> None:
    """A Gather's worker start-up would dwarf the short index reads every query here makes."""
    db = open_database(pg_database())
    try:
        for _ in range(3):  # whichever pooled connection answers
            with db.read() as conn:
                assert conn.fetchone("SHOW max_parallel_workers_per_gather") == ("0",)
            with db.write() as conn:
                assert conn.fetchone("SHOW max_parallel_workers_per_gather") == ("0",)
    finally:
        db.close()


def test_postgresql_reads_without_a_snapshot_leave_no_connection_in_autocommit(pg_database: Callable[[], str]) -> None:
    """``read(snapshot=False)`` runs each statement in its own transaction; the connection goes
    back to the pool transactional, even after a failed statement, so a later write still
    commits or rolls back as a whole."""
    from calltrail.store.database import PostgresDatabase

    db = PostgresDatabase(pg_database(), max_connections=1)  # every transaction gets that one
    try:
        with db.write() as conn:
            conn.execute("CREATE TABLE kept (k INTEGER NOT NULL)")
        with db.read(snapshot=False) as conn:
            # No transaction around the statements: each is a transaction of its own.
            first, second = (conn.fetchone("SELECT txid_current()") for _ in range(2))
            assert first != second
            assert conn.fetchone("SELECT count(*) FROM kept") == (0,)
        with pytest.raises(Exception, match="no_such_table"), db.read(snapshot=False) as conn:
            conn.execute("SELECT * FROM no_such_table")
        with pytest.raises(RuntimeError), db.write() as conn:
            conn.execute("INSERT INTO kept (k) VALUES (1)")
            assert conn.fetchone("SELECT txid_current()") == conn.fetchone("SELECT txid_current()")
            raise RuntimeError("rolled back")
        with db.read() as conn:
            assert conn.fetchone("SELECT count(*) FROM kept") == (0,)
    finally:
        db.close()


def test_postgresql_reads_on_the_event_loop_never_wait_long(
    pg_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside ``reading_here`` a read borrows only a connection free at once, and its statements
    share a deadline; either way it raises ``WouldWait`` soon, and the pool lends sound
    connections afterwards (the one cut off mid-statement is never lent again)."""
    from calltrail.store.database import PostgresDatabase, WouldWait

    monkeypatch.setattr(PostgresDatabase, "HERE_SECONDS", 0.05)
    db = PostgresDatabase(pg_database(), max_connections=1)
    try:
        with db.reading_here():
            with db.read() as conn:
                assert conn.fetchone("SELECT 1") == (1,)
            with db.read(snapshot=False) as conn:
                assert conn.fetchone("SELECT 2") == (2,)
        for snapshot in (True, False):
            started = time.monotonic()
            with pytest.raises(WouldWait), db.reading_here(), db.read(snapshot=snapshot) as conn:
                conn.fetchone("SELECT 1")
                conn.fetchone("SELECT pg_sleep(2)")  # the deadline is shared: the first took some
            assert time.monotonic() - started < 1
            for _ in range(3):  # the pool replaced the connection cut off; no deadline outside
                with db.read() as conn:
                    assert conn.fetchone("SELECT 3 FROM pg_sleep(0.1)") == (3,)
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with db.read():
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait(10)
        started = time.monotonic()
        with pytest.raises(WouldWait), db.reading_here(), db.read():
            pass
        assert time.monotonic() - started < 1
        release.set()
        holder.join()
        with db.reading_here(), db.read() as conn:
            assert conn.fetchone("SELECT 4") == (4,)
        with pytest.raises(WouldWait), db.reading_here(), db.write():  # a write: a worker thread's
            pass
    finally:
        db.close()


def _documents_in_order(url: str, fetch: Callable[[Connection], Fetch]) -> None:
    """``fetch(conn)`` gives the first column of every row, in the query's order (SQLite's joined
    read takes the page in one step of an aggregate: the subquery's order must survive it)."""
    db = open_database(url)
    try:
        with db.write() as conn:
            blob = "BYTEA" if conn.dialect == "postgresql" else "BLOB"
            conn.execute(f"CREATE TABLE docs (app_id TEXT NOT NULL, k INTEGER NOT NULL, body {blob} NOT NULL)")
            bodies = {k: orjson.dumps({"k": k, "text": f'a, "b" ,é\x00 {k % 7}', "list": [k, -k]}) for k in range(600)}
            conn.executemany(
                "INSERT INTO docs (app_id, k, body) VALUES (?, ?, ?)", [("a", k, b) for k, b in bodies.items()]
            )
        with db.read() as conn:
            for descending, limit, offset in ((True, 100, 0), (False, 100, 250), (True, 37, 563), (True, 1000, 0)):
                order = "DESC" if descending else "ASC"
                sql = f"SELECT body FROM docs WHERE app_id = ? ORDER BY k {order} LIMIT ? OFFSET ?"
                keys = sorted(bodies, reverse=descending)[offset : offset + limit]
                assert fetch(conn)(sql, ("a", limit, offset), "body") == [bodies[k] for k in keys]
            assert fetch(conn)("SELECT body FROM docs WHERE app_id = ? LIMIT 5", ("none",), "body") == []
    finally:
        db.close()


def test_documents_come_in_the_query_order_on_sqlite(tmp_path: Path) -> None:
    _documents_in_order(f"sqlite:///{tmp_path / 'docs.db'}", lambda conn: conn.fetch_documents)

    def joined(conn: Connection) -> Fetch:
        assert isinstance(conn, SQLiteConnection)
        return conn.joined_documents

    _documents_in_order(f"sqlite:///{tmp_path / 'joined.db'}", joined)


def test_documents_come_in_the_query_order_on_postgresql(pg_database: Callable[[], str]) -> None:
    _documents_in_order(pg_database(), lambda conn: conn.fetch_documents)


def test_sqlite_joins_a_page_in_one_step_only_while_other_reads_run(tmp_path: Path) -> None:
    """Alone, stepping through the rows is cheaper; beside other reads, one step for the page."""
    db = open_database(f"sqlite:///{tmp_path / 'steps.db'}")
    steps: list[str] = []
    try:
        with db.write() as conn:
            conn.execute("CREATE TABLE docs (app_id TEXT NOT NULL, body BLOB NOT NULL)")
            conn.executemany("INSERT INTO docs VALUES (?, ?)", [("a", b'{"k": %d}' % k) for k in range(5)])
        sql, expected = "SELECT body FROM docs WHERE app_id = ? ORDER BY body", [b'{"k": %d}' % k for k in range(5)]
        other_started, other_may_end = threading.Event(), threading.Event()

        def other_read() -> None:
            with db.read():
                other_started.set()
                other_may_end.wait(10)

        for beside_another in (False, True):
            other_may_end.clear()
            other = threading.Thread(target=other_read)
            if beside_another:
                other.start()
                assert other_started.wait(10)
            with db.read() as conn:
                assert isinstance(conn, SQLiteConnection)
                conn.raw.set_trace_callback(steps.append)
                assert conn.fetch_documents(sql, ("a",), "body") == expected
                conn.raw.set_trace_callback(None)
            other_may_end.set()
            if beside_another:
                other.join(10)
        joined = [statement for statement in steps if "group_concat" in statement]
        assert len(steps) == 2 and len(joined) == 1 and steps[1] is joined[0]
    finally:
        db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_key_hash_is_the_same_in_python_and_in_sql(backend: str, database_url: Callable[[str], str]) -> None:
    """The migration fills ``session_hash`` in SQL; the writers and readers compute it in Python."""
    keys = ["", "a", "v1.us.31780434a95d45.16923681138d75114d60d1345a22e4cc612263fb26c0b5cf92", "é-ü 😀", "x" * 300]
    db = open_database(database_url(backend))
    try:
        with db.read() as conn:
            hashed = [conn.fetchone(f"SELECT {key_hash_sql(db.dialect, 'CAST(? AS TEXT)')}", (key,)) for key in keys]
    finally:
        db.close()
    assert hashed == [(key_hash(key),) for key in keys]
    assert len({key_hash(key) for key in keys}) == len(keys)
    assert min(map(key_hash, keys)) < 0 < max(map(key_hash, keys))  # signed, as both engines store it


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_rows_of_every_column_type_are_inserted_as_they_are(backend: str, database_url: Callable[[str], str]) -> None:
    """``insert_rows``: PostgreSQL's binary COPY (no tail) and arrays per column (more rows than one
    statement carries, NULLs, bytes, floats, text that an array's or COPY's text form would quote or
    escape, a column added after the first insert) and SQLite's VALUES lists agree, an ``ON
    CONFLICT`` tail applies to every row, and ``any_of`` finds every such key."""
    db = open_database(database_url(backend))
    blob = "BLOB" if backend == "sqlite" else "BYTEA"
    columns = ("k", "s", "n", "small", "f", "b")
    awkward = ['a"b', "back\\slash", "{braces}", "com,ma", "NULL", "", " pad ", "tab\tnew\nline", "é-ü 😀"]
    rows = [(f"k{i}", None if i % 7 == 0 else awkward[i % 9] + str(i), i * 10**12, i % 3, i / 8,
             (b"\\\x00{,}" + bytes([i % 256])) * (i % 5)) for i in range(12_001)]  # fmt: skip
    try:
        with db.write() as conn:
            conn.execute(f"CREATE TABLE typed (k TEXT PRIMARY KEY, s TEXT, n BIGINT NOT NULL, small SMALLINT NOT NULL, "
                         f"f DOUBLE PRECISION NOT NULL, b {blob} NOT NULL)")  # fmt: skip
            conn.insert_rows("typed", columns, rows)
            conn.execute("ALTER TABLE typed ADD COLUMN later BIGINT")
            upsert = "ON CONFLICT (k) DO UPDATE SET n = excluded.n, later = excluded.later"
            for later in (5, 6):  # twice in one transaction: staged on PostgreSQL, each time afresh
                changed = [(k, s, n + later, small, f, b, later) for k, s, n, small, f, b in rows[::5]]
                conn.insert_rows("typed", (*columns, "later"), changed, upsert)
        with db.read() as conn:
            stored = conn.fetchall(f"SELECT {', '.join(columns)}, later FROM typed")
            wanted = [row[1] for row in rows[:50] if row[1] is not None]
            among, values = conn.any_of("s", wanted)
            found = conn.fetchall(f"SELECT s FROM typed WHERE {among}", values)
    finally:
        db.close()
    expected = {row[0]: (*row, None) for row in rows} | {row[0]: row for row in changed}
    assert sorted((*row[:5], bytes(row[5]), row[6]) for row in stored) == sorted(expected.values())
    assert sorted(value for (value,) in found) == sorted(wanted)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("count", [10, 3000])
def test_insert_new_returns_the_rows_it_inserted(backend: str, count: int, database_url: Callable[[str], str]) -> None:
    """``insert_new``: rows whose key was stored before, or that repeat a key within the list, are
    not inserted and not returned; a repeated key keeps its first row. 3,000 rows go through
    PostgreSQL's temporary table (``STAGE_ROWS``), 10 through its arrays, twice in one transaction."""
    db = open_database(database_url(backend))
    rows = [("app", f"e{i}", f"s{i % 7}", i, f'{{"n": {i}, "q": "\\"}}'.encode()) for i in range(count)]
    columns = ("app_id", "event_id", "session_id", "at_ms", "body")
    blob = "BLOB" if backend == "sqlite" else "BYTEA"
    try:
        with db.write() as conn:
            conn.execute(
                "CREATE TABLE fresh_rows (app_id TEXT NOT NULL, event_id TEXT NOT NULL, session_id TEXT NOT NULL, "
                f"at_ms BIGINT NOT NULL, body {blob} NOT NULL, PRIMARY KEY (app_id, event_id))"
            )
            first = conn.insert_new("fresh_rows", columns, rows[::2])
            later = [(app, key, "other", at, body) for app, key, _, at, body in rows]
            second = conn.insert_new("fresh_rows", columns, later + later[:5])
        with db.read() as conn:
            stored = {key: (session, at, bytes(body)) for key, session, at, body in
                      conn.fetchall("SELECT event_id, session_id, at_ms, body FROM fresh_rows")}  # fmt: skip
    finally:
        db.close()
    assert sorted(tuple(row) for row in first) == sorted(rows[::2])
    assert sorted(tuple(row) for row in second) == sorted(later[1::2])
    assert stored == {key: (session, at, body) for _, key, session, at, body in [*rows[::2], *later[1::2]]}


def test_the_sqlite_writer_checkpoints_every_wal_autocheckpoint_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits past the interval copy the WAL into the file, so the WAL stays near that size (the
    interval is lowered to 40 pages here; SQLite's own default, 1,000, would let it grow to 150)."""
    monkeypatch.setattr(SQLiteDatabase, "WAL_AUTOCHECKPOINT", 40)
    db = open_database(f"sqlite:///{tmp_path}/wal.db")
    try:
        with db.write() as conn:
            conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
        for _ in range(30):  # 30 commits of 5 pages or so each
            with db.write() as conn:
                conn.executemany("INSERT INTO t (v) VALUES (?)", [(bytes(3000),) for _ in range(6)])
        with db.read() as conn:
            assert conn.fetchone("SELECT count(*) FROM t") == (180,)
        # The WAL's frames (a 32-byte header, then 24 bytes and a page each) at the last commit.
        assert (tmp_path / "wal.db-wal").stat().st_size < 80 * (4096 + 24)
    finally:
        db.close()  # which checkpoints and removes the WAL


def test_statistics_are_refreshed_after_each_doubling_of_the_rows_written(
    pg_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's writer refreshes the planner's statistics after its first ``ANALYZE_EVERY``
    new rows, then after twice as many more, and so on (autovacuum may be off); SQLite's after
    every ``ANALYZE_EVERY``. Each refresh samples only this schema's tables."""
    url = pg_database()
    postgres, sqlite = open_database(url), SQLiteDatabase("sqlite:///:memory:")
    try:
        refreshed: list[str] = []
        for db in (postgres, sqlite):
            monkeypatch.setattr(db, "analyze", lambda db=db: refreshed.append(db.dialect))
        first = postgres.ANALYZE_EVERY
        for rows in (first - 1, 1, 2 * first - 1, 1, 4 * first):
            postgres.note_written(rows)
        assert refreshed == ["postgresql"] * 3
        for _ in range(3):
            sqlite.note_written(SQLiteDatabase.ANALYZE_EVERY)
        assert refreshed[3:] == ["sqlite"] * 3
        monkeypatch.undo()
        other = f"{url.rsplit('%3D', 1)[1]}_other"  # another schema of the same database
        try:
            with postgres.write() as conn:
                conn.execute("CREATE TABLE planned (n INTEGER)")
                conn.execute("INSERT INTO planned SELECT generate_series(1, 100)")
                conn.execute(f"CREATE SCHEMA {other}")
                conn.execute(f"CREATE TABLE {other}.unplanned AS SELECT generate_series(1, 100) AS n")
            postgres.analyze()
            with postgres.read() as conn:
                counted = conn.fetchone(
                    "SELECT count(*) FILTER (WHERE last_analyze IS NOT NULL), count(*) FROM pg_stat_user_tables "
                    "WHERE schemaname = current_schema()"
                )
                elsewhere = conn.fetchone(
                    "SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = ? AND relname = 'unplanned'",
                    (other,),
                )
            assert counted is not None and counted[0] == counted[1] > 0
            assert elsewhere == (None,)
        finally:
            with postgres.write() as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {other} CASCADE")
    finally:
        postgres.close()
        sqlite.close()


def test_postgresql_analyzes_tables_never_analyzed_before_serving(
    pg_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server started on tables autovacuum never analyzed (it may be off) analyzes them once;
    where every table has statistics, starting costs no ANALYZE."""
    db = open_database(pg_database())
    try:
        with db.write() as conn:
            conn.execute("CREATE TABLE served (n INTEGER)")
            conn.execute("INSERT INTO served SELECT generate_series(1, 100)")
        real = db.analyze
        analyzed: list[bool] = []

        def counted() -> None:
            analyzed.append(True)
            real()

        monkeypatch.setattr(db, "analyze", counted)
        db.prepare_to_serve()
        db.prepare_to_serve()
        assert analyzed == [True]
        with db.read() as conn:
            assert conn.fetchone(
                "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname = 'served'"
            ) == (True,)
    finally:
        db.close()
