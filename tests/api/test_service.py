"""Health check, the OpenAPI document and the docs page."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from calltrail.sessions.events import EVENT_TYPES
from calltrail.sessions.filters import LIST_CALLS_PARAMS, operator_names


def test_health(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] in ("sqlite", "postgresql")


def test_openapi_describes_every_cometchat_endpoint_parameter_and_error(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path, method in [
        ("/v3/calls", "get"),
        ("/v3/calls/{sessionId}", "get"),
        ("/v3/calls/{sessionId}", "put"),
        ("/v3/calls/events", "post"),
        ("/healthz", "get"),
    ]:
        assert method in paths[path], (path, method)
    listed = {p["name"] for p in paths["/v3/calls"]["get"]["parameters"]}
    expected = {key for spec in LIST_CALLS_PARAMS.values() for key in operator_names(spec)}
    assert expected | {"page", "perPage", "onBehalfOf"} <= listed
    for path, operations in paths.items():
        for method, operation in operations.items():
            if path.startswith("/v3/"):
                assert {"400", "401", "403"} <= set(operation["responses"]), (path, method)
    schemas = document["components"]["schemas"]
    assert {f"Event_{t.replace('.', '_')}" for t in EVENT_TYPES} <= set(schemas)
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', client.get("/openapi.json").text))
    assert refs <= set(schemas), refs - set(schemas)


def test_docs_page_renders_the_document_offline(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "/v3/calls/{sessionId}" in response.text and "initiatedAt[gte]" in response.text
    assert "<script" not in response.text  # nothing fetched from a CDN
