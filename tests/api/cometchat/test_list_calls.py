"""``GET /v3/calls``: every filter and operator of spec file 000, checked against known data.

The dataset mixes calls derived from events and imported records. Each case states its
filter twice: as the query string a client sends, and as a Python predicate over the records
(the oracle). The API must return exactly the calls the oracle selects, in list order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Tenant
from tests.sessions.spec_calls import (
    DIRECT_SESSION,
    GROUP_SESSION,
    direct_call_events,
    group_call_events,
    spec_list_response,
)

Record = dict[str, Any]


def _record(session: str, initiated: int, **fields: Any) -> Record:
    record: Record = {
        "sessionId": session,
        "initiatedAt": initiated,
        "initiator": "ann",
        "receiver": "ben",
        "receiverType": "user",
        "type": "audio",
        "mode": "call",
        "status": "ended",
        "hasRecording": False,
        "totalAudioMinutes": 0,
        "totalVideoMinutes": 0,
        "totalDurationInMinutes": 0,
        "totalDuration": "00:00:00",
        "totalParticipants": 0,
        "participants": [],
    }
    record.update(fields)
    return record


def _joined(uid: str, device: str | None = None) -> Record:
    return {"uid": uid, "isJoined": True, "state": "ended", "deviceId": device or uid}


def _invited(uid: str, state: str = "unanswered") -> Record:
    return {"uid": uid, "isJoined": False, "state": state}


IMPORTED: list[Record] = [
    _record(
        "imp-01",
        1700000100,
        status="ongoing",
        startedAt=1700000110,
        type="video",
        totalParticipants=2,
        participants=[_joined("ann"), _joined("ben")],
    ),
    _record("imp-02", 1700000200, status="unanswered", endedAt=1700000230, participants=[_invited("ben")]),
    _record("imp-03", 1700000300, status="rejected", endedAt=1700000305, participants=[_invited("ben", "rejected")]),
    _record(
        "imp-04",
        1700000400,
        status="busy",
        endedAt=1700000402,
        initiator="cat",
        receiver="dan",
        participants=[_invited("dan")],
    ),
    _record("imp-05", 1700000500, status="cancelled", endedAt=1700000510, participants=[_invited("ben")]),
    _record("imp-06", 1700000600, status="initiated", participants=[_invited("ben")]),
    _record(
        "imp-07",
        1700000700,
        startedAt=1700000710,
        endedAt=1700000800,
        totalDurationInMinutes=1.5,
        totalAudioMinutes=0.75,
        totalVideoMinutes=0.75,
        type="video",
        mode="meet",
        receiverType="group",
        receiver="team-a",
        hasRecording=True,
        totalParticipants=3,
        participants=[_joined("ann"), _joined("cat"), _joined("cat", "cat-tablet"), _invited("dan")],
        recordings=[
            {
                "rid": "r1",
                "duration": 1.5,
                "startTime": 1700000710,
                "endTime": 1700000800,
                "recording_url": "https://x/r1",
            }
        ],
    ),
    _record(
        "imp-08",
        1700000800,
        startedAt=1700000800,
        endedAt=1700001100,
        totalDurationInMinutes=5,
        totalAudioMinutes=5,
        mode="presenter",
        receiverType="group",
        receiver="team-b",
        totalParticipants=1,
        participants=[_joined("ann"), _invited("ben"), _invited("cat"), _invited("dan"), _invited("eve")],
    ),
    _record(
        "imp-09",
        1700000800,
        startedAt=1700000805,
        endedAt=1700000865,
        totalDurationInMinutes=1,
        totalVideoMinutes=1,
        type="video",
        hasRecording=True,
        totalParticipants=2,
        participants=[_joined("eve"), _joined("ben")],
        initiator="eve",
    ),
    _record("imp-10", 1700000900, status="canceled", type="voice", participants=[_invited("ben")]),
]
EVENT_SESSIONS = [GROUP_SESSION, DIRECT_SESSION]


@pytest.fixture
def dataset(client: TestClient, tenant: Tenant) -> dict[str, Record]:
    """Put the records, post the spec-000 events; return every call as Get Call shows it."""
    for record in IMPORTED:
        response = client.put(f"/v3/calls/{record['sessionId']}", json=record, headers=tenant.headers)
        assert response.status_code == 200, response.text
    response = client.post("/v3/calls/events", json=group_call_events() + direct_call_events(), headers=tenant.headers)
    assert response.json() == {"data": {"accepted": 14, "duplicates": 0}}
    calls = {}
    for session in [r["sessionId"] for r in IMPORTED] + EVENT_SESSIONS:
        calls[session] = client.get(f"/v3/calls/{session}", headers=tenant.headers).json()["data"]
    return calls


def _order(records: list[Record]) -> list[str]:
    return [r["sessionId"] for r in sorted(records, key=lambda r: (r["initiatedAt"], r["sessionId"]), reverse=True)]


def _involves(record: Record, uid: str) -> bool:
    return uid in (record["initiator"], record["receiver"]) or any(p["uid"] == uid for p in record["participants"])


def _norm_status(record: Record) -> str:
    return "cancelled" if record["status"] == "canceled" else str(record["status"])


def _norm_type(record: Record) -> str:
    return "audio" if record["type"] == "voice" else str(record["type"])


def _cmp(field: str, op: str, value: float) -> Callable[[Record], bool]:
    def check(record: Record) -> bool:
        if field not in record:
            return False
        actual = record[field]
        outcomes: dict[str, bool] = {
            "eq": actual == value,
            "gt": actual > value,
            "gte": actual >= value,
            "lt": actual < value,
            "lte": actual <= value,
        }
        return outcomes[op]

    return check


CASES: list[tuple[str, Callable[[Record], bool]]] = [
    ("", lambda r: True),
    ("type=video", lambda r: _norm_type(r) == "video"),
    ("type=voice", lambda r: _norm_type(r) == "audio"),
    ("type=audio", lambda r: _norm_type(r) == "audio"),
    ("types=voice,video", lambda r: True),
    ("types[]=video", lambda r: _norm_type(r) == "video"),
    ("types=video&types=audio", lambda r: True),
    ("mode=call", lambda r: r.get("mode", "call") == "call"),
    ("mode=meet", lambda r: r.get("mode") == "meet"),
    ("mode=presenter", lambda r: r.get("mode") == "presenter"),
    ("participantsCount=5", lambda r: len(r["participants"]) == 5),
    ("participantsCount=0", lambda r: len(r["participants"]) == 0),
    ("participantsCount=1", lambda r: len(r["participants"]) == 1),
    ("status=ended", lambda r: _norm_status(r) == "ended"),
    ("status=cancelled", lambda r: _norm_status(r) == "cancelled"),
    ("status=canceled", lambda r: _norm_status(r) == "cancelled"),
    ("status=initiated", lambda r: _norm_status(r) == "initiated"),
    ("status=ongoing", lambda r: _norm_status(r) == "ongoing"),
    ("status=unanswered", lambda r: _norm_status(r) == "unanswered"),
    ("status=rejected", lambda r: _norm_status(r) == "rejected"),
    ("status=busy", lambda r: _norm_status(r) == "busy"),
    ("statuses=busy,rejected", lambda r: _norm_status(r) in ("busy", "rejected")),
    ("statuses[]=ongoing&statuses[]=initiated", lambda r: _norm_status(r) in ("ongoing", "initiated")),
    ("receiverType=group", lambda r: r["receiverType"] == "group"),
    ("receiverType=user", lambda r: r["receiverType"] == "user"),
    ("hasRecording=true", lambda r: r["hasRecording"] is True),
    ("hasRecording=false", lambda r: r["hasRecording"] is False),
    ("uid=ben", lambda r: _involves(r, "ben")),
    ("uid=eve", lambda r: _involves(r, "eve")),
    ("uid=superhero6", lambda r: _involves(r, "superhero6")),
    ("uid=nobody", lambda r: False),
    ("type=video&status=ended", lambda r: _norm_type(r) == "video" and _norm_status(r) == "ended"),
    ("type=audio&types=video", lambda r: False),
    ("receiverType=group&hasRecording=true&uid=cat", lambda r: r["sessionId"] == "imp-07"),
]
for field, param, values in (
    ("initiatedAt", "initiatedAt", (1692368168, 1700000500, 1700000800)),
    ("startedAt", "startedAt", (1692368127, 1700000805)),
    ("endedAt", "endedAt", (1692368199, 1700000800)),
    ("totalDurationInMinutes", "duration", (0, 0.31666666666666665, 1.5)),
    ("totalParticipants", "totalParticipants", (0, 2, 3)),
    ("totalAudioMinutes", "voiceMinutes", (0, 0.75)),
    ("totalVideoMinutes", "videoMinutes", (0, 1)),
):
    for value in values:
        CASES.append((f"{param}={value}", _cmp(field, "eq", value)))
        for op in ("eq", "gt", "gte", "lt", "lte"):
            CASES.append((f"{param}[{op}]={value}", _cmp(field, op, value)))
CASES.append(
    ("initiatedAt[gte]=1700000300&initiatedAt[lt]=1700000800", lambda r: 1700000300 <= r["initiatedAt"] < 1700000800)
)
CASES.append(
    (
        "duration[gt]=0.5&voiceMinutes[gte]=0.75",
        lambda r: r["totalDurationInMinutes"] > 0.5 and r["totalAudioMinutes"] >= 0.75,
    )
)


@pytest.mark.parametrize(("query", "predicate"), CASES, ids=[case[0] or "(none)" for case in CASES])
def test_filter_returns_exactly_the_matching_calls(
    client: TestClient, tenant: Tenant, dataset: dict[str, Record], query: str, predicate: Callable[[Record], bool]
) -> None:
    expected = _order([r for r in dataset.values() if predicate(r)])
    response = client.get(f"/v3/calls?{query}&perPage=1000", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["sessionId"] for c in body["data"]] == expected
    assert body["meta"]["pagination"]["total"] == len(expected)


def test_expected_matches_are_not_trivial(dataset: dict[str, Record]) -> None:
    """Guard the oracle: most cases select some calls but not all of them."""
    sizes = [sum(1 for r in dataset.values() if predicate(r)) for _, predicate in CASES]
    assert sum(1 for size in sizes if 0 < size < len(dataset)) > len(CASES) * 0.6


def test_list_matches_spec_000_exactly(client: TestClient, tenant: Tenant) -> None:
    client.post("/v3/calls/events", json=group_call_events() + direct_call_events(), headers=tenant.headers)
    body = client.get("/v3/calls", headers=tenant.headers).json()
    spec = spec_list_response()
    for call in body["data"]:
        for participant in call["participants"]:
            assert participant.pop("mid", call["mid"]) == call["mid"]
        call.pop("mid")
    for call in spec["data"]:
        call.pop("mid")
        for participant in call["participants"]:
            participant.pop("mid", None)
    assert body["data"] == spec["data"]
    assert body["meta"]["pagination"] == {**spec["meta"]["pagination"], "per_page": 100}


def test_pagination_meta_and_pages(client: TestClient, tenant: Tenant, dataset: dict[str, Record]) -> None:
    everything = _order(list(dataset.values()))
    seen = []
    for page in (1, 2, 3):
        body = client.get(f"/v3/calls?perPage=5&page={page}", headers=tenant.headers).json()
        seen += [c["sessionId"] for c in body["data"]]
        assert body["meta"]["pagination"] == {
            "total": 12,
            "count": len(body["data"]),
            "per_page": 5,
            "current_page": page,
            "total_pages": 3,
        }
    assert seen == everything
    past = client.get("/v3/calls?perPage=5&page=4", headers=tenant.headers).json()
    assert past == {
        "data": [],
        "meta": {"pagination": {"total": 12, "count": 0, "per_page": 5, "current_page": 4, "total_pages": 3}},
    }
    default = client.get("/v3/calls", headers=tenant.headers).json()["meta"]["pagination"]
    assert (default["per_page"], default["current_page"]) == (100, 1)


def test_list_omits_detail_fields_and_absent_values(
    client: TestClient, tenant: Tenant, dataset: dict[str, Record]
) -> None:
    body = client.get("/v3/calls?perPage=1000", headers=tenant.headers).json()
    by_id = {c["sessionId"]: c for c in body["data"]}
    derived = by_id[DIRECT_SESSION]
    assert "metaData" not in derived and "tags" not in derived
    assert "recordings" not in derived and by_id["imp-07"]["recordings"][0]["rid"] == "r1"
    assert "startedAt" not in by_id["imp-06"]
    assert all(value is not None for call in body["data"] for value in call.values())


def test_on_behalf_of_narrows_the_list(client: TestClient, tenant: Tenant, dataset: dict[str, Record]) -> None:
    body = client.get("/v3/calls?perPage=1000", headers={**tenant.headers, "onBehalfOf": "eve"}).json()
    assert [c["sessionId"] for c in body["data"]] == _order([r for r in dataset.values() if _involves(r, "eve")])
    combined = client.get("/v3/calls?status=ended", headers={**tenant.headers, "onBehalfOf": "cat"}).json()
    assert [c["sessionId"] for c in combined["data"]] == ["imp-08", "imp-07"]  # invited to imp-08


def test_v3_0_prefix_serves_the_same(client: TestClient, tenant: Tenant, dataset: dict[str, Record]) -> None:
    assert (
        client.get("/v3.0/calls?type=video", headers=tenant.headers).json()
        == client.get("/v3/calls?type=video", headers=tenant.headers).json()
    )
