"""Memory and connections over bursts: ten bursts of 16 connections (wrk, gets and list pages
mixed), separated by idle gaps, against one ``calltrail serve`` process.

After each burst it prints the server's requests/s, its resident memory (RSS) and its open
database connections (SQLite: descriptors of the database file; PostgreSQL: TCP connections to
the server's port), then the ratio of the last RSS to the first. Each burst replays the same
requests (a fixed sample of calls and the first list pages), so memory that keeps growing is a
leak, not a larger working set.

    calltrail apps create --name Bench --id bench --db sqlite:////tmp/bench.db
    calltrail demo --app bench --calls 1000000 --db sqlite:////tmp/bench.db
    python bench/bursts.py --db sqlite:////tmp/bench.db --app bench            # 15 s gaps
    python bench/bursts.py --db sqlite:////tmp/bench.db --app bench --gap 2    # a quick try

Target (issue 14): RSS after the tenth burst at most 1.3x the RSS after the first (PASS/FAIL),
and a bounded number of database connections. Needs ``wrk`` (``apt-get install -y wrk``). It
creates an API key named "bursts bench" unless ``--key`` gives one.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import tempfile
import time
from pathlib import Path

from server import running_process  # bench/server.py: a script's folder is on sys.path

from calltrail.kernel.tenancy import new_key_settings
from calltrail.store import open_stores
from calltrail.store.database import sqlite_path

TARGET = 1.3
#: wrk's request generator: each thread walks the same list of paths, round robin.
SCRIPT = """
local paths = {%s}
local i = math.random(#paths)
wrk.headers["apikey"] = "%s"
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def sample_paths(db_url: str, app_id: str, calls: int, pages: int) -> list[str]:
    """Gets of ``calls`` calls picked at random (seeded: the same each run) and the first list pages."""
    stores = open_stores(db_url)
    try:
        with stores.db.read() as conn:
            rows = conn.fetchall(
                "SELECT session_id FROM calls WHERE app_id = ? ORDER BY initiated_at DESC LIMIT ?", (app_id, 200_000)
            )
    finally:
        stores.close()
    if not rows:
        raise SystemExit("the app has no calls")
    ids = random.Random(14).sample([str(row[0]) for row in rows], min(calls, len(rows)))
    lists = [f"/v3/calls?perPage=100&page={page}" for page in range(1, pages + 1)]
    paths = []
    for index, session_id in enumerate(ids):
        paths.append(f"/v3/calls/{session_id}")
        if index % 4 == 0:  # one list page for every four gets
            paths.append(lists[index // 4 % pages])
    return paths


def new_key(db_url: str, app_id: str) -> str:
    stores = open_stores(db_url)
    try:
        secret, _ = stores.tenants.create_key(app_id, new_key_settings(name="bursts bench"))
    finally:
        stores.close()
    return secret


def burst(url: str, script: Path, connections: int, seconds: int) -> tuple[float, str]:
    """Requests/s of one wrk run, and its count of errors (non-2xx answers, socket errors)."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = ", ".join(line.strip() for line in output.splitlines() if "Non-2xx" in line or "Socket errors" in line)
    return (float(rate.group(1)) if rate else 0.0), errors or "-"


def rss_kib(pid: int) -> int:
    """Resident memory of the process, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def database_connections(pid: int, db_url: str) -> int:
    """Open connections to the database: the SQLite file's descriptors, or TCP sockets to PostgreSQL."""
    descriptors = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            descriptors.append(os.readlink(fd))
        except OSError:
            continue  # closed meanwhile
    if db_url.startswith("sqlite:"):
        path = os.path.realpath(sqlite_path(db_url))
        return sum(1 for target in descriptors if target == path)
    port = f":{5432:04X}"  # the port in /proc/net/tcp's hexadecimal notation
    inodes = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[2].endswith(port):
                inodes.add(fields[9])
    return sum(1 for target in descriptors if target.startswith("socket:[") and target[8:-1] in inodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="database URL with data")
    parser.add_argument("--app", required=True, help="app id with data")
    parser.add_argument("--key", help="an API key of the app (default: create one)")
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=4, help="duration of each burst")
    parser.add_argument("--gap", type=float, default=15.0, help="idle seconds between bursts")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--calls", type=int, default=2000, help="distinct calls fetched by each burst")
    parser.add_argument("--pages", type=int, default=10, help="list pages (100 calls each) in each burst")
    args = parser.parse_args()
    paths = sample_paths(args.db, args.app, args.calls, args.pages)
    key = args.key or new_key(args.db, args.app)
    # Rate limits would refuse a burst: this measures memory, not the limiter.
    os.environ.update(CALLTRAIL_RATE_LIMIT="1000000", CALLTRAIL_RATE_BURST="1000000")
    with tempfile.TemporaryDirectory() as folder, running_process(args.db) as (url, pid):
        script = Path(folder, "mix.lua")
        script.write_text(SCRIPT % (",".join(f'"{path}"' for path in paths), key))
        print(f"server pid {pid}; RSS before any burst {rss_kib(pid) / 1024:.1f} MiB")
        print(f"{'burst':>5} {'req/s':>8} {'RSS MiB':>8} {'db conns':>8}  errors")
        rss = []
        for number in range(1, args.bursts + 1):
            rate, errors = burst(url + paths[0], script, args.connections, args.seconds)
            rss.append(rss_kib(pid))
            connections = database_connections(pid, args.db)
            print(f"{number:5} {rate:8.0f} {rss[-1] / 1024:8.1f} {connections:8}  {errors}", flush=True)
            if number < args.bursts:
                time.sleep(args.gap)
    ratio = rss[-1] / rss[0]
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"RSS last/first: {ratio:.2f} (target <= {TARGET}): {verdict}; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
