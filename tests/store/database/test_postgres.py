"""PostgreSQL through a pool: connections bounded by it, the settings each is given, reads without
a snapshot, reads on the event loop that never wait long, tables analyzed before serving, and a
bulk lock that holds up its own app's writers only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from calltrail.store.database import MAX_KEY_LOCKS, Database, PostgresDatabase, WouldWait, open_database
from tests.store.database.reads import _documents_in_order, _waves


def test_postgresql_connections_are_bounded_by_the_pool(pg_database: Callable[[], str]) -> None:
    db = open_database(pg_database())
    assert isinstance(db, PostgresDatabase)
    try:

        def read() -> object:
            with db.read() as conn:
                return conn.fetchone("SELECT 1")

        _waves(read, waves=3)
        assert db._pool.get_stats()["pool_size"] <= 16
    finally:
        db.close()


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


def test_documents_come_in_the_query_order_on_postgresql(pg_database: Callable[[], str]) -> None:
    _documents_in_order(pg_database(), lambda conn: conn.fetch_documents)


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


def test_a_bulk_writer_holds_up_its_own_app_only(pg_database: Callable[[], str]) -> None:
    """The bulk lock is per app: a long import into one app never blocks another app's writes
    (on SQLite every writer of the file is serialised anyway, so this is PostgreSQL's test)."""
    db = open_database(pg_database())
    try:
        inside, release = threading.Event(), threading.Event()

        def bulk() -> None:
            with db.write() as conn:
                conn.lock_keys(f"app-a/session/{index}" for index in range(MAX_KEY_LOCKS * 4))
                inside.set()
                release.wait(10)

        thread = threading.Thread(target=bulk)
        thread.start()
        try:
            assert inside.wait(10)
            other = threading.Thread(target=lambda: _lock(db, ["app-b/session/1"]))
            other.start()
            other.join(5)
            assert not other.is_alive(), "another app's writer must not wait for this app's import"
            same = threading.Thread(target=lambda: _lock(db, ["app-a/session/1"]))
            same.start()
            same.join(0.5)
            assert same.is_alive(), "a writer of the same app waits for the import"
        finally:
            release.set()
            thread.join(10)
        same.join(10)
        assert not same.is_alive()
    finally:
        db.close()


def _lock(db: Database, keys: list[str]) -> None:
    with db.write() as conn:
        conn.lock_keys(keys)
