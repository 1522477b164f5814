"""Deleting and erasing calls that came from a Janus room (folded from the room's facts): the
room's list of calls follows, and the documented behaviour holds: a later fact of the room
re-folds it from all its facts (a deleted call comes back; an erased uid stays erased)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.testclient import TestClient

from calltrail.store import Stores
from calltrail.store.erasure import Eraser
from tests.api.hooks.test_hooks import integrate
from tests.conftest import Tenant


def _event(name: str, feed: int, at_s: int, display: str) -> dict[str, Any]:
    data = {"event": name, "room": 4343, "id": feed, "display": display}
    plugin = {"plugin": "janus.plugin.videoroom", "data": data}
    return {"emitter": "j1", "type": 64, "timestamp": at_s * 1_000_000, "event": plugin}


def _occupancy(feed: int, start: int, who: str) -> list[dict[str, Any]]:
    return [_event("joined", feed, start, who), _event("leaving", feed, start + 60, who)]


def _calls(client: TestClient, tenant: Tenant) -> list[dict[str, Any]]:
    body = client.get("/v3/calls?mode=meet", headers=tenant.headers).json()
    assert body["meta"]["pagination"]["total"] == len(body["data"])
    return list(body["data"])


def _room_sessions(stores: Stores, tenant: Tenant) -> list[str]:
    with stores.db.read() as conn:
        row = conn.fetchone("SELECT sessions FROM rooms WHERE app_id = ?", (tenant.app_id,))
    return list(orjson.loads(row[0])) if row else []


def _usage_calls(client: TestClient, tenant: Tenant) -> int:
    rows = client.get(
        "/api/usage/calls?from=2026-09-01T00:00:00Z&to=2026-10-01T00:00:00Z&interval=month", headers=tenant.headers
    ).json()["data"]
    return sum(int(row["calls"]) for row in rows)


def test_deleting_a_room_call(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    path, headers = integrate(stores, tenant, "janus")
    for batch in (_occupancy(1, 1_790_000_000, "ann"), _occupancy(2, 1_790_000_100, "bob")):
        assert client.post(path, content=json.dumps(batch), headers=headers).status_code == 200
    first, second = sorted(call["sessionId"] for call in _calls(client, tenant))
    assert _room_sessions(stores, tenant) == [first, second] and _usage_calls(client, tenant) == 2
    assert client.delete(f"/v3/calls/{first}", headers=tenant.headers).status_code == 200
    assert [call["sessionId"] for call in _calls(client, tenant)] == [second]
    assert _room_sessions(stores, tenant) == [second] and _usage_calls(client, tenant) == 1
    # A later fact of the room re-folds it from all its facts: the deleted call comes back.
    later = _occupancy(3, 1_790_000_300, "cy")
    assert client.post(path, content=json.dumps(later), headers=headers).status_code == 200
    assert len(_calls(client, tenant)) == 3 and _usage_calls(client, tenant) == 3


def test_erasing_a_room_participant_survives_a_refold(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    path, headers = integrate(stores, tenant, "janus")
    for batch in (_occupancy(1, 1_790_000_000, "ann"), _occupancy(2, 1_790_000_100, "bob")):
        assert client.post(path, content=json.dumps(batch), headers=headers).status_code == 200
    erased = Eraser(stores.sessions).erase(tenant.app_id, "bob")
    assert erased.calls == 1
    later = _occupancy(3, 1_790_000_300, "cy")
    assert client.post(path, content=json.dumps(later), headers=headers).status_code == 200
    listed = orjson.dumps(_calls(client, tenant))
    assert b'"bob"' not in listed and erased.pseudonym.encode() in listed
    assert client.get("/v3/calls?uid=bob", headers=tenant.headers).json()["meta"]["pagination"]["total"] == 0
    alias = client.get(f"/v3/calls?uid={erased.pseudonym}", headers=tenant.headers).json()
    assert alias["meta"]["pagination"]["total"] == 1
