"""Reads while calls are being ingested, against the same reads on an idle database.

In process, on an existing demo database (it adds calls to it: run it on a copy): the first
100-call page of ``GET /v3/calls`` (``SessionStore.find``), a 30-day daily usage series without
filters (read from the app's rollups) and a 30-day ``groupBy=uid`` series (from the per-user
rollups), each timed again and again, first with nothing else running (the anchor), then while a
thread ingests new demo calls of the app's last day in 1,000-event batches, as a steady webhook
feed would. Prints each read's p50 and p90 in both phases and the ratio of the p50s.

    cp /tmp/bench.db /tmp/copy.db
    python bench/reads_during_ingest.py --db sqlite:////tmp/copy.db --app bench --seconds 20
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from calltrail.kernel.problems import Problems
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.sessions.events import Event, parse_event
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.store import Stores, open_stores
from calltrail.usage.params import CallUsageRequest, Period
from calltrail.usage.periods import zone

DAY = 86_400
Read = Callable[[], object]


def reads(stores: Stores, app_id: str) -> tuple[int, dict[str, Read]]:
    """The end of the last UTC day with calls, and the reads: a list page, and two usage series
    over the 30 days up to that end."""
    with stores.db.read() as conn:
        row = conn.fetchone("SELECT max(initiated_at) FROM calls WHERE app_id = ?", (app_id,))
    assert row is not None and row[0] is not None, f"app {app_id!r} has no calls"
    end = (int(row[0]) // DAY + 1) * DAY

    def series(group_by: str | None) -> Read:
        period = Period((end - 30 * DAY) * 1000, end * 1000, "day", "UTC", zone("UTC"), group_by, 10)
        request = CallUsageRequest(period, CallQuery(), None)
        return lambda: stores.usage.calls(app_id, request, end * 1000)

    return end, {
        "list page 1": lambda: stores.sessions.find(app_id, CallQuery(), PageRequest(1, 100)),
        "usage 30 days": series(None),
        "usage by uid": series("uid"),
    }


def batches(app_id: str, end: int, calls: int) -> list[list[Event]]:
    """New demo calls (another seed) over the day before ``end``, in 1,000-event batches."""
    stamp = datetime.fromtimestamp(end, UTC).isoformat().replace("+00:00", "Z")
    events: list[Event] = []
    for call in generate_calls(build_world(1), app_id=app_id, count=calls, seed=99, end=stamp, span_days=1):
        for raw in call:
            event = parse_event(raw, Problems())
            assert event is not None
            events.append(event)
    return [events[i : i + 1000] for i in range(0, len(events), 1000)]


def timed(read: Read, seconds: float) -> list[float]:
    """Milliseconds of each of the reads done in ``seconds``."""
    found: list[float] = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        started = time.perf_counter()
        read()
        found.append((time.perf_counter() - started) * 1000)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a copy of a demo database (calls are added to it)")
    parser.add_argument("--app", default="bench")
    parser.add_argument("--seconds", type=float, default=20.0, help="per read while ingesting (half that idle)")
    args = parser.parse_args()
    stores = open_stores(args.db)
    try:
        end, timed_reads = reads(stores, args.app)
        feed = batches(args.app, end, calls=int(args.seconds * len(timed_reads) * 1000))  # more than ingested
        idle = {name: timed(read, args.seconds / 2) for name, read in timed_reads.items()}
        done = threading.Event()
        ingested = [0]

        def ingest() -> None:
            for batch in feed:
                if done.is_set():
                    return
                stores.sessions.ingest(args.app, batch)
                ingested[0] += len(batch)

        writer = threading.Thread(target=ingest, name="ingest", daemon=True)
        started = time.perf_counter()
        writer.start()
        busy = {name: timed(read, args.seconds) for name, read in timed_reads.items()}
        done.set()
        writer.join()
        rate = ingested[0] / (time.perf_counter() - started)
    finally:
        stores.close()
    print(f"ingest while reading: {rate:,.0f} events/s in 1,000-event batches")
    print(f"{'read':16} {'idle p50':>9} {'idle p90':>9} {'ingest p50':>11} {'ingest p90':>11} {'p50 ratio':>10}")
    for name in timed_reads:
        a, b = sorted(idle[name]), sorted(busy[name])
        p50a, p90a = statistics.median(a), a[int(len(a) * 0.9)]
        p50b, p90b = statistics.median(b), b[int(len(b) * 0.9)]
        print(f"{name:16} {p50a:8.2f}ms {p90a:8.2f}ms {p50b:10.2f}ms {p90b:10.2f}ms {p50b / p50a:9.1f}x")


if __name__ == "__main__":
    main()
