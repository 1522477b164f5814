"""Make an N-times-larger SQLite database of what the reads serve, from a demo database.

    python bench/scale_copy.py --from sqlite:////work/benchdb/big.db --to /work/benchdb/x1.db --times 1
    python bench/scale_copy.py --from sqlite:////work/benchdb/big.db --to /work/benchdb/x10.db --times 10
    python bench/scale.py --small sqlite:////work/benchdb/x1.db --large sqlite:////work/benchdb/x10.db --app bench

Generating ten million calls through the pipeline takes hours (docs/storage.md); this writes, into a
fresh database, what List Calls, a call by id, the user view and Bird's listing read (the tables of
``bench/pages_copy.py``: calls, member rows, count tables, profiles, channels and phone calls), each
call ``--times`` times over:

- copy 0 keeps its ids; copy ``k`` of in-app call ``S`` is ``S~0k`` (a valid session id, and it
  sorts right after ``S``), of phone call ``U`` the UUID ``U`` with its last byte plus ``k``;
- every copy keeps its times, so the app has the same 180 days, ``--times`` as dense: a 15-minute
  bucket holds ``--times`` as many calls, each user ``--times`` as many;
- the count tables hold their counts times ``--times`` (exact: each copy has the values of its call).

Events and usage figures are not copied: those reads are not measured on this database. Secondary
indexes are built after the rows (sorted, as ``CREATE INDEX`` does), and the 1x database is made by
this same script, so both sides have equally fresh indexes.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import open_stores, page_index
from calltrail.store.database import sqlite_path
from calltrail.store.sessions_sql import VALUE_COUNTED

#: Tables whose rows are multiplied: the id column, and the order their primary key is in.
MULTIPLIED = {
    "calls": ("session_id", "session_id"),
    "call_members": ("session_id", "session_id, uid"),
    "channel_calls": ("call_id", "call_id"),
    "channel_call_tags": ("call_id", "call_id, tag"),
}
#: Tables whose counts are multiplied.
COUNTED = ("call_counts", "member_counts", "call_page_counts", "call_page_totals", "call_value_counts")
#: Tables copied as they are.
AS_IS = ("user_profiles", "group_profiles", "channels")
#: Columns holding JSON that repeats the id (rewritten with it).
DOCUMENTS = ("summary", "extra", "scalars", "body")


def session_copy(session_id: str, k: int) -> str:
    return session_id if k == 0 else f"{session_id}~{k:02d}"


def uuid_copy(call_id: str, k: int) -> str:
    """The UUID with its last byte plus ``k`` (mod 256): still a UUID, distinct for k < 256."""
    return call_id if k == 0 else f"{call_id[:-2]}{(int(call_id[-2:], 16) + k) % 256:02x}"


def copies(
    rows: Iterator[Sequence[Any]], columns: Sequence[str], id_column: str, times: int, rename: Callable[[str, int], str]
) -> Iterator[list[Any]]:
    """Each row ``times`` times, its id renamed in its column and in its documents. Rows of one id
    come together (the source is read in key order), and each copy's rows follow the last one's,
    so the target's primary key is written in its order."""
    at = columns.index(id_column)
    documents = [i for i, name in enumerate(columns) if name in DOCUMENTS]
    group: list[Sequence[Any]] = []

    def flush() -> Iterator[list[Any]]:
        old = group[0][at]
        for k in range(times):
            new = rename(old, k)
            for row in group:
                out = list(row)
                out[at] = new
                for i in documents:
                    if out[i] is not None and k:
                        out[i] = bytes(out[i]).replace(old.encode(), new.encode())
                yield out

    for row in rows:
        if group and row[at] != group[0][at]:
            yield from flush()
            group = []
        group.append(row)
    if group:
        yield from flush()


#: Each count table's total against what it counts: the page counts count a call once per span,
#: the value counts once per counted column.
CHECKS = {
    "call_counts": "SELECT count(*) FROM calls WHERE app_id = ?1",
    "call_page_totals": f"SELECT {len(page_index.SPANS)} * count(*) FROM calls WHERE app_id = ?1",
    "call_page_counts": f"SELECT {len(page_index.SPANS)} * count(*) FROM calls WHERE app_id = ?1",
    "call_value_counts": f"SELECT {len(VALUE_COUNTED)} * count(*) FROM calls WHERE app_id = ?1",
    "member_counts": "SELECT count(*) FROM call_members WHERE app_id = ?1",
}


def check(db: sqlite3.Connection, app: str) -> None:
    """Fail unless every count table adds up to the rows it counts."""
    for table, counted in CHECKS.items():
        (stored,) = db.execute(f"SELECT coalesce(sum(n), 0) FROM {table} WHERE app_id = ?", (app,)).fetchone()
        (actual,) = db.execute(counted, (app,)).fetchone()
        if stored != actual:
            raise SystemExit(f"{table} adds up to {stored:,}, not {actual:,}: the source's counts are not exact")
    print("count tables add up", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", required=True, help="sqlite:///path of a demo database")
    parser.add_argument("--to", dest="target", required=True, help="path of the new database (must not exist)")
    parser.add_argument("--app", default="bench")
    parser.add_argument("--times", type=int, default=10, help="copies of each call (1-99)")
    args = parser.parse_args()
    if not 1 <= args.times <= 99:
        parser.error("--times must be 1 to 99")
    target = Path(args.target)
    if target.exists():
        parser.error(f"{target} exists")

    stores = open_stores(f"sqlite:///{target}")  # the current schema, migrations applied
    stores.tenants.create_app(new_app_settings("Bench", args.app))
    stores.close()
    started = time.perf_counter()
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA journal_mode=OFF")  # a fixture made in one go: nothing to roll back to
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-2097152")
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute(f"ATTACH 'file:{sqlite_path(args.source)}?mode=ro' AS src")
    tables = (*MULTIPLIED, *COUNTED, *AS_IS)
    marks = ", ".join("?" * len(tables))
    indexes = db.execute(
        f"SELECT name, sql FROM main.sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
        tables,
    ).fetchall()
    for name, _ in indexes:
        db.execute(f"DROP INDEX {name}")
    db.execute("BEGIN")
    for table, (id_column, order) in MULTIPLIED.items():
        step = time.perf_counter()
        columns = [row[1] for row in db.execute(f"PRAGMA src.table_info({table})")]
        rows = db.execute(
            f"SELECT {', '.join(columns)} FROM src.{table} WHERE app_id = ? ORDER BY {order}", (args.app,)
        )
        rename = uuid_copy if id_column == "call_id" else session_copy
        insert = f"INSERT INTO main.{table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        db.cursor().executemany(insert, copies(rows, columns, id_column, args.times, rename))
        (count,) = db.execute(f"SELECT count(*) FROM main.{table}").fetchone()
        print(f"{table}: {count:,} rows in {time.perf_counter() - step:.1f} s", flush=True)
    for table in (*COUNTED, *AS_IS):
        columns = [row[1] for row in db.execute(f"PRAGMA src.table_info({table})")]
        values = ", ".join(f"n * {args.times}" if column == "n" and table in COUNTED else column for column in columns)
        db.execute(f"DELETE FROM main.{table} WHERE app_id = ?", (args.app,))
        db.execute(
            f"INSERT INTO main.{table} ({', '.join(columns)}) SELECT {values} FROM src.{table} WHERE app_id = ?",
            (args.app,),
        )
    db.execute("COMMIT")
    for name, sql in indexes:
        step = time.perf_counter()
        db.execute(sql)
        print(f"index {name}: {time.perf_counter() - step:.1f} s", flush=True)
    db.execute("DETACH src")
    check(db, args.app)
    db.execute("PRAGMA analysis_limit=400")
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    print(f"done in {time.perf_counter() - started:.1f} s: {target.stat().st_size / 1e9:.1f} GB", flush=True)


if __name__ == "__main__":
    main()
