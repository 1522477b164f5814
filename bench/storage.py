"""Bytes per call: what each table and index of a database takes, divided by its calls.

SQLite is measured with its ``dbstat`` table (pages in use, by B-tree); PostgreSQL with
``pg_total_relation_size``-style sizes of each table and index of the schema. Every app of the
database is counted (measure a database that holds the benchmark's app alone), and the calls are
the rows of ``calls`` plus those of ``channel_calls``. The figure to read is the last line: all
bytes per call against the goal of issue 14 (at most 3,000 at 1,000,000 calls).

    python bench/storage.py --db sqlite:////work/benchdb/big.db
    python bench/storage.py --db postgresql://postgres@127.0.0.1:5432/big --top 30
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Sequence

import psycopg

from calltrail.store.database import sqlite_path

GOAL = 3000


def sqlite_sizes(path: str) -> tuple[int, list[tuple[str, str, int]]]:
    """The calls, and ``(name, table, bytes)`` of every B-tree (a table or an index)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        calls = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("calls", "channel_calls"))
        owners = dict(conn.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')"))
        sizes = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    finally:
        conn.close()
    return calls, [(name, owners.get(name, name), int(size)) for name, size in sizes]


def postgres_sizes(url: str) -> tuple[int, list[tuple[str, str, int]]]:
    with psycopg.connect(url, autocommit=True) as conn:
        calls = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("calls", "channel_calls"))  # type: ignore[index]
        rows = conn.execute(
            "SELECT c.relname, coalesce(t.relname, c.relname), "
            "pg_relation_size(c.oid) + CASE WHEN c.relkind = 'r' THEN "
            "coalesce(pg_total_relation_size(c.reltoastrelid), 0) ELSE 0 END "
            "FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE c.relnamespace = to_regnamespace(current_schema())::oid AND c.relkind IN ('r', 'i')"
        ).fetchall()
    return calls, [(name, table, int(size)) for name, table, size in rows]


def report(calls: int, sizes: Sequence[tuple[str, str, int]], top: int) -> float:
    total = sum(size for _, _, size in sizes)
    by_table: dict[str, int] = {}
    for _, table, size in sizes:
        by_table[table] = by_table.get(table, 0) + size
    print(f"{calls:,} calls, {total / 2**20:,.1f} MiB")
    print(f"{'table (with its indexes) / B-tree':44} {'bytes per call':>14}")
    for table, size in sorted(by_table.items(), key=lambda item: -item[1])[:top]:
        print(f"{table:44} {size / calls:14.1f}")
        for name, owner, own in sorted(sizes, key=lambda item: -item[2]):
            if owner == table and own / calls >= 1:
                name = "(its rows)" if name == table else name
                print(f"  {name:42} {own / calls:14.1f}")
    per_call = total / calls
    print(f"all: {per_call:,.0f} bytes per call; goal <= {GOAL:,}: {per_call / GOAL:.2f}x the goal")
    return per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="sqlite:///path or postgresql://... (read only)")
    parser.add_argument("--top", type=int, default=20, help="tables to list, largest first")
    args = parser.parse_args()
    if args.db.startswith("sqlite"):
        calls, sizes = sqlite_sizes(sqlite_path(args.db))
    else:
        calls, sizes = postgres_sizes(args.db)
    if not calls:
        parser.error("the database holds no calls")
    report(calls, sizes, args.top)


if __name__ == "__main__":
    main()
