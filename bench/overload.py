"""Overload benchmark: many connections hammer one server; is it still answering well?

Opens ``--connections`` keep-alive connections (1,024 by default) that each send
``GET /v3/calls?perPage=100`` in a closed loop for ``--seconds``, while another client (its own
process) opens a fresh connection to ``/healthz`` every 250 ms. Prints, per status, how many answers came and
their latency, then the three figures the server must meet:

* 0 timeouts on ``/healthz`` (answers within ``--health-timeout``, 1 s);
* every shed request (429 or 503) answered within 100 ms (here: its p99 and max);
* p99 of accepted requests (2xx) at most 1 s.

    python bench/overload.py                       # its own server: 3,000 demo calls on SQLite
    python bench/overload.py --url http://host:8080 --key <fullAccess key>

The client is raw asyncio (no HTTP library) so that 1,024 connections cost it little CPU; it
runs on the same machine as the server, so latencies include some client-side queuing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

PATH = "/v3/calls?perPage=100"


@dataclass
class Tally:
    """Latencies by status, plus failures, of requests sent after the warm-up."""

    measure_from: float = 0.0
    latencies: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    timeouts: int = 0
    errors: int = 0

    def record(self, started: float, status: int) -> None:
        if started >= self.measure_from:
            self.latencies[status].append(time.monotonic() - started)

    def failed(self, started: float, timeout: bool) -> None:
        if started >= self.measure_from:
            if timeout:
                self.timeouts += 1
            else:
                self.errors += 1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class Hammer(asyncio.Protocol):
    """One keep-alive connection sending the next request as soon as an answer is complete.

    A protocol, not a coroutine per request: callbacks cost the client far less CPU, which
    the server shares (a C client such as wrk costs less still)."""

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
            await loop.create_connection(lambda done=done: Hammer(request, tally, deadline, done), host, port)
            await asyncio.wait_for(asyncio.shield(done), deadline - time.monotonic() + timeout)
        except TimeoutError:
            tally.failed(time.monotonic(), timeout=True)
        except OSError:
            tally.failed(time.monotonic(), timeout=False)
            await asyncio.sleep(0.05)


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()
    return None


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


async def hammer(args: argparse.Namespace, host: str, port: int, key: str) -> tuple[Tally, Tally]:
    # The first seconds open 1,024 connections at once; figures are of the steady state after.
    measure_from = time.monotonic() + args.warmup
    load, health = Tally(measure_from), Tally(measure_from)
    loop = asyncio.get_running_loop()
    wall_from = time.time() + args.warmup
    probes = loop.run_in_executor(
        # spawned, not forked: a fork of this busy uvloop process is not a clean client
        ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")),
        probe_health,
        host,
        port,
        wall_from,
        wall_from + args.seconds,
        args.health_timeout,
    )
    deadline = measure_from + args.seconds
    tasks = [worker(host, port, key, deadline, load, args.timeout) for _ in range(args.connections)]
    await asyncio.gather(*tasks)
    for outcome, seconds in await probes:
        if outcome.isdigit():
            health.latencies[int(outcome)].append(seconds)
        elif outcome == "timeout":
            health.timeouts += 1
        else:
            health.errors += 1
    return load, health


def report(load: Tally, health: Tally, seconds: float) -> bool:
    print(f"{'status':>8} {'answers':>9} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for status, values in sorted(load.latencies.items()):
        print(
            f"{status:>8} {len(values):>9} {len(values) / seconds:>8.0f} {percentile(values, 0.5) * 1000:>8.1f} "
            f"{percentile(values, 0.99) * 1000:>8.1f} {max(values) * 1000:>8.1f}"
        )
    print(f"load: {load.timeouts} timeouts, {load.errors} connection errors")
    probes = [value for values in health.latencies.values() for value in values]
    print(
        f"/healthz: {len(probes)} probes, statuses {sorted(health.latencies)}, {health.timeouts} timeouts, "
        f"{health.errors} errors, max {max(probes, default=float('nan')) * 1000:.1f} ms"
    )
    accepted = [v for status, values in load.latencies.items() if 200 <= status < 300 for v in values]
    shed = [v for status, values in load.latencies.items() if status in (429, 503) for v in values]
    slow_shed = sum(1 for value in shed if value > 0.1)
    verdicts = [
        ("0 timeouts on /healthz", health.timeouts == 0 and health.errors == 0 and len(probes) > 0),
        (
            f"shed answers (429/503) within 100 ms: {len(shed) - slow_shed}/{len(shed)}",
            slow_shed == 0 and len(shed) > 0,
        ),
        (
            f"p99 of accepted requests {percentile(accepted, 0.99) * 1000:.0f} ms <= 1000 ms",
            percentile(accepted, 0.99) <= 1,
        ),
    ]
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for _, ok in verdicts)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (default: start one with demo data)")
    parser.add_argument("--key", help="a fullAccess API key for --url")
    parser.add_argument("--connections", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds, after the warm-up")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load before measuring")
    parser.add_argument("--timeout", type=float, default=10, help="client timeout per request (s)")
    parser.add_argument("--health-timeout", type=float, default=1.0)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server it starts")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin the server to CPU 0 and this client to CPU 1 (pinned by default on 2+ CPUs, so the "
        "load generator does not take the server's core)",
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        process = None
        if args.url:
            host_port = args.url.split("://", 1)[-1].rstrip("/")
            host, port, key = host_port.rsplit(":", 1)[0], int(host_port.rsplit(":", 1)[1]), args.key
        else:
            env = dict(item.split("=", 1) for item in args.env)
            process, port, key = own_server(Path(tmp), env)
            host = "127.0.0.1"
            if not args.no_pin and len(os.sched_getaffinity(0)) >= 2:
                os.sched_setaffinity(process.pid, {0})
                os.sched_setaffinity(0, {1})
                print("server pinned to CPU 0, load generator to CPU 1")
        try:
            print(
                f"{args.connections} connections, {args.warmup:.0f} s warm-up then {args.seconds:.0f} s measured, "
                f"of GET {PATH}; /healthz every 250 ms from another process"
            )
            load, health = asyncio.run(hammer(args, host, port, key))
        finally:
            if process is not None:
                process.terminate()
                process.wait(10)
    ok = report(load, health, args.seconds)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
