"""Every endpoint makes exactly one trip to the worker threads per request: credentials,
reads and writes are one blocking function (its reads in one snapshot where they need one)."""

from __future__ import annotations

import base64
import time
import uuid
from contextlib import AbstractContextManager
from typing import Any

from starlette.testclient import TestClient

from calltrail.adapters.integrations import new_integration
from calltrail.outbound.subscriptions import parse_new
from calltrail.store import Stores
from calltrail.store.secrets import SecretStore
from calltrail.store.tenants import hash_secret
from calltrail.voice.vocabulary import new_channel_settings
from calltrail.web import sessions
from calltrail.web.pages import SECRET_NAME
from tests.conftest import Tenant

EVENT = {
    "id": "trip-1",
    "type": "call.initiated",
    "sessionId": "trip-call",
    "at": 1777000000,
    "initiator": "ann",
    "receiver": "ben",
    "receiverType": "user",
    "callType": "audio",
}
PHONE_RECORD = {
    "from": "+31000000001",
    "to": "+31000000002",
    "originator": {"number": {"type": "pstn", "number": "+31000000001"}},
    "direction": "incoming",
    "status": "completed",
    "type": "pstn",
    "createdAt": "2026-01-01T00:00:00.000Z",
    "updatedAt": "2026-01-01T00:00:05.000Z",
}


def _dashboard_cookie(stores: Stores, tenant: Tenant) -> str:
    """A signed-in dashboard session of the tenant's key."""
    signed = sessions.new_session(int(time.time()), tenant.app_id, hash_secret(tenant.key))
    return f"{sessions.COOKIE}={sessions.encode(signed, SecretStore(stores.db).get(SECRET_NAME))}"


def test_each_endpoint_makes_one_worker_trip(
    client: TestClient, stores: Stores, tenant: Tenant, trips: list[int]
) -> None:
    channel = stores.voice.create_channel(tenant.app_id, new_channel_settings("Trips")).channel_id
    janus, password = new_integration(tenant.app_id, "janus")
    stores.integrations.create(janus)
    basic = {"Authorization": "Basic " + base64.b64encode(f"{janus.username}:{password}".encode()).decode()}
    token = client.post("/v3/users/ann/auth_tokens", headers=tenant.headers).json()["data"]["authToken"]
    bird = {"Authorization": f"AccessKey {tenant.key}"}
    calls = f"/workspaces/{tenant.app_id}/channels/{channel}/calls"
    call_id = str(uuid.uuid4())
    hook = (
        "/api/webhooks/"
        + stores.outbox.create(tenant.app_id, parse_new({"url": "https://r.example/h"})).subscription_id
    )
    web = {"Cookie": _dashboard_cookie(stores, tenant)}
    requests: list[tuple[str, str, dict[str, str], Any, int]] = [
        ("POST", "/v3/calls/events", tenant.headers, EVENT, 200),
        ("GET", "/v3/calls?perPage=5", tenant.headers, None, 200),
        ("GET", "/v3/calls", {**tenant.headers, "onBehalfOf": "ann"}, None, 200),
        ("GET", "/v3/calls/trip-call", {**tenant.headers, "onBehalfOf": "ann"}, None, 200),
        ("GET", "/v3/calls/trip-call", {**tenant.headers, "onBehalfOf": "zed"}, None, 403),
        ("PUT", "/v3/calls/trip-import", tenant.headers, {**EVENT, "type": "audio", "status": "ended"}, 400),
        ("GET", "/v3.0/calls", {"authToken": token}, None, 200),
        ("GET", "/v3.0/calls/trip-call", {"authToken": token}, None, 200),
        ("PUT", "/v3/users/ann", tenant.headers, {"name": "Ann"}, 200),
        ("GET", "/v3/users/ann", tenant.headers, None, 200),
        ("PUT", "/v3/groups/team", tenant.headers, {"name": "Team"}, 200),
        ("GET", "/v3/groups/team", tenant.headers, None, 200),
        ("GET", "/v3/users/ann/auth_tokens", tenant.headers, None, 200),
        ("POST", "/v3/users/ann/auth_tokens", tenant.headers, None, 200),
        ("DELETE", "/v3/users/ann/auth_tokens", tenant.headers, None, 200),
        ("GET", "/v3/calls", {"apikey": "wrong"}, None, 401),
        ("PUT", f"{calls}/{call_id}", bird, PHONE_RECORD, 200),
        ("GET", f"{calls}/{call_id}", bird, None, 200),
        ("GET", f"{calls}?limit=5", bird, None, 200),
        ("GET", f"/workspaces/{tenant.app_id}/channels/calls", bird, None, 200),
        ("POST", f"{calls}/events", bird, {"id": "e", "callId": call_id, "status": "ringing", "at": 1}, 200),
        ("GET", f"{calls}?limit=0", bird, None, 422),
        ("POST", janus.path, basic, [{"type": 1, "timestamp": 1, "session_id": 1, "event": {}}], 200),
        ("POST", janus.path, {}, {}, 401),
        ("POST", "/api/webhooks", tenant.headers, {"url": "https://r.example/h"}, 201),
        ("GET", "/api/webhooks", tenant.headers, None, 200),
        ("GET", hook, tenant.headers, None, 200),
        ("PATCH", hook, tenant.headers, {"description": "trips"}, 200),
        ("GET", f"{hook}/deliveries?limit=5", tenant.headers, None, 200),
        ("POST", f"{hook}/deliveries/dlv_nope/retry", tenant.headers, None, 404),
        ("DELETE", hook, tenant.headers, None, 200),
        ("GET", "/", web, None, 200),
        ("GET", "/calls?perPage=5&status=ended", web, None, 200),
        ("GET", "/calls/trip-call", web, None, 200),
        ("GET", "/users/ann", web, None, 200),
        ("GET", "/voice", web, None, 200),
        ("GET", f"/voice/{channel}", web, None, 200),
        ("GET", f"/voice/{channel}/calls/{call_id}", web, None, 200),
        ("POST", "/signout", {}, None, 403),
        ("GET", "/api/usage/calls?groupBy=uid&tz=Asia/Kolkata", tenant.headers, None, 200),
        ("GET", "/api/usage/voice?interval=hour", tenant.headers, None, 200),
        ("GET", "/api/usage/calls?tz=nowhere", tenant.headers, None, 400),
        ("DELETE", "/v3/users/ann?erase=true", tenant.headers, None, 200),
        ("DELETE", "/v3/users/ann", tenant.headers, None, 404),
        ("DELETE", "/v3/calls/trip-call", tenant.headers, None, 200),
        ("DELETE", f"{calls}/{call_id}", bird, None, 204),
        # /api/exports/* stream page by page: one trip per page of 1000 calls plus opening and
        # closing the snapshot, counted in tests/api/native/test_export_trips.py.
    ]
    for method, path, headers, body, status in requests:
        trips[0] = 0
        response = client.request(method, path, headers=headers, json=body)
        assert response.status_code == status, (method, path, response.text)
        assert trips[0] == 1, (method, path, trips[0])
    # Monitoring never waits for the worker pool: /healthz pings on a thread of its own (cached
    # for a second), /metrics reads counters in memory.
    for path in ("/healthz", "/metrics"):
        trips[0] = 0
        assert client.get(path).status_code == 200
        assert trips[0] == 0, (path, trips[0])


def test_first_pages_and_calls_by_id_run_no_transaction_on_postgresql(
    client: TestClient, stores: Stores, tenant: Tenant, monkeypatch: Any
) -> None:
    """Their reads need no common snapshot: on PostgreSQL each statement is its own transaction
    (no ``BEGIN`` and ``COMMIT`` round trips), all on one borrowed connection. A deep page still
    reads its total and its rows in one snapshot."""
    from calltrail.store.database import Connection, PostgresDatabase

    if not isinstance(stores.db, PostgresDatabase):
        return  # SQLite: every read is a snapshot already, at no cost
    channel = stores.voice.create_channel(tenant.app_id, new_channel_settings("No transaction")).channel_id
    assert client.post("/v3/calls/events", headers=tenant.headers, json=EVENT).status_code == 200
    bird = {"Authorization": f"AccessKey {tenant.key}"}
    opened: list[str] = []
    transaction, each = PostgresDatabase._transaction, PostgresDatabase._read_each

    def recorded_transaction(db: PostgresDatabase, read_only: bool) -> AbstractContextManager[Connection]:
        opened.append("tx")
        return transaction(db, read_only)

    def recorded_each(db: PostgresDatabase) -> AbstractContextManager[Connection]:
        opened.append("each")
        return each(db)

    monkeypatch.setattr(PostgresDatabase, "_transaction", recorded_transaction)
    monkeypatch.setattr(PostgresDatabase, "_read_each", recorded_each)
    for path, headers in (
        ("/v3/calls?perPage=5", tenant.headers),
        ("/v3/calls/trip-call", tenant.headers),
        (f"/workspaces/{tenant.app_id}/channels/{channel}/calls", bird),
    ):
        assert client.get(path, headers=headers).status_code == 200  # once for what is set up once
        opened.clear()
        assert client.get(path, headers=headers).status_code == 200
        assert opened == ["each"], (path, opened)
    opened.clear()
    assert client.get("/v3/calls?perPage=5&page=3", headers=tenant.headers).status_code == 200
    assert "tx" in opened
