"""``/api/exports/*``: every matching call, newest first, as the list returns it, from one
snapshot. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest
from starlette.testclient import TestClient

from calltrail.exports.records import CALL_COLUMNS, PARTICIPANT_COLUMNS, VOICE_COLUMNS
from calltrail.jobs.feeder import feed_session_demo
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.sessions.record import validate_record
from calltrail.store import Stores
from calltrail.usage.params import parse_call_export
from tests.api.native.conftest import UsageApp, list_calls, list_phone_calls
from tests.conftest import Tenant


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.mark.parametrize("filters", ["", "status=ended&types=video", "initiatedAt[gte]=1775000000"])
def test_calls_ndjson_is_the_list(client: TestClient, usage_app: UsageApp, filters: str) -> None:
    response = client.get(f"/api/exports/calls?format=ndjson&{filters}", headers=usage_app.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="calls-{usage_app.app_id}-20') and disposition.endswith(
        '.ndjson"'
    )
    lines = response.content.splitlines()
    assert [orjson.loads(line) for line in lines] == list_calls(client, usage_app.headers, filters)


def test_calls_csv_rows(client: TestClient, usage_app: UsageApp) -> None:
    response = client.get("/api/exports/calls?format=csv&receiverType=group", headers=usage_app.headers)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == list(CALL_COLUMNS)
    records = list_calls(client, usage_app.headers, "receiverType=group")
    assert rows[1:] == [[_cell(record.get(column)) for column in CALL_COLUMNS] for record in records]
    assert b"\r\n" in response.content


def test_participants(client: TestClient, usage_app: UsageApp) -> None:
    records = list_calls(client, usage_app.headers, "mode=meet")
    expected = [{"sessionId": r["sessionId"], **p} for r in records for p in r["participants"]]
    ndjson = client.get("/api/exports/participants?mode=meet", headers=usage_app.headers)
    assert [orjson.loads(line) for line in ndjson.content.splitlines()] == expected
    assert "participants-" in ndjson.headers["content-disposition"]
    table = client.get("/api/exports/participants?mode=meet&format=csv", headers=usage_app.headers)
    rows = list(csv.reader(io.StringIO(table.content.decode())))
    assert rows[0] == list(PARTICIPANT_COLUMNS)
    assert rows[1:] == [[_cell(entry.get(column)) for column in PARTICIPANT_COLUMNS] for entry in expected]


def test_voice(client: TestClient, usage_app: UsageApp) -> None:
    bearer = {"Authorization": f"Bearer {usage_app.key}"}
    query = f"channelId={usage_app.channel_id}&status=completed&status=busy"
    ndjson = client.get(f"/api/exports/voice?{query}", headers=bearer)
    records = list_phone_calls(client, usage_app, query)
    assert records and [orjson.loads(line) for line in ndjson.content.splitlines()] == records
    table = client.get(f"/api/exports/voice?{query}&format=csv", headers=bearer)
    rows = list(csv.reader(io.StringIO(table.content.decode())))
    assert rows[0] == list(VOICE_COLUMNS)
    flat = [{**r, **{k: r.get("qualityInsights", {}).get(k) for k in ("mos", "pdd")}} for r in records]
    assert rows[1:] == [[_cell(r.get(column)) for column in VOICE_COLUMNS] for r in flat]


@pytest.mark.parametrize(
    ("path", "status", "details"),
    [
        ("/api/exports/calls?format=xlsx&page=2", 400, {"format", "page"}),
        ("/api/exports/voice?limit=5&status=lost", 400, {"limit", "status"}),
        ("/api/exports/participants?duration[zz]=1", 400, {"duration[zz]"}),
    ],
)
def test_bad_requests(client: TestClient, usage_app: UsageApp, path: str, status: int, details: set[str]) -> None:
    response = client.get(path, headers=usage_app.headers)
    assert response.status_code == status
    assert set(response.json()["error"]["details"]) == details
    assert client.get(path).status_code == 401  # credentials first


def test_an_export_is_one_snapshot(stores: Stores, usage_app: UsageApp) -> None:
    """Calls ingested while an export runs are not in it, and no call appears twice."""
    before = stores.sessions.find(usage_app.app_id, CallQuery(), PageRequest(1, 1)).total
    cursor = stores.exports.calls(usage_app.app_id, CallQuery(), page_rows=50)
    try:
        seen = cursor.next_page()
        calls = generate_calls(
            build_world(9), app_id=usage_app.app_id, count=60, seed=9, end="2026-11-02T00:00:00Z", span_days=1
        )
        feed_session_demo(stores.sessions, usage_app.app_id, calls)
        while not cursor.done:
            seen += cursor.next_page()
    finally:
        cursor.close()
    ids = [orjson.loads(document)["sessionId"] for document in seen]
    assert len(ids) == len(set(ids)) == before


def _imported(index: int) -> dict[str, Any]:
    """Imported records: several calls at one instant (keyset ties), fields after the participants,
    cells CSV must quote, and entries a byte search must not cut short."""
    participants = [{"uid": "alice", "isJoined": True, "deviceId": 'd],"x"' if index % 3 == 0 else "d1"}]
    record: dict[str, Any] = {"sessionId": f"imp-{index:02d}", "participants": participants}
    record |= {
        "initiator": "bob" if index % 2 else "carol",
        "receiver": "alice",
        "receiverType": "user",
        "type": "audio",
        "status": "ended",
        "initiatedAt": 1_780_000_000 + index // 5,
        "mid": 'line\r\nbreak, "quoted"' if index % 4 == 0 else f"m{index}",
        "hasRecording": index % 2 == 0,
        "totalAudioMinutes": index / 7,
    }
    return validate_record(record)


def test_small_pages_over_ties_and_imported_records(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    stores.sessions.put_records(tenant.app_id, [_imported(index) for index in range(23)])
    for filters in ("", "uid=alice", "hasRecording=true"):
        expected = list_calls(client, tenant.headers, filters)
        assert len(expected) in (23, 12)
        query = parse_call_export(list(parse_qsl(filters))).query
        cursor = stores.exports.calls(tenant.app_id, query, page_rows=2)
        documents: list[bytes] = []
        try:
            while not cursor.done:
                documents += cursor.next_page()
        finally:
            cursor.close()
        assert [orjson.loads(document) for document in documents] == expected
        ndjson = client.get(f"/api/exports/calls?{filters}", headers=tenant.headers)
        assert [orjson.loads(line) for line in ndjson.content.splitlines()] == expected
        table = client.get(f"/api/exports/calls?format=csv&{filters}", headers=tenant.headers)
        rows = list(csv.reader(io.StringIO(table.content.decode(), newline="")))
        assert rows[1:] == [[_cell(record.get(column)) for column in CALL_COLUMNS] for record in expected]
