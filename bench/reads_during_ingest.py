"""Reads while calls are being ingested, against the same reads on an idle database.

In process, on an existing demo database (it adds calls to it: run it on a copy): the first
100-call page of ``GET /v3/calls`` (``SessionStore.find``), a 30-day daily usage series without
filters (read from the app's rollups) and a 30-day ``groupBy=uid`` series (from the per-user
rollups), each timed again and again, first with nothing else running (the anchor), then while a
thread ingests new demo calls of the app's last day in 1,000-event batches, as a steady webhook
feed would. Prints each read's p50 and p90 in both phases and the ratio of the p50s.

With ``--http``, the same over the network against a ``calltrail serve`` it starts: ``GET
/v3/calls?perPage=100`` and ``GET /api/usage/calls`` (30 days, then ``groupBy=uid``) on one
connection, while another client sends the batches to ``POST /v3/calls/events``.

    cp /tmp/bench.db /tmp/copy.db
    python bench/reads_during_ingest.py --db sqlite:////tmp/copy.db --app bench --seconds 20
    python bench/reads_during_ingest.py --db sqlite:////tmp/copy.db --app bench --seconds 20 --http
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import httpx
from server import running_server  # bench/server.py: a script's folder is on sys.path

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
#: The ingest rate, and each read's milliseconds idle and while ingesting.
Measured = tuple[float, dict[str, tuple[list[float], list[float]]]]
#: Set when the reads are done: the ingest stops at its next batch.
DONE = threading.Event()


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


def http_reads(client: httpx.Client, end: int) -> dict[str, Read]:
    """The same reads as :func:`reads`, over HTTP."""
    span = {"from": _stamp(end - 30 * DAY), "to": _stamp(end), "interval": "day", "tz": "UTC"}

    def get(path: str, params: dict[str, str]) -> Read:
        return lambda: client.get(path, params=params).raise_for_status()

    return {
        "list page 1": get("/v3/calls", {"perPage": "100"}),
        "usage 30 days": get("/api/usage/calls", span),
        "usage by uid": get("/api/usage/calls", {**span, "groupBy": "uid", "limit": "10"}),
    }


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def batches(app_id: str, end: int, calls: int) -> list[list[dict[str, Any]]]:
    """New demo calls (another seed) over the day before ``end``, as sent: 1,000-event batches."""
    events: list[dict[str, Any]] = []
    for call in generate_calls(build_world(1), app_id=app_id, count=calls, seed=99, end=_stamp(end), span_days=1):
        events.extend(call)
    return [events[i : i + 1000] for i in range(0, len(events), 1000)]


def parsed(batch: list[dict[str, Any]]) -> list[Event]:
    found = [parse_event(raw, Problems()) for raw in batch]
    assert all(event is not None for event in found)
    return cast(list[Event], found)


def timed(read: Read, seconds: float) -> list[float]:
    """Milliseconds of each of the reads done in ``seconds``."""
    found: list[float] = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        started = time.perf_counter()
        read()
        found.append((time.perf_counter() - started) * 1000)
    return found


def measure(timed_reads: dict[str, Read], ingest: Callable[[], int], seconds: float) -> Measured:
    """Each read timed idle for ``seconds / 2``, then for ``seconds`` while ``ingest`` runs on a
    thread (it returns the events it stored); returns the ingest rate and the figures."""
    idle = {name: timed(read, seconds / 2) for name, read in timed_reads.items()}
    ingested: list[int] = []
    writer = threading.Thread(target=lambda: ingested.append(ingest()), name="ingest", daemon=True)
    started = time.perf_counter()
    writer.start()
    busy = {name: timed(read, seconds) for name, read in timed_reads.items()}
    DONE.set()
    writer.join()
    return ingested[0] / (time.perf_counter() - started), {name: (idle[name], busy[name]) for name in timed_reads}


def over_http(db_url: str, key: str, end: int, feed: list[list[dict[str, Any]]], seconds: float) -> Measured:
    os.environ.update(CALLTRAIL_RATE_LIMIT="1000000", CALLTRAIL_RATE_BURST="1000000")  # the server's own limits
    with running_server(db_url) as url, httpx.Client(base_url=url, headers={"apikey": key}) as client:

        def send() -> int:
            sent = 0
            with httpx.Client(base_url=url, headers={"apikey": key}, timeout=120) as sender:
                for batch in feed:
                    if DONE.is_set():
                        break
                    response = sender.post("/v3/calls/events", json=batch).raise_for_status()
                    sent += response.json()["data"]["accepted"]
            return sent

        return measure(http_reads(client, end), send, seconds)


def in_process(
    stores: Stores, app_id: str, timed_reads: dict[str, Read], feed: list[list[dict[str, Any]]], seconds: float
) -> Measured:
    def store() -> int:
        stored = 0
        for batch in feed:
            if DONE.is_set():
                break
            stores.sessions.ingest(app_id, parsed(batch))
            stored += len(batch)
        return stored

    return measure(timed_reads, store, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a copy of a demo database (calls are added to it)")
    parser.add_argument("--app", default="bench")
    parser.add_argument("--seconds", type=float, default=20.0, help="per read while ingesting (half that idle)")
    parser.add_argument("--http", action="store_true", help="through a calltrail serve it starts")
    args = parser.parse_args()
    stores = open_stores(args.db)
    try:
        end, timed_reads = reads(stores, args.app)
        feed = batches(args.app, end, calls=int(args.seconds * len(timed_reads) * 1000))  # more than ingested
        if not args.http:
            rate, figures = in_process(stores, args.app, timed_reads, feed, args.seconds)
        key, _ = stores.tenants.create_key(args.app)
    finally:
        stores.close()
    if args.http:
        rate, figures = over_http(args.db, key, end, feed, args.seconds)
    where = "over HTTP" if args.http else "in process"
    print(f"ingest while reading: {rate:,.0f} events/s in 1,000-event batches, {where}")
    print(f"{'read':16} {'idle p50':>9} {'idle p90':>9} {'ingest p50':>11} {'ingest p90':>11} {'p50 ratio':>10}")
    for name, (idle, busy) in figures.items():
        a, b = sorted(idle), sorted(busy)
        p50a, p90a = statistics.median(a), a[int(len(a) * 0.9)]
        p50b, p90b = statistics.median(b), b[int(len(b) * 0.9)]
        print(f"{name:16} {p50a:8.2f}ms {p90a:8.2f}ms {p50b:10.2f}ms {p90b:10.2f}ms {p50b / p50a:9.1f}x")


if __name__ == "__main__":
    main()
