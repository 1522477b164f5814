"""The interface both engines share (``Connection``, ``Database``): nested reads, rows inserted as
they are, the planner's statistics refreshed as rows are written, and writers' key locks (bounded,
and excluding each other)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from calltrail.store import Stores
from calltrail.store.database import MAX_KEY_LOCKS, Connection, SQLiteDatabase, open_database


def test_nested_reads_share_one_connection_and_snapshot(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'nest.db'}")
    assert isinstance(db, SQLiteDatabase)
    try:
        with db.read() as outer, db.read() as inner:
            assert inner is outer
        assert db.reader_count() == 1
    finally:
        db.close()


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


def _advisory_locks_held(conn: Connection) -> int:
    row = conn.fetchone("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
    return int(row[0]) if row else 0


def test_locks_per_transaction_are_bounded(stores: Stores) -> None:
    """However many keys a write touches, it holds at most ``MAX_KEY_LOCKS + 1`` advisory locks."""
    for count in (1, MAX_KEY_LOCKS, MAX_KEY_LOCKS + 1, 5000):
        with stores.db.write() as conn:
            conn.lock_keys(f"test/bounded/{count}/{index}" for index in range(count))
            if conn.dialect == "postgresql":
                assert _advisory_locks_held(conn) <= MAX_KEY_LOCKS + 1, count


def test_a_bulk_writer_and_a_small_writer_exclude_each_other(stores: Stores) -> None:
    """A transaction over many keys (bulk lock) and one over a few of the same keys (key locks
    under the shared bulk lock) never run at the same time: the guarantee the per-key locks gave.
    (SQLite serialises every writer of the file, so it holds there too.)"""
    keys = [f"test/exclusion/{index}" for index in range(MAX_KEY_LOCKS * 4)]
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def bulk() -> None:
        with stores.db.write() as conn:
            conn.lock_keys(keys)
            inside.set()
            release.wait(10)
            order.append("bulk done")

    thread = threading.Thread(target=bulk)
    thread.start()
    assert inside.wait(10)
    small = threading.Thread(target=lambda: _small_write(stores, keys[:2], order))
    small.start()
    small.join(0.5)
    assert small.is_alive(), "the small writer must wait for the bulk writer"
    release.set()
    thread.join(10)
    small.join(10)
    assert order == ["bulk done", "small done"]


def _small_write(stores: Stores, keys: list[str], order: list[str]) -> None:
    with stores.db.write() as conn:
        conn.lock_keys(keys)
        order.append("small done")
