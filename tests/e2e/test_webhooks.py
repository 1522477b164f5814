"""Outbound webhooks end to end: real ``calltrail serve`` processes over real databases, a real
HTTP receiver, ``kill -9`` at random instants, and two servers sharing one outbox."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.outbound.subscriptions import NewSubscription
from calltrail.store import open_stores
from tests.conftest import Server
from tests.outbound.receiver import Receiver, running
from tests.outbound.support import ended_call

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
#: Fast retries, a short lease (a killed server's work is taken over within 2 s), local receivers.
ENV = {
    "CALLTRAIL_WEBHOOKS_ALLOW_PRIVATE": "1",
    "CALLTRAIL_WEBHOOKS_TIMEOUT": "0.25",
    "CALLTRAIL_WEBHOOKS_LEASE": "2",
    "CALLTRAIL_WEBHOOKS_RETRY_SCALE": "0.001",
}
CYCLES = 20


def _setup(db_url: str, urls: list[str]) -> tuple[str, str, list[str]]:
    """An app, its key, and one ``call.ended`` subscription per URL (their secrets)."""
    stores = open_stores(db_url)
    try:
        app = stores.tenants.create_app(new_app_settings("Hooks", "hooks"))
        key, _ = stores.tenants.create_key(app.app_id)
        subs = [stores.outbox.create(app.app_id, NewSubscription(url, ("call.ended",), "")) for url in urls]
    finally:
        stores.close()
    return app.app_id, key, [sub.secret for sub in subs]


def _outbox_state(db_url: str) -> tuple[int, int]:
    """(pending deliveries, leases held)."""
    stores = open_stores(db_url, run_migrations=False)
    try:
        with stores.db.read() as conn:
            pending = conn.fetchone("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
            leased = conn.fetchone("SELECT count(*) FROM webhook_subscriptions WHERE lease_owner IS NOT NULL")
    finally:
        stores.close()
    return int((pending or (0,))[0]), int((leased or (0,))[0])


def _sessions(receiver: Receiver, path: str = "/hook") -> list[str]:
    return [r.json["data"]["sessionId"] for r in list(receiver.requests) if r.path == path]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_at_any_instant_loses_no_delivery(
    server_factory: Callable[..., Server], database_url: Callable[[str], str], backend: str
) -> None:
    rng = random.Random(12)
    db_url = database_url(backend)
    acknowledged: list[str] = []
    with running(Receiver(answer=lambda request: (0.002, 204))) as receiver:
        _, key, (secret,) = _setup(db_url, [receiver.url()])
        deadline = time.monotonic() + 240
        for cycle in range(CYCLES):
            assert time.monotonic() < deadline, f"only {cycle} cycles in time"
            server = server_factory(db_url, env=ENV)
            stop = threading.Event()

            def send(server: Server = server, stop: threading.Event = stop, cycle: int = cycle) -> None:
                with server.client(headers={"apikey": key}) as client:
                    for batch in range(10_000):
                        if stop.is_set():
                            return
                        names = [f"k{cycle}-{batch}-{n}" for n in range(5)]
                        events = [event for name in names for event in ended_call(name)]
                        try:
                            if client.post("/v3/calls/events", json=events).status_code == 200:
                                acknowledged.extend(names)
                        except httpx.TransportError:
                            return

            before = len(acknowledged)
            sender = threading.Thread(target=send)
            sender.start()
            # Kill at a random instant while batches stream in: first let one batch through, so a
            # slow start on a loaded machine cannot make every cycle end before any acknowledgement.
            started = time.monotonic()
            while len(acknowledged) == before and sender.is_alive() and time.monotonic() - started < 30:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.05, 0.6))
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
            stop.set()
            sender.join()
        assert len(acknowledged) > CYCLES * 5
        final = server_factory(db_url, env=ENV)
        receiver.wait_for(lambda got: set(acknowledged) <= set(_sessions(receiver)), timeout=120)
        receiver.wait_for(lambda got: _outbox_state(db_url)[0] == 0, timeout=60)
        final.process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert final.process.wait(15) in (0, -signal.SIGTERM), final.output()
        assert "Traceback" not in final.output()
    assert _outbox_state(db_url) == (0, 0)  # all delivered; the stopped server released its lease
    bodies = receiver.verified(secret)
    assert {b["type"] for b in bodies} == {"call.ended"}
    # at least once: a delivery cut short by kill -9 may come twice, always with its webhook-id
    by_id: dict[str, set[str]] = {}
    for request in receiver.requests:
        by_id.setdefault(request.webhook_id, set()).add(request.json["data"]["sessionId"])
    assert all(len(sessions) == 1 for sessions in by_id.values())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_servers_share_the_outbox_without_concurrent_sends(
    server_factory: Callable[..., Server], database_url: Callable[[str], str], backend: str
) -> None:
    db_url = database_url(backend)
    paths = ["/a", "/b", "/c"]
    with running(Receiver(answer=lambda request: (0.005, 204))) as receiver:
        _, key, _ = _setup(db_url, [receiver.url(path) for path in paths])
        servers = [server_factory(db_url, env=ENV), server_factory(db_url, env=ENV)]
        clients = [server.client(headers={"apikey": key}) for server in servers]
        names = [f"two-{n}" for n in range(60)]
        try:
            for index, name in enumerate(names):  # one commit after another, through either server
                assert clients[index % 2].post("/v3/calls/events", json=ended_call(name)).status_code == 200
        finally:
            for client in clients:
                client.close()
        receiver.wait_for(lambda got: len(got) >= 3 * len(names), timeout=60)
        time.sleep(0.5)  # anything sent twice would arrive by now
    assert receiver.max_in_flight == dict.fromkeys(paths, 1)
    for path in paths:
        assert _sessions(receiver, path) == names  # each once, in commit order
    requests: list[Any] = receiver.requests
    assert len({(r.path, r.webhook_id) for r in requests}) == len(requests)
    assert len({r.webhook_id for r in requests}) == len(names)  # one message per event, to every subscriber
