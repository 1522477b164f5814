"""Reads the engine tests share: bursts of them on brand-new threads (what the pools bound), and
a query's documents read in its order."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from calltrail.store.database import Connection, Documents, open_database

Fetch = Callable[[str, Sequence[Any], str], list[bytes]]


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


def _documents_in_order(url: str, fetch: Callable[[Connection], Fetch]) -> None:
    """``fetch(conn)`` gives the first column of every row, in the query's order, and so does
    ``fetch_joined`` (SQLite's joined reads take the page in one step of an aggregate: the
    subquery's order must survive it)."""
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
                assert conn.fetch_joined(sql, ("a", limit, offset), "body") == Documents.of([bodies[k] for k in keys])
            none = ("SELECT body FROM docs WHERE app_id = ? LIMIT 5", ("none",), "body")
            assert fetch(conn)(*none) == [] and conn.fetch_joined(*none) == Documents(0, b"")
    finally:
        db.close()
