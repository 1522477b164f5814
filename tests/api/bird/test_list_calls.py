"""``GET .../channels/{channelId}/calls`` and ``GET .../channels/calls``: every parameter,
checked against known data for what it matches and what it rejects.

The dataset is 30 imported calls over two channels with every status, type and direction. Each
case states its filter twice: as the query a client sends and as a predicate over the records
(the oracle). The API must return exactly the calls the oracle selects, newest first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from calltrail.kernel.instants import format_rfc3339, parse_rfc3339
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores
from calltrail.voice.vocabulary import CALL_TYPES, DIRECTIONS, STATUSES, new_channel_settings
from tests.api.bird.conftest import Workspace, assert_error
from tests.conftest import QueryParams

BASE = parse_rfc3339("2024-03-01T16:00:00Z")
TAGS = [["vip"], ["sales", "VIP"], [], ["support"], ["Follow-Up"]]


def make_record(index: int, channel: str) -> dict[str, Any]:
    created = BASE + (index // 2) * 60_000 + (index % 2) * 1  # pairs one millisecond apart
    if index in (20, 21, 22):
        created = BASE + 3_600_000  # three calls created in the same millisecond
    record: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bird-list-{index}")),
        "channelId": channel,
        "originator": {"number": {"type": "pstn", "number": f"+3519106485{index % 4:02d}"}},
        "from": f"+3519106485{index % 4:02d}",
        "to": f"+31970580165{index % 5:02d}",
        "direction": DIRECTIONS[index % 2],
        "status": STATUSES[index % len(STATUSES)],
        "type": CALL_TYPES[index % 3],
        "createdAt": format_rfc3339(created),
        "updatedAt": format_rfc3339(created + 30_000),
    }
    if index % 6 != 5:
        record["duration"] = index % 4
    if TAGS[index % len(TAGS)]:
        record["tags"] = TAGS[index % len(TAGS)]
    return record


@dataclass
class Data:
    ws: Workspace
    second: str
    records: list[dict[str, Any]]

    def expected(self, predicate: Callable[[dict[str, Any]], bool], channel: str | None = None) -> list[dict[str, Any]]:
        chosen = [r for r in self.records if predicate(r) and (channel is None or r["channelId"] == channel)]
        return sorted(chosen, key=lambda r: (parse_rfc3339(r["createdAt"]), r["id"]), reverse=True)


@pytest.fixture(scope="module")
def data(client: TestClient, stores: Stores) -> Data:
    """Built once per backend: the cases only read it."""
    app = stores.tenants.create_app(new_app_settings("Bird list", f"w-{uuid.uuid4().hex[:12]}"))
    key, _ = stores.tenants.create_key(app.app_id)
    channel = stores.voice.create_channel(app.app_id, new_channel_settings("Main line")).channel_id
    workspace = Workspace(app.app_id, key, channel, {"Authorization": f"AccessKey {key}"})
    second = stores.voice.create_channel(workspace.workspace_id, new_channel_settings("Second line")).channel_id
    records = [make_record(i, second if i % 3 == 2 else workspace.channel_id) for i in range(30)]
    for record in records:
        url = f"/workspaces/{workspace.workspace_id}/channels/{record['channelId']}/calls/{record['id']}"
        assert client.put(url, json=record, headers=workspace.headers).status_code == 200
    return Data(workspace, second, records)


def lower_tags(record: dict[str, Any]) -> set[str]:
    return {tag.lower() for tag in record.get("tags", [])}


T = BASE
CASES: list[tuple[str, list[tuple[str, str]], Callable[[dict[str, Any]], bool]]] = [
    ("no filter", [], lambda r: True),
    ("one status", [("status", "completed")], lambda r: r["status"] == "completed"),
    (
        "several statuses",
        [("status", "busy"), ("status", "failed"), ("status", "accepted")],
        lambda r: r["status"] in ("busy", "failed", "accepted"),
    ),
    ("statuses comma-separated", [("status", "busy,ringing")], lambda r: r["status"] in ("busy", "ringing")),
    ("one type", [("type", "sip")], lambda r: r["type"] == "sip"),
    ("several types", [("type", "sip"), ("type", "webrtc")], lambda r: r["type"] in ("sip", "webrtc")),
    ("direction", [("direction", "outgoing")], lambda r: r["direction"] == "outgoing"),
    ("both directions", [("direction", "outgoing"), ("direction", "incoming")], lambda r: True),
    ("to", [("to", "+3197058016503")], lambda r: r["to"] == "+3197058016503"),
    ("to matches exactly, not a prefix", [("to", "+31970580165")], lambda r: False),
    ("from", [("from", "+351910648501")], lambda r: r["from"] == "+351910648501"),
    ("duration", [("duration", "3")], lambda r: r.get("duration") == 3),
    ("duration zero", [("duration", "0")], lambda r: r.get("duration") == 0),
    (
        "id",
        [("id", str(uuid.uuid5(uuid.NAMESPACE_URL, "bird-list-7")))],
        lambda r: r["id"].endswith(str(uuid.uuid5(uuid.NAMESPACE_URL, "bird-list-7"))[-12:]),
    ),
    (
        "id in upper case",
        [("id", str(uuid.uuid5(uuid.NAMESPACE_URL, "bird-list-7")).upper())],
        lambda r: r["id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, "bird-list-7")),
    ),
    ("unknown id", [("id", "00000000-0000-4000-8000-000000000000")], lambda r: False),
    ("tag, case-insensitive", [("tag", "VIP")], lambda r: "vip" in lower_tags(r)),
    (
        "several tags",
        [("tag", "support"), ("tag", "follow-up")],
        lambda r: bool({"support", "follow-up"} & lower_tags(r)),
    ),
    ("unknown tag", [("tag", "nope")], lambda r: False),
    (
        "startAt inclusive",
        [("startAt", format_rfc3339(T + 5 * 60_000))],
        lambda r: parse_rfc3339(r["createdAt"]) >= T + 300_000,
    ),
    (
        "endAt exclusive",
        [("endAt", format_rfc3339(T + 5 * 60_000 + 1))],
        lambda r: parse_rfc3339(r["createdAt"]) < T + 300_001,
    ),
    (
        "window",
        [("startAt", "2024-03-01T17:05:00.001+01:00"), ("endAt", "2024-03-01T16:10:00Z")],
        lambda r: T + 300_001 <= parse_rfc3339(r["createdAt"]) < T + 600_000,
    ),
    (
        "combined",
        [("status", "completed"), ("status", "no-answer"), ("direction", "outgoing"), ("tag", "vip")],
        lambda r: r["status"] in ("completed", "no-answer") and r["direction"] == "outgoing" and "vip" in lower_tags(r),
    ),
    (
        "type and duration",
        [("type", "pstn"), ("duration", "0")],
        lambda r: r["type"] == "pstn" and r.get("duration") == 0,
    ),
]


@pytest.mark.parametrize(("name", "params", "predicate"), CASES, ids=[c[0] for c in CASES])
def test_channel_list_matches_the_oracle(
    client: TestClient,
    data: Data,
    name: str,
    params: list[tuple[str, str]],
    predicate: Callable[[dict[str, Any]], bool],
) -> None:
    response = client.get(data.ws.calls, params=[*params, ("limit", "1000")], headers=data.ws.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"results": data.expected(predicate, data.ws.channel_id)}


@pytest.mark.parametrize(("name", "params", "predicate"), CASES, ids=[c[0] for c in CASES])
def test_workspace_list_matches_the_oracle(
    client: TestClient,
    data: Data,
    name: str,
    params: list[tuple[str, str]],
    predicate: Callable[[dict[str, Any]], bool],
) -> None:
    response = client.get(data.ws.all_calls, params=[*params, ("limit", "1000")], headers=data.ws.headers)
    assert response.json() == {"results": data.expected(predicate)}
    only_second = client.get(
        data.ws.all_calls, params=[*params, ("channelId", data.second), ("limit", "1000")], headers=data.ws.headers
    )
    assert only_second.json() == {"results": data.expected(predicate, data.second)}


def test_workspace_list_channel_filter(client: TestClient, data: Data) -> None:
    both: QueryParams = [("channelId", data.ws.channel_id), ("channelId", data.second.upper()), ("limit", "100")]
    assert client.get(data.ws.all_calls, params=both, headers=data.ws.headers).json() == {
        "results": data.expected(lambda r: True)
    }
    unknown: QueryParams = [("channelId", str(uuid.uuid4()))]
    assert client.get(data.ws.all_calls, params=unknown, headers=data.ws.headers).json() == {"results": []}


def test_default_limit_is_10_and_ties_are_broken_by_id(client: TestClient, data: Data) -> None:
    body = client.get(data.ws.all_calls, headers=data.ws.headers).json()
    assert body["results"] == data.expected(lambda r: True)[:10]
    assert "nextPageToken" in body
    same_ms = [r["id"] for r in data.expected(lambda r: parse_rfc3339(r["createdAt"]) == BASE + 3_600_000)]
    assert len(same_ms) == 3 and same_ms == sorted(same_ms, reverse=True)


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 29, 30, 31, 1000])
def test_next_page_token_is_present_exactly_when_more_results_exist(client: TestClient, data: Data, limit: int) -> None:
    everything = data.expected(lambda r: True)
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        body = client.get(data.ws.all_calls, params=params, headers=data.ws.headers).json()
        seen += body["results"]
        if "nextPageToken" not in body:
            break
        assert len(body["results"]) == limit and len(seen) < len(everything)
        params["pageToken"] = body["nextPageToken"]
    assert seen == everything


REJECTED = [
    ("limit", "0"),
    ("limit", "1001"),
    ("limit", "x"),
    ("pageToken", "t" * 8001),
    ("pageToken", "forged"),
    ("startAt", "2024-03-01"),
    ("endAt", "yesterday"),
    ("status", "queued"),
    ("type", "voice"),
    ("to", "x" * 101),
    ("to", ""),
    ("from", "y" * 101),
    ("duration", "1.5"),
    ("duration", "-1"),
    ("direction", "inbound"),
    ("id", "not-a-uuid"),
    ("tag", "t" * 101),
    ("colour", "red"),
    ("channelId", "not-a-uuid"),
]


@pytest.mark.parametrize(("name", "value"), REJECTED)
def test_invalid_parameters_are_422_naming_the_parameter(
    client: TestClient, workspace: Workspace, name: str, value: str
) -> None:
    url = workspace.all_calls if name == "channelId" else workspace.calls
    body = assert_error(client.get(url, params={name: value}, headers=workspace.headers), 422, "InvalidPayload", name)
    assert list(body["details"]) == [name]


def test_channel_id_is_not_a_parameter_of_the_channel_list(client: TestClient, workspace: Workspace) -> None:
    response = client.get(workspace.calls, params={"channelId": workspace.channel_id}, headers=workspace.headers)
    assert_error(response, 422, "InvalidPayload", "channelId")


def test_repeating_a_single_valued_parameter_is_422(client: TestClient, workspace: Workspace) -> None:
    response = client.get(workspace.calls, params=[("limit", "5"), ("limit", "5")], headers=workspace.headers)
    assert_error(response, 422, "InvalidPayload", "limit")


def test_every_problem_is_named_at_once(client: TestClient, workspace: Workspace) -> None:
    params: QueryParams = [
        ("limit", "0"),
        ("status", "x"),
        ("startAt", "2024-03-02T00:00:00Z"),
        ("endAt", "2024-03-01T00:00:00Z"),
    ]
    body = assert_error(client.get(workspace.calls, params=params, headers=workspace.headers), 422, "InvalidPayload")
    assert set(body["details"]) == {"limit", "status", "endAt"}
