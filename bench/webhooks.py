"""Outbound webhook figures on SQLite and PostgreSQL, each printed as a ratio to its anchor.

1. Delivery rate to a local receiver (a separate process): the deliverer's sends per second,
   against the issue's 500/s, and against plain keep-alive POSTs to the same receiver (no
   database, no signing) measured side by side.
2. Ingestion with one ``["*"]`` subscription against ingestion without (two apps on one
   database, alternating batches of demo calls), against the issue's 80 %.
3. Backlog: the receiver is down while calls end, then comes back; the time to deliver the
   backlog, and whether it arrived in commit order. Retries run on a shrunk schedule (the real
   one would wait up to 32 hours); the order rule is the same.

    .venv/bin/python bench/webhooks.py [--calls 3000] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

import anyio
import httpx
import psycopg

from calltrail.jobs.deliverer import Deliverer, Policy
from calltrail.jobs.feeder import feed_session_demo
from calltrail.kernel.tenancy import new_app_settings
from calltrail.outbound.subscriptions import NewSubscription
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.store import Stores, open_stores

RECEIVER = r"""
import sys, http.server, json
seen = []
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        seen.append(json.loads(body)["data"].get("sessionId"))
        self.send_response(204); self.send_header("content-length", "0"); self.end_headers()
    def do_GET(self):
        out = json.dumps(seen).encode()
        self.send_response(200); self.send_header("content-length", str(len(out))); self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""
POLICY = Policy(timeout=2, retry_scale=0.0005, lease=10, allow_private=True, poll_interval=0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_receiver(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.2)
            return process
        except httpx.TransportError:
            time.sleep(0.02)
    raise RuntimeError("the receiver did not start")


def received(port: int) -> list[str]:
    return list(httpx.get(f"http://127.0.0.1:{port}/", timeout=10).json())


def new_app(stores: Stores) -> str:
    return stores.tenants.create_app(new_app_settings("Bench", f"b-{secrets.token_hex(6)}")).app_id


def ingest_demo(stores: Stores, app_id: str, calls: int, seed: int) -> float:
    """Seconds to ingest ``calls`` demo calls through validation and the event log."""
    generated = generate_calls(build_world(seed), app_id=app_id, count=calls, seed=seed, region="us")
    started = time.perf_counter()
    feed_session_demo(stores.sessions, app_id, generated, lambda: None, 2000)
    return time.perf_counter() - started


def delivery_rate(stores: Stores, calls: int) -> tuple[float, float]:
    """(deliveries/s of the deliverer, plain POSTs/s) to one receiver process."""
    port = free_port()
    receiver = start_receiver(port)
    try:
        app_id = new_app(stores)
        stores.outbox.create(app_id, NewSubscription(f"http://127.0.0.1:{port}/h", ("call.ended",), ""))
        ingest_demo(stores, app_id, calls, seed=7)
        with stores.db.read() as conn:
            due = int((conn.fetchone("SELECT count(*) FROM webhook_deliveries WHERE app_id = ?", (app_id,)) or (0,))[0])
        started = time.perf_counter()
        anyio.run(Deliverer(stores.db, POLICY).drain)
        rate = due / (time.perf_counter() - started)
        assert len(received(port)) == due, "not everything was delivered"
        body = b'{"type":"call.ended","timestamp":"2026-01-01T00:00:00Z","data":{"sessionId":"x"}}'
        with httpx.Client() as client:
            started = time.perf_counter()
            for _ in range(due):
                client.post(f"http://127.0.0.1:{port}/h", content=body)
            plain = due / (time.perf_counter() - started)
    finally:
        receiver.kill()
    return rate, plain


def ingest_ratio(stores: Stores, calls: int, rounds: int = 5) -> float:
    """Ingestion throughput with one ``["*"]`` subscription over without (best of rounds each)."""
    plain, hooked = new_app(stores), new_app(stores)
    stores.outbox.create(hooked, NewSubscription("https://receiver.example/h", ("*",), ""))
    without, with_hook = [], []
    for number in range(rounds):
        without.append(calls / ingest_demo(stores, plain, calls, seed=100 + number))
        with_hook.append(calls / ingest_demo(stores, hooked, calls, seed=100 + number))
    return max(with_hook) / max(without)


def backlog(stores: Stores, calls: int) -> tuple[float, bool]:
    """(seconds to deliver a backlog once the receiver is back, in commit order?)."""
    port = free_port()
    app_id = new_app(stores)
    stores.outbox.create(app_id, NewSubscription(f"http://127.0.0.1:{port}/h", ("call.ended",), ""))
    ingest_demo(stores, app_id, calls, seed=11)
    policy = replace(POLICY, timeout=0.2)
    anyio.run(Deliverer(stores.db, policy).drain)  # the receiver is down: the head fails and waits
    with stores.db.read() as conn:
        order = [row[0] for row in conn.fetchall(
            "SELECT payload FROM webhook_deliveries WHERE app_id = ? ORDER BY seq", (app_id,))]  # fmt: skip
    expected = [__import__("orjson").loads(bytes(body))["data"]["sessionId"] for body in order]
    receiver = start_receiver(port)
    try:
        started = time.perf_counter()
        while len(received(port)) < len(expected):
            anyio.run(Deliverer(stores.db, policy).drain)
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        got = received(port)
    finally:
        receiver.kill()
    firsts = list(dict.fromkeys(got))  # the failed head may arrive again (at least once)
    return elapsed, firsts == expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument(
        "--pg", default=os.environ.get("CALLTRAIL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    schema = f"bench_hooks_{secrets.token_hex(4)}"
    admin = psycopg.connect(args.pg, autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        with tempfile.TemporaryDirectory() as folder:
            engines = {
                "sqlite": f"sqlite:///{folder}/bench.db",
                "postgresql": f"{args.pg}{'&' if '?' in args.pg else '?'}options=-csearch_path%3D{schema}",
            }
            for engine, url in engines.items():
                stores = open_stores(url)
                try:
                    rate, plain = delivery_rate(stores, args.calls)
                    ratio = ingest_ratio(stores, args.calls)
                    seconds, in_order = backlog(stores, args.calls // 3)
                finally:
                    stores.close()
                print(f"{engine}: deliveries {rate:.0f}/s = {rate / 500:.2f} x the 500/s target, "
                      f"{rate / plain:.2f} x plain POSTs ({plain:.0f}/s)")  # fmt: skip
                print(f"{engine}: ingestion with a ['*'] subscription = {ratio:.2f} x without (target >= 0.80)")
                print(f"{engine}: backlog of {args.calls // 3} delivered in {seconds:.1f}s after the receiver "
                      f"came back, in commit order: {'yes' if in_order else 'NO'}")  # fmt: skip
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


if __name__ == "__main__":
    main()
