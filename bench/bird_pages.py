"""Keyset pagination benchmark for the Bird API: page-1 versus deep-page latency on a large channel.

Fills a channel with demo calls through the real status-event pipeline (unless it already holds
enough), then, for several filters, times the first page and pages deep into the list (the
position reached by following ``nextPageToken``), through the ASGI app in process (HTTP parsing,
auth, token check, SQL, JSON) and at the store level (SQL only). With keyset pagination the deep
pages should cost what page 1 costs.

    python bench/bird_pages.py --db sqlite:///bird-bench.db --calls 1000000
    python bench/bird_pages.py --db postgresql://postgres@127.0.0.1:5432/bench --calls 200000
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from calltrail.app import create_app
from calltrail.jobs.feeder import feed_demo
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores, open_stores
from calltrail.voice import page_token as page_tokens
from calltrail.voice.filters import LIST_PARAMS, parse_list_params
from calltrail.voice.vocabulary import new_channel_settings

APP = "bench-bird"
FILTERS: list[tuple[str, list[tuple[str, str]]]] = [
    ("no filter", []),
    ("status=completed", [("status", "completed")]),
    ("status=busy&status=failed", [("status", "busy"), ("status", "failed")]),
    ("tag=vip", [("tag", "vip")]),
    ("direction=outgoing&type=sip", [("direction", "outgoing"), ("type", "sip")]),
    ("startAt..endAt (60 days)", [("startAt", "2026-07-01T00:00:00Z"), ("endAt", "2026-08-30T00:00:00Z")]),
]


def fill(stores: Stores, channel: str, calls: int, seed: int) -> None:
    """Generate demo calls for the channel (same seed: deterministic), as ``calltrail demo`` does."""
    started = time.perf_counter()
    made = 0

    def tick() -> None:
        nonlocal made
        made += 1
        if made % 100_000 == 0:
            print(f"  {made} calls, {time.perf_counter() - started:.0f}s", flush=True)

    sent = feed_demo(stores.voice, APP, channel, calls, seed, on_call=tick)
    elapsed = time.perf_counter() - started
    print(f"filled: {calls} calls ({sent} events) in {elapsed:.1f}s = {calls / elapsed:.0f} calls/s")


def count(stores: Stores, channel: str) -> int:
    with stores.db.read() as conn:
        row = conn.fetchone("SELECT count(*) FROM channel_calls WHERE app_id = ? AND channel_id = ?", (APP, channel))
    return int(row[0]) if row else 0


def timed(action: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(p50, p90) in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite:///bird-bench.db", help="database URL (created if needed)")
    parser.add_argument("--calls", type=int, default=200_000, help="calls in the benchmark channel")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=int, default=25, help="page size measured")
    parser.add_argument("--repeat", type=int, default=50, help="requests per measurement")
    args = parser.parse_args()

    stores = open_stores(args.db)
    if stores.tenants.get_app(APP) is None:
        stores.tenants.create_app(new_app_settings("Bird bench", APP))
    key, _ = stores.tenants.create_key(APP)
    channel = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bird-bench-{args.seed}"))
    if stores.voice.get_channel(APP, channel) is None:
        stores.voice.create_channel(APP, new_channel_settings("Bench line", channel))
    if count(stores, channel) < args.calls:
        fill(stores, channel, args.calls, args.seed)
        stores.db.analyze()  # fresh statistics, as autovacuum would give
    total = count(stores, channel)
    print(f"\n{stores.db.dialect}: channel with {total} calls; limit={args.limit}; {args.repeat} requests each")
    print(f"{'query':30} {'position':>9} {'HTTP p50':>9} {'HTTP p90':>9} {'SQL p50':>8} {'results':>8}")

    headers = {"Authorization": f"AccessKey {key}"}
    url = f"/workspaces/{APP}/channels/{channel}/calls"
    secret = stores.voice.page_secret()
    with TestClient(create_app(stores)) as client:
        for name, params in FILTERS:
            query = parse_list_params(params, LIST_PARAMS, channel).query
            # Follow tokens with big pages to reach deep positions, keeping each token on the way.
            tokens: list[tuple[int, str | None]] = [(0, None)]
            matching, token = 0, None
            while True:
                extra = [("pageToken", token)] if token else []
                body = client.get(url, params=[*params, ("limit", "1000"), *extra], headers=headers).json()
                matching += len(body["results"])
                token = body.get("nextPageToken")
                if token is None:
                    break
                tokens.append((matching, token))
            targets = (0, matching // 10, matching // 2, matching - 2 * args.limit)
            checkpoints = sorted(
                {max((t for t in tokens if t[0] <= target), default=tokens[0]) for target in targets},
                key=lambda t: t[0],
            )
            for position, page_token in checkpoints:
                request = [*params, ("limit", str(args.limit)), *([("pageToken", page_token)] if page_token else [])]
                results = len(client.get(url, params=request, headers=headers).json()["results"])
                http50, http90 = timed(lambda r=request: client.get(url, params=r, headers=headers), args.repeat)
                after = None
                if page_token:
                    after = page_tokens.decode(page_token, secret=secret, bound_to=page_tokens.binding(APP, query))
                sql50, _ = timed(lambda a=after, q=query: stores.voice.find(APP, q, a, args.limit), args.repeat)
                print(f"{name:30} {position:>9} {http50:>7.2f}ms {http90:>7.2f}ms {sql50:>6.2f}ms {results:>8}")
            print(f"{'':30} ({matching} matching calls)")
    stores.close()


if __name__ == "__main__":
    main()
