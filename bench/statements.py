"""Each statement of one list query, timed in process: what a page costs an engine, statement by statement.

Runs ``SessionStore.find`` for a CometChat list query (its query string as a client sends it) a few
times on either engine and prints each run's total time, then every statement of the last run with
its time and parameters:

    python bench/statements.py --db postgresql://postgres@127.0.0.1:5432/big --app bench \\
        --query 'perPage=25&duration[gt]=60'
    python bench/statements.py --db sqlite:////work/benchdb/big.db --app bench --query 'perPage=100&page=5000'
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from calltrail.kernel.errors import InvalidRequest
from calltrail.sessions.filters import LIST_CALLS_PARAMS, parse_params
from calltrail.store import open_stores
from calltrail.store.database import Connection, PostgresConnection, SQLiteConnection


def spy(log: list[tuple[float, str, Sequence[Any]]]) -> None:
    """Time every statement either engine's connections run, into ``log``."""
    for connection in (SQLiteConnection, PostgresConnection):
        real = connection.execute

        def execute(self: Connection, sql: str, params: Sequence[Any] = (), real: Any = real) -> Any:
            started = time.perf_counter()
            try:
                return real(self, sql, params)
            finally:
                log.append((time.perf_counter() - started, sql, params))

        connection.execute = execute  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="database URL with data")
    parser.add_argument("--app", required=True, help="app id with calls")
    parser.add_argument("--query", default="perPage=25", help="the list's query string (default: page 1)")
    parser.add_argument("--runs", type=int, default=3, help="runs of the query (the last one is detailed)")
    args = parser.parse_args()
    try:
        parsed = parse_params(parse_qsl(args.query), LIST_CALLS_PARAMS, per_page_default=25, per_page_max=100)
    except InvalidRequest as exc:
        raise SystemExit(f"--query: {exc.details}") from None
    stores = open_stores(args.db)
    log: list[tuple[float, str, Sequence[Any]]] = []
    spy(log)
    try:
        for _ in range(args.runs):
            log.clear()
            started = time.perf_counter()
            page = stores.sessions.find(args.app, parsed.query, parsed.page)
            print(f"total {page.total:,}, {len(page.items)} calls: {(time.perf_counter() - started) * 1000:.2f} ms")
    finally:
        stores.close()
    for seconds, sql, params in log:
        print(f"{seconds * 1000:8.2f} ms  {sql}  {list(params)[:16]}")


if __name__ == "__main__":
    main()
