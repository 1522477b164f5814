"""What one request costs the ASGI app, called directly (no sockets), beside a hello-world.

Calls the app ``calltrail serve`` runs (:func:`calltrail.app.create_app`, every middleware) with
``GET /v3/calls/{sessionId}`` and ``GET /v3/calls?perPage=100`` again and again on one event loop,
and, as the anchor, a Starlette hello-world answering a constant 1.7 KB body (the one of
``bench/concurrency.py``), in alternating rounds. It also times a worker trip (a function that
returns at once, handed to :data:`calltrail.api.http.WORKER_THREADS` and back), the cost a read
pays when it does not run on the event loop. Prints microseconds per request (wall and process CPU,
best of the rounds) and each as a multiple of the hello-world.

    python bench/request_cost.py --db sqlite:////tmp/bench.db --app bench

Take the figures side by side (``PYTHONPATH=<other tree>/src`` runs another checkout's code on the
same database): on a shared machine the absolute ones drift.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from concurrency import HELLO  # bench/concurrency.py: a script's folder is on sys.path

from calltrail.api.http import WORKER_THREADS
from calltrail.app import create_app
from calltrail.kernel.tenancy import new_key_settings
from calltrail.settings import Settings
from calltrail.store import open_stores

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def hello_app() -> App:
    """The hello-world ``bench/concurrency.py`` serves, built in this process."""
    namespace: dict[str, Any] = {}
    exec(HELLO, namespace)  # the benchmark's own constant source, as concurrency.py writes it to a file
    app: App = namespace["app"]
    return app


def scope(path: str, key: str) -> dict[str, Any]:
    path_only, _, query = path.partition("?")
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path_only, "raw_path": path_only.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"apikey", key.encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip


async def timed(app: App, path: str, key: str, count: int) -> tuple[float, float]:
    """Seconds of wall and process CPU time per request, over ``count`` requests."""
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        await app(scope(path, key), receive, send)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if set(statuses) != {200}:
        raise SystemExit(f"{path}: answers {sorted(set(statuses))}, not all 200")
    return wall / count, cpu / count


async def trip(count: int) -> tuple[float, float]:
    """Seconds of wall and process CPU time per worker trip of a function that returns at once."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        await WORKER_THREADS.call(lambda: None)
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


async def measure(app: App, paths: dict[str, str], key: str, rounds: int, count: int) -> dict[str, tuple[float, float]]:
    targets: dict[str, tuple[App, str]] = {"hello": (hello_app(), "/hello")}
    targets |= {name: (app, path) for name, path in paths.items()}
    best: dict[str, tuple[float, float]] = {}
    for _ in range(rounds):
        for name, (target, path) in targets.items():
            each = count if name != "list" else max(1, count // 5)
            figures = await timed(target, path, key, each)
            best[name] = min(best.get(name, figures), figures)
        best["worker trip"] = min(best.get("worker trip", (1.0, 1.0)), await trip(count))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="database URL with data")
    parser.add_argument("--app", required=True, help="app id with calls")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (the best is printed)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round (a fifth for the list)")
    args = parser.parse_args()
    os.environ.setdefault("CALLTRAIL_RATE_LIMIT", "0")  # the gate's token buckets would refuse a loop
    stores = open_stores(args.db)
    try:
        stores.prepare_to_serve()
        key = stores.tenants.create_key(args.app, new_key_settings(name="request cost bench"))[0]
        with stores.db.read() as conn:
            row = conn.fetchone(
                "SELECT session_id FROM calls WHERE app_id = ? ORDER BY initiated_at DESC LIMIT 1", (args.app,)
            )
        if row is None:
            raise SystemExit("the app has no calls")
        paths = {"get": f"/v3/calls/{row[0]}", "list": "/v3/calls?perPage=100"}
        app = create_app(stores, Settings.from_env())
        best = asyncio.run(measure(app, paths, key, args.rounds, args.requests))
    finally:
        stores.close()
    hello_wall = best["hello"][0]
    print(f"{'':12} {'wall us':>9} {'cpu us':>9} {'x hello':>8}")
    for name, (wall, cpu) in best.items():
        print(f"{name:12} {wall * 1e6:9.1f} {cpu * 1e6:9.1f} {wall / hello_wall:8.2f}")
    print(f"\nload average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
