"""Get a call, import a whole record (PUT) and ingest status events (POST) over HTTP."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import orjson
from starlette.testclient import TestClient

from calltrail.store import Stores
from calltrail.voice.vocabulary import new_channel_settings
from tests.api.bird.conftest import Workspace, assert_error
from tests.voice.spec004 import example

CALL = "4fc2edf7-68f5-437a-89eb-3ce0095409d6"
IDENTITY = {"direction": "outgoing", "type": "sip", "from": "sip:201@pbx.acme.example", "to": "+3197058016589"}


def record_for(ws: Workspace, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = copy.deepcopy(example("example1")["results"][0]) | {"channelId": ws.channel_id}
    return record | changes


def ev(event_id: str, status: str, at: str, call: str = CALL, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "callId": call, "status": status, "at": at, **fields}


# -- PUT -----------------------------------------------------------------------------------------


def test_put_replaces_and_is_served_back_exactly(client: TestClient, workspace: Workspace) -> None:
    record = record_for(workspace)
    first = client.put(workspace.call(CALL), json=record, headers=workspace.headers)
    assert first.status_code == 200 and first.content == orjson.dumps(record)
    changed = record | {"status": "failed", "reason": "carrier rejected", "tags": ["Escalation"]}
    assert client.put(workspace.call(CALL), json=changed, headers=workspace.headers).status_code == 200
    got = client.get(workspace.call(CALL), headers=workspace.headers)
    assert got.content == orjson.dumps(changed)
    listed = client.get(workspace.calls, params={"status": "failed", "tag": "escalation"}, headers=workspace.headers)
    assert listed.json() == {"results": [changed]}
    assert client.get(workspace.calls, params={"status": "completed"}, headers=workspace.headers).json() == {
        "results": []
    }


def test_put_fills_id_and_channel_from_the_url(client: TestClient, workspace: Workspace) -> None:
    record = record_for(workspace)
    del record["id"], record["channelId"]
    response = client.put(workspace.call(CALL.upper()), json=record, headers=workspace.headers)
    assert response.json() == {"id": CALL, "channelId": workspace.channel_id, **record}
    assert client.get(workspace.call(CALL), headers=workspace.headers).json()["id"] == CALL


def test_put_validation_names_every_field(client: TestClient, workspace: Workspace) -> None:
    record = record_for(workspace, status="queued", duration=-1, colour="red")
    record["originator"]["number"]["type"] = "fax"
    body = assert_error(client.put(workspace.call(CALL), json=record, headers=workspace.headers), 422, "InvalidPayload")
    assert set(body["details"]) == {"status", "duration", "colour", "originator.number.type"}
    assert_error(client.get(workspace.call(CALL), headers=workspace.headers), 404, "NotFound")  # nothing stored


def test_put_rejects_mismatched_ids_and_bad_bodies(client: TestClient, workspace: Workspace) -> None:
    other = str(uuid.uuid4())
    assert_error(
        client.put(workspace.call(other), json=record_for(workspace), headers=workspace.headers),
        422,
        "InvalidPayload",
        "id",
    )
    wrong_channel = record_for(workspace, channelId=str(uuid.uuid4()))
    assert_error(
        client.put(workspace.call(CALL), json=wrong_channel, headers=workspace.headers),
        422,
        "InvalidPayload",
        "channelId",
    )
    assert_error(
        client.put(workspace.call("call-1"), json=record_for(workspace), headers=workspace.headers),
        422,
        "InvalidPayload",
        "callId",
    )
    assert_error(
        client.put(workspace.call(CALL), json=[record_for(workspace)], headers=workspace.headers),
        422,
        "InvalidPayload",
        "body",
    )


def test_a_call_cannot_move_to_another_channel(client: TestClient, stores: Stores, workspace: Workspace) -> None:
    assert client.put(workspace.call(CALL), json=record_for(workspace), headers=workspace.headers).status_code == 200
    other = stores.voice.create_channel(workspace.workspace_id, new_channel_settings("Other")).channel_id
    other_url = workspace.call(CALL).replace(workspace.channel_id, other)
    response = client.put(other_url, json=record_for(workspace, channelId=other), headers=workspace.headers)
    assert_error(response, 409, "Conflict", "id")
    assert_error(client.get(other_url, headers=workspace.headers), 404, "NotFound")  # not visible elsewhere
    events = [ev("e-1", "completed", "2024-03-01T16:00:00Z")]
    assert_error(
        client.post(other_url.rsplit("/", 1)[0] + "/events", json=events, headers=workspace.headers),
        409,
        "Conflict",
        "events[0].callId",
    )


# -- POST events ---------------------------------------------------------------------------------


def test_events_build_the_call_and_redeliveries_change_nothing(client: TestClient, workspace: Workspace) -> None:
    events = [
        ev("e-3", "completed", "2024-03-01T16:00:40.5Z", hangupCauseCode=16, hangupSource="callee"),
        ev("e-1", "accepted", "2024-03-01T16:00:00Z", **IDENTITY),
        ev("e-2", "ongoing", "2024-03-01T16:00:10Z"),
    ]
    url = f"{workspace.calls}/events"
    assert client.post(url, json=events, headers=workspace.headers).json() == {"accepted": 3, "duplicates": 0}
    # Acknowledged means committed: the call is readable at once.
    record = client.get(workspace.call(CALL), headers=workspace.headers).json()
    assert record == {
        "id": CALL,
        "channelId": workspace.channel_id,
        "originator": {"number": {"type": "sip", "number": "sip:201@pbx.acme.example"}},
        "receiver": {"number": {"type": "sip", "number": "+3197058016589"}},
        "from": "sip:201@pbx.acme.example",
        "to": "+3197058016589",
        "direction": "outgoing",
        "status": "completed",
        "type": "sip",
        "duration": 31,
        "hangupCauseCode": 16,
        "hangupSource": "callee",
        "createdAt": "2024-03-01T16:00:00Z",
        "updatedAt": "2024-03-01T16:00:40.5Z",
        "answeredAt": "2024-03-01T16:00:10Z",
        "endedAt": "2024-03-01T16:00:40.5Z",
    }
    again = client.post(url, json=[events[0], ev("e-4", "ringing", "2024-03-01T16:00:05Z")], headers=workspace.headers)
    assert again.json() == {"accepted": 1, "duplicates": 1}
    updated = client.get(workspace.call(CALL), headers=workspace.headers).json()
    assert updated == record | {"ringingAt": "2024-03-01T16:00:05Z"}


def test_a_single_event_object_is_accepted(client: TestClient, workspace: Workspace) -> None:
    response = client.post(
        f"{workspace.calls}/events",
        json=ev("e-1", "ringing", "2024-03-01T16:00:00Z", **IDENTITY),
        headers=workspace.headers,
    )
    assert response.json() == {"accepted": 1, "duplicates": 0}


def test_a_call_without_its_identity_yet_is_stored_but_not_listed(client: TestClient, workspace: Workspace) -> None:
    url = f"{workspace.calls}/events"
    client.post(url, json=[ev("e-1", "ringing", "2024-03-01T16:00:00Z")], headers=workspace.headers)
    assert_error(client.get(workspace.call(CALL), headers=workspace.headers), 404, "NotFound")
    assert client.get(workspace.calls, headers=workspace.headers).json() == {"results": []}
    client.post(url, json=[ev("e-2", "ongoing", "2024-03-01T16:00:03Z", **IDENTITY)], headers=workspace.headers)
    assert client.get(workspace.call(CALL), headers=workspace.headers).json()["ringingAt"] == "2024-03-01T16:00:00Z"


def test_an_invalid_batch_stores_nothing(client: TestClient, workspace: Workspace) -> None:
    events = [ev("e-1", "ringing", "2024-03-01T16:00:00Z", **IDENTITY), ev("e-2", "dialing", "2024-03-01T16:00:01Z")]
    body = assert_error(
        client.post(f"{workspace.calls}/events", json=events, headers=workspace.headers),
        422,
        "InvalidPayload",
        "events[1].status",
    )
    assert list(body["details"]) == ["events[1].status"]
    assert_error(client.get(workspace.call(CALL), headers=workspace.headers), 404, "NotFound")


def test_batch_size_is_1_to_1000(client: TestClient, workspace: Workspace) -> None:
    url = f"{workspace.calls}/events"
    assert_error(client.post(url, json=[], headers=workspace.headers), 422, "InvalidPayload", "events")
    many = [
        ev(f"e-{i}", "ringing", "2024-03-01T16:00:00Z", call=str(uuid.UUID(int=i + 1)), **IDENTITY) for i in range(1001)
    ]
    assert_error(client.post(url, json=many, headers=workspace.headers), 422, "InvalidPayload", "events")
    assert client.post(url, json=many[:1000], headers=workspace.headers).json() == {"accepted": 1000, "duplicates": 0}
    assert len(client.get(workspace.calls, params={"limit": 1000}, headers=workspace.headers).json()["results"]) == 1000


def test_events_may_name_their_channel_but_only_the_urls(client: TestClient, workspace: Workspace) -> None:
    url = f"{workspace.calls}/events"
    good = ev("e-1", "ringing", "2024-03-01T16:00:00Z", channelId=workspace.channel_id.upper(), **IDENTITY)
    assert client.post(url, json=[good], headers=workspace.headers).status_code == 200
    bad = ev("e-2", "ringing", "2024-03-01T16:00:00Z", channelId=str(uuid.uuid4()))
    assert_error(client.post(url, json=[bad], headers=workspace.headers), 422, "InvalidPayload", "events[0].channelId")


def test_get_of_a_call_in_another_channel_is_not_found(
    client: TestClient, stores: Stores, workspace: Workspace
) -> None:
    assert client.put(workspace.call(CALL), json=record_for(workspace), headers=workspace.headers).status_code == 200
    other = stores.voice.create_channel(workspace.workspace_id, new_channel_settings("Other")).channel_id
    assert_error(
        client.get(workspace.call(CALL).replace(workspace.channel_id, other), headers=workspace.headers),
        404,
        "NotFound",
    )
    assert client.get(workspace.call(CALL.upper()), headers=workspace.headers).status_code == 200
