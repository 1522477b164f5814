"""The OpenAPI document describes every usage and export endpoint and parameter the parsers take."""

from __future__ import annotations

from starlette.testclient import TestClient

from calltrail.sessions.filters import LIST_CALLS_PARAMS, operator_names
from calltrail.usage.params import VOICE_EXPORT_PARAMS, VOICE_USAGE_PARAMS


def test_every_parameter_is_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    def names(path: str) -> set[str]:
        return {p["name"] for p in paths[path]["get"]["parameters"]}

    filters = {key for spec in LIST_CALLS_PARAMS.values() for key in operator_names(spec)}
    assert names("/api/usage/calls") == {"from", "to", "interval", "tz", "groupBy", "limit"} | filters
    assert names("/api/usage/voice") == {"from", "to", "interval", "tz", "groupBy"} | set(VOICE_USAGE_PARAMS)
    assert names("/api/exports/calls") == names("/api/exports/participants") == {"format"} | filters
    assert names("/api/exports/voice") == {"format"} | set(VOICE_EXPORT_PARAMS)
    for path in ("/api/usage/calls", "/api/usage/voice", "/api/exports/calls"):
        assert {"200", "400", "401", "403"} <= set(paths[path]["get"]["responses"])
    assert "/api/usage/calls" in client.get("/docs").text
