"""A module-wide app with calls around both 2026 DST changes, phone calls, and a key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from calltrail.jobs.feeder import feed, feed_session_demo
from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.store import Stores
from calltrail.voice.demo import generate_calls as generate_phone_calls
from calltrail.voice.events import parse_event as parse_status_event
from calltrail.voice.vocabulary import new_channel_settings


@dataclass
class UsageApp:
    app_id: str
    key: str
    channel_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"apikey": self.key}


def load_usage_app(stores: Stores) -> UsageApp:
    app = stores.tenants.create_app(new_app_settings("Usage", f"u-{secrets.token_hex(6)}"))
    key, _ = stores.tenants.create_key(app.app_id)
    world = build_world(3)
    for end, seed in (("2026-04-02T00:00:00Z", 3), ("2026-11-01T00:00:00Z", 4)):
        calls = generate_calls(world, app_id=app.app_id, count=180, seed=seed, end=end, span_days=8)
        feed_session_demo(stores.sessions, app.app_id, calls)
    channel = stores.voice.create_channel(app.app_id, new_channel_settings("Line")).channel_id
    phone = generate_phone_calls(channel, count=150, seed=5, end="2026-10-27T00:00:00Z", span_days=4)
    feed(
        phone,
        lambda raw, problems: parse_status_event(raw, problems, channel),
        lambda batch: stores.voice.ingest(app.app_id, channel, batch),
        lambda: None,
        2000,
    )
    return UsageApp(app.app_id, key, channel)


@pytest.fixture(scope="module")
def usage_app(stores: Stores) -> UsageApp:
    return load_usage_app(stores)


def list_calls(client: TestClient, headers: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    """Every call the list endpoint returns for ``query``, newest first."""
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get(f"/v3/calls?perPage=1000&page={page}&{query}", headers=headers).json()
        records += body["data"]
        if page >= body["meta"]["pagination"]["total_pages"]:
            return records
        page += 1


def list_phone_calls(client: TestClient, app: UsageApp, query: str = "") -> list[dict[str, Any]]:
    """Every phone call the workspace list returns for ``query``, newest first."""
    records: list[dict[str, Any]] = []
    token = ""
    headers = {"Authorization": f"AccessKey {app.key}"}
    while True:
        suffix = f"&pageToken={token}" if token else ""
        body = client.get(f"/workspaces/{app.app_id}/channels/calls?limit=1000&{query}{suffix}", headers=headers)
        records += body.json()["results"]
        token = body.json().get("nextPageToken", "")
        if not token:
            return records
