"""``usage_calls()``, ``usage_voice()`` and the streaming ``export_*()`` of the REST client, sync
and async, against the real application in process (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TypedDict

import httpx
import orjson
import pytest

from calltrail.store import Stores
from calltrail_sdk import AsyncCalltrailClient, AuthenticationError, BadRequestError, CallFilter, CalltrailClient
from tests.api.native.conftest import UsageApp, load_usage_app
from tests.sdk.conftest import BASE_URL


class Window(TypedDict):
    """The ``from_`` and ``to`` arguments of ``usage_calls()``."""

    from_: datetime | int | str
    to: datetime | int | str


OCTOBER: Window = {"from_": datetime(2026, 10, 23, tzinfo=UTC), "to": "2026-11-01T00:00:00Z"}


@pytest.fixture(scope="module")
def usage_app(stores: Stores) -> UsageApp:
    return load_usage_app(stores)


def test_usage_and_exports(sync_http: httpx.Client, usage_app: UsageApp) -> None:
    client = CalltrailClient(BASE_URL, usage_app.key, http_client=sync_http)
    series = client.usage_calls(**OCTOBER, tz="Asia/Kolkata", group_by="type", where=CallFilter(status="ended"))
    assert series.meta["tz"] == "Asia/Kolkata" and series.meta["groupBy"] == "type"
    assert {row["group"] for row in series.rows} == {"audio", "video"}
    ended = sum(row["calls"] for row in series.rows)
    assert ended == sum(row["statuses"]["ended"] for row in series.rows) > 0
    users = client.usage_calls(**OCTOBER, interval="all", group_by="uid", limit=3)
    assert len(users.rows) == 3 and "missed" in users.rows[0]
    voice = client.usage_voice(from_=1792713600, to=1793500000, filters={"status": ["completed", "busy"]})
    assert sum(row["calls"] for row in voice.rows) == sum(
        row["statuses"]["completed"] + row["statuses"]["busy"] for row in voice.rows
    )
    lines = b"".join(client.export_calls(where=CallFilter(status="ended"))).splitlines()
    exported = [orjson.loads(line) for line in lines]
    assert exported and all(call["status"] == "ended" for call in exported)
    window = [c for c in exported if 1792713600 <= c["initiatedAt"] < 1793491200]
    assert len(window) == ended
    csv_text = b"".join(client.export_participants("csv", filters=[("mode", "meet")])).decode()
    assert csv_text.startswith("sessionId,uid,")
    phone = b"".join(client.export_voice(filters={"channelId": usage_app.channel_id})).splitlines()
    assert len(phone) == 150
    with pytest.raises(BadRequestError) as caught:
        client.usage_calls(tz="Mars/Olympus")
    assert "tz" in caught.value.details
    with pytest.raises(ValueError, match="format"):
        client.export_calls("xlsx")
    with pytest.raises(AuthenticationError):
        b"".join(CalltrailClient(BASE_URL, "wrong", http_client=sync_http).export_calls())


def test_async_usage_and_exports(async_transport: httpx.ASGITransport, usage_app: UsageApp) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(transport=async_transport, base_url=BASE_URL) as http:
            client = AsyncCalltrailClient(BASE_URL, usage_app.key, http_client=http)
            series = await client.usage_calls(**OCTOBER, interval="week")
            voice = await client.usage_voice(from_="2026-10-20T00:00:00Z", to="2026-10-28T00:00:00Z", group_by="type")
            chunks = [chunk async for chunk in client.export_voice("csv")]
            assert b"".join(chunks).decode().count("\r\n") == 151
            assert series.rows and voice.rows
            with pytest.raises(AuthenticationError):
                async for _ in AsyncCalltrailClient(BASE_URL, "nope", http_client=http).export_calls():
                    pass

    asyncio.run(scenario())
