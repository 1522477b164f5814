"""What the page counts cost writers: demo calls ingested with and without ``call_page_counts``.

    python bench/pages_write.py --dir /tmp/pw --calls 15000 --runs 2

Ingests the same demo calls (``calltrail demo``'s generator and batches) into fresh SQLite
databases, alternately with the row writer keeping ``call_page_counts`` and with that part
switched off, and prints each run's time and the best of each. Measures the write side only;
bench/pages.py measures the reads.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from calltrail.jobs.feeder import feed_session_demo
from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.store import open_stores, page_index

APP = "bench"


def ingest(path: Path, calls: int, keep_counts: bool) -> float:
    """Seconds to ingest ``calls`` demo calls into a fresh database at ``path``."""
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    stores = open_stores(f"sqlite:///{path}")
    stores.tenants.create_app(new_app_settings("Bench", APP))
    account, write = page_index.account, page_index.write
    if not keep_counts:
        page_index.account = lambda *args: None
        page_index.write = lambda *args: None
    try:
        generated = generate_calls(build_world(1), app_id=APP, count=calls, seed=1)
        started = time.perf_counter()
        feed_session_demo(stores.sessions, APP, generated, batch_events=5000)
        return time.perf_counter() - started
    finally:
        page_index.account, page_index.write = account, write
        stores.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True, help="a folder for the scratch databases")
    parser.add_argument("--calls", type=int, default=15_000)
    parser.add_argument("--runs", type=int, default=2, help="runs of each, alternating")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.runs):
        for keep in (False, True):
            times[keep].append(ingest(args.dir / "pages_write.db", args.calls, keep))
            print(f"{'with' if keep else 'without'} page counts: {times[keep][-1]:.1f} s", flush=True)
    best_without, best_with = min(times[False]), min(times[True])
    print(
        f"best of {args.runs}: without {best_without:.1f} s, with {best_with:.1f} s ({best_with / best_without:.2f}x)"
    )


if __name__ == "__main__":
    main()
