"""``/api/usage/*`` against a straightforward computation over the records the list endpoints
return: many periods, zones (half-hour offsets, both 2026 DST changes), every grouping, filters,
and after imports replace records. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from starlette.testclient import TestClient

from calltrail.kernel.instants import format_rfc3339, parse_rfc3339
from calltrail.kernel.tenancy import new_key_settings
from calltrail.sessions.demo import build_world
from calltrail.store import Stores
from calltrail.voice.vocabulary import STATUSES
from tests.api.native.conftest import UsageApp, list_calls, list_phone_calls
from tests.usage.reference import expected_calls, expected_voice

ZEROS_CALL = {"calls": 0, "totalMinutes": 0.0, "participantMinutes": 0.0, "peakConcurrent": 0}
MARCH = ("2026-03-24T00:00:00Z", "2026-04-02T00:00:00Z")
OCTOBER = ("2026-10-23T00:00:00Z", "2026-11-01T00:00:00Z")


def _ms(text: str) -> int:
    return parse_rfc3339(text) if "T" in text else int(text) * 1000


def check_calls(client: TestClient, app: UsageApp, query: dict[str, str], filters: str = "") -> list[dict[str, Any]]:
    """Ask the API and compare every row with the reference over the list's records."""
    params = "&".join(f"{k}={v}" for k, v in query.items())
    response = client.get(f"/api/usage/calls?{params}&{filters}", headers=app.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    records = list_calls(client, app.headers, filters)
    reference = {
        "from_ms": _ms(query["from"]),
        "to_ms": _ms(query["to"]),
        "tz": query.get("tz", "UTC"),
        "interval": query.get("interval", "day"),
        "groupBy": query.get("groupBy"),
    }
    rows: list[dict[str, Any]] = body["data"]
    expected = expected_calls(records, reference, now_ms=_now_of(rows, records, reference))
    group_by = query.get("groupBy")
    if group_by == "uid":
        limit = int(query.get("limit", 100))
        totals: dict[str, list[int]] = {}
        for (_, uid), row in expected.items():
            entry = totals.setdefault(uid, [0, 0])
            entry[0] += round(row["participantMinutes"] * 60000)
            entry[1] += row["calls"]
        top = sorted(totals, key=lambda uid: (-totals[uid][0], -totals[uid][1], uid))[:limit]
        assert list(dict.fromkeys(row["group"] for row in rows)) == top
    seen = set()
    for row in rows:
        key = (row["period"], row.get("group"))
        seen.add(key)
        figures = {k: v for k, v in row.items() if k not in ("period", "group")}
        want = expected.get(key)
        if want is None:
            assert figures["calls"] == 0 and figures["peakConcurrent"] == 0, (key, figures)
        else:
            assert figures == want, (key, figures, want)
    assert set(expected) <= seen or group_by == "uid"
    assert body["meta"]["interval"] == reference["interval"]
    return rows


def _now_of(rows: list[dict[str, Any]], records: list[dict[str, Any]], reference: dict[str, Any]) -> int:
    # Ongoing calls count to "now": any instant after the range (these ranges end before today)
    # gives the same figures.
    return int(reference["to_ms"]) + 10**9


@pytest.mark.parametrize(
    "query",
    [
        {"from": MARCH[0], "to": MARCH[1], "interval": "day", "tz": "Europe/Amsterdam"},
        {"from": OCTOBER[0], "to": OCTOBER[1], "interval": "hour", "tz": "Europe/Amsterdam"},
        {"from": OCTOBER[0], "to": OCTOBER[1], "interval": "day", "tz": "Asia/Kolkata", "groupBy": "type"},
        {"from": "1774400111", "to": "1775000777", "interval": "day", "tz": "America/St_Johns"},
        {"from": MARCH[0], "to": MARCH[1], "interval": "hour", "tz": "Asia/Kolkata", "groupBy": "status"},
        {"from": "2026-03-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "interval": "month", "groupBy": "mode"},
        {
            "from": "2026-03-01T00:00:00Z",
            "to": "2026-12-01T00:00:00Z",
            "interval": "week",
            "tz": "Asia/Kathmandu",
            "groupBy": "receiverType",
        },
        {"from": MARCH[0], "to": OCTOBER[1], "interval": "all", "groupBy": "initiator"},
        {
            "from": OCTOBER[0],
            "to": OCTOBER[1],
            "interval": "day",
            "tz": "America/St_Johns",
            "groupBy": "uid",
            "limit": "7",
        },
    ],
)
def test_series_equal_the_records(client: TestClient, usage_app: UsageApp, query: dict[str, str]) -> None:
    rows = check_calls(client, usage_app, query)
    assert sum(row["calls"] for row in rows) > 0


@pytest.mark.parametrize(
    "filters",
    [
        "status=ended",
        "types=audio&hasRecording=false",
        "statuses=ended,unanswered&receiverType=group",
        "duration[gte]=1",
        f"uid={build_world(3).people[0].uid}",
        "startedAt[gte]=1774800000&mode=call",
    ],
)
@pytest.mark.parametrize("group_by", [None, "type", "uid"])
def test_filters_narrow_the_calls_counted(
    client: TestClient, usage_app: UsageApp, filters: str, group_by: str | None
) -> None:
    query = {"from": MARCH[0], "to": MARCH[1], "interval": "day", "tz": "Asia/Kolkata"}
    if group_by:
        query["groupBy"] = group_by
    check_calls(client, usage_app, query, filters)


def test_every_bucket_is_present_with_zeros(client: TestClient, usage_app: UsageApp) -> None:
    body = client.get(
        "/api/usage/calls?from=2026-01-01T00:00:00Z&to=2026-01-04T00:00:00Z&tz=Asia/Kolkata&groupBy=type",
        headers=usage_app.headers,
    ).json()
    assert [(row["period"], row["group"]) for row in body["data"]] == [
        (f"2026-01-0{day}T00:00:00+05:30", media) for day in range(1, 5) for media in ("audio", "video")
    ]
    assert all(row["calls"] == 0 and row["avgDurationMinutes"] == 0 for row in body["data"])
    assert body["meta"] == {
        "from": "2026-01-01T05:30:00+05:30",
        "to": "2026-01-04T05:30:00+05:30",
        "interval": "day",
        "tz": "Asia/Kolkata",
        "groupBy": "type",
    }


def test_dst_days_are_local_days(client: TestClient, usage_app: UsageApp) -> None:
    body = client.get(
        "/api/usage/calls?from=2026-03-28T00:00:00%2B01:00&to=2026-03-31T00:00:00%2B02:00&tz=Europe/Amsterdam",
        headers=usage_app.headers,
    ).json()
    assert [row["period"] for row in body["data"]] == [
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    ]


def test_imports_replacing_records_keep_the_figures_exact(
    client: TestClient, stores: Stores, usage_app: UsageApp
) -> None:
    from tests.api.native.conftest import load_usage_app

    app = load_usage_app(stores)  # its own app: this test changes records
    records = list_calls(client, app.headers)
    changed = []
    for index, record in enumerate(records[:40]):
        new = copy.deepcopy(record)
        new["initiatedAt"] = record["initiatedAt"] - 86400 * (index % 3)
        new["status"] = ("ended", "busy", "cancelled", "ongoing")[index % 4]
        new["totalDurationInMinutes"] = 1.2345678 * index
        new["totalAudioMinutes"] = 0.333333 * index
        new.pop("endedAt", None) if new["status"] == "ongoing" else None
        if index % 5 == 0:
            new["participants"] = [{"uid": "importer", "totalDuration": 2.5, "isJoined": True, "state": "ended"}]
        changed.append(new)
    for new in changed:
        assert client.put(f"/v3/calls/{new['sessionId']}", json=new, headers=app.headers).status_code == 200
    for query in (
        {"from": MARCH[0], "to": MARCH[1], "interval": "day", "tz": "Europe/Amsterdam"},
        {"from": OCTOBER[0], "to": OCTOBER[1], "interval": "day", "tz": "Asia/Kolkata", "groupBy": "status"},
        {"from": OCTOBER[0], "to": OCTOBER[1], "interval": "week", "groupBy": "uid"},
    ):
        check_calls(client, app, query)


def check_voice(
    client: TestClient, app: UsageApp, query: dict[str, str], filters: str = "", list_filters: str = ""
) -> None:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    response = client.get(f"/api/usage/voice?{params}&{filters}", headers={"Authorization": f"Bearer {app.key}"})
    assert response.status_code == 200, response.text
    records = list_phone_calls(client, app, list_filters or filters)
    reference = {
        "from_ms": _ms(query["from"]),
        "to_ms": _ms(query["to"]),
        "tz": query.get("tz", "UTC"),
        "interval": query.get("interval", "day"),
        "groupBy": query.get("groupBy"),
    }
    expected = expected_voice(records, reference, 10**13, STATUSES)
    seen = set()
    for row in response.json()["data"]:
        key = (row["period"], row.get("group"))
        seen.add(key)
        figures = {k: v for k, v in row.items() if k not in ("period", "group")}
        want = expected.get(key)
        if want is None:
            assert figures["calls"] == 0 and figures["avgMos"] is None, (key, figures)
        else:
            assert figures == want, (key, figures, want)
    assert set(expected) <= seen
    assert expected


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-10-23T00:00:00Z", "to": "2026-10-27T00:00:00Z", "interval": "hour", "tz": "Europe/Amsterdam"},
        {"from": "2026-10-23T00:00:00Z", "to": "2026-10-27T00:00:00Z", "tz": "Asia/Kolkata", "groupBy": "status"},
        {"from": "1792750123", "to": "1793000456", "tz": "America/St_Johns", "groupBy": "hangupCause"},
        {"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "interval": "week", "groupBy": "direction"},
        {"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "interval": "all", "groupBy": "channelId"},
    ],
)
def test_voice_series_equal_the_records(client: TestClient, usage_app: UsageApp, query: dict[str, str]) -> None:
    check_voice(client, usage_app, query)


@pytest.mark.parametrize(
    ("filters", "list_filters"),
    [("status=completed", ""), ("direction=outgoing&type=pstn", ""), ("fromNumber=%2B31000", "from=%2B31000")],
)
def test_voice_filters(client: TestClient, usage_app: UsageApp, filters: str, list_filters: str) -> None:
    query = {"from": "2026-10-23T00:00:00Z", "to": "2026-10-27T00:00:00Z", "tz": "Asia/Kolkata", "groupBy": "type"}
    params = "&".join(f"{k}={v}" for k, v in query.items())
    if list_filters:  # a number no call has: every row is zero
        rows = client.get(f"/api/usage/voice?{params}&{filters}", headers=usage_app.headers).json()["data"]
        assert rows and all(row["calls"] == 0 for row in rows)
        return
    check_voice(client, usage_app, query, filters)


def test_voice_imports_keep_the_figures_exact(client: TestClient, stores: Stores) -> None:
    from tests.api.native.conftest import load_usage_app

    app = load_usage_app(stores)
    bird = {"Authorization": f"AccessKey {app.key}"}
    for index, record in enumerate(list_phone_calls(client, app)[:30]):
        new = copy.deepcopy(record)
        new["status"] = "completed"
        new["answeredAt"] = new["createdAt"]
        new["endedAt"] = format_rfc3339(parse_rfc3339(new["createdAt"]) + 61_000 * (index + 1))
        new["duration"] = 61 * (index + 1)
        new["qualityInsights"] = {"mos": "4.125", "pdd": "1.0005"}
        url = f"/workspaces/{app.app_id}/channels/{app.channel_id}/calls/{new['id']}"
        assert client.put(url, json=new, headers=bird).status_code == 200, url
    check_voice(client, app, {"from": "2026-10-20T00:00:00Z", "to": "2026-10-28T00:00:00Z", "groupBy": "status"})


@pytest.mark.parametrize(
    ("path", "details"),
    [
        ("/api/usage/calls?tz=Mars/Olympus", {"tz"}),
        ("/api/usage/calls?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", {"to"}),
        ("/api/usage/calls?from=0&to=1700000000", {"to"}),
        ("/api/usage/calls?interval=minute&groupBy=color&limit=5", {"interval", "groupBy", "limit"}),
        ("/api/usage/calls?groupBy=uid&limit=0&status=lost&perPage=3", {"limit", "status", "perPage"}),
        ("/api/usage/calls?from=2021-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=hour&groupBy=uid", {"interval"}),
        ("/api/usage/calls?from[gte]=1&duration[zz]=1", {"from[gte]", "duration[zz]"}),
        (
            "/api/usage/voice?startAt=2026-01-01T00:00:00Z&limit=3&groupBy=uid&from=yesterday",
            {"startAt", "limit", "groupBy", "from"},
        ),
        ("/api/usage/voice?channelId=nope&status=lost", {"channelId", "status"}),
    ],
)
def test_bad_parameters_are_named(client: TestClient, usage_app: UsageApp, path: str, details: set[str]) -> None:
    response = client.get(path, headers=usage_app.headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "ERR_BAD_REQUEST"
    assert set(error["details"]) == details


def test_credentials(client: TestClient, stores: Stores, usage_app: UsageApp) -> None:
    assert client.get("/api/usage/calls").json()["error"]["code"] == "AUTH_ERR_EMPTY_APIKEY"
    assert client.get("/api/usage/calls?tz=bad", headers={"apikey": "nope"}).status_code == 401
    assert client.get("/api/usage/voice", headers={"Authorization": "Basic x"}).status_code == 401
    auth_only, _ = stores.tenants.create_key(usage_app.app_id, new_key_settings("authOnly"))
    assert client.get("/api/usage/calls", headers={"apikey": auth_only}).status_code == 403
    other = client.get("/api/usage/calls", headers={"Authorization": f"Bearer {usage_app.key}"})
    assert other.status_code == 200 and other.json()["meta"]["tz"] == "UTC"
    assert client.post("/api/usage/calls", headers=usage_app.headers).status_code == 405
