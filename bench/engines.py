"""PostgreSQL against SQLite on the same calls: list, get, user view and Bird pages, side by side.

Serves the same data from both engines (copy it with ``bench/pages_copy.py --voice``), then runs
every query against both servers in interleaved rounds, checks that both answer the same records,
and prints each engine's HTTP p50 with the ratio PostgreSQL / SQLite (issue 14's target: <= 2).

    createdb -h 127.0.0.1 -U postgres big
    python bench/pages_copy.py --from sqlite:////work/benchdb/big.db \\
        --to postgresql://postgres@127.0.0.1:5432/big --app bench --voice
    python bench/engines.py --sqlite sqlite:////work/benchdb/big.db \\
        --pg postgresql://postgres@127.0.0.1:5432/big --app bench
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
from server import running_server  # bench/server.py: a script's folder is on sys.path

from calltrail.kernel.tenancy import new_key_settings
from calltrail.store import open_stores

TARGET = 2.0


def credentials(db_url: str, app: str, uid: str | None) -> tuple[str, str | None]:
    """A fullAccess key, and an auth token for ``uid`` when given."""
    stores = open_stores(db_url)
    try:
        key, _ = stores.tenants.create_key(app, new_key_settings("fullAccess", "engines bench"))
        token = stores.users.create_token(app, uid)[0] if uid else None
        return key, token
    finally:
        stores.close()


def busiest_channel(db_url: str, app: str) -> str | None:
    stores = open_stores(db_url)
    try:
        with stores.db.read() as conn:
            row = conn.fetchone(
                "SELECT channel_id FROM channel_calls WHERE app_id = ? GROUP BY channel_id ORDER BY count(*) DESC",
                (app,),
            )
        return str(row[0]) if row else None
    finally:
        stores.close()


def plan(client: httpx.Client, app: str, channel: str | None) -> tuple[list[tuple[str, str, str]], str]:
    """(label, path, credential kind) of every measured query, and the busy user of the user view."""
    sample = client.get("/v3/calls", params={"perPage": 1}).json()["data"][0]
    uid, newest = sample["initiator"], sample["initiatedAt"]
    queries = [
        ("list page 1, perPage 25", "/v3/calls?perPage=25", "key"),
        ("list page 1, perPage 100", "/v3/calls?perPage=100", "key"),
        ("list page 5000, perPage 100", "/v3/calls?perPage=100&page=5000", "key"),
        ("list status=ended", "/v3/calls?perPage=25&status=ended", "key"),
        ("list type=video&status=ended", "/v3/calls?perPage=25&type=video&status=ended", "key"),
        ("list initiatedAt last 7 days", f"/v3/calls?perPage=25&initiatedAt[gte]={newest - 7 * 86400}", "key"),
        ("list uid=<a user>", f"/v3/calls?perPage=25&uid={uid}", "key"),
        (
            "list startedAt range (1 day)",
            f"/v3/calls?perPage=25&startedAt[gte]={newest - 30 * 86400}&startedAt[lt]={newest - 29 * 86400}",
            "key",
        ),
        ("list duration[gt]=60", "/v3/calls?perPage=25&duration[gt]=60", "key"),
        ("list totalParticipants[gte]=4", "/v3/calls?perPage=25&totalParticipants[gte]=4", "key"),
        ("get call", f"/v3/calls/{sample['sessionId']}", "key"),
        ("user view page 1", "/v3.0/calls?page=1&perPage=30", "token"),
        ("user view status=missed", "/v3.0/calls?perPage=30&status=missed", "token"),
        ("user view page 20", "/v3.0/calls?page=20&perPage=30", "token"),
    ]
    if channel:
        calls = f"/workspaces/{app}/channels/{channel}/calls"
        queries += [
            ("bird page 1, limit 25", f"{calls}?limit=25", "bird"),
            ("bird status=completed", f"{calls}?limit=25&status=completed", "bird"),
            ("bird direction=outgoing", f"{calls}?limit=25&direction=outgoing", "bird"),
        ]
    return queries, uid


def deep_bird_path(client: httpx.Client, path: str, hops: int) -> str:
    """The path of a page ``hops`` thousand calls deep, reached by following nextPageToken."""
    token = None
    for _ in range(hops):
        params = {"limit": "1000", **({"pageToken": token} if token else {})}
        token = client.get(path, params=params).json().get("nextPageToken")
        if token is None:
            break
    return f"{path}?limit=25" + (f"&pageToken={token}" if token else "")


def records(body: Any) -> Any:
    """What both engines must answer alike (tokens differ: each database signs its own)."""
    if "results" in body:
        return [row["id"] for row in body["results"]]
    return body.get("data"), (body.get("meta") or {}).get("pagination")


def timed(client: httpx.Client, path: str, requests: int) -> Iterator[float]:
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        yield (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, response.status_code, response.text[:200])


def add_run_options(parser: argparse.ArgumentParser, order: str) -> None:
    """The options of a side-by-side run (also bench/scale.py); ``order`` says which side goes first."""
    parser.add_argument("--app", required=True, help="app id with data")
    parser.add_argument("--requests", type=int, default=10, help="sequential requests per query per round")
    parser.add_argument("--rounds", type=int, default=5, help=f"interleaved rounds ({order})")
    parser.add_argument("--bird-depth", type=int, default=20, help="thousands of calls into the Bird deep page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite", required=True, help="sqlite:///path with the app's calls")
    parser.add_argument("--pg", required=True, help="postgresql:// database holding a copy of them")
    add_run_options(parser, "SQLite, then PostgreSQL")
    args = parser.parse_args()

    with ExitStack() as stack:
        queries, paths, clients = serve_both({"SQLite": args.sqlite, "PG": args.pg}, args, stack)
        measure(queries, paths, clients, args)


Sides = dict[str, dict[str, httpx.Client]]


def serve_both(
    sides: dict[str, str], args: argparse.Namespace, stack: ExitStack
) -> tuple[list[tuple[str, str, str]], dict[str, dict[str, str]], Sides]:
    """A server over each side's database (kept until ``stack`` closes), clients with each
    side's credentials, and every query (:func:`plan`, and the Bird deep page) with its path on
    each side. The first side names the user, the call and the channel (also bench/scale.py)."""
    first = next(iter(sides.values()))
    channel = busiest_channel(first, args.app)
    urls = {name: stack.enter_context(running_server(url)) for name, url in sides.items()}
    key = credentials(first, args.app, None)[0]
    with httpx.Client(base_url=next(iter(urls.values())), headers={"apikey": key}, timeout=60) as probe:
        queries, uid = plan(probe, args.app, channel)
    clients: Sides = {}
    for name, url in sides.items():
        key, token = credentials(url, args.app, uid)
        headers = {"key": {"apikey": key}, "token": {"authToken": token or ""}}
        headers["bird"] = {"Authorization": f"AccessKey {key}"}
        clients[name] = {
            kind: stack.enter_context(httpx.Client(base_url=urls[name], headers=value, timeout=60))
            for kind, value in headers.items()
        }
    paths = {name: {label: path for label, path, _ in queries} for name in sides}
    if channel:
        label = f"bird page {args.bird_depth}k deep"
        queries.append((label, "", "bird"))
        for name in sides:
            bird = f"/workspaces/{args.app}/channels/{channel}/calls"
            paths[name][label] = deep_bird_path(clients[name]["bird"], bird, args.bird_depth)
    return queries, paths, clients


def measure(
    queries: list[tuple[str, str, str]],
    paths: dict[str, dict[str, str]],
    clients: Sides,
    args: argparse.Namespace,
    target: float = TARGET,
    same_answers: bool = True,
) -> float:
    """Check both sides agree (when ``same_answers``), time interleaved rounds, print each side's
    p50 and the second's over the first's; returns the worst such ratio. ``clients`` has two
    sides, named for the table's heads (also bench/scale.py)."""
    samples: dict[tuple[str, str], list[float]] = {}
    first, second = clients
    for label, _, kind in queries:
        answers = [records(clients[name][kind].get(paths[name][label]).json()) for name in clients]
        assert not same_answers or answers[0] == answers[1], f"{label}: the two sides answer differently"
    for _ in range(args.rounds):
        for label, _, kind in queries:
            for name in clients:
                samples.setdefault((label, name), []).extend(
                    timed(clients[name][kind], paths[name][label], args.requests)
                )
    ratio = f"{second}/{first}"
    print(f"{'query':34} {first + ' p50':>11} {second + ' p50':>11} {ratio:>12}")
    worst = 0.0
    for label, _, _ in queries:
        one, two = (statistics.median(samples[(label, name)]) for name in clients)
        worst = max(worst, two / one)
        print(f"{label:34} {one:9.2f}ms {two:9.2f}ms {two / one:11.2f}x")
    verdict = "PASS" if worst <= target else "FAIL"
    print(f"\nworst {ratio}: {worst:.2f}x (target <= {target:g}x): {verdict}")
    return worst


if __name__ == "__main__":
    main()
