"""Read-path benchmark: latency of List Calls and Get Call against a running server.

Prints, per query, the total it reports and p50/p90/p99 latency over sequential requests (one
connection, keep-alive), then the throughput of a mixed workload with N concurrent clients.

    # a database with data, e.g. 1M demo calls:
    calltrail apps create --name Bench --id bench --db sqlite:///bench.db
    calltrail demo --app bench --calls 1000000 --db sqlite:///bench.db
    python bench/read_api.py --db sqlite:///bench.db --app bench

It starts its own `calltrail serve` on a free port unless --url is given.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from server import running_server  # bench/server.py: a script's folder is on sys.path

from calltrail.kernel.tenancy import new_key_settings
from calltrail.store import open_stores


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _queries(client: httpx.Client) -> list[tuple[str, str]]:
    first = client.get("/v3/calls", params={"perPage": 1}).json()
    total = first["meta"]["pagination"]["total"]
    sample = first["data"][0]
    uid = sample["initiator"]
    newest = sample["initiatedAt"]
    middle = max(1, total // 200)  # the middle of the list at perPage=100: the deepest page to reach
    return [
        ("page 1, perPage 25", "/v3/calls?perPage=25"),
        ("page 1, perPage 100", "/v3/calls?perPage=100"),
        ("page 100, perPage 100", "/v3/calls?perPage=100&page=100"),
        (f"middle page {middle}, perPage 100", f"/v3/calls?perPage=100&page={middle}"),
        ("last page, perPage 100", f"/v3/calls?perPage=100&page={max(1, -(-total // 100))}"),
        ("status=ended", "/v3/calls?perPage=25&status=ended"),
        ("status=busy (selective)", "/v3/calls?perPage=25&status=busy"),
        ("type=video&status=ended", "/v3/calls?perPage=25&type=video&status=ended"),
        ("hasRecording=true", "/v3/calls?perPage=25&hasRecording=true"),
        ("initiatedAt last 7 days", f"/v3/calls?perPage=25&initiatedAt[gte]={newest - 7 * 86400}"),
        (
            "startedAt range (1 day)",
            f"/v3/calls?perPage=25&startedAt[gte]={newest - 30 * 86400}&startedAt[lt]={newest - 29 * 86400}",
        ),
        ("duration[gt]=60", "/v3/calls?perPage=25&duration[gt]=60"),
        ("totalParticipants[gte]=4", "/v3/calls?perPage=25&totalParticipants[gte]=4"),
        ("receiverType=group&mode=meet", "/v3/calls?perPage=25&receiverType=group&mode=meet"),
        ("uid=<a user>", f"/v3/calls?perPage=25&uid={uid}"),
        ("uid + status=ended", f"/v3/calls?perPage=25&uid={uid}&status=ended"),
        ("uid page 10", f"/v3/calls?perPage=25&page=10&uid={uid}"),
        ("get call", f"/v3/calls/{sample['sessionId']}"),
    ]


def _user_view_queries(uid: str) -> list[tuple[str, str]]:
    """The per-user view the CometChat client SDKs use (authToken), for one busy user."""
    return [
        ("user view: page 1 (30)", "/v3.0/calls?page=1&perPage=30"),
        ("user view: status=missed", "/v3.0/calls?perPage=30&status=missed"),
        ("user view: direction=outgoing", "/v3.0/calls?perPage=30&direction=outgoing"),
        ("user view: incoming video", "/v3.0/calls?perPage=30&direction=incoming&type=video"),
        ("user view: page 20", "/v3.0/calls?page=20&perPage=30"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="database URL with data")
    parser.add_argument("--app", required=True, help="app id with data")
    parser.add_argument("--url", help="an already running server (skips starting one)")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per query")
    parser.add_argument("--concurrency", type=int, default=16, help="clients for the throughput run")
    parser.add_argument("--seconds", type=float, default=10, help="duration of the throughput run")
    args = parser.parse_args()

    stores = open_stores(args.db)
    key, _ = stores.tenants.create_key(args.app, new_key_settings("fullAccess", "bench"))
    stores.close()

    if args.url:
        measure(args.url, key, args)
    else:
        with running_server(args.db) as url:
            measure(url, key, args)


def measure(url: str, key: str, args: argparse.Namespace) -> None:
    """Print the latency table and the throughput of the mixed workload."""
    headers = {"apikey": key}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        queries = _queries(client)
        uid = client.get("/v3/calls", params={"perPage": 1}).json()["data"][0]["initiator"]
        user_stores = open_stores(args.db)
        token, _ = user_stores.users.create_token(args.app, uid)
        user_stores.close()
        token_headers = {"authToken": token}
        plan = [(label, path, headers) for label, path in queries]
        plan += [(label, path, token_headers) for label, path in _user_view_queries(uid)]
        print(f"{'query':40} {'total':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
        for label, path, extra in plan:
            client.headers.clear()
            client.headers.update(extra)
            client.get(path)  # warm
            times = []
            total = None
            for _ in range(args.requests):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
            body = response.json()
            if isinstance(body.get("meta"), dict):
                total = body["meta"]["pagination"]["total"]
            print(
                f"{label:40} {total if total is not None else '-':>9} {statistics.median(times):8.2f} "
                f"{_percentile(times, 0.9):8.2f} {_percentile(times, 0.99):8.2f}"
            )

    paths = [path for _, path in queries]
    deadline = time.monotonic() + args.seconds

    def worker(offset: int) -> int:
        done = 0
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            while time.monotonic() < deadline:
                client.get(paths[(offset + done) % len(paths)]).raise_for_status()
                done += 1
        return done

    with ThreadPoolExecutor(args.concurrency) as pool:
        started = time.monotonic()
        count = sum(pool.map(worker, range(args.concurrency)))
        elapsed = time.monotonic() - started
    print(f"\nmixed workload, {args.concurrency} clients: {count / elapsed:.0f} requests/s")


if __name__ == "__main__":
    main()
