"""Page tokens over HTTP: bound to their query, tamper-evident, shared by servers, and a walk of
a 100,000-call channel that neither repeats nor skips a call while new calls arrive."""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from calltrail.app import create_app
from calltrail.kernel.instants import format_rfc3339, parse_rfc3339
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores
from calltrail.voice.events import parse_batch
from calltrail.voice.vocabulary import new_channel_settings
from tests.api.bird.conftest import Workspace, assert_error
from tests.conftest import QueryParams

BASE = parse_rfc3339("2024-01-01T00:00:00Z")


def records(channel: str, count: int, *, start: int = BASE, step: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` minimal valid calls, one every ``step`` ms from ``start``."""
    rng = random.Random(seed)
    made = []
    for index in range(count):
        created = format_rfc3339(start + index * step)
        made.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "channelId": channel,
                "originator": {"number": {"type": "pstn", "number": "+351910648518"}},
                "from": "+351910648518",
                "to": "+3197058016589",
                "direction": "incoming",
                "status": ("completed", "no-answer", "busy")[index % 3],
                "type": "pstn",
                "createdAt": created,
                "updatedAt": created,
            }
        )
    return made


@pytest.fixture
def filled(stores: Stores, workspace: Workspace) -> Workspace:
    stores.voice.put_records(workspace.workspace_id, workspace.channel_id, records(workspace.channel_id, 25))
    return workspace


def first_token(client: TestClient, ws: Workspace, **params: Any) -> str:
    body = client.get(ws.calls, params={"limit": 5, **params}, headers=ws.headers).json()
    return str(body["nextPageToken"])


def test_the_page_size_may_change_between_pages(client: TestClient, filled: Workspace) -> None:
    everything = client.get(filled.calls, params={"limit": 25}, headers=filled.headers).json()["results"]
    token = first_token(client, filled)
    rest = client.get(filled.calls, params={"limit": 20, "pageToken": token}, headers=filled.headers).json()
    assert rest == {"results": everything[5:]}


def test_a_token_is_valid_only_with_its_filters(client: TestClient, filled: Workspace) -> None:
    token = first_token(client, filled, status="busy")
    same: QueryParams = [("status", "busy"), ("pageToken", token)]
    assert client.get(filled.calls, params=same, headers=filled.headers).status_code == 200
    changes: tuple[QueryParams, ...] = (
        [("pageToken", token)],
        [("status", "busy"), ("status", "failed"), ("pageToken", token)],
        [("status", "busy"), ("tag", "x"), ("pageToken", token)],
    )
    for changed in changes:
        response = client.get(filled.calls, params=changed, headers=filled.headers)
        assert_error(response, 422, "InvalidPayload", "pageToken")


def test_a_token_is_valid_only_in_its_channel_and_workspace(
    client: TestClient, stores: Stores, filled: Workspace
) -> None:
    token = first_token(client, filled)
    other_channel = stores.voice.create_channel(filled.workspace_id, new_channel_settings("Other")).channel_id
    response = client.get(
        filled.calls.replace(filled.channel_id, other_channel), params={"pageToken": token}, headers=filled.headers
    )
    assert_error(response, 422, "InvalidPayload", "pageToken")
    response = client.get(filled.all_calls, params={"pageToken": token}, headers=filled.headers)
    assert_error(response, 422, "InvalidPayload", "pageToken")
    # Another workspace with a channel of the same id cannot use it either.
    app = stores.tenants.create_app(new_app_settings("Other", f"w-{uuid.uuid4().hex[:12]}"))
    key, _ = stores.tenants.create_key(app.app_id)
    stores.voice.create_channel(app.app_id, new_channel_settings("Same id", filled.channel_id))
    response = client.get(
        f"/workspaces/{app.app_id}/channels/{filled.channel_id}/calls",
        params={"pageToken": token},
        headers={"Authorization": f"AccessKey {key}"},
    )
    assert_error(response, 422, "InvalidPayload", "pageToken")


def test_forged_tokens_are_422(client: TestClient, filled: Workspace) -> None:
    token = first_token(client, filled)
    payload, mac = token.split(".")
    for forged in (payload + "A." + mac, payload + "." + mac[::-1], "W10", "x" * 8000, token.replace(".", "")):
        response = client.get(filled.calls, params={"pageToken": forged}, headers=filled.headers)
        assert_error(response, 422, "InvalidPayload", "pageToken")


def test_any_server_on_the_database_continues_a_walk(stores: Stores, filled: Workspace) -> None:
    with TestClient(create_app(Stores(stores.db))) as one, TestClient(create_app(Stores(stores.db))) as two:
        token = first_token(one, filled)
        response = two.get(filled.calls, params={"limit": 5, "pageToken": token}, headers=filled.headers)
        assert response.status_code == 200 and len(response.json()["results"]) == 5


WALK_CALLS = 100_000


@pytest.mark.slow  # about 8 s on SQLite and 20-25 s on PostgreSQL (loading 100,000 calls): still run by default
def test_a_token_walks_100000_calls_without_repeats_or_gaps_while_calls_arrive(
    client: TestClient, stores: Stores, workspace: Workspace
) -> None:
    channel = workspace.channel_id
    originals = records(channel, WALK_CALLS, seed=1)
    for start in range(0, WALK_CALLS, 10_000):
        stores.voice.put_records(workspace.workspace_id, channel, originals[start : start + 10_000])
    original_ids = {r["id"] for r in originals}
    span = WALK_CALLS * 1000

    # New calls arrive through status events, all through the walk: newer than every page,
    # and in the middle of the range (older than the cursor at some point).
    stop = threading.Event()
    arrived: list[str] = []

    def arrive() -> None:
        rng = random.Random(2)
        while not stop.is_set():
            batch = []
            for _ in range(20):
                call = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                at = BASE + (span + rng.randint(0, 10**6) if rng.random() < 0.5 else rng.randint(0, span))
                batch.append(
                    {
                        "id": f"{call}:0",
                        "callId": call,
                        "status": "ringing",
                        "at": format_rfc3339(at),
                        "direction": "outgoing",
                        "type": "sip",
                        "from": "sip:1@pbx",
                        "to": "+1",
                    }
                )
                arrived.append(call)
            stores.voice.ingest(workspace.workspace_id, channel, parse_batch(batch, channel))
            time.sleep(0.005)

    writer = threading.Thread(target=arrive)
    writer.start()
    seen: list[tuple[int, str]] = []
    params: dict[str, Any] = {"limit": 1000}
    pages = 0
    try:
        while True:
            response = client.get(workspace.calls, params=params, headers=workspace.headers)
            assert response.status_code == 200
            body = response.json()
            seen += [(parse_rfc3339(r["createdAt"]), r["id"]) for r in body["results"]]
            pages += 1
            if "nextPageToken" not in body:
                break
            params["pageToken"] = body["nextPageToken"]
    finally:
        stop.set()
        writer.join()

    ids = [call for _, call in seen]
    assert len(ids) == len(set(ids)), "a call was listed twice"
    assert original_ids <= set(ids), f"{len(original_ids - set(ids))} calls were skipped"
    assert seen == sorted(seen, reverse=True), "the walk left list order"
    new_seen = set(ids) - original_ids
    assert new_seen <= set(arrived)
    assert new_seen, "no call arrived mid-walk behind the cursor: the test did not exercise arrivals"
    assert pages >= WALK_CALLS // 1000
