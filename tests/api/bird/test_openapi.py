"""The Bird dialect in the OpenAPI document and /docs: generated from the parsers' tables."""

from __future__ import annotations

from starlette.testclient import TestClient

from calltrail.api.bird.openapi import RECORD_SCHEMAS
from calltrail.voice.events import EVENT_FIELDS
from calltrail.voice.fields import RECORD_FIELDS
from calltrail.voice.filters import LIST_PARAMS, WORKSPACE_PARAMS

CHANNEL_CALLS = "/workspaces/{workspaceId}/channels/{channelId}/calls"


def test_every_endpoint_is_documented(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    assert set(paths[CHANNEL_CALLS]) == {"get"}
    assert set(paths["/workspaces/{workspaceId}/channels/calls"]) == {"get"}
    assert set(paths[CHANNEL_CALLS + "/{callId}"]) == {"get", "put", "delete"}
    assert set(paths[CHANNEL_CALLS + "/events"]) == {"post"}
    schemes = document["components"]["securitySchemes"]
    assert schemes["AccessKey"] == {
        "type": "http",
        "scheme": "AccessKey",
        "description": schemes["AccessKey"]["description"],
    }
    assert schemes["BirdBearer"]["scheme"] == "bearer"
    for operations in (paths[p] for p in paths if p.startswith("/workspaces")):
        for operation in operations.values():
            assert operation["security"] == [{"AccessKey": []}, {"BirdBearer": []}]
            assert {"401", "404"} <= set(operation["responses"])


def test_list_parameters_come_from_the_parser_table(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    channel = [p["name"] for p in paths[CHANNEL_CALLS]["get"]["parameters"] if p["in"] == "query"]
    workspace = [
        p["name"] for p in paths["/workspaces/{workspaceId}/channels/calls"]["get"]["parameters"] if p["in"] == "query"
    ]
    assert channel == list(LIST_PARAMS) and workspace == list(WORKSPACE_PARAMS)
    status = next(p for p in paths[CHANNEL_CALLS]["get"]["parameters"] if p["name"] == "status")
    assert (status["style"], status["explode"]) == ("form", True)
    assert "cancelled" in status["schema"]["items"]["enum"]
    limit = next(p for p in paths[CHANNEL_CALLS]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}


def test_record_and_event_schemas_cover_every_field(client: TestClient) -> None:
    assert list(RECORD_SCHEMAS) == list(RECORD_FIELDS)
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["BirdCall"]["properties"]) == set(RECORD_FIELDS)
    event = set(schemas["BirdStatusEvent"]["properties"])
    assert event == {"id", "callId", "status", "at", "channelId", *EVENT_FIELDS}
    assert set(schemas["BirdError"]["required"]) == {"code", "message", "details"}


def test_docs_page_lists_the_bird_endpoints(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "/workspaces/{workspaceId}/channels/{channelId}/calls" in html and "pageToken" in html
