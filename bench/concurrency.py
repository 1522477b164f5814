"""Concurrency benchmark: requests/s at 1 and 16 connections, with 1 and N server processes,
against a hello-world on the same stack (Starlette on uvicorn with httptools, same processes),
measured with ``wrk`` in interleaved rounds (medians), printed as ratios.

    calltrail apps create --name Bench --id bench --db sqlite:////tmp/bench.db
    calltrail demo --app bench --calls 1000000 --db sqlite:////tmp/bench.db
    python bench/concurrency.py --db sqlite:////tmp/bench.db --app bench --workers 1,2

Targets (issue 14): at 16 connections at least 1.5x the requests/s of 1 connection for get and
list; get one call at least 0.5x the hello-world's requests/s, a 100-call list page at least 0.3x.

Also measured: ``/healthz`` on the same server, the stack's own floor (every middleware, then a
cached answer of the database ping: no endpoint work, no credential): no endpoint can cost less.

Also printed: each server's CPU time per request (user + system of its processes, read from
``/proc`` before and after each ``wrk`` run), a steadier figure than requests/s on a shared machine:
a run's requests/s moves with the client's share of the cores, its CPU per request much less.
Needs ``wrk`` (``apt-get install -y wrk``). The client shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from calltrail.kernel.tenancy import new_key_settings
from calltrail.store import open_stores

HELLO = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"data": [' + b",".join([b'{"sessionId": "v1.us.bench.0123456789abcdef", "status": "ended"}'] * 24) + b"]}"


async def hello(request):
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/hello", hello)])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(command: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[int]:
    """Run a server until the block ends, giving its process id; wait for ``url`` to answer first."""
    child = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if httpx.get(url, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{command[:4]} did not start")
        yield child.pid
    finally:
        child.terminate()
        child.wait(20)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants (a server's workers), so far."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass  # a process that ended between the listing and the read
    return total


def wrk(url: str, connections: int, seconds: int, key: str | None) -> tuple[float, int]:
    """Requests per second and requests answered, as ``wrk`` reports them (non-2xx answers make
    the run invalid)."""
    command = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s"]
    if key:
        command += ["-H", f"apikey: {key}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"non-2xx answers from {url}:\n{output}")
    rate, count = re.search(r"Requests/sec:\s+([\d.]+)", output), re.search(r"(\d+) requests in", output)
    if rate is None or count is None:
        raise RuntimeError(output)
    return float(rate.group(1)), int(count.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="database URL with data")
    parser.add_argument("--app", required=True, help="app id with data")
    parser.add_argument("--workers", default="1,2", help="comma-separated process counts to compare")
    parser.add_argument("--seconds", type=int, default=4, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are printed)")
    parser.add_argument("--key", help="an API key of the app (default: create one)")
    args = parser.parse_args()
    stores = open_stores(args.db)
    try:
        key = args.key or stores.tenants.create_key(args.app, new_key_settings(name="concurrency bench"))[0]
        with stores.db.read() as conn:
            row = conn.fetchone(
                "SELECT session_id FROM calls WHERE app_id = ? ORDER BY initiated_at DESC LIMIT 1", (args.app,)
            )
    finally:
        stores.close()
    if row is None:
        raise SystemExit("the app has no calls")
    paths = {"get": f"/v3/calls/{row[0]}", "list": "/v3/calls?perPage=100"}
    env = {"CALLTRAIL_RATE_LIMIT": "1000000", "CALLTRAIL_RATE_BURST": "1000000"}
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "hello_app.py").write_text(HELLO)
        for workers in [int(n) for n in args.workers.split(",")]:
            port, hello_port = free_port(), free_port()
            serve = [sys.executable, "-m", "calltrail", "serve", "--db", args.db, "--port", str(port),
                     "--log-level", "warning", "--workers", str(workers)]  # fmt: skip
            hello = [sys.executable, "-m", "uvicorn", "hello_app:app", "--app-dir", folder, "--port",
                     str(hello_port), "--http", "httptools", "--no-access-log", "--log-level", "warning",
                     "--workers", str(workers)]  # fmt: skip
            base, hello_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{hello_port}/hello"
            with process(serve, f"{base}/healthz", env) as serve_pid, process(hello, hello_url) as hello_pid:
                results: dict[tuple[str, int], list[float]] = {}
                costs: dict[tuple[str, int], list[float]] = {}
                for _ in range(args.rounds):
                    for connections in (1, 16):
                        for name, url, pid, needs_key in (
                            ("hello", hello_url, hello_pid, False),
                            ("healthz", f"{base}/healthz", serve_pid, False),
                            ("get", base + paths["get"], serve_pid, True),
                            ("list", base + paths["list"], serve_pid, True),
                        ):
                            before = cpu_seconds(pid)
                            rate, count = wrk(url, connections, args.seconds, key if needs_key else None)
                            results.setdefault((name, connections), []).append(rate)
                            costs.setdefault((name, connections), []).append((cpu_seconds(pid) - before) / count)
            report(workers, {k: statistics.median(v) for k, v in results.items()})
            report_costs({k: statistics.median(v) for k, v in costs.items()})
    print(f"\nload average {os.getloadavg()[0]:.2f}")


def report(workers: int, rates: dict[tuple[str, int], float]) -> None:
    print(f"\n{workers} process(es); requests/s (median of rounds)")
    table(rates, lambda value: f"{value:9.0f}", lambda hello, value: value / hello, scaling=True)


def report_costs(costs: dict[tuple[str, int], float]) -> None:
    print("server CPU per request, us (median of rounds); hello's as a share of each (as requests/s are)")
    table(costs, lambda value: f"{value * 1e6:9.1f}", lambda hello, value: hello / value, scaling=False)


def table(
    values: dict[tuple[str, int], float],
    shown: Callable[[float], str],
    share: Callable[[float, float], float],
    *,
    scaling: bool,
) -> None:
    """One row per query: its values at 1 and 16 connections, their ratio (``scaling``), and each
    against the hello-world's (``share(hello, value)``)."""
    print(f"{'':8} {'c=1':>9} {'c=16':>9} {'c16/c1' if scaling else '':>7} {'c1/hello':>9} {'c16/hello':>10}")
    for name in ("hello", "healthz", "get", "list"):
        one, many = values[(name, 1)], values[(name, 16)]
        ratio = f"{many / one:7.2f}" if scaling else " " * 7
        print(
            f"{name:8} {shown(one)} {shown(many)} {ratio} "
            f"{share(values[('hello', 1)], one):9.2f} {share(values[('hello', 16)], many):10.2f}"
        )


if __name__ == "__main__":
    main()
