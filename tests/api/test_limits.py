"""Hard limits and overload answers through the ASGI app, on both engines: JSON depth, control
characters, rate limits, load shedding, request ids, /metrics and the OpenAPI document.

(Header sizes are enforced by ``calltrail serve``'s HTTP protocol: tests/e2e/test_production.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from calltrail.api.http import MAX_JSON_DEPTH
from calltrail.app import create_app
from calltrail.settings import Settings
from calltrail.store import Stores
from calltrail.voice.vocabulary import new_channel_settings
from tests.conftest import Tenant

EVENT = {
    "id": "lim-1",
    "type": "call.initiated",
    "sessionId": "lim-call",
    "at": 1777000000,
    "initiator": "ann",
    "receiver": "ben",
    "receiverType": "user",
    "callType": "audio",
}
RECORD = {
    "initiator": "ann",
    "receiver": "ben",
    "receiverType": "user",
    "type": "audio",
    "mode": "call",
    "status": "ended",
    "initiatedAt": 1692368113,
}
PHONE_EVENT = {
    "id": "p-1",
    "callId": "85d18e36-a741-46eb-baa7-525e576abbc8",
    "status": "ringing",
    "at": "2024-03-01T16:44:27.843Z",
    "direction": "incoming",
    "type": "pstn",
    "from": "+351910648518",
    "to": "+3197058016589",
}


def nested(depth: int) -> Any:
    """A JSON value ``depth`` containers deep."""
    value: Any = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.fixture
def channel(stores: Stores, tenant: Tenant) -> str:
    return stores.voice.create_channel(tenant.app_id, new_channel_settings("Limits")).channel_id


@pytest.fixture
def limited(stores: Stores) -> Iterator[TestClient]:
    """An app with a tiny rate limit: 2 requests at once, then one every 1000 s."""
    settings = Settings(rate_limit=0.001, rate_burst=2)
    with TestClient(create_app(stores, settings), raise_server_exceptions=False) as client:
        yield client


def test_json_nested_deeper_than_the_limit_is_400_and_never_a_500(client: TestClient, tenant: Tenant) -> None:
    deep = nested(MAX_JSON_DEPTH + 1)
    for method, path, body in [
        ("POST", "/v3/calls/events", {**EVENT, "metaData": deep}),
        ("PUT", "/v3/calls/lim-deep", {**RECORD, "metaData": deep}),
        ("POST", "/v3/calls/events", [[[[deep]]]]),
    ]:
        response = client.request(method, path, headers=tenant.headers, json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["details"] == {"body": [f"nests deeper than {MAX_JSON_DEPTH} levels"]}
    # at the limit itself, the body reaches validation (and is stored)
    fine = client.post("/v3/calls/events", headers=tenant.headers, json={**EVENT, "metaData": nested(62)})
    assert fine.status_code == 200, fine.text


def test_bird_json_too_deep_is_422_in_birds_envelope(client: TestClient, tenant: Tenant, channel: str) -> None:
    path = f"/workspaces/{tenant.app_id}/channels/{channel}/calls/events"
    response = client.post(path, headers={"Authorization": f"AccessKey {tenant.key}"}, json=nested(300))
    assert response.status_code == 422
    assert response.json()["code"] == "InvalidPayload"
    assert "body" in response.json()["details"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/v3/calls/abc%00def", None, "sessionId"),
        ("GET", "/v3/calls/abc%0Adef", None, "sessionId"),
        ("POST", "/v3/calls/events", {**EVENT, "id": "e\u0000x"}, "events[0].id"),
        ("POST", "/v3/calls/events", {**EVENT, "sessionId": "s\u0000"}, "events[0].sessionId"),
        ("POST", "/v3/calls/events", {**EVENT, "initiator": "a\u0001b"}, "events[0].initiator"),
        ("PUT", "/v3/users/u1", {"name": "a\u0000b"}, "name"),
        ("PUT", "/v3/users/u1%0A", {"name": "ab"}, "uid"),
        ("PUT", "/v3/groups/g1", {"name": "tab\there"}, "name"),
        ("GET", "/v3/calls?uid=a%00b", None, "uid"),
        ("GET", "/v3/calls?a%0A=1", None, "a\n"),
    ],
)
def test_control_characters_are_400_naming_the_field(
    client: TestClient, tenant: Tenant, method: str, path: str, body: Any, field: str
) -> None:
    response = client.request(method, path, headers=tenant.headers, json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["details"]


@pytest.mark.parametrize(
    ("query", "body", "field"),
    [
        ("?tag=a%00b", None, "tag"),
        ("?to=a%00b", None, "to"),
        ("?from=a%1Fb", None, "from"),
        ("/events", {**PHONE_EVENT, "id": "p\u0000"}, "events[0].id"),
        ("/events", {**PHONE_EVENT, "from": "+31\u0000"}, "events[0].from"),
        ("/events", {**PHONE_EVENT, "tags": ["vip\u0000"]}, "events[0].tags"),
    ],
)
def test_bird_control_characters_are_422_naming_the_field(
    client: TestClient, tenant: Tenant, channel: str, query: str, body: Any, field: str
) -> None:
    path = f"/workspaces/{tenant.app_id}/channels/{channel}/calls{query}"
    response = client.request(
        "POST" if body else "GET", path, headers={"Authorization": f"AccessKey {tenant.key}"}, json=body
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["details"]


def test_a_newline_in_a_workspace_path_gets_birds_envelope(client: TestClient, tenant: Tenant, channel: str) -> None:
    headers = {"Authorization": f"AccessKey {tenant.key}"}
    for path in (
        f"/workspaces/{tenant.app_id}%0A/channels/{channel}/calls",
        f"/workspaces/{tenant.app_id}/channels/{channel}%0A/calls",
        "/workspaces/%0A",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "NotFound"  # Bird's envelope, not {"error": ...}


def test_rate_limit_answers_429_with_retry_after_in_each_dialect(
    limited: TestClient, tenant: Tenant, stores: Stores
) -> None:
    channel = stores.voice.create_channel(tenant.app_id, new_channel_settings("Rate")).channel_id
    first = limited.get("/v3/calls?perPage=1", headers=tenant.headers)
    assert first.status_code == 200
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("2", "1")
    assert limited.get("/v3/calls?perPage=1", headers=tenant.headers).status_code == 200
    refused = limited.get("/v3/calls?perPage=1", headers=tenant.headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "ERR_TOO_MANY_REQUESTS"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # the same key through Bird's dialect shares the bucket, and is answered in Bird's envelope
    bird = limited.get(
        f"/workspaces/{tenant.app_id}/channels/{channel}/calls", headers={"Authorization": f"AccessKey {tenant.key}"}
    )
    assert bird.status_code == 429
    assert bird.json()["code"] == "TooManyRequests"
    assert "Retry-After" in bird.headers
    # another credential has its own bucket; health is never limited
    assert limited.get("/v3/calls", headers={"apikey": "someone-else"}).status_code == 401
    assert limited.get("/healthz").status_code == 200


def test_beyond_max_in_flight_requests_are_shed_with_503_at_once(stores: Stores, tenant: Tenant) -> None:
    with TestClient(create_app(stores, Settings(max_in_flight=0)), raise_server_exceptions=False) as client:
        shed = client.get("/v3/calls", headers=tenant.headers)
        assert shed.status_code == 503
        assert shed.json()["error"]["code"] == "ERR_SERVER_OVERLOADED"
        assert shed.headers["Retry-After"] == "1"
        bird = client.get(f"/workspaces/{tenant.app_id}/channels/calls", headers={"Authorization": "AccessKey x"})
        assert (bird.status_code, bird.json()["code"]) == (503, "ServiceUnavailable")
        assert client.get("/healthz").status_code == 200  # never shed
        metrics = client.get("/metrics").text
    families = {family.name: family for family in text_string_to_metric_families(metrics)}
    assert families["calltrail_http_requests_shed"].samples[0].value == 2


def test_request_ids_are_echoed_or_generated(client: TestClient, tenant: Tenant) -> None:
    sent = client.get("/v3/calls?perPage=1", headers={**tenant.headers, "X-Request-Id": "trace-42.a"})
    assert sent.headers["X-Request-Id"] == "trace-42.a"
    made = client.get("/v3/calls?perPage=1", headers=tenant.headers).headers["X-Request-Id"]
    junk = client.get("/v3/calls?perPage=1", headers={**tenant.headers, "X-Request-Id": "bad id\t!"})
    assert len(made) == 32 and junk.headers["X-Request-Id"] not in ("bad id\t!", made)
    assert client.get("/nowhere").headers["X-Request-Id"]


def test_metrics_parse_and_count_requests_events_and_refusals(stores: Stores, tenant: Tenant) -> None:
    with TestClient(create_app(stores, Settings()), raise_server_exceptions=False) as client:
        unique = f"m-{uuid.uuid4().hex[:8]}"
        batch = [{**EVENT, "id": f"{unique}-{i}", "sessionId": unique} for i in range(3)]
        assert client.post("/v3/calls/events", headers=tenant.headers, json=batch).status_code == 200
        assert client.post("/v3/calls/events", headers=tenant.headers, json=batch[:2]).json()["data"]["duplicates"] == 2
        client.get(f"/v3/calls/{unique}", headers=tenant.headers)
        client.get("/v3/calls/nope", headers=tenant.headers)
        text = client.get("/metrics").text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    requests = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in families["calltrail_http_requests"].samples
    }
    assert requests[("/v3/calls/events", "POST", "200")] == 2
    assert requests[("/v3/calls/{session_id}", "GET", "200")] == 1
    assert requests[("/v3/calls/{session_id}", "GET", "404")] == 1
    histogram = families["calltrail_http_request_duration_seconds"]
    counts = [s for s in histogram.samples if s.name.endswith("_count") and s.labels["route"] == "/v3/calls/events"]
    assert counts[0].value == 2
    ingested = {s.labels["domain"]: s.value for s in families["calltrail_events_ingested"].samples}
    duplicates = {s.labels["domain"]: s.value for s in families["calltrail_events_duplicate"].samples}
    assert ingested["session"] >= 3 and duplicates["session"] >= 2  # the stores are shared by the session
    for name in (
        "calltrail_database_errors",
        "calltrail_http_requests_in_flight",
        "calltrail_http_requests_rate_limited",
    ):
        assert name in families


def test_metrics_need_the_token_when_one_is_set(stores: Stores) -> None:
    with TestClient(create_app(stores, Settings(metrics_token="s3cret")), raise_server_exceptions=False) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        good = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert good.status_code == 200
    assert good.headers["content-type"].startswith("text/plain")


def test_every_operation_documents_the_statuses_the_server_can_answer(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        if path in ("/healthz", "/metrics"):
            continue
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"405", "429", "431", "503"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert "413" in statuses, (method, path)
    bird = document["paths"]["/workspaces/{workspaceId}/channels/{channelId}/calls"]["get"]["responses"]["429"]
    assert bird["content"]["application/json"]["schema"]["$ref"].endswith("BirdError")
    assert "Retry-After" in bird["headers"]


def test_docs_render_schemas_and_no_markdown_backticks(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "`" not in page
    assert "id='schema-CometChatError'" in page and "href='#schema-" in page
    assert "Request body" in page
