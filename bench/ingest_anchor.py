"""Durable ingest against its anchor: the same events inserted by a plain batched ``executemany``.

Both sides get the same demo calls' events, in the same batches, one durable commit per batch,
into databases with the same schema (so the same indexes on ``call_events``) and the same
durability (SQLite: WAL, synchronous=FULL, the writer's checkpoint interval; PostgreSQL:
synchronous_commit on):

- **ingest**: ``SessionStore.ingest`` (locks, probe, new events, the fold, the record, its
  members, the count tables, usage figures and rollup marks), each batch in its own transaction, then
  the usage rollups' backlog recomputed (``store/usage_backlog.py``), inside the clock;
- **anchor**: the events' stored rows (encoded beforehand, outside the clock) inserted into
  ``call_events`` with one ``executemany`` and a commit per batch, through the driver alone.

- **writes** (SQLite): every row ingest writes, recorded once beforehand (each write statement and
  its parameters, by transaction, from a run outside the clock), replayed through the store's
  writer alone with the same ``executemany`` and the same commits. It is what ingest would cost with no
  reads and no Python work: a floor for ingest, set by what it stores (``bench/storage.py``).

Rounds alternate the sides, each round into fresh databases, and the script prints the events/s
of each and the ratios to the anchor (the goal: ingest >= 0.5x the anchor).

    python bench/ingest_anchor.py --calls 20000 --rounds 3
    python bench/ingest_anchor.py --calls 20000 --rounds 3 --pg postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from calltrail.kernel.problems import Problems
from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.demo import DEFAULT_SPAN_DAYS, build_world, generate_calls
from calltrail.sessions.events import Event, parse_event
from calltrail.store import open_stores
from calltrail.store.database import Connection, Database, SQLiteDatabase
from calltrail.store.usage_backlog import settle

APP = "ingest-anchor"
#: With --pg: the two databases each round starts afresh, dropped at the end.
PG_DATABASES = ("ct_bench_ingest", "ct_bench_anchor")


def demo_batches(calls: int, batch: int, days: int) -> list[list[Event]]:
    """The parsed events of ``calls`` demo calls over ``days``, cut into batches as a client
    would send them."""
    events: list[Event] = []
    for call in generate_calls(build_world(1), app_id=APP, count=calls, seed=1, span_days=days):
        for raw in call:
            event = parse_event(raw, Problems())
            assert event is not None
            events.append(event)
    return [events[i : i + batch] for i in range(0, len(events), batch)]


def run_ingest(url: str, batches: list[list[Event]]) -> float:
    stores = open_stores(url)
    try:
        stores.tenants.create_app(new_app_settings("Ingest anchor", APP))
        started = time.perf_counter()
        for batch in batches:
            stores.sessions.ingest(APP, batch)
        settle(stores.db, APP)  # the rollups' backlog, as the next usage read would
        return time.perf_counter() - started
    finally:
        stores.close()


def run_anchor(url: str, batches: list[list[Event]]) -> float:
    stores = open_stores(url)  # the same schema: call_events with the same indexes and keys
    stores.tenants.create_app(new_app_settings("Ingest anchor", APP))
    spec = stores.sessions.log.spec  # the events' stored rows, exactly as ingest encodes them
    stores.close()
    rows = [[spec.encode(APP, None, event) for event in batch] for batch in batches]
    columns = spec.event_columns
    insert = f"INSERT INTO {spec.events_table} ({', '.join(columns)}) VALUES ({', '.join(['?'] * len(columns))})"
    if url.startswith("sqlite"):
        raw: Any = sqlite_durable(url)
        begin, sql = "BEGIN IMMEDIATE", insert
    else:
        import psycopg

        raw = psycopg.connect(url, autocommit=True)
        begin, sql = "BEGIN", insert.replace("?", "%s")
    try:
        started = time.perf_counter()
        for batch in rows:
            raw.execute(begin)
            raw.cursor().executemany(sql, batch)
            raw.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        raw.close()


def sqlite_durable(url: str) -> Any:
    """A plain ``sqlite3`` connection with the store's durability, checkpoints and foreign keys."""
    import sqlite3

    raw = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute(f"PRAGMA wal_autocheckpoint={SQLiteDatabase.WAL_AUTOCHECKPOINT}")  # as the store's writer
    raw.execute("PRAGMA foreign_keys=ON")  # as the store's connections: the app key is checked
    return raw


#: One write transaction as recorded: its write statements in order, each with its parameter rows.
Transaction = list[tuple[str, list[tuple[Any, ...]]]]
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class _Recorder:
    """The writer's ``sqlite3`` connection, passed through, keeping its write statements."""

    def __init__(self, raw: Any, into: Transaction):
        self.raw, self.into = raw, into

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if sql.lstrip().upper().startswith(_WRITE_VERBS):
            self.into.append((sql, [tuple(params)]))
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        kept = [tuple(row) for row in rows]
        if sql.lstrip().upper().startswith(_WRITE_VERBS):
            self.into.append((sql, kept))
        return self.raw.executemany(sql, kept)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def record_writes(url: str, batches: list[list[Event]]) -> list[Transaction]:
    """Ingest the batches (and settle) as ``run_ingest`` does, outside any clock, keeping every
    committed write transaction's statements and parameters."""
    recorded: list[Transaction] = []
    write = SQLiteDatabase._write

    @contextmanager
    def recording(db: SQLiteDatabase) -> Iterator[Connection]:
        mine: Transaction = []
        with write(db) as conn:
            conn.raw = _Recorder(conn.raw, mine)  # type: ignore[attr-defined]  # the writer's only
            yield conn
        recorded.append(mine)  # committed

    stores = open_stores(url)
    try:
        stores.tenants.create_app(new_app_settings("Ingest anchor", APP))
        SQLiteDatabase._write = recording  # type: ignore[method-assign,assignment]
        try:
            for batch in batches:
                stores.sessions.ingest(APP, batch)
            settle(stores.db, APP)
        finally:
            SQLiteDatabase._write = write  # type: ignore[method-assign]
    finally:
        stores.close()
    return recorded


def replay_writes(db: Database, transactions: list[Transaction], keep: Callable[[str], bool] | None = None) -> float:
    """Seconds to replay recorded write transactions (every statement, or those ``keep``
    accepts) through the store's own writer: its connection's settings, one commit per transaction."""
    started = time.perf_counter()
    for transaction in transactions:
        with db.write() as conn:
            for sql, rows in transaction:
                if keep is None or keep(sql):
                    conn.executemany(sql, rows)
    return time.perf_counter() - started


def run_writes(url: str, transactions: list[Transaction]) -> float:
    """Replay recorded write transactions into a fresh database with the same schema and app."""
    stores = open_stores(url)
    try:
        stores.tenants.create_app(new_app_settings("Ingest anchor", APP))
        return replay_writes(stores.db, transactions)
    finally:
        stores.close()


def fresh_urls(args: argparse.Namespace, folder: Path, round_: int) -> tuple[str, str]:
    if not args.pg:
        return (f"sqlite:///{folder}/ingest{round_}.db", f"sqlite:///{folder}/anchor{round_}.db")
    import psycopg

    urls = []
    for name in PG_DATABASES:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
            admin.execute(f"CREATE DATABASE {name}")
        urls.append(args.pg.rsplit("/", 1)[0] + f"/{name}")
    return urls[0], urls[1]


def drop_databases(args: argparse.Namespace) -> None:
    if args.pg:
        import psycopg

        with psycopg.connect(args.pg, autocommit=True) as admin:
            for name in PG_DATABASES:
                admin.execute(f"DROP DATABASE IF EXISTS {name}")


def measure_rounds(
    args: argparse.Namespace, folder: Path, batches: list[list[Event]], events: int, rates: dict[str, list[float]]
) -> None:
    """Each round into fresh databases, the sides in turning order."""
    sides: dict[str, Callable[[str], float]] = {
        "ingest": lambda url: run_ingest(url, batches),
        "anchor": lambda url: run_anchor(url, batches),
    }
    if not args.pg:
        transactions = record_writes(f"sqlite:///{folder}/recorded.db", batches)
        sides["writes"] = lambda url: run_writes(url, transactions)
    names = list(sides)
    for round_ in range(args.rounds):
        urls = dict(zip(("ingest", "anchor"), fresh_urls(args, folder, round_), strict=True))
        urls["writes"] = f"sqlite:///{folder}/writes{round_}.db"
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            rates[name].append(events / sides[name](urls[name]))
        print(
            f"round {round_ + 1}: "
            + ", ".join(f"{name} {rates[name][-1]:,.0f} events/s" for name in names)
            + "; "
            + ", ".join(
                f"{name} / anchor {rates[name][-1] / rates['anchor'][-1]:.3f}" for name in names if name != "anchor"
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000, help="demo calls per round")
    parser.add_argument("--batch", type=int, default=1000, help="events per batch (one commit each)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--days",
        type=int,
        help="days the calls span (default: as dense as the demo's 1,000,000 calls; a sparser "
        "spread makes each batch touch more usage blocks)",
    )
    parser.add_argument("--pg", help="a PostgreSQL URL: measure PostgreSQL (two databases are created beside it)")
    args = parser.parse_args()

    days = args.days or max(1, round(args.calls * DEFAULT_SPAN_DAYS / 1_000_000))
    batches = demo_batches(args.calls, args.batch, days)
    events = sum(len(batch) for batch in batches)
    engine = "PostgreSQL" if args.pg else "SQLite"
    print(f"{events:,} events of {args.calls:,} calls over {days} days in {len(batches)} batches; {engine}")
    rates: dict[str, list[float]] = {"ingest": [], "anchor": [], "writes": []}
    with tempfile.TemporaryDirectory(dir=".") as folder:
        try:
            measure_rounds(args, Path(folder), batches, events, rates)
        finally:
            drop_databases(args)
    for name, goal in (("ingest", " (goal >= 0.5)"), ("writes", " (ingest's floor: its writes alone)")):
        if rates[name]:
            ratios = [a / b for a, b in zip(rates[name], rates["anchor"], strict=True)]
            print(f"median: {name} / anchor = {statistics.median(ratios):.3f}{goal}")


if __name__ == "__main__":
    main()
