"""End to end: two real ``calltrail serve`` processes on one PostgreSQL database serve the Bird
API; a walk started on one continues on the other (the page-token secret lives in the database)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import open_stores
from calltrail.voice.demo import generate_calls
from calltrail.voice.vocabulary import new_channel_settings
from tests.conftest import Server

pytestmark = pytest.mark.e2e


def test_two_stateless_servers_share_page_tokens(
    server_factory: Callable[..., Server], database_url: Callable[[str], str]
) -> None:
    db_url = database_url("postgresql")
    stores = open_stores(db_url)
    try:
        app = stores.tenants.create_app(new_app_settings("E2E Bird", "e2e-bird"))
        key, _ = stores.tenants.create_key(app.app_id)
        channel = stores.voice.create_channel(app.app_id, new_channel_settings("Line", str(uuid.uuid4()))).channel_id
    finally:
        stores.close()
    one, two = server_factory(db_url), server_factory(db_url)
    headers = {"Authorization": f"AccessKey {key}"}
    calls = f"/workspaces/{app.app_id}/channels/{channel}/calls"
    events = [event for call in generate_calls(channel, count=60, seed=9) for event in call]
    with one.client(headers=headers) as first, two.client(headers={"Authorization": f"Bearer {key}"}) as second:
        for start in range(0, len(events), 100):
            response = first.post(f"{calls}/events", json=events[start : start + 100])
            assert response.status_code == 200, response.text
        everything = first.get(calls, params={"limit": 100}).json()["results"]
        assert len(everything) == 60
        page = first.get(calls, params={"limit": 25}).json()
        rest = second.get(calls, params={"limit": 100, "pageToken": page["nextPageToken"]}).json()
        assert page["results"] + rest["results"] == everything and "nextPageToken" not in rest
        missing = second.get(f"/workspaces/{app.app_id}/channels/{uuid.uuid4()}/calls")
        assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
