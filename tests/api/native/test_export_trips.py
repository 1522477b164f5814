"""Exports stream: one worker trip opens the snapshot, one reads and encodes each page, one closes
it; every other endpoint makes exactly one (tests/api/test_worker_trips.py)."""

from __future__ import annotations

import orjson
import pytest
from starlette.testclient import TestClient

from calltrail.store import Stores
from calltrail.store.exports import PAGE_ROWS
from tests.api.native.conftest import UsageApp, list_calls


@pytest.mark.parametrize("path", ["/api/exports/calls", "/api/exports/participants?format=csv", "/api/exports/voice"])
def test_trips_per_page(client: TestClient, usage_app: UsageApp, trips: list[int], path: str) -> None:
    response = client.get(path, headers=usage_app.headers)
    assert response.status_code == 200
    calls = 150 if "voice" in path else 360
    pages = calls // PAGE_ROWS + 1
    assert trips[0] == 1 + pages + 1
    trips[0] = 0
    assert client.get(path, headers={"apikey": "wrong"}).status_code == 401
    assert trips[0] == 1


@pytest.mark.parametrize("rows", [40, 50])
def test_many_pages_stream_in_order(
    client: TestClient,
    stores: Stores,
    usage_app: UsageApp,
    trips: list[int],
    monkeypatch: pytest.MonkeyPatch,
    rows: int,
) -> None:
    """Pages of ``rows`` calls: each is read (one trip) while the one before it is sent, and the
    file is the list, in order, with one CSV header."""
    real = stores.exports.calls
    monkeypatch.setattr(stores.exports, "calls", lambda app_id, query, **kw: real(app_id, query, page_rows=rows, **kw))
    expected = list_calls(client, usage_app.headers)
    trips[0] = 0
    ndjson = client.get("/api/exports/calls", headers=usage_app.headers)
    assert [orjson.loads(line) for line in ndjson.content.splitlines()] == expected
    assert trips[0] == 1 + (360 // rows + 1) + 1
    table = client.get("/api/exports/calls?format=csv", headers=usage_app.headers)
    lines = table.content.decode().split("\r\n")
    assert lines[0].startswith("sessionId,") and lines[-1] == "" and len(lines) == 360 + 2
    assert [line.split(",", 1)[0] for line in lines[1:-1]] == [record["sessionId"] for record in expected]
