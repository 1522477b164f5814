"""Settings the database module gives every connection it hands out."""

from __future__ import annotations

from collections.abc import Callable

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
