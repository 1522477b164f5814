"""Totals of time windows: counting every call against summing ``call_page_counts``, side by side.

For windows of 1, 7, 30 and 365 days ending at the app's newest call (with and without
``status=ended``), times in process the plain ``count(*)`` over the calls' index (the anchor: what
a windowed list's total cost before) and :func:`calltrail.store.page_index.count_between`, checks
that both give the same number, and prints the medians and their ratio.

    python bench/window_counts.py --db sqlite:///bench.db --app bench
    python bench/window_counts.py --db postgresql://postgres@127.0.0.1:5432/big --app bench
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from calltrail.sessions.query import Condition
from calltrail.store import page_index
from calltrail.store.database import Database, open_database


def median_ms(action: Callable[[], int], repeat: int) -> tuple[float, int]:
    samples, result = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def compare(db: Database, app: str, lower: int, status: str | None, repeat: int) -> tuple[float, float, int]:
    """(count(*) ms, buckets ms, calls) for the window from ``lower`` on."""
    conditions = (Condition("status", "eq", status),) if status else ()
    extra, params = (" AND c.status = ?", (app, lower, status)) if status else ("", (app, lower))

    def plain() -> int:
        with db.read() as conn:
            sql = f"SELECT count(*) FROM calls c WHERE c.app_id = ? AND c.initiated_at >= ?{extra}"
            return int((conn.fetchone(sql, params) or (0,))[0])

    def buckets() -> int:
        with db.read() as conn:
            return page_index.count_between(conn, app, conditions, lower, 2**62)

    anchor, expected = median_ms(plain, repeat)
    measured, found = median_ms(buckets, repeat)
    assert found == expected, (found, expected)
    return anchor, measured, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="database URL with data")
    parser.add_argument("--app", required=True, help="app id with data")
    parser.add_argument("--repeat", type=int, default=15, help="timings per figure (the median is printed)")
    args = parser.parse_args()
    db = open_database(args.db)
    with db.read() as conn:
        newest = int((conn.fetchone("SELECT max(initiated_at) FROM calls WHERE app_id = ?", (args.app,)) or (0,))[0])
    print(f"{db.dialect}: {'window':34} {'count(*)':>10} {'buckets':>10} {'ratio':>7}")
    for days in (1, 7, 30, 365):
        for status in (None, "ended"):
            # An arbitrary second: the window's edges fall inside 15-minute buckets.
            anchor, measured, calls = compare(db, args.app, newest - days * 86_400 + 1234, status, args.repeat)
            label = f"{days} days" + (f", status={status}" if status else "") + f" ({calls:,})"
            print(f"{'':{len(db.dialect) + 1}} {label:34} {anchor:8.2f}ms {measured:8.2f}ms {anchor / measured:6.1f}x")
    db.close()


if __name__ == "__main__":
    main()
