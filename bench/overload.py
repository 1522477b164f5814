"""Overload benchmark: many connections hammer one server; is it still answering well?

Opens ``--connections`` keep-alive connections (1,024 by default) that each send
``GET /v3/calls?perPage=100`` in a closed loop (the next request as soon as an answer comes) for
``--seconds``, while another client (its own process) opens a fresh connection to ``/healthz``
every 250 ms. Each of ``--runs`` runs prints, per status, how many answers came and their latency,
then PASS or FAIL for the three targets of issue 13; a summary over the runs ends the output:

* 0 timeouts on ``/healthz`` (every probe answered within ``--health-timeout``, 1 s);
* every shed request (429 or 503) answered within 100 ms (not a percentile: all of them);
* p99 of accepted requests (2xx) at most 1 s.

    python bench/overload.py                       # its own server: demo calls on SQLite, 3 runs
    python bench/overload.py --url http://host:8080 --key <fullAccess key>
    python bench/overload.py --client python       # the pure-Python load generator

The load generator is ``wrk`` when installed (``apt-get install wrk``): C, so 1,024 connections
cost it a fraction of what they cost the server, with a Lua script that stamps each request's
``X-Request-Id`` with its send time and reads it back from the answer (the server echoes it), for
latencies by status. Without wrk, a raw-asyncio Python client does the same; it needs about twice
the CPU time per request the server does, so on a small machine it becomes the bottleneck and
its own queuing shows up in every latency (in a closed loop, latency = connections / throughput).
Either runs on the same machine as the server, both left to the scheduler (``--pin`` puts the
server on CPU 0 and the load generator on CPU 1: better on a quiet machine, far worse on a busy
one, where the server is then stuck sharing its core with other work). Load averages are printed
with every run: other work on the machine shows in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson

PATH = "/v3/calls?perPage=100"
#: Latencies are kept in buckets of this many seconds (0.1 ms).
BUCKET = 0.0001
#: The targets: shed answers within this many seconds, accepted ones' p99 within that many.
SHED_WITHIN = 0.1
ACCEPTED_P99_WITHIN = 1.0


@dataclass
class Histogram:
    """Latencies of one status, in :data:`BUCKET` buckets, plus the exact maximum."""

    buckets: Counter[int] = field(default_factory=Counter)
    maximum: float = 0.0

    def add(self, seconds: float) -> None:
        self.buckets[int(seconds / BUCKET)] += 1
        self.maximum = max(self.maximum, seconds)

    @property
    def count(self) -> int:
        return sum(self.buckets.values())

    def percentile(self, share: float) -> float:
        """The latency under which ``share`` of the answers came (the bucket's upper end)."""
        wanted, seen = share * self.count, 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= wanted:
                return min(self.maximum, (bucket + 1) * BUCKET)
        return float("nan")

    def over(self, seconds: float) -> int:
        """How many answers took longer than ``seconds``."""
        return sum(count for bucket, count in self.buckets.items() if bucket * BUCKET >= seconds)

    def merge(self, other: Histogram) -> None:
        self.buckets.update(other.buckets)
        self.maximum = max(self.maximum, other.maximum)


@dataclass
class Tally:
    """Latencies by status, plus failures, of requests sent after the warm-up."""

    measure_from: float = 0.0
    latencies: dict[int, Histogram] = field(default_factory=lambda: defaultdict(Histogram))
    timeouts: int = 0
    errors: int = 0

    def record(self, started: float, status: int) -> None:
        if started >= self.measure_from:
            self.latencies[status].add(time.monotonic() - started)

    def failed(self, started: float, timeout: bool) -> None:
        if started >= self.measure_from:
            if timeout:
                self.timeouts += 1
            else:
                self.errors += 1

    def of(self, statuses: range | tuple[int, ...]) -> Histogram:
        """The latencies of the answers with one of ``statuses``, together."""
        merged = Histogram()
        for status, histogram in self.latencies.items():
            if status in statuses:
                merged.merge(histogram)
        return merged


# -- the wrk load generator -------------------------------------------------------------------

#: Stamps each request's X-Request-Id with its send time (CLOCK_MONOTONIC, µs) and files the
#: latency of each answer sent after the warm-up under its status, in 0.1 ms buckets.
WRK_SCRIPT = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } ct_timespec;
int clock_gettime(int clk_id, ct_timespec *tp);
]]
local ts = ffi.new("ct_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end
local measure_from = now_us() + WARMUP_US
-- The request wrk would send, its blank line cut off to add the stamp: built once, not per request.
local prefix = string.sub(wrk.format(), 1, -3) .. "X-Request-Id: "
counts, maxima = {}, {}
local threads = {}

function setup(thread) table.insert(threads, thread) end

function request()
  return prefix .. tostring(now_us()) .. "\\r\\n\\r\\n"
end

function response(status, response_headers, body)
  local started = tonumber(response_headers["x-request-id"])
  if started == nil or started < measure_from then return end
  local took = now_us() - started
  local key = status * 1000000 + math.floor(took / 100)
  counts[key] = (counts[key] or 0) + 1
  if took > (maxima[status] or 0) then maxima[status] = took end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("counts")) do
      io.write(string.format("CT-BUCKET %d %d %d\\n", math.floor(key / 1000000), key % 1000000, count))
    end
    for status, took in pairs(thread:get("maxima")) do io.write(string.format("CT-MAX %d %d\\n", status, took)) end
  end
  local e = summary.errors
  io.write(string.format("CT-ERRORS %d %d %d %d\\n", e.connect, e.read, e.write, e.timeout))
end
"""


def wrk_load(args: argparse.Namespace, url: str, key: str, cpu: set[int] | None, tmp: Path) -> Tally:
    """Run wrk for the warm-up plus the measured seconds; its per-status figures as a Tally."""
    script = tmp / "overload.lua"
    script.write_text(WRK_SCRIPT.replace("WARMUP_US", str(int(args.warmup * 1e6))))
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.warmup + args.seconds:.0f}s"]
    command += [f"--timeout={args.timeout:.0f}s", "-s", str(script), "-H", f"apikey: {key}", url + PATH]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, preexec_fn=lambda: _pin(cpu) if cpu else None
    )
    tally = Tally()
    for line in done.stdout.splitlines():
        kind, *numbers = line.split()
        values = [int(number) for number in numbers] if kind.startswith("CT-") else []
        if kind == "CT-BUCKET":
            tally.latencies[values[0]].buckets[values[1]] += values[2]
        elif kind == "CT-MAX":
            tally.latencies[values[0]].maximum = values[1] / 1e6
        elif kind == "CT-ERRORS":
            tally.errors, tally.timeouts = sum(values[:3]), values[3]
    return tally


def _pin(cpu: set[int]) -> None:
    os.sched_setaffinity(0, cpu)


# -- the Python load generator ----------------------------------------------------------------


class Hammer(asyncio.Protocol):
    """One keep-alive connection sending the next request as soon as an answer is complete.

    A protocol, not a coroutine per request: callbacks cost the client far less CPU."""

    def __init__(self, request: bytes, tally: Tally, deadline: float, done: asyncio.Future[None]):
        self.request, self.tally, self.deadline, self.done = request, tally, deadline, done
        self.buffer = b""
        self.started = 0.0
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport instances
        self._send()

    def _send(self) -> None:
        if time.monotonic() >= self.deadline:
            self.transport.close()
            return
        self.started = time.monotonic()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.tally.record(self.started, int(head[9:12]))
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if time.monotonic() < self.deadline:
            self.tally.failed(self.started, timeout=False)
        if not self.done.done():
            self.done.set_result(None)


async def worker(host: str, port: int, key: str, deadline: float, tally: Tally, timeout: float) -> None:
    """Keep one connection busy until the deadline (reconnecting if the server closes it)."""
    request = f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\napikey: {key}\r\n\r\n".encode()
    loop = asyncio.get_running_loop()
    while time.monotonic() < deadline:
        done: asyncio.Future[None] = loop.create_future()
        try:
            await loop.create_connection(partial(Hammer, request, tally, deadline, done), host, port)
            await asyncio.wait_for(asyncio.shield(done), deadline - time.monotonic() + timeout)
        except TimeoutError:
            tally.failed(time.monotonic(), timeout=True)
        except OSError:
            tally.failed(time.monotonic(), timeout=False)
            await asyncio.sleep(0.05)


async def python_load(args: argparse.Namespace, host: str, port: int, key: str) -> Tally:
    tally = Tally(time.monotonic() + args.warmup)
    deadline = tally.measure_from + args.seconds
    await asyncio.gather(*(worker(host, port, key, deadline, tally, args.timeout) for _ in range(args.connections)))
    return tally


def python_load_pinned(args: argparse.Namespace, host: str, port: int, key: str, cpu: set[int] | None) -> Tally:
    """:func:`python_load` in this process, pinned to ``cpu`` while it runs."""
    before = os.sched_getaffinity(0)
    if cpu:
        _pin(cpu)
    try:
        try:
            import uvloop

            return uvloop.run(python_load(args, host, port, key))
        except ImportError:
            return asyncio.run(python_load(args, host, port, key))
    finally:
        _pin(before)


# -- the /healthz prober ----------------------------------------------------------------------


def probe_health(host: str, port: int, start_at: float, until: float, timeout: float) -> list[tuple[str, float]]:
    """Another client, in its own process (so the load generator's busy event loop cannot delay
    it): a fresh connection to ``/healthz`` every 250 ms. Returns ``(outcome, seconds)`` per probe,
    the outcome being the status, ``timeout`` or ``error``. Clocks are ``time.time()``."""
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    results: list[tuple[str, float]] = []
    os.sched_setaffinity(0, range(os.cpu_count() or 1))  # not confined with the load generator
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < until:
        started = time.time()
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                sock.settimeout(max(0.01, timeout - (time.time() - started)))
                sock.sendall(request)
                answer = sock.recv(4096)
            results.append((answer[9:12].decode() or "error", time.time() - started))
        except TimeoutError:
            results.append(("timeout", time.time() - started))
        except OSError:
            results.append(("error", time.time() - started))
        time.sleep(0.25)
    return results


def start_prober(args: argparse.Namespace, host: str, port: int, pool: ProcessPoolExecutor) -> Future[Any]:
    start = time.time() + args.warmup
    return pool.submit(probe_health, host, port, start, start + args.seconds, args.health_timeout)


def health_tally(probes: list[tuple[str, float]]) -> Tally:
    tally = Tally()
    for outcome, seconds in probes:
        if outcome.isdigit():
            tally.latencies[int(outcome)].add(seconds)
        elif outcome == "timeout":
            tally.timeouts += 1
        else:
            tally.errors += 1
    return tally


# -- one run, its report, the summary -----------------------------------------------------------


def report(load: Tally, health: Tally, seconds: float) -> list[tuple[str, bool]]:
    """Print one run's figures; returns ``(target with figure, met)`` per target."""
    print(f"{'status':>8} {'answers':>9} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for status, hist in sorted(load.latencies.items()):
        print(
            f"{status:>8} {hist.count:>9} {hist.count / seconds:>8.0f} {hist.percentile(0.5) * 1000:>8.1f} "
            f"{hist.percentile(0.99) * 1000:>8.1f} {hist.maximum * 1000:>8.1f}"
        )
    print(f"load: {load.timeouts} timeouts, {load.errors} connection errors")
    probes = health.of(range(100, 600))
    print(
        f"/healthz: {probes.count} probes, statuses {sorted(health.latencies)}, {health.timeouts} timeouts, "
        f"{health.errors} errors, p50 {probes.percentile(0.5) * 1000:.1f} ms, max {probes.maximum * 1000:.1f} ms"
    )
    accepted, shed = load.of(range(200, 300)), load.of((429, 503))
    slow = shed.over(SHED_WITHIN)
    verdicts = [
        (
            f"0 timeouts on /healthz: {health.timeouts + health.errors} of {probes.count + health.timeouts} "
            f"(max {probes.maximum * 1000:.0f} ms)",
            health.timeouts == health.errors == 0 and probes.count > 0 and set(health.latencies) == {200},
        ),
        (
            f"shed answers (429/503) within 100 ms: {shed.count - slow}/{shed.count} "
            f"(max {shed.maximum * 1000:.0f} ms)",
            slow == 0 and shed.count > 0 and load.timeouts == 0,
        ),
        (
            f"p99 of accepted requests {accepted.percentile(0.99) * 1000:.0f} ms <= 1000 ms ({accepted.count} answers)",
            accepted.count > 0 and accepted.percentile(0.99) <= ACCEPTED_P99_WITHIN,
        ),
    ]
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return verdicts


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def one_run(args: argparse.Namespace, host: str, port: int, key: str, cpu: set[int] | None, tmp: Path) -> list[bool]:
    print(f"load average before: {load_average()}", flush=True)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(time.sleep, 0).result()  # the prober's process is up before the load starts
        probes = start_prober(args, host, port, pool)
        if args.client == "wrk":
            load = wrk_load(args, f"http://{host}:{port}", key, cpu, tmp)
        else:
            load = python_load_pinned(args, host, port, key, cpu)
        health = health_tally(probes.result())
    print(f"load average after: {load_average()}")
    return [ok for _, ok in report(load, health, args.seconds)]


def own_server(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int, str]:
    """Start ``calltrail serve --demo`` on a fresh SQLite database; returns it, its port and key."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    db = tmp / "overload.db"
    command = [sys.executable, "-m", "calltrail", "serve", "--demo", "--db", f"sqlite:///{db}", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--log-level", "warning"], env={**os.environ, **env}, stderr=subprocess.DEVNULL
    )
    credentials = tmp / "overload.demo-credentials.json"
    for _ in range(1200):
        if credentials.exists():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return process, port, orjson.loads(credentials.read_bytes())["apiKey"]
            except OSError:
                pass
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (default: start one with demo data)")
    parser.add_argument("--key", help="a fullAccess API key for --url")
    parser.add_argument("--connections", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per run, after the warm-up")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load before measuring")
    parser.add_argument("--runs", type=int, default=3, help="runs against the same server")
    parser.add_argument("--timeout", type=float, default=10, help="client timeout per request (s)")
    parser.add_argument("--health-timeout", type=float, default=1.0)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto", help="auto: wrk if installed")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server it starts")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to CPU 0 and the load generator to CPU 1 (on a quiet machine: they then never "
        "share a core; on a busy one the server is stuck on a core it shares with other work)",
    )
    args = parser.parse_args()
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    return args


def main() -> None:
    args = arguments()
    with tempfile.TemporaryDirectory() as tmp:
        process, cpu = None, None
        if args.url:
            host_port = args.url.split("://", 1)[-1].rstrip("/")
            host, port, key = host_port.rsplit(":", 1)[0], int(host_port.rsplit(":", 1)[1]), args.key
        else:
            process, port, key = own_server(Path(tmp), dict(item.split("=", 1) for item in args.env))
            host = "127.0.0.1"
            if args.pin and len(os.sched_getaffinity(0)) >= 2:
                os.sched_setaffinity(process.pid, {0})
                cpu = {1}
                print("server pinned to CPU 0, load generator to CPU 1")
        print(
            f"{args.connections} connections ({args.client}), {args.runs} runs of {args.warmup:.0f} s warm-up then "
            f"{args.seconds:.0f} s measured, of GET {PATH}; /healthz every 250 ms from another process"
        )
        results = []
        try:
            for run in range(1, args.runs + 1):
                print(f"\n== run {run} of {args.runs}")
                results.append(one_run(args, host, port, key, cpu, Path(tmp)))
        finally:
            if process is not None:
                process.terminate()
                process.wait(10)
    names = ("0 timeouts on /healthz", "shed answers within 100 ms", "p99 of accepted requests <= 1 s")
    print(f"\n== over {len(results)} runs")
    for index, name in enumerate(names):
        met = sum(1 for run in results if run[index])
        print(f"{'PASS' if met == len(results) else 'FAIL'}  {name}: met in {met} of {len(results)} runs")
    sys.exit(0 if all(all(run) for run in results) else 1)


if __name__ == "__main__":
    main()
