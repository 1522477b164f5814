"""Whether a write costs more as the app's history grows: the same demo batches, timed one by one.

Ingests demo calls (as dense in time as the demo's 1,000,000, so later batches land beside a
growing history) into a fresh database in batches of ``--batch`` events, each one
``SessionStore.ingest`` (one durable commit), and prints the median seconds per 1,000 events of the
batches in the first and in the last tenth of the run, and their ratio. A write that finds its rows by their keys
costs the same at any size (a ratio near 1); one whose plan reads the app's rows costs more with
every batch (issue 14: PostgreSQL's generic plans read every member row of the app, 0.6-1.3 s a
batch at 20,000 calls; see docs/storage.md, "PostgreSQL: write plans that do not grow with the app").
The rollups' backlog is settled at the end, as a usage read would, and counted in the total.

    python bench/ingest_growth.py --calls 60000
    python bench/ingest_growth.py --calls 60000 --pg postgresql://postgres@127.0.0.1:5432/test

Compare two checkouts side by side with ``PYTHONPATH=<other tree>/src``: the machines are shared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ingest_anchor import APP, demo_batches  # bench/ingest_anchor.py

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.demo import DEFAULT_SPAN_DAYS
from calltrail.sessions.events import Event
from calltrail.store import open_stores
from calltrail.store.usage_backlog import settle

PG_DATABASE = "ct_bench_growth"


def fresh_url(pg: str | None, folder: Path) -> str:
    if not pg:
        return f"sqlite:///{folder}/growth.db"
    import psycopg

    with psycopg.connect(pg, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
        admin.execute(f"CREATE DATABASE {PG_DATABASE}")
    return pg.rsplit("/", 1)[0] + f"/{PG_DATABASE}"


def drop(pg: str | None) -> None:
    if pg:
        import psycopg

        with psycopg.connect(pg, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}")


def timed_batches(url: str, batches: list[list[Event]]) -> tuple[list[float], float]:
    """Seconds of each batch's ingest, and of the settle that follows."""
    stores = open_stores(url)
    try:
        stores.tenants.create_app(new_app_settings("Ingest growth", APP))
        seconds = []
        for number, batch in enumerate(batches, 1):
            started = time.perf_counter()
            stores.sessions.ingest(APP, batch)
            seconds.append(time.perf_counter() - started)
            if number % max(1, len(batches) // 10) == 0:
                print(f"  batch {number} of {len(batches)}: {seconds[-1]:.2f} s", flush=True)
        started = time.perf_counter()
        settle(stores.db, APP)
        return seconds, time.perf_counter() - started
    finally:
        stores.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=60000, help="demo calls to ingest")
    parser.add_argument("--batch", type=int, default=20000, help="events per batch (the demo's size)")
    parser.add_argument("--pg", help="a PostgreSQL URL: measure PostgreSQL (a database is created beside it)")
    args = parser.parse_args()

    days = max(1, round(args.calls * DEFAULT_SPAN_DAYS / 1_000_000))
    batches = demo_batches(args.calls, args.batch, days)
    if len(batches) < 10:
        parser.error("fewer than 10 batches: raise --calls or lower --batch")
    engine = "PostgreSQL" if args.pg else "SQLite"
    print(f"{args.calls:,} calls over {days} days in {len(batches)} batches of {args.batch:,} events; {engine}")
    with tempfile.TemporaryDirectory() as folder:
        try:
            seconds, settling = timed_batches(fresh_url(args.pg, Path(folder)), batches)
        finally:
            drop(args.pg)
    # Per 1,000 events: the last batch is often a short one.
    per_thousand = [1000 * spent / len(batch) for spent, batch in zip(seconds, batches, strict=True)]
    tenth = max(1, len(per_thousand) // 10)
    first, last = statistics.median(per_thousand[:tenth]), statistics.median(per_thousand[-tenth:])
    total = sum(seconds) + settling
    print(f"1,000 events: {first:.3f} s in the first tenth of the batches, {last:.3f} s in the last", end="")
    print(f": {last / first:.2f}x")
    print(f"all: {total:.1f} s ({settling:.1f} s settling), {args.calls / total:,.0f} calls/s")


if __name__ == "__main__":
    main()
