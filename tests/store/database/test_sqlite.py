"""The embedded engine: a bounded pool of readers shared by every thread (threads come and go, as
a worker pool retires idle ones, yet connections are reused, never one per thread), reads beside a
write in progress, a page of documents in one step beside other reads, the writer's checkpoints."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from calltrail.store.database import Connection, Documents, SQLiteConnection, SQLiteDatabase, open_database
from tests.store.database.reads import Fetch, _documents_in_order, _waves


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


def test_documents_come_in_the_query_order_on_sqlite(tmp_path: Path) -> None:
    _documents_in_order(f"sqlite:///{tmp_path / 'docs.db'}", lambda conn: conn.fetch_documents)

    def joined(conn: Connection) -> Fetch:
        """As it reads while other reads run: joined around a NUL, then split."""
        assert isinstance(conn, SQLiteConnection)
        return SQLiteConnection(conn.raw, others_reading=lambda: True).fetch_documents

    _documents_in_order(f"sqlite:///{tmp_path / 'joined.db'}", joined)


def test_sqlite_joins_a_page_in_one_step_only_while_other_reads_run(tmp_path: Path) -> None:
    """Alone, stepping through the rows is cheaper than joining and splitting them again; beside
    other reads, one step for the page. A page sent as it is (``fetch_joined``): always one step."""
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
                assert conn.fetch_joined(sql, ("a",), "body") == Documents.of(expected)
                conn.raw.set_trace_callback(None)
            other_may_end.set()
            if beside_another:
                other.join(10)
        joined = [statement for statement in steps if "group_concat" in statement]
        assert len(steps) == 4 and len(joined) == 3 and steps[0] not in joined
    finally:
        db.close()


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
