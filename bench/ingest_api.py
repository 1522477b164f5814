"""Ingestion benchmark: durable events per second through ``POST /v3/calls/events``.

Sends demo calls' events in batches from N concurrent clients to a running server and prints
events/s and the acknowledgement latency (every acknowledged batch is committed durably).

    python bench/ingest_api.py --db sqlite:///ingest.db --calls 20000 --batch 1000 --concurrency 4
    python bench/ingest_api.py --db postgresql://postgres@127.0.0.1:5432/test --calls 20000

It creates a fresh app (named after the time) in the database and starts its own server.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from server import running_server  # bench/server.py: a script's folder is on sys.path

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.store import open_stores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1000, help="events per request (1-1000)")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    app_id = f"ingest-{int(time.time())}"
    stores = open_stores(args.db)
    stores.tenants.create_app(new_app_settings("Ingest bench", app_id))
    key, _ = stores.tenants.create_key(app_id)
    stores.close()

    events: list[dict[str, Any]] = []
    for call in generate_calls(build_world(1), app_id=app_id, count=args.calls, seed=1):
        events.extend(call)
    batches = [events[i : i + args.batch] for i in range(0, len(events), args.batch)]

    with running_server(args.db) as url:
        latencies: list[float] = []

        def send(worker: int) -> int:
            sent = 0
            with httpx.Client(base_url=url, headers={"apikey": key}, timeout=120) as client:
                for batch in batches[worker :: args.concurrency]:
                    started = time.perf_counter()
                    response = client.post("/v3/calls/events", json=batch)
                    latencies.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                    sent += response.json()["data"]["accepted"]
            return sent

        started = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            accepted = sum(pool.map(send, range(args.concurrency)))
        elapsed = time.monotonic() - started
        ordered = sorted(latencies)
        print(
            f"{args.db.split(':')[0]}: {accepted} events ({args.calls} calls) in {elapsed:.1f}s = "
            f"{accepted / elapsed:,.0f} events/s, {args.calls / elapsed:,.0f} calls/s; batch {args.batch}, "
            f"{args.concurrency} clients; ack latency p50 {statistics.median(ordered):.0f} ms, "
            f"p99 {ordered[int(0.99 * (len(ordered) - 1))]:.0f} ms"
        )


if __name__ == "__main__":
    main()
