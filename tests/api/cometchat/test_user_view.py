"""The user view: ``GET /v3.0/calls`` and ``GET /v3.0/calls/{sessionId}`` with an ``authToken``.

Runs against SQLite and PostgreSQL over the hand-checked history of :mod:`tests.user_calls`:
which calls a user sees, how each looks to them (direction, missed), every filter (each
stated twice: as the query a client sends and as a predicate over the records), paging,
entities, and every error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from calltrail.cli import _ingest_demo
from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.events import parse_batch
from calltrail.store import Stores
from tests.conftest import Tenant
from tests.user_calls import GROUPS, IMPORTED, ME, SCENARIOS, USERS, Scenario, expected, load, newest_first

PREFIXES = ["/v3.0", "/v3"]
Record = dict[str, Any]


@dataclass
class History:
    """A tenant holding the test history, with auth tokens for some of its users."""

    tenant: Tenant
    tokens: dict[str, str]
    records: dict[str, Record]  # every call, as the REST API (apikey) shows it

    def headers(self, uid: str = ME) -> dict[str, str]:
        return {"authToken": self.tokens[uid]}


@pytest.fixture
def history(client: TestClient, stores: Stores, tenant: Tenant) -> History:
    load(stores, tenant.app_id)
    tokens = {}
    for uid in ("alice", "bob", "carol", "zed"):
        response = client.post(f"/v3/users/{uid}/auth_tokens", headers=tenant.headers)
        assert response.status_code == 200, response.text
        tokens[uid] = response.json()["data"]["authToken"]
    listed = client.get("/v3/calls?perPage=1000", headers=tenant.headers).json()["data"]
    return History(tenant, tokens, {record["sessionId"]: record for record in listed})


def _list(client: TestClient, history: History, query: str = "", uid: str = ME, prefix: str = "/v3.0") -> Any:
    response = client.get(f"{prefix}/calls{query}", headers=history.headers(uid))
    assert response.status_code == 200, response.text
    return response.json()


def _sessions(body: Any) -> list[str]:
    return [item["sessionId"] for item in body["data"]]


# -- which calls, and how they look to the viewer ------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("uid", ["alice", "bob", "carol"])
def test_lists_exactly_the_viewers_calls_with_direction_and_missed(
    client: TestClient, history: History, uid: str, prefix: str
) -> None:
    body = _list(client, history, "?perPage=100", uid, prefix)
    mine = expected(uid)
    assert _sessions(body) == newest_first(set(mine))
    assert {item["sessionId"]: (item["direction"], item["missed"]) for item in body["data"]} == mine
    assert body["meta"]["pagination"] == {
        "total": len(mine),
        "count": len(mine),
        "per_page": 100,
        "current_page": 1,
        "total_pages": 1,
    }


def test_missed_covers_each_kind_of_unanswered_call(client: TestClient, history: History) -> None:
    missed = _sessions(_list(client, history, "?status=missed"))
    # 1:1 unanswered, cancelled, busy; group calls others answered (c07) or nobody did (c09);
    # an imported unanswered call (c18). Not: rejected (c05, c13), ringing (c11), going on
    # without alice (c12), joined (c10, c17), her own calls.
    assert missed == ["c18", "c09", "c07", "c04", "c03", "c02"]
    assert all(
        item["missed"] and item["direction"] == "incoming"
        for item in _list(client, history)["data"]
        if item["sessionId"] in missed
    )


def test_missed_and_direction_combine(client: TestClient, history: History) -> None:
    assert _sessions(_list(client, history, "?status=missed&direction=incoming")) == [
        "c18",
        "c09",
        "c07",
        "c04",
        "c03",
        "c02",
    ]
    assert _sessions(_list(client, history, "?status=missed&direction=outgoing")) == []
    assert _sessions(_list(client, history, "?status=missed&guid=team")) == ["c09", "c07"]
    assert _sessions(_list(client, history, "?status=missed&type=video")) == ["c02"]


def test_direction(client: TestClient, history: History) -> None:
    outgoing = [s for s, (direction, _) in expected(ME).items() if direction == "outgoing"]
    assert _sessions(_list(client, history, "?direction=outgoing")) == newest_first(outgoing)
    incoming = [s for s, (direction, _) in expected(ME).items() if direction == "incoming"]
    assert _sessions(_list(client, history, "?direction=incoming")) == newest_first(incoming)


# -- every filter -------------------------------------------------------------------------


def _between(record: Record, other: str) -> bool:
    return record["receiverType"] == "user" and {record["initiator"], record["receiver"]} == {ME, other}


FILTERS: list[tuple[str, Callable[[Record], bool]]] = [
    ("type=video", lambda r: r["type"] == "video"),
    ("type=audio", lambda r: r["type"] == "audio"),
    ("type=voice", lambda r: r["type"] == "audio"),
    ("types=audio,video", lambda r: True),
    ("types[]=video", lambda r: r["type"] == "video"),
    ("mode=meet", lambda r: r["mode"] == "meet"),
    ("mode=call", lambda r: r["mode"] == "call"),
    ("status=ended", lambda r: r["status"] == "ended"),
    ("status=ongoing", lambda r: r["status"] == "ongoing"),
    ("status=initiated", lambda r: r["status"] == "initiated"),
    ("status=unanswered", lambda r: r["status"] == "unanswered"),
    ("status=rejected", lambda r: r["status"] == "rejected"),
    ("status=busy", lambda r: r["status"] == "busy"),
    ("status=cancelled", lambda r: r["status"] == "cancelled"),
    ("status=canceled", lambda r: r["status"] == "cancelled"),
    ("statuses=busy,cancelled", lambda r: r["status"] in ("busy", "cancelled")),
    ("receiverType=group", lambda r: r["receiverType"] == "group"),
    ("receiverType=user", lambda r: r["receiverType"] == "user"),
    ("hasRecording=true", lambda r: r["hasRecording"]),
    ("hasRecording=false", lambda r: not r["hasRecording"]),
    ("uid=bob", lambda r: _between(r, "bob")),
    ("uid=carol", lambda r: _between(r, "carol")),
    ("uid=dave", lambda r: _between(r, "dave")),  # only group calls with dave: none between them
    ("uid=alice", lambda r: False),  # no call with herself
    ("guid=team", lambda r: r["receiverType"] == "group" and r["receiver"] == "team"),
    ("guid=team2", lambda r: r["receiverType"] == "group" and r["receiver"] == "team2"),
    ("guid=nobody", lambda r: False),
    ("uid=bob&guid=team", lambda r: False),
    ("initiatedAt[gte]=1700000500", lambda r: r["initiatedAt"] >= 1700000500),
    ("initiatedAt[gt]=1700000500&initiatedAt[lt]=1700001300", lambda r: 1700000500 < r["initiatedAt"] < 1700001300),
    ("initiatedAt=1700000700", lambda r: r["initiatedAt"] == 1700000700),
    ("initiatedAt[lte]=1700000300", lambda r: r["initiatedAt"] <= 1700000300),
    ("startedAt[gte]=1700001000", lambda r: r.get("startedAt", -1) >= 1700001000),
    ("endedAt[lt]=1700000800", lambda r: r.get("endedAt", 10**12) < 1700000800),
    ("duration[gt]=0.9", lambda r: r["totalDurationInMinutes"] > 0.9),
    ("duration[eq]=0", lambda r: r["totalDurationInMinutes"] == 0),
    ("totalParticipants[gte]=3", lambda r: r["totalParticipants"] >= 3),
    ("participantsCount=4", lambda r: len(r["participants"]) == 4),
    ("voiceMinutes[gt]=0", lambda r: r["totalAudioMinutes"] > 0),
    ("videoMinutes[gt]=0", lambda r: r["totalVideoMinutes"] > 0),
    (
        "direction=incoming&type=audio&receiverType=user",
        lambda r: r["initiator"] != ME and r["type"] == "audio" and r["receiverType"] == "user",
    ),
]


@pytest.mark.parametrize(("query", "predicate"), FILTERS, ids=[query for query, _ in FILTERS])
def test_filter(client: TestClient, history: History, query: str, predicate: Callable[[Record], bool]) -> None:
    mine = [history.records[session] for session in expected(ME)]
    want = newest_first([record["sessionId"] for record in mine if predicate(record)])
    assert _sessions(_list(client, history, f"?perPage=100&{query}")) == want


def test_filters_never_reach_other_users_calls(client: TestClient, history: History) -> None:
    # c14 (bob and carol) matches these filters but is not alice's.
    assert "c14" not in _sessions(_list(client, history, "?uid=carol&status=ended"))
    assert "c14" not in _sessions(_list(client, history, "?perPage=100"))
    assert "c14" in _sessions(_list(client, history, "?uid=carol", uid="bob"))


def test_filters_every_value_the_official_web_sdk_sends(client: TestClient, history: History) -> None:
    # The exact query string @cometchat/calls-sdk-javascript builds for a fully set builder.
    query = "?page=1&perPage=30&hasRecording=true&status=ended&type=video&mode=call&direction=outgoing&uid=carol"
    body = _list(client, history, query)
    assert _sessions(body) == ["c15"]
    assert _sessions(_list(client, history, "?page=1&perPage=30&status=missed&guid=team")) == ["c09", "c07"]


# -- paging -------------------------------------------------------------------------------


def test_pages_forward_and_back(client: TestClient, history: History) -> None:
    everything = newest_first(set(expected(ME)))
    pages = []
    for page in range(1, 10):
        body = _list(client, history, f"?page={page}&perPage=5")
        assert body["meta"]["pagination"] == {
            "total": 17,
            "count": len(body["data"]),
            "per_page": 5,
            "current_page": page,
            "total_pages": 4,
        }
        pages.append(_sessions(body))
    assert [len(p) for p in pages] == [5, 5, 5, 2, 0, 0, 0, 0, 0]
    assert [s for page in pages for s in page] == everything
    assert _sessions(_list(client, history, "?page=2&perPage=5")) == everything[5:10]


def test_default_page_size_is_30(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    calls = [Scenario(f"p{n:02d}", 1_600_000_000 + n, "bob", ME, outcome="unanswered") for n in range(31)]
    stores.sessions.ingest(tenant.app_id, parse_batch([e for call in calls for e in call.events()]))
    token, _ = stores.users.create_token(tenant.app_id, ME)
    body = client.get("/v3.0/calls", headers={"authToken": token}).json()
    assert _sessions(body) == [f"p{n:02d}" for n in range(30, 0, -1)]
    assert body["meta"]["pagination"] == {
        "total": 31,
        "count": 30,
        "per_page": 30,
        "current_page": 1,
        "total_pages": 2,
    }
    assert _sessions(client.get("/v3.0/calls?page=2", headers={"authToken": token}).json()) == ["p00"]


# -- entities and the rest of each item ---------------------------------------------------


def test_entities_carry_names_avatars_and_icons(client: TestClient, history: History) -> None:
    items = {item["sessionId"]: item for item in _list(client, history, "?perPage=100")["data"]}
    user_entity = {"uid": "bob", "name": "Bob Baker", "avatar": USERS["bob"][1]}
    assert items["c02"]["data"]["entities"] == {
        "initiator": {"entity": user_entity, "entityType": "user"},
        "receiver": {
            "entity": {"uid": "alice", "name": "Alice Archer", "avatar": USERS["alice"][1]},
            "entityType": "user",
        },
    }
    # carol has a profile without an avatar; dave and team2 have none: the id is the name.
    assert items["c04"]["data"]["entities"]["initiator"]["entity"] == {"uid": "carol", "name": "Carol Cole"}
    assert items["c07"]["data"]["entities"]["initiator"]["entity"] == {"uid": "dave", "name": "dave"}
    assert items["c07"]["data"]["entities"]["receiver"] == {
        "entity": {"guid": "team", "name": GROUPS["team"][0], "icon": GROUPS["team"][1]},
        "entityType": "group",
    }
    assert items["c12"]["data"]["entities"]["receiver"]["entity"] == {"guid": "team2", "name": "team2"}


def test_items_are_the_rest_record_plus_the_viewers_fields(client: TestClient, history: History) -> None:
    for item in _list(client, history, "?perPage=100")["data"]:
        record = history.records[item["sessionId"]]
        assert item["callCategory"] == record["mode"]
        added = {"callCategory", "direction", "missed", "data"}
        assert set(item) - added == set(record)
        for key in set(record) - {"participants"}:
            assert item[key] == record[key], key
        for shown, stored in zip(item["participants"], record["participants"], strict=True):
            assert {k: v for k, v in shown.items() if k in stored} == stored


def test_participants_carry_names_and_the_web_sdks_field_names(client: TestClient, history: History) -> None:
    item = next(i for i in _list(client, history, "?perPage=100")["data"] if i["sessionId"] == "c17")
    devices = [p for p in item["participants"] if p["uid"] == "alice"]
    assert len(devices) == 2  # her phone and her laptop
    for participant in devices:
        assert participant["name"] == "Alice Archer"
        assert participant["avatar"] == USERS["alice"][1]
        assert participant["hasJoined"] is participant["isJoined"] is True
        assert participant["deviceID"] == participant["deviceId"]
        assert participant["totalDurationInMinutes"] == participant["totalDuration"]
    carol = next(p for p in item["participants"] if p["uid"] == "carol")
    assert carol["name"] == "Carol Cole" and "avatar" not in carol


# -- get one call -------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_get_returns_a_one_element_list(client: TestClient, history: History, prefix: str) -> None:
    response = client.get(f"{prefix}/calls/c18", headers=history.headers())
    assert response.status_code == 200
    (item,) = response.json()["data"]
    assert item["sessionId"] == "c18"
    assert item["metaData"] == IMPORTED["metaData"] and item["tags"] == IMPORTED["tags"]
    assert (item["direction"], item["missed"]) == ("incoming", True)
    assert item["data"]["entities"]["initiator"]["entity"]["name"] == "Bob Baker"
    assert item["callCategory"] == "call"


@pytest.mark.parametrize("session", [s.session for s in SCENARIOS])
def test_get_agrees_with_the_list(client: TestClient, history: History, session: str) -> None:
    for uid in ("alice", "bob", "carol"):
        response = client.get(f"/v3.0/calls/{session}", headers=history.headers(uid))
        if session not in expected(uid):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "ERR_CALL_SESSION_NOT_FOUND"
            continue
        (item,) = response.json()["data"]
        assert (item["direction"], item["missed"]) == expected(uid)[session]


def test_another_users_call_is_not_found(client: TestClient, history: History) -> None:
    for session in ("c14", "no-such-call"):
        response = client.get(f"/v3.0/calls/{session}", headers=history.headers())
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ERR_CALL_SESSION_NOT_FOUND"
    # The REST key still sees it.
    assert client.get("/v3.0/calls/c14", headers=history.tenant.headers).status_code == 200


# -- credentials --------------------------------------------------------------------------


def test_the_token_wins_over_an_apikey(client: TestClient, history: History) -> None:
    headers = {**history.tenant.headers, **history.headers()}
    assert _sessions(client.get("/v3/calls?perPage=100", headers=headers).json()) == newest_first(set(expected(ME)))


def test_a_user_without_calls_sees_none(client: TestClient, history: History) -> None:
    body = _list(client, history, uid="zed")
    assert body == {
        "data": [],
        "meta": {"pagination": {"total": 0, "count": 0, "per_page": 30, "current_page": 1, "total_pages": 0}},
    }


def test_tokens_never_cross_apps(client: TestClient, stores: Stores, history: History) -> None:
    other = stores.tenants.create_app(new_app_settings("Other", f"{history.tenant.app_id}-b"))
    token, _ = stores.users.create_token(other.app_id, ME)
    assert _sessions(client.get("/v3.0/calls", headers={"authToken": token}).json()) == []
    assert client.get("/v3.0/calls/c01", headers={"authToken": token}).status_code == 404


@pytest.mark.parametrize("path", ["/v3.0/calls", "/v3.0/calls/c01", "/v3/calls"])
@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("", "AUTH_ERR_EMPTY_AUTH_TOKEN"),
        ("nope", "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"),
        ("demo_" + "0" * 40, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"),
        ("x" * 5000, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"),
        ("bad app id_" + "0" * 40, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"),
    ],
)
def test_bad_tokens_are_401(client: TestClient, path: str, token: str, code: str) -> None:
    response = client.get(path, headers={"authToken": token})
    assert response.status_code == 401
    assert response.json() == {"error": {"code": code, "message": response.json()["error"]["message"], "details": {}}}


def test_revoked_tokens_are_401(client: TestClient, history: History) -> None:
    headers = history.headers()
    assert client.get("/v3.0/calls", headers=headers).status_code == 200
    client.delete(f"/v3/users/alice/auth_tokens/{history.tokens['alice']}", headers=history.tenant.headers)
    response = client.get("/v3.0/calls", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"


# -- bad parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("perPage=101", "perPage"),
        ("perPage=0", "perPage"),
        ("perPage=ten", "perPage"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("direction=sideways", "direction"),
        ("status=missing", "status"),
        ("statuses=missed", "statuses"),
        ("type=fax", "type"),
        ("mode=party", "mode"),
        ("hasRecording=maybe", "hasRecording"),
        ("uid=has%20space", "uid"),
        ("uid=", "uid"),
        ("guid=a/b", "guid"),
        ("initiatedAt[between]=1", "initiatedAt[between]"),
        ("initiatedAt=yesterday", "initiatedAt"),
        ("duration[gt]=abc", "duration[gt]"),
        ("direction[gt]=incoming", "direction[gt]"),
        ("direction=incoming&direction=outgoing", "direction"),
        ("onBehalfOf=bob", "onBehalfOf"),
        ("foo=bar", "foo"),
    ],
)
def test_bad_parameters_are_400_naming_them(client: TestClient, history: History, query: str, param: str) -> None:
    response = client.get(f"/v3.0/calls?{query}", headers=history.headers())
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "ERR_BAD_REQUEST"
    assert list(error["details"]) == [param]
    assert error["details"][param] and all(isinstance(reason, str) for reason in error["details"][param])


def test_every_bad_parameter_is_named_at_once(client: TestClient, history: History) -> None:
    response = client.get("/v3.0/calls?perPage=101&direction=sideways&status=x", headers=history.headers())
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"perPage", "direction", "status"}


# -- the documented rule on demo data -----------------------------------------------------


def _rule(record: Record, uid: str) -> tuple[str, bool]:
    """The rule as documented in docs/user-call-logs.md, applied to a REST record."""
    if record["initiator"] == uid:
        return "outgoing", False
    mine = [p for p in record["participants"] if p["uid"] == uid]
    over = record["status"] not in ("initiated", "ongoing")
    joined = any(p.get("isJoined") for p in mine)
    rejected = any(p.get("state") == "rejected" for p in mine)
    return "incoming", over and not joined and not rejected


def test_missed_and_direction_follow_the_rule_on_demo_data(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    _ingest_demo(stores, tenant.app_id, 600, seed=5)
    records = client.get("/v3/calls?perPage=1000", headers=tenant.headers).json()["data"]
    people = sorted({r["initiator"] for r in records})[:12]
    checked = missed_seen = 0
    for uid in people:
        token = client.post(f"/v3/users/{uid}/auth_tokens", headers=tenant.headers).json()["data"]["authToken"]
        headers = {"authToken": token}
        body = client.get("/v3.0/calls?perPage=100", headers=headers).json()
        theirs = [
            r
            for r in records
            if r["initiator"] == uid
            or any(p["uid"] == uid for p in r["participants"])
            or (r["receiverType"] == "user" and r["receiver"] == uid)
        ]
        assert _sessions(body) == [r["sessionId"] for r in theirs]
        for item in body["data"]:
            assert (item["direction"], item["missed"]) == _rule(item, uid), item["sessionId"]
            checked += 1
        missed = _sessions(client.get("/v3.0/calls?perPage=100&status=missed", headers=headers).json())
        assert missed == [r["sessionId"] for r in theirs if _rule(r, uid)[1]]
        missed_seen += len(missed)
        # Names come from the demo's stored profiles.
        for item in body["data"]:
            assert item["data"]["entities"]["initiator"]["entity"]["name"] != item["initiator"]
    assert checked > 50 and missed_seen > 3
