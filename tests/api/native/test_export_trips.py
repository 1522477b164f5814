"""Exports stream: one worker trip opens the snapshot, one reads and encodes each page, one closes
it; every other endpoint makes exactly one (tests/api/test_worker_trips.py)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from calltrail.store.exports import PAGE_ROWS
from tests.api.native.conftest import UsageApp


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
