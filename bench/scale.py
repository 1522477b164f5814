"""Ten times the calls against one time: list, get, deep pages, user view and Bird pages, side by side.

Serves two SQLite databases made by ``bench/scale_copy.py`` from one demo database (``--times 1``
and ``--times 10``: the same calls, ten times as dense), runs every query of ``bench/engines.py``
against both servers in interleaved rounds, and prints each side's HTTP p50 with the ratio
large / small (issue 14's target at 10M against 1M: <= 1.25). Two deep pages are measured: page
5,000 on both sides, and each side's middle page (page 5,000 of 1M calls, 50,000 of 10M).

    python bench/scale_copy.py --from sqlite:////work/benchdb/big.db --to /work/benchdb/x1.db --times 1
    python bench/scale_copy.py --from sqlite:////work/benchdb/big.db --to /work/benchdb/x10.db --times 10
    python bench/scale.py --small sqlite:////work/benchdb/x1.db --large sqlite:////work/benchdb/x10.db --app bench
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack

from engines import add_run_options, measure, serve_both  # bench/engines.py: a script's folder is on sys.path

TARGET = 1.25
MIDDLE = "list middle page, perPage 100"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", required=True, help="sqlite:///path of the 1x database")
    parser.add_argument("--large", required=True, help="sqlite:///path of the 10x database")
    add_run_options(parser, "small, then large")
    args = parser.parse_args()

    with ExitStack() as stack:
        queries, paths, clients = serve_both({"1x": args.small, "10x": args.large}, args, stack)
        queries.append((MIDDLE, "", "key"))
        for name, kinds in clients.items():
            total = kinds["key"].get("/v3/calls", params={"perPage": 1}).json()["meta"]["pagination"]["total"]
            paths[name][MIDDLE] = f"/v3/calls?perPage=100&page={max(1, total // 200)}"
            print(f"{name}: {total:,} calls; middle page {paths[name][MIDDLE]}")
        measure(queries, paths, clients, args, target=TARGET, same_answers=False)


if __name__ == "__main__":
    main()
