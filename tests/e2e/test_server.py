"""End to end: real ``calltrail serve`` processes over real databases."""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import open_stores
from tests.conftest import Server
from tests.sessions.spec_calls import GROUP_SESSION, group_call_events

pytestmark = pytest.mark.e2e


def _tenant(db_url: str) -> tuple[str, str]:
    stores = open_stores(db_url)
    try:
        app = stores.tenants.create_app(new_app_settings("E2E", "e2e"))
        secret, _ = stores.tenants.create_key(app.app_id)
    finally:
        stores.close()
    return app.app_id, secret


def test_serve_demo_prints_a_working_curl_example(
    server_factory: Callable[..., Server], database_url: Callable[[str], str]
) -> None:
    server = server_factory(database_url("sqlite"), "--demo", "--demo-calls", "300")
    output = server.output()
    key = re.search(r"API key\s*:\s*([0-9a-f]{40})", output)
    assert key, output
    base = re.search(r"base URL\s*:\s*(\S+)", output)
    assert base and base.group(1) == server.base_url.replace("127.0.0.1", "localhost")  # no /v3: $BASE
    assert f"export BASE={base.group(1)} KEY={key.group(1)}" in output
    assert 'curl -s "$BASE/v3/calls?' in output and "calltrail --help" in output
    with server.client(headers={"apikey": key.group(1)}) as client:
        body = client.get("/v3/calls", params={"perPage": 2, "status": "ended"}).json()
        assert len(body["data"]) == 2 and body["meta"]["pagination"]["total"] > 100
        session = body["data"][0]["sessionId"]
        assert client.get(f"/v3/calls/{session}").json()["data"]["sessionId"] == session
    token = re.search(r"authToken\s*:\s*(\S+)\s+\(user (\S+)\)", output)
    assert token, output
    with server.client(headers={"authToken": token.group(1)}) as client:
        mine = client.get("/v3.0/calls", params={"perPage": 100}).json()
        assert mine["data"] and all(c["direction"] in ("incoming", "outgoing") for c in mine["data"])
        entities = mine["data"][0]["data"]["entities"]
        assert token.group(2) in (
            entities["initiator"]["entity"]["uid"],
            entities["receiver"]["entity"].get("uid"),
            *(p["uid"] for p in mine["data"][0]["participants"]),
        )
    # a second start on the same database keeps the data and reuses the key (from its 0600 file)
    server.process.terminate()
    server.process.wait(10)
    again = server_factory(server.db_url, "--demo")
    second_key = re.search(r"API key\s*:\s*([0-9a-f]{40})", again.output())
    assert second_key and second_key.group(1) == key.group(1)
    assert "existing data" in again.output() and "reused" in again.output()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_acknowledged_events_survive_kill_9(
    server_factory: Callable[..., Server], database_url: Callable[[str], str], backend: str
) -> None:
    db_url = database_url(backend)
    app_id, key = _tenant(db_url)
    server = server_factory(db_url)
    acknowledged: list[dict[str, Any]] = []
    stop = threading.Event()

    def send() -> None:
        with server.client(headers={"apikey": key}) as client:
            batch_number = 0
            while not stop.is_set():
                batch = [
                    {
                        "id": f"b{batch_number}-{i}",
                        "type": "call.initiated",
                        "sessionId": f"s{batch_number}-{i}",
                        "at": 1700000000 + batch_number,
                        "initiator": "ann",
                        "receiver": "ben",
                        "receiverType": "user",
                        "callType": "audio",
                    }
                    for i in range(50)
                ]
                try:
                    response = client.post("/v3/calls/events", json=batch)
                except httpx.TransportError:
                    return
                if response.status_code == 200:
                    acknowledged.extend(batch)
                batch_number += 1

    sender = threading.Thread(target=send)
    sender.start()
    while len(acknowledged) < 1000:
        threading.Event().wait(0.01)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    stop.set()
    sender.join()
    stores = open_stores(db_url)
    try:
        with stores.db.read() as conn:
            stored = {row[0] for row in conn.fetchall("SELECT event_id FROM call_events WHERE app_id = ?", (app_id,))}
            calls = {row[0] for row in conn.fetchall("SELECT session_id FROM calls WHERE app_id = ?", (app_id,))}
    finally:
        stores.close()
    missing = [e["id"] for e in acknowledged if e["id"] not in stored]
    assert missing == [], f"{len(missing)} acknowledged events lost"
    assert {e["sessionId"] for e in acknowledged} <= calls


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_servers_side_by_side_share_one_database(
    server_factory: Callable[..., Server], database_url: Callable[[str], str], backend: str
) -> None:
    db_url = database_url(backend)
    _, key = _tenant(db_url)
    servers = [server_factory(db_url), server_factory(db_url)]
    events = group_call_events()
    # every event of one session, spread over both servers at once, one request per event
    barrier = threading.Barrier(len(events))

    def send(index: int, event: dict[str, Any]) -> None:
        with servers[index % 2].client(headers={"apikey": key}) as client:
            barrier.wait()
            assert client.post("/v3/calls/events", json=event).status_code == 200

    threads = [threading.Thread(target=send, args=(i, e)) for i, e in enumerate(events)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with servers[0].client(headers={"apikey": key}) as a, servers[1].client(headers={"apikey": key}) as b:
        first, second = a.get(f"/v3/calls/{GROUP_SESSION}").json(), b.get(f"/v3/calls/{GROUP_SESSION}").json()
    assert first == second
    data = first["data"]
    assert (data["status"], data["totalParticipants"], data["totalDuration"]) == ("ended", 2, "00:00:19")
