"""Spec file 004's calls as acceptance data: put them, list them, get them back identical,
and build the same calls from status events."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from starlette.testclient import TestClient

from calltrail.store import Stores
from calltrail.voice.vocabulary import new_channel_settings
from tests.api.bird.conftest import Workspace
from tests.voice.spec004 import events_for, example

EXAMPLE2_WINDOW = {"startAt": "2024-02-28T16:54:33.241Z", "endAt": "2024-03-01T16:54:33.241Z"}


def with_channel(stores: Stores, workspace: Workspace, channel_id: str) -> Workspace:
    stores.voice.create_channel(workspace.workspace_id, new_channel_settings("Spec channel", channel_id))
    return Workspace(workspace.workspace_id, workspace.key, channel_id, workspace.headers)


def put_all(client: TestClient, ws: Workspace, records: list[dict[str, Any]]) -> None:
    for record in records:
        response = client.put(ws.call(record["id"]), json=record, headers=ws.headers)
        assert response.status_code == 200, response.text
        assert response.content == orjson.dumps(record)  # served back exactly as sent


def test_example_1_round_trips(client: TestClient, stores: Stores, workspace: Workspace) -> None:
    spec = example("example1")
    ws = with_channel(stores, workspace, spec["results"][0]["channelId"])
    put_all(client, ws, spec["results"][::-1])
    response = client.get(ws.calls, headers=ws.headers)
    assert response.status_code == 200
    assert response.json() == spec  # newest first, and no nextPageToken: nothing more to show
    for record in spec["results"]:
        got = client.get(ws.call(record["id"]), headers=ws.headers)
        assert got.status_code == 200 and got.content == orjson.dumps(record)


def test_example_2_lists_with_its_start_and_end(client: TestClient, stores: Stores, workspace: Workspace) -> None:
    spec = example("example2")
    ws = with_channel(stores, workspace, spec["results"][0]["channelId"])
    # The spec's page says more results exist: an older call inside the window, and calls
    # outside it on both sides, which the window must exclude.
    older: dict[str, Any] = copy.deepcopy(spec["results"][-1]) | {
        "id": "0b7a1f4e-6a8f-4a51-9b53-0f2d5c9e1a10",
        "createdAt": "2024-03-01T16:30:00Z",
        "updatedAt": "2024-03-01T16:31:00Z",
        "endedAt": "2024-03-01T16:31:00Z",
    }

    def moved(call_id: str, created: str, ended: str) -> dict[str, Any]:
        return older | {"id": call_id, "createdAt": created, "updatedAt": ended, "endedAt": ended}

    at_end = moved("1b7a1f4e-6a8f-4a51-9b53-0f2d5c9e1a11", EXAMPLE2_WINDOW["endAt"], "2024-03-01T16:55:00Z")
    before = moved("2b7a1f4e-6a8f-4a51-9b53-0f2d5c9e1a12", "2024-02-28T16:54:33.24Z", "2024-02-28T16:55:00Z")
    at_start = moved("3b7a1f4e-6a8f-4a51-9b53-0f2d5c9e1a13", EXAMPLE2_WINDOW["startAt"], "2024-02-28T16:55:00Z")
    put_all(client, ws, [*spec["results"], older, at_end, before, at_start])

    first = client.get(ws.calls, params=EXAMPLE2_WINDOW, headers=ws.headers)
    assert first.status_code == 200
    body = first.json()
    assert body["results"] == spec["results"]
    assert set(body) == {"results", "nextPageToken"}

    second = client.get(ws.calls, params=EXAMPLE2_WINDOW | {"pageToken": body["nextPageToken"]}, headers=ws.headers)
    assert second.json() == {"results": [older, at_start]}  # startAt is inclusive, endAt exclusive


def test_the_schema_example_round_trips(client: TestClient, stores: Stores, workspace: Workspace) -> None:
    record = example("schema_example")["results"][0]
    ws = with_channel(stores, workspace, record["channelId"])
    put_all(client, ws, [record])
    assert client.get(ws.call(record["id"]), headers=ws.headers).content == orjson.dumps(record)
    listed = client.get(ws.calls, params={"tag": "TEXT", "status": "accepted"}, headers=ws.headers)
    assert listed.json() == {"results": [record]}


def test_the_spec_calls_built_from_status_events(client: TestClient, stores: Stores, workspace: Workspace) -> None:
    spec = example("example2")
    ws = with_channel(stores, workspace, spec["results"][0]["channelId"])
    events = [event for record in spec["results"] for event in events_for(record)]
    response = client.post(f"{ws.calls}/events", json=events[::-1], headers=ws.headers)
    assert response.json() == {"accepted": len(events), "duplicates": 0}
    listed = client.get(ws.calls, params=EXAMPLE2_WINDOW, headers=ws.headers)
    assert listed.json() == {"results": spec["results"]}
    for record in spec["results"]:
        assert client.get(ws.call(record["id"]), headers=ws.headers).content == orjson.dumps(record)
