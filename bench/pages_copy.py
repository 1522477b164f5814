"""Copy the list tables of an SQLite benchmark database into a fresh PostgreSQL one.

    createdb -h 127.0.0.1 -U postgres deep
    python bench/pages_copy.py --from sqlite:///deep.db --to postgresql://postgres@127.0.0.1:5432/deep --app bench
    python bench/pages.py --db postgresql://postgres@127.0.0.1:5432/deep --app bench

Generating a million calls through the pipeline takes hours on PostgreSQL on a small machine; this
copies what List Calls and the user view read (the app, its calls, member rows, count tables and
profiles) with COPY, then VACUUM ANALYZE, so both engines serve the same calls. Other tables
(events, usage) stay empty: the copy is for list benchmarks only; ``--voice`` adds the channels
and phone calls (bench/engines.py), ``--usage`` what the calls' usage series read (bench/usage.py).
"""

from __future__ import annotations

import argparse
import sqlite3
import time

import psycopg

from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import open_stores
from calltrail.store.database import sqlite_path

TABLES = (
    "calls",
    "call_members",
    "call_counts",
    "member_counts",
    "call_page_counts",
    "call_page_totals",
    "call_value_counts",
    "user_profiles",
    "group_profiles",
)
#: With --voice: what the Bird listing reads.
VOICE_TABLES = ("channels", "channel_calls", "channel_call_tags")
#: With --usage: what the calls' usage series read (bench/usage.py).
USAGE_TABLES = (
    "usage_calls",
    "usage_call_slots",
    "usage_long_members",
    "usage_rollups",
    "usage_member_rollups",
    "usage_rollup_backlog",
    "usage_member_backlog",
    "usage_member_backlog_size",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", required=True, help="sqlite:///path with the app's calls")
    parser.add_argument("--to", dest="target", required=True, help="an empty postgresql:// database")
    parser.add_argument("--app", required=True)
    parser.add_argument("--voice", action="store_true", help="copy the app's channels and phone calls too")
    parser.add_argument("--usage", action="store_true", help="copy what the calls' usage series read too")
    args = parser.parse_args()

    stores = open_stores(args.source)  # brings the source's schema up to date (page counts included)
    stores.close()
    stores = open_stores(args.target)
    stores.tenants.create_app(new_app_settings("Bench", args.app))
    stores.close()
    source = sqlite3.connect(f"file:{sqlite_path(args.source)}?mode=ro", uri=True)
    with psycopg.connect(args.target) as target:
        for table in TABLES + (VOICE_TABLES if args.voice else ()) + (USAGE_TABLES if args.usage else ()):
            started = time.perf_counter()
            columns = ", ".join(row[1] for row in source.execute(f"PRAGMA table_info({table})"))
            rows = source.execute(f"SELECT {columns} FROM {table} WHERE app_id = ?", (args.app,))
            with target.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            target.commit()
            print(f"{table}: {time.perf_counter() - started:.1f} s", flush=True)
        target.autocommit = True
        target.execute("VACUUM ANALYZE")
    source.close()


if __name__ == "__main__":
    main()
