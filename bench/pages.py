"""Deep pages by number: List Calls page 1 versus page 1,000 versus page 5,000, interleaved.

    calltrail apps create --name Bench --id bench --db sqlite:///deep.db
    calltrail demo --app bench --calls 1000000 --db sqlite:///deep.db
    python bench/pages.py --db sqlite:///deep.db --app bench

For each filter it times page 1, 1,000 and 5,000 at ``perPage=100`` (the middle page instead when
the filter has fewer pages, and the middle too when it lies elsewhere), first over HTTP against a
``calltrail serve`` it starts (or ``--url``), then in process at the store level (SQL only) with
each deep page located by ``call_page_counts`` and with a plain OFFSET (the path before), checking
that both read the same rows. Requests go round-robin, one of each per round, so load from
elsewhere on the machine falls on every query alike. Prints p50/p90 and each p50 over page 1's.
Time windows (``initiatedAt``) are located in the whole list, then cut to the window. The last
filter is one the counts cannot express: it reads deep pages with an OFFSET still.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import orjson
from server import running_server  # bench/server.py: a script's folder is on sys.path

from calltrail.kernel.tenancy import new_key_settings
from calltrail.sessions.filters import LIST_CALLS_PARAMS, parse_params
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.store import Stores, open_stores, page_index

PER_PAGE = 100
PAGES = (1, 1000, 5000)
SEEK_FROM = page_index.SEEK_FROM


def _filters(newest: int) -> list[tuple[str, str]]:
    return [
        ("no filter", ""),
        ("status=ended", "status=ended"),
        ("type=video&status=ended", "type=video&status=ended"),
        ("statuses=busy,rejected", "statuses=busy,rejected"),
        ("receiverType=group&mode=meet", "receiverType=group&mode=meet"),
        ("initiatedAt last 120 days", f"initiatedAt[gte]={newest - 120 * 86400}"),
        (
            "initiatedAt 120 days & status=ended",
            f"initiatedAt[gte]={newest - 150 * 86400}&initiatedAt[lt]={newest - 30 * 86400}&status=ended",
        ),
        ("duration[gt]=60 (OFFSET)", "duration[gt]=60"),
    ]


def _pages(total: int) -> list[int]:
    last = max(1, -(-total // PER_PAGE))
    middle = -(-last // 2)
    return sorted({page for page in PAGES if page <= last} | {middle})


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _interleaved(plan: list[tuple[str, Callable[[], object]]], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per label: every action once per round, in turn (after one warm-up round)."""
    times: dict[str, list[float]] = {label: [] for label, _ in plan}
    for round_ in range(rounds + 1):
        for label, action in plan:
            started = time.perf_counter()
            action()
            if round_:
                times[label].append((time.perf_counter() - started) * 1000)
    return times


def _table(rows: list[tuple[str, int, int]], columns: dict[str, dict[str, list[float]]]) -> None:
    """One line per (filter, total, page): p50/p90 of each column and its p50 over page 1's."""
    header = f"{'filter':36} {'total':>9} {'page':>6}"
    for name in columns:
        header += f" | {name + ' p50':>12} {'p90':>7} {'x page 1':>8}"
    print(header)
    for label, total, page in rows:
        line = f"{label:36} {total:>9,} {page:>6}"
        for times in columns.values():
            samples, first = times[f"{label}/{page}"], times[f"{label}/1"]
            ratio = statistics.median(samples) / statistics.median(first)
            line += f" | {statistics.median(samples):12.2f} {_p(samples, 0.9):7.2f} {ratio:8.2f}"
        print(line)


def measure_http(url: str, key: str, filters: list[tuple[str, str]], rounds: int) -> None:
    with httpx.Client(base_url=url, headers={"apikey": key}, timeout=120) as client:
        rows: list[tuple[str, int, int]] = []
        plan: list[tuple[str, Callable[[], object]]] = []
        for label, query in filters:
            total = client.get(f"/v3/calls?perPage=1&{query}").json()["meta"]["pagination"]["total"]
            for page in _pages(total):
                path = f"/v3/calls?perPage={PER_PAGE}&page={page}&{query}"

                def get(path: str = path, total: int = total) -> None:
                    response = client.get(path)
                    assert response.status_code == 200, response.text
                    assert response.json()["meta"]["pagination"]["total"] == total

                rows.append((label, total, page))
                plan.append((f"{label}/{page}", get))
        print(f"HTTP, perPage={PER_PAGE}, {rounds} rounds (milliseconds):")
        _table(rows, {"HTTP": _interleaved(plan, rounds)})


def measure_store(stores: Stores, app_id: str, filters: list[tuple[str, str]], rounds: int) -> None:
    rows: list[tuple[str, int, int]] = []
    seek_plan: list[tuple[str, Callable[[], object]]] = []
    offset_plan: list[tuple[str, Callable[[], object]]] = []
    for label, text in filters:
        query = parse_params(parse_qsl(text), LIST_CALLS_PARAMS, per_page_default=1, per_page_max=1000).query
        total = stores.sessions.find(app_id, query, PageRequest(1, 1)).total
        for page in _pages(total):
            request = PageRequest(page, PER_PAGE)

            def seek(query: CallQuery = query, request: PageRequest = request) -> object:
                return stores.sessions.find(app_id, query, request)

            def offset(query: CallQuery = query, request: PageRequest = request) -> object:
                page_index.SEEK_FROM = 1 << 62  # every page with an OFFSET: the path before
                try:
                    return stores.sessions.find(app_id, query, request)
                finally:
                    page_index.SEEK_FROM = SEEK_FROM

            assert seek() == offset(), f"{label} page {page}: the two paths read different rows"
            rows.append((label, total, page))
            seek_plan.append((f"{label}/{page}", seek))
            offset_plan.append((f"{label}/{page}", offset))
    both = _interleaved([(f"s:{k}", a) for k, a in seek_plan] + [(f"o:{k}", a) for k, a in offset_plan], rounds)
    print(f"\nStore level (in process, SQL only), perPage={PER_PAGE}, {rounds} rounds (milliseconds):")
    _table(
        rows,
        {
            "located": {k[2:]: v for k, v in both.items() if k.startswith("s:")},
            "OFFSET": {k[2:]: v for k, v in both.items() if k.startswith("o:")},
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="database URL with data")
    parser.add_argument("--app", required=True, help="app id with data")
    parser.add_argument("--url", help="an already running server (skips starting one)")
    parser.add_argument("--rounds", type=int, default=50, help="requests per query, interleaved")
    parser.add_argument("--store-rounds", type=int, default=30, help="store-level reads per query and path")
    args = parser.parse_args()

    stores = open_stores(args.db)
    key, _ = stores.tenants.create_key(args.app, new_key_settings("fullAccess", "bench"))
    newest = stores.sessions.find(args.app, CallQuery(), PageRequest(1, 1)).items[0]
    filters = _filters(int(orjson.loads(newest)["initiatedAt"]))
    if args.url:
        measure_http(args.url, key, filters, args.rounds)
    else:
        with running_server(args.db) as url:
            measure_http(url, key, filters, args.rounds)
    if args.store_rounds:
        measure_store(stores, args.app, filters, args.store_rounds)
    stores.close()


if __name__ == "__main__":
    main()
