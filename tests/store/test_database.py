"""Settings the database module gives every connection it hands out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from calltrail.store.database import open_database


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


def _documents_in_order(url: str) -> None:
    """``fetch_documents`` gives the first column of every row, in the query's order (SQLite
    reads the page in one step of an aggregate: the subquery's order must survive it)."""
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
                assert conn.fetch_documents(sql, ("a", limit, offset), "body") == [bodies[k] for k in keys]
            assert conn.fetch_documents("SELECT body FROM docs WHERE app_id = ? LIMIT 5", ("none",), "body") == []
    finally:
        db.close()


def test_documents_come_in_the_query_order_on_sqlite(tmp_path: Path) -> None:
    _documents_in_order(f"sqlite:///{tmp_path / 'docs.db'}")


def test_documents_come_in_the_query_order_on_postgresql(pg_database: Callable[[], str]) -> None:
    _documents_in_order(pg_database())
