"""What durable ingest writes, table by table, and what it would cost with less of it (SQLite).

Records every write transaction of an ingest of demo calls once (``ingest_anchor.record_writes``:
each write statement and its parameters), then replays them through the store's writer alone, as
``bench/ingest_anchor.py``'s *writes* side does, into fresh databases with the schema:

- **by table**: each table's statements alone (foreign keys off, no checkpoints), printing the WAL
  each writes (every page a commit dirties is written whole) and its replay time;
- **what if**: all of them with the store's durability, beside the anchor (the events alone), then
  again without the calls' filter indexes, and without those and the per-user indexes and counts:
  what those cost at commit, before any Python work.

    python bench/ingest_floor.py --calls 20000 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from ingest_anchor import APP, Transaction, demo_batches, record_writes, replay_writes, run_anchor

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.demo import DEFAULT_SPAN_DAYS
from calltrail.sessions.events import Event
from calltrail.store import open_stores
from calltrail.store.database import SQLiteDatabase

#: The calls' indexes that serve one filter each (``calls_by_initiated`` serves every list).
CALL_FILTER_INDEXES = tuple(
    f"calls_by_{column}"
    for column in ("status", "type", "mode", "receiver_type", "has_recording", "participants_count",
                   "total_participants", "started_at", "ended_at", "duration", "audio_minutes", "video_minutes",
                   "receiver")
)  # fmt: skip
#: What serves a user's own calls and their counts: two member indexes and the count table.
PER_USER_INDEXES = ("call_members_by_uid", "call_members_missed")
PER_USER_TABLES = frozenset({"member_counts"})
_TABLE = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+(\w+)", re.IGNORECASE)


def table_of(sql: str) -> str:
    found = _TABLE.match(sql)
    assert found is not None, sql
    return found.group(1)


def empty_database(path: Path) -> None:
    """The schema and the app, nothing else, in one file (copied for each replay)."""
    stores = open_stores(f"sqlite:///{path}")
    stores.tenants.create_app(new_app_settings("Ingest anchor", APP))
    stores.close()
    assert not Path(f"{path}-wal").exists(), "the last connection's close checkpoints the WAL away"


def replay(
    path: Path,
    transactions: list[Transaction],
    *,
    only: str | None = None,
    drop: tuple[str, ...] = (),
    skip: frozenset[str] = frozenset(),
    checkpoints: bool = True,
) -> tuple[float, int]:
    """Seconds to replay the transactions (``only`` one table's statements; ``skip`` some tables'),
    after dropping the ``drop`` indexes, and the WAL's size then (before closing checkpoints it)."""
    db = SQLiteDatabase(f"sqlite:///{path}")  # the store's writer, its settings
    try:
        # Connection settings, set before its first transaction (foreign_keys is ignored inside one).
        if only is not None:
            db._writer.execute("PRAGMA foreign_keys=OFF")  # a table alone: the rows it refers to are not there
        if not checkpoints:
            db._writer.execute("PRAGMA wal_autocheckpoint=0")  # the WAL then holds every page written
        with db.write() as conn:
            for index in drop:
                conn.execute(f"DROP INDEX {index}")

        def kept(sql: str) -> bool:
            table = table_of(sql)
            return (only is None or table == only) and table not in skip

        seconds = replay_writes(db, transactions, kept)
        return seconds, os.path.getsize(f"{path}-wal")
    finally:
        db.close()


def copy_of(empty: Path, name: str) -> Path:
    path = empty.with_name(name)
    shutil.copy(empty, path)
    return path


def by_table(empty: Path, transactions: list[Transaction]) -> None:
    tables = Counter(table_of(sql) for transaction in transactions for sql, _ in transaction)
    found = []
    for table in [*tables, None]:
        path = copy_of(empty, f"table-{table or 'all'}.db")
        seconds, wal = replay(path, transactions, only=table, checkpoints=False)
        found.append((wal / 1e6, seconds, table or "(all of them)"))
    print("WAL written and replay time, each table's statements alone:")
    for megabytes, seconds, table in sorted(found, reverse=True):
        print(f"  {megabytes:9.1f} MB {seconds:7.2f} s  {table}")


def what_if(empty: Path, transactions: list[Transaction], batches: list[list[Event]], rounds: int) -> None:
    cases: list[tuple[str, tuple[str, ...], frozenset[str]]] = [
        ("ingest's writes as they are", (), frozenset()),
        ("without the calls' 13 filter indexes", CALL_FILTER_INDEXES, frozenset()),
        ("... and without the per-user indexes and counts", CALL_FILTER_INDEXES + PER_USER_INDEXES, PER_USER_TABLES),
    ]
    for round_ in range(rounds):
        anchor = run_anchor(f"sqlite:///{empty.with_name(f'anchor{round_}.db')}", batches)
        print(f"round {round_ + 1}: the anchor {anchor:.2f} s")
        for number, (label, drop, skip) in enumerate(cases):
            seconds, _ = replay(copy_of(empty, f"case{round_}-{number}.db"), transactions, drop=drop, skip=skip)
            print(f"  {label:50s} {seconds:6.2f} s, anchor / it {anchor / seconds:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000, help="demo calls")
    parser.add_argument("--batch", type=int, default=1000, help="events per batch (one commit each)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the what-if replays")
    args = parser.parse_args()
    days = max(1, round(args.calls * DEFAULT_SPAN_DAYS / 1_000_000))  # as dense as the 1M demo
    batches = demo_batches(args.calls, args.batch, days)
    print(f"{sum(map(len, batches)):,} events of {args.calls:,} calls over {days} days in {len(batches)} batches")
    with tempfile.TemporaryDirectory(dir=".") as folder:
        transactions = record_writes(f"sqlite:///{folder}/recorded.db", batches)
        empty = Path(folder) / "empty.db"
        empty_database(empty)
        by_table(empty, transactions)
        what_if(empty, transactions, batches, args.rounds)


if __name__ == "__main__":
    main()
