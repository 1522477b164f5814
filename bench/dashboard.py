"""Dashboard benchmark: each page's p50 latency against the JSON API request that reads the same
data, measured side by side (requests alternate, one keep-alive connection each), and the HTML
size of a 100-row calls page.

    calltrail apps create --name Bench --id bench --db sqlite:///bench.db
    calltrail demo --app bench --calls 1000000 --db sqlite:///bench.db
    calltrail channels create --app bench --name Line --db sqlite:///bench.db     # optional:
    calltrail demo --app bench --channel <id> --calls 100000 --db sqlite:///bench.db  # phone pages
    python bench/dashboard.py --db sqlite:///bench.db --app bench

It starts its own ``calltrail serve`` on a free port unless --url is given. The issue's targets:
each page p50 <= 30 ms at 1,000,000 calls, a 100-row calls page <= 100 KB.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
from server import running_server  # bench/server.py: a script's folder is on sys.path

from calltrail.kernel.tenancy import new_key_settings
from calltrail.store import open_stores


def _p50(client: httpx.Client, path: str, headers: dict[str, str], times: list[float]) -> httpx.Response:
    started = time.perf_counter()
    response = client.get(path, headers=headers)
    times.append((time.perf_counter() - started) * 1000)
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return response


def _sign_in(client: httpx.Client, key: str) -> None:
    form = client.get("/signin")
    match = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert match, form.text
    response = client.post("/signin", data={"apikey": key, "csrf": match.group(1)})
    assert response.status_code == 303, response.text


def _plan(api: httpx.Client, app: str, key: str, token: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """``(label, dashboard path, anchor path, anchor headers)``."""
    apikey = {"apikey": key}
    bird = {"Authorization": f"AccessKey {key}"}
    sample = api.get("/v3/calls", params={"perPage": 1}, headers=apikey).json()["data"][0]
    uid, session = sample["initiator"], sample["sessionId"]
    last = datetime.fromtimestamp(sample["initiatedAt"], UTC).date()
    first = last - timedelta(days=29)
    plan = [
        ("calls, 50 rows", "/calls", "/v3/calls?perPage=50", apikey),
        ("calls, 100 rows", "/calls?perPage=100", "/v3/calls?perPage=100", apikey),
        ("calls, page 100", "/calls?page=100", "/v3/calls?perPage=50&page=100", apikey),
        (
            "calls, status + user",
            f"/calls?status=ended&uid={uid}",
            f"/v3/calls?perPage=50&status=ended&uid={uid}",
            apikey,
        ),
        ("one call (timeline)", f"/calls/{session}", f"/v3/calls/{session}", apikey),
        ("a user's calls", f"/users/{uid}", "/v3.0/calls?perPage=30", {"authToken": token}),
    ]
    usage = f"/api/usage/calls?from={first}T00:00:00Z&to={last + timedelta(days=1)}T00:00:00Z&interval=day&tz=UTC"
    if api.get(usage, headers=apikey).status_code == 200:
        plan.append(("overview (30 days)", f"/?from={first}&to={last}&tz=UTC", usage, apikey))
    else:  # the usage API is not mounted yet: the floor of any request
        plan.append(("overview (30 days)", f"/?from={first}&to={last}&tz=UTC", "/healthz", {}))
    plan.append(("phone channels", "/voice", "/healthz", {}))
    channel = re.search(r'href="/voice/([0-9a-f-]{36})"', api.get("/voice").text)  # the first channel
    if channel:
        base = f"/workspaces/{app}/channels/{channel.group(1)}/calls"
        calls = api.get(base, params={"limit": 1}, headers=bird).json()["results"]
        plan.append(("phone calls, 50 rows", f"/voice/{channel.group(1)}", f"{base}?limit=50", bird))
        if calls:
            plan.append(
                (
                    "one phone call",
                    f"/voice/{channel.group(1)}/calls/{calls[0]['id']}",
                    f"{base}/{calls[0]['id']}",
                    bird,
                )
            )
    return plan


def measure(url: str, app: str, key: str, token: str, requests: int) -> None:
    """Print each page's p50, its anchor's p50 and the ratio, then the 100-row page's size."""
    with httpx.Client(base_url=url, timeout=60) as page, httpx.Client(base_url=url, timeout=60) as anchor:
        _sign_in(page, key)
        plan = _plan(page, app, key, token)
        print(f"{'page':24} {'p50 ms':>8} {'anchor':46} {'p50 ms':>8} {'ratio':>6} {'HTML KB':>8}")
        for label, path, anchor_path, headers in plan:
            page_times: list[float] = []
            anchor_times: list[float] = []
            _p50(page, path, {}, [])  # warm both
            _p50(anchor, anchor_path, headers, [])
            for _ in range(requests):
                body = _p50(page, path, {}, page_times)
                _p50(anchor, anchor_path, headers, anchor_times)
            ours, theirs = statistics.median(page_times), statistics.median(anchor_times)
            shown = anchor_path if len(anchor_path) <= 46 else anchor_path[:43] + "..."
            print(
                f"{label:24} {ours:8.2f} {shown:46} {theirs:8.2f} {ours / theirs:6.2f} {len(body.content) / 1024:8.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="database URL with data")
    parser.add_argument("--app", required=True, help="app id with data")
    parser.add_argument("--url", help="an already running server (skips starting one)")
    parser.add_argument("--requests", type=int, default=100, help="requests per page and per anchor")
    args = parser.parse_args()

    stores = open_stores(args.db)
    key, _ = stores.tenants.create_key(args.app, new_key_settings("fullAccess", "bench"))
    stores.close()
    with httpx.Client(timeout=60) as probe:
        if args.url:
            run(args.url, args, key, probe)
        else:
            with running_server(args.db) as url:
                run(url, args, key, probe)


def run(url: str, args: argparse.Namespace, key: str, probe: httpx.Client) -> None:
    uid = probe.get(f"{url}/v3/calls", params={"perPage": 1}, headers={"apikey": key}).json()["data"][0]["initiator"]
    stores = open_stores(args.db)
    token, _ = stores.users.create_token(args.app, uid)
    stores.close()
    measure(url, args.app, key, token, args.requests)


if __name__ == "__main__":
    main()
