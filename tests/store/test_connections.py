"""The database keeps a bounded set of connections whatever the traffic: threads come and go
(a worker pool retires idle threads), yet connections are reused, never one per thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from calltrail.store.database import PostgresDatabase, SQLiteDatabase, open_database


def _waves(read: Callable[[], object], waves: int = 10, threads: int = 24) -> None:
    """Bursts of reads, each on brand-new threads (as after the pool's idle threads retire)."""
    for _ in range(waves):
        barrier = threading.Barrier(threads)

        def work(barrier: threading.Barrier = barrier) -> None:
            barrier.wait(10)
            for _ in range(5):
                read()

        started = [threading.Thread(target=work) for _ in range(threads)]
        for thread in started:
            thread.start()
        for thread in started:
            thread.join(30)


def test_sqlite_readers_are_pooled_and_bounded(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'pool.db'}")
    assert isinstance(db, SQLiteDatabase)
    try:

        def read() -> object:
            with db.read() as conn:
                return conn.fetchone("SELECT 1")

        db._clock = lambda: 0.0  # no reader is ever idle long enough to be closed here
        opened: list[object] = []
        connect = db._connect
        db._connect = lambda **kwargs: opened.append(kwargs) or connect(**kwargs)  # type: ignore[method-assign,func-returns-value]
        _waves(read)
        _waves(read, waves=3)
        # 312 threads made 1,560 reads; at most MAX_READERS connections were ever opened, each
        # kept and reused (how many depends on how many reads overlapped, not on the threads).
        assert 1 <= len(opened) == db.reader_count() <= SQLiteDatabase.MAX_READERS
    finally:
        db.close()


def test_nested_reads_share_one_connection_and_snapshot(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'nest.db'}")
    assert isinstance(db, SQLiteDatabase)
    try:
        with db.read() as outer, db.read() as inner:
            assert inner is outer
        assert db.reader_count() == 1
    finally:
        db.close()


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


def test_sqlite_readers_idle_too_long_are_closed_at_the_next_read(tmp_path: Path) -> None:
    """After a burst, the readers it opened (and their page caches) do not outlive an idle gap."""
    db = open_database(f"sqlite:///{tmp_path / 'idle.db'}")
    assert isinstance(db, SQLiteDatabase)
    now = [1000.0]
    db._clock = lambda: now[0]
    try:

        def read() -> object:
            with db.read() as conn:
                return conn.fetchone("SELECT 1")

        together = threading.Barrier(4)

        def overlapping_read() -> None:
            with db.read():
                together.wait(10)  # four reads open at once: four readers

        burst = [threading.Thread(target=overlapping_read) for _ in range(4)]
        for thread in burst:
            thread.start()
        for thread in burst:
            thread.join(30)
        assert db.reader_count() == 4
        now[0] += SQLiteDatabase.READER_IDLE_SECONDS - 1
        read()
        assert db.reader_count() > 1  # not idle long enough: kept
        now[0] += 2
        read()
        assert db.reader_count() == 1  # the others closed; one (re)used for this read
    finally:
        db.close()


def test_sqlite_reads_do_not_wait_for_a_write_in_progress(tmp_path: Path) -> None:
    """WAL: a read runs while a write transaction is open (and sees the state before it). The
    writer here holds its transaction until the read is done, or 10 s; the read must end first
    (with one lock for the pool and the writer, every read waited for the commit)."""
    db = open_database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with db.write() as conn:
            conn.execute("CREATE TABLE t (k INTEGER)")
        read_done, in_write = threading.Event(), threading.Event()
        seen: list[object] = []

        def write() -> None:
            with db.write() as conn:
                conn.execute("INSERT INTO t VALUES (1)")
                in_write.set()
                read_done.wait(10)
                seen.append("write still open" if read_done.is_set() else "read waited")

        writer = threading.Thread(target=write)
        writer.start()
        assert in_write.wait(10)
        with db.read() as conn:
            seen.append(conn.fetchone("SELECT count(*) FROM t"))
        read_done.set()
        writer.join(30)
        assert seen == [(0,), "write still open"]
    finally:
        db.close()
