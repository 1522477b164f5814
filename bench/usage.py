"""Usage and export benchmark: ``/api/usage/*`` against DuckDB, exports against the sqlite3 CLI.

Measured side by side in one run, printed as ratios (never asserted):

* a 365-day daily series (no groupBy), the same in ``tz=Asia/Kolkata`` and ``tz=America/New_York``
  (a half-hour offset, and DST), and a 12-month series grouped by ``type``: p50 over HTTP and in
  process, against DuckDB computing the same figures
  (counts per status, minute sums, average, and peak concurrency by a window over start/end
  events) over the same calls held in DuckDB's own columnar table;
* ``groupBy=uid`` over 30 days: p50 over HTTP and in process (no anchor);
* ``/api/exports/calls`` as NDJSON and CSV: calls/s and the server's extra memory, against the
  ``sqlite3`` command-line tool writing the same rows as CSV (SQLite only); ``--only exports``
  measures these alone, ``--only series`` the series alone.

    calltrail apps create --name Bench --id bench --db sqlite:////tmp/bench.db
    calltrail demo --app bench --calls 1000000 --db sqlite:////tmp/bench.db
    python bench/usage.py --db sqlite:////tmp/bench.db --app bench

Needs ``duckdb`` (in the dev extras) and, for the CSV anchor, the ``sqlite3`` tool
(``apt-get install -y sqlite3``).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import duckdb
import httpx
from server import running_process  # bench/server.py: a script's folder is on sys.path

from calltrail.kernel.instants import now_ms
from calltrail.kernel.tenancy import new_key_settings
from calltrail.store import Stores, open_stores
from calltrail.store.database import sqlite_path
from calltrail.usage.params import parse_call_usage

DAY = 86400


def p50(function: Callable[[], Any], runs: int) -> float:
    """The median wall time of ``function`` in milliseconds (after one warm-up run)."""
    return interleaved([[function]], runs)[0][0]


def interleaved(functions: list[list[Callable[[], Any]]], runs: int) -> list[list[float]]:
    """The median wall time in milliseconds of each function, run in turn, round after round
    (after one warm-up round): on a shared machine, a slow spell slows every one alike. Each
    timed call follows an untimed call of the same function: every figure is a steady state (a
    server answering a dashboard's repeated request; DuckDB with its table in its caches), not
    the cost of following another query (after DuckDB's, a request took 15 % longer: 20.0 ms
    against 17.4 ms after one of its own, its threads and caches just used by DuckDB)."""
    times: list[list[list[float]]] = [[[] for _ in row] for row in functions]
    for round_ in range(runs + 1):
        for row, found in zip(functions, times, strict=True):
            for function, spent in zip(row, found, strict=True):
                function()
                started = time.perf_counter()
                function()
                if round_:
                    spent.append((time.perf_counter() - started) * 1000)
    return [[statistics.median(spent) for spent in found] for found in times]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def load_duckdb(stores: Stores, app_id: str) -> duckdb.DuckDBPyConnection:
    """The app's calls in a DuckDB table (its own columnar storage), loaded through a CSV file."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "initiated_at",
                "started_at",
                "ended_at",
                "status",
                "type",
                "duration_ms",
                "audio_ms",
                "video_ms",
                "participant_ms",
            ]
        )
        with stores.db.read() as conn:
            for row in conn.execute(
                "SELECT initiated_at, started_at, ended_at, status, type, duration_ms, audio_ms, video_ms, "
                "participant_ms FROM usage_calls WHERE app_id = ?",
                (app_id,),
            ):
                writer.writerow(row)
        path = handle.name
    duck = duckdb.connect()
    duck.execute(f"CREATE TABLE calls AS SELECT * FROM read_csv('{path}', header = true)")
    os.unlink(path)
    return duck


def duck_series(duck: duckdb.DuckDBPyConnection, lo: int, hi: int, bucket: str, group: bool, offset: int) -> Any:
    """The same figures as /api/usage/calls: per bucket (and type), status counts, sums, average
    and peak concurrency (a running sum over start/end events per bucket)."""
    g = ", type" if group else ""
    return duck.execute(
        f"""
        WITH b AS (
            SELECT date_trunc('{bucket}', make_timestamp((initiated_at + {offset}) * 1000000)) AS k{g}, *
            FROM calls WHERE initiated_at >= {lo} AND initiated_at < {hi}),
        sums AS (
            SELECT k{g}, count(*) AS calls, count_if(status = 'ended') AS ended, count_if(status = 'busy') AS busy,
                   count_if(status = 'unanswered') AS unanswered, count_if(status = 'rejected') AS rejected,
                   count_if(status = 'cancelled') AS cancelled, count_if(status = 'ongoing') AS ongoing,
                   count_if(status = 'initiated') AS initiated, sum(duration_ms), sum(audio_ms), sum(video_ms),
                   sum(participant_ms), avg(duration_ms) FILTER (WHERE started_at IS NOT NULL)
            FROM b GROUP BY ALL),
        ev AS (
            SELECT k{g}, started_at AS t, 1 AS d FROM b WHERE started_at IS NOT NULL AND ended_at IS NOT NULL
            UNION ALL
            SELECT k{g}, ended_at AS t, -1 AS d FROM b WHERE started_at IS NOT NULL AND ended_at IS NOT NULL),
        run AS (SELECT k{g}, sum(d) OVER (PARTITION BY k{g} ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS c FROM ev),
        pk AS (SELECT k{g}, max(c) AS peak FROM run GROUP BY ALL)
        SELECT * FROM sums LEFT JOIN pk USING (k{g}) ORDER BY ALL
        """
    ).fetchall()


def measure_series(args: argparse.Namespace, stores: Stores, url: str, key: str) -> None:
    with stores.db.read() as conn:
        newest = int(
            (conn.fetchone("SELECT max(initiated_at) FROM usage_calls WHERE app_id = ?", (args.app,)) or (0,))[0]
        )
    end = (newest // DAY + 1) * DAY
    year = (end - 365 * DAY, end)
    duck = load_duckdb(stores, args.app)
    cases = [
        ("365 days, interval=day", {"interval": "day"}, year, "day", False, 0),
        (
            "365 days, interval=day, tz=Asia/Kolkata",
            {"interval": "day", "tz": "Asia/Kolkata"},
            year,
            "day",
            False,
            19800,
        ),
        # A zone with DST: the anchor's fixed offset (EST) is the same work, not the same days.
        (
            "365 days, interval=day, tz=America/New_York",
            {"interval": "day", "tz": "America/New_York"},
            year,
            "day",
            False,
            -18000,
        ),
        ("12 months, interval=month, groupBy=type", {"interval": "month", "groupBy": "type"}, year, "month", True, 0),
    ]
    print(f"{'series':44} {'HTTP p50':>9} {'in-proc':>9} {'DuckDB':>9} {'HTTP/Duck':>9}")
    with httpx.Client(base_url=url, headers={"apikey": key}, timeout=120) as client:
        timed: list[list[Callable[[], Any]]] = []  # per case: HTTP, in process, DuckDB
        for _, params, (lo, hi), bucket, group, offset in cases:
            query = {"from": str(lo), "to": str(hi), **params}
            request = parse_call_usage(list(query.items()), now_ms())
            timed.append([
                lambda q=query: client.get("/api/usage/calls", params=q).raise_for_status(),
                lambda r=request: stores.usage.calls(args.app, r, now_ms()),
                lambda lo=lo, hi=hi, b=bucket, g=group, o=offset: duck_series(duck, lo, hi, b, g, o),
            ])  # fmt: skip
        medians = interleaved(timed, args.runs)
        for (label, *_), (http, inproc, anchor) in zip(cases, medians, strict=True):
            print(f"{label:44} {http:8.1f}ms {inproc:8.1f}ms {anchor:8.1f}ms {http / anchor:9.2f}")
        for position, zone in ((1, "Asia/Kolkata"), (2, "America/New_York")):
            ratio = medians[position][0] / medians[0][0]
            print(f"{'365 days: ' + zone + ' / UTC (HTTP p50)':44} {ratio:9.2f}")
        uid = {"from": str(end - 30 * DAY), "to": str(end), "groupBy": "uid"}
        http = p50(lambda: client.get("/api/usage/calls", params=uid).raise_for_status(), args.runs)
        request = parse_call_usage(list(uid.items()), now_ms())
        inproc = p50(lambda: stores.usage.calls(args.app, request, now_ms()), args.runs)
        print(f"{'30 days, groupBy=uid (limit 100)':44} {http:8.1f}ms {inproc:8.1f}ms")


def cpu_seconds(pid: int) -> float:
    """The CPU time a process used so far (user and system, every thread)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def export_once(
    client: httpx.Client, pid: int, chosen: str, count_lines: bool = False
) -> tuple[float, float, int, int, float]:
    """One whole ``/api/exports/calls`` download: seconds, the server's extra memory (MB), bytes,
    lines when ``count_lines`` (counting costs this client ~0.5 ns a byte, on the cores the
    server uses, so timed runs only check the size; the sqlite3 anchor writes to /dev/null), and
    the server's CPU seconds (a figure other load on the machine barely changes)."""
    base = rss_mb(pid)
    cpu = cpu_seconds(pid)
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_mb(pid))

    watcher = threading.Thread(target=sample)
    watcher.start()
    started = time.perf_counter()
    size = lines = 0
    try:
        with client.stream("GET", "/api/exports/calls", params={"format": chosen}) as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                size += len(chunk)
                if count_lines:
                    lines += chunk.count(b"\n")
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        watcher.join()
    return elapsed, peak[0] - base, size, lines, cpu_seconds(pid) - cpu


def sqlite3_once(args: argparse.Namespace) -> tuple[float, float]:
    """The ``sqlite3`` tool writing the same calls, in the same order, as CSV: seconds, CPU seconds."""
    columns = (
        "session_id, status, type, mode, initiator, receiver, receiver_type, initiated_at, started_at, "
        "ended_at, duration, audio_minutes, video_minutes, total_participants, has_recording"
    )
    sql = f"SELECT {columns} FROM calls WHERE app_id = '{args.app}' ORDER BY initiated_at DESC, session_id DESC;"
    started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    command = ["sqlite3", "-cmd", ".timeout 30000", "-csv", "-header", sqlite_path(args.db), sql]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    return time.perf_counter() - started, cpu


def measure_exports(args: argparse.Namespace, stores: Stores, url: str, pid: int, key: str) -> None:
    """Each run downloads NDJSON, then CSV, then runs the sqlite3 anchor (side by side, so a
    change in the machine's load touches all three); medians of the rates, and the largest extra
    memory of the server over every pass (the warm-up's included: the first export after the
    server starts is the one that grows its caches).

    One untimed pass of each first reads the calls into the page cache (at 1M calls the database,
    7 GB, does not stay cached between benchmarks, and whichever reader came first would pay for
    the disk: a cold pass of either runs at ~20,000 calls/s) and counts the export's lines; the
    timed runs check they download as many bytes."""
    with stores.db.read() as conn:
        total = int((conn.fetchone("SELECT count(*) FROM calls WHERE app_id = ?", (args.app,)) or (0,))[0])
    anchored = stores.db.dialect == "sqlite" and shutil.which("sqlite3") is not None
    rates: dict[str, list[float]] = {"ndjson": [], "csv": [], "sqlite3": []}
    cpus: dict[str, list[float]] = {"ndjson": [], "csv": [], "sqlite3": []}  # CPU microseconds per call
    memory: dict[str, float] = {"ndjson": 0.0, "csv": 0.0}
    with httpx.Client(base_url=url, headers={"apikey": key}, timeout=600) as client:
        sizes: dict[str, int] = {}
        for chosen in ("ndjson", "csv"):
            elapsed, memory[chosen], sizes[chosen], lines, _ = export_once(client, pid, chosen, count_lines=True)
            print(
                f"warm-up (untimed): export {chosen:6} {lines} lines, {sizes[chosen]} bytes, {elapsed:5.2f}s, "
                f"server memory +{memory[chosen]:5.1f} MB"
            )
        if anchored:
            print(f"warm-up (untimed): sqlite3 CLI CSV {sqlite3_once(args)[0]:5.2f}s")
        for run in range(1, args.runs + 1):
            for chosen in ("ndjson", "csv"):
                elapsed, extra, size, _, cpu = export_once(client, pid, chosen)
                if size != sizes[chosen]:
                    raise SystemExit(f"export {chosen}: {size} bytes, {sizes[chosen]} in the warm-up pass")
                rates[chosen].append(total / elapsed)
                cpus[chosen].append(cpu / total * 1e6)
                memory[chosen] = max(memory[chosen], extra)
                print(
                    f"run {run} export {chosen:6} {total} calls in {elapsed:5.2f}s = {total / elapsed:9.0f} calls/s, "
                    f"server CPU {cpu / total * 1e6:5.2f} us/call, memory +{extra:5.1f} MB"
                )
            if anchored:
                elapsed, cpu = sqlite3_once(args)
                rates["sqlite3"].append(total / elapsed)
                cpus["sqlite3"].append(cpu / total * 1e6)
                print(
                    f"run {run} sqlite3 CLI CSV {elapsed:5.2f}s = {total / elapsed:9.0f} calls/s, "
                    f"CPU {cpu / total * 1e6:5.2f} us/call"
                )
    ndjson, csv_rate = statistics.median(rates["ndjson"]), statistics.median(rates["csv"])
    print(f"export ndjson: median {ndjson:9.0f} calls/s, server memory at most +{memory['ndjson']:5.1f} MB")
    print(f"export csv:    median {csv_rate:9.0f} calls/s, server memory at most +{memory['csv']:5.1f} MB")
    if not anchored:
        print("sqlite3 CSV anchor: skipped (needs SQLite and the sqlite3 tool)")
        return
    anchor = statistics.median(rates["sqlite3"])
    print(
        f"sqlite3 CLI CSV: median {anchor:9.0f} calls/s; NDJSON / sqlite3 = {ndjson / anchor:.2f}, "
        f"CSV / sqlite3 = {csv_rate / anchor:.2f}"
    )
    # CPU per call: what the rates come to on an idle machine, where the export's processes each
    # get a core (a shared, loaded machine slows the export's three processes more than the tool).
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    print(
        f"CPU per call (median): server NDJSON {cpu['ndjson']:.2f} us, server CSV {cpu['csv']:.2f} us, "
        f"sqlite3 CLI {cpu['sqlite3']:.2f} us; sqlite3 / CSV = {cpu['sqlite3'] / cpu['csv']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="Database URL with demo calls")
    parser.add_argument("--app", default="bench")
    parser.add_argument("--runs", type=int, default=15, help="Timed runs per figure (median reported)")
    parser.add_argument(
        "--only", choices=("series", "exports"), help="Measure only the usage series or only the exports"
    )
    args = parser.parse_args()
    stores = open_stores(args.db)
    key, _ = stores.tenants.create_key(args.app, new_key_settings("fullAccess", "usage bench"))
    stores.prepare_to_serve()
    with running_process(args.db) as (url, pid):
        print(f"{stores.db.dialect}, app {args.app}")
        if args.only != "exports":
            measure_series(args, stores, url, key)
        if args.only != "series":
            measure_exports(args, stores, url, pid, key)
    stores.close()


if __name__ == "__main__":
    main()
