"""Get Call, event ingestion, record import, authentication and the error envelope."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from calltrail.kernel.tenancy import new_key_settings
from calltrail.store import Stores
from tests.conftest import QueryParams, Tenant
from tests.sessions.spec_calls import DIRECT_SESSION, direct_call_events, spec_get_response, without_mid


def assert_error(response: httpx2.Response, status: int, code: str, *detail_keys: str) -> dict[str, Any]:
    """The canonical error envelope, with the expected status, code and detail keys."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    error = body["error"]
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    for key in detail_keys:
        assert key in error["details"], error["details"]
        assert all(isinstance(reason, str) for reason in error["details"][key])
    return dict(error)


@pytest.fixture
def direct_call(client: TestClient, tenant: Tenant) -> str:
    response = client.post("/v3/calls/events", json=direct_call_events(), headers=tenant.headers)
    assert response.status_code == 200
    return DIRECT_SESSION


# -- Get Call --------------------------------------------------------------------------------------


def test_get_call_matches_spec_002(client: TestClient, tenant: Tenant, direct_call: str) -> None:
    data = client.get(f"/v3/calls/{direct_call}", headers=tenant.headers).json()["data"]
    expected = without_mid(spec_get_response()["data"])
    got = without_mid(data)
    assert sorted(got.pop("participants"), key=lambda p: p["uid"]) == sorted(
        expected.pop("participants"), key=lambda p: p["uid"]
    )
    assert got == expected


def test_get_unknown_call(client: TestClient, tenant: Tenant) -> None:
    assert_error(client.get("/v3/calls/nope", headers=tenant.headers), 404, "ERR_CALL_SESSION_NOT_FOUND")


def test_get_on_behalf_of(client: TestClient, tenant: Tenant, direct_call: str) -> None:
    ok = client.get(f"/v3/calls/{direct_call}", headers={**tenant.headers, "onBehalfOf": "superhero2"})
    assert ok.status_code == 200
    assert_error(
        client.get(f"/v3/calls/{direct_call}", headers={**tenant.headers, "onBehalfOf": "superhero9"}),
        403,
        "ERR_CALL_NOT_A_PART",
    )
    assert_error(
        client.get(f"/v3/calls/{direct_call}", headers={**tenant.headers, "onBehalfOf": "a b"}),
        400,
        "ERR_BAD_REQUEST",
        "onBehalfOf",
    )
    assert_error(
        client.get("/v3/calls", headers={**tenant.headers, "onBehalfOf": "x" * 101}),
        400,
        "ERR_BAD_REQUEST",
        "onBehalfOf",
    )


# -- authentication --------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/v3/calls", None),
    ("GET", "/v3.0/calls", None),
    ("GET", f"/v3/calls/{DIRECT_SESSION}", None),
    ("POST", "/v3/calls/events", direct_call_events()[0]),
    ("PUT", "/v3/calls/abc", {"initiator": "a"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_needs_a_full_access_key(
    client: TestClient, stores: Stores, tenant: Tenant, method: str, path: str, body: Any
) -> None:
    assert_error(client.request(method, path, json=body), 401, "AUTH_ERR_EMPTY_APIKEY")
    assert_error(client.request(method, path, json=body, headers={"apikey": ""}), 401, "AUTH_ERR_EMPTY_APIKEY")
    assert_error(
        client.request(method, path, json=body, headers={"apikey": "f" * 40}), 401, "AUTH_ERR_APIKEY_NOT_FOUND"
    )
    assert_error(
        client.request(method, path, json=body, headers={"apikey": "k" * 5000}), 401, "AUTH_ERR_APIKEY_NOT_FOUND"
    )
    auth_only, _ = stores.tenants.create_key(tenant.app_id, new_key_settings("authOnly"))
    assert_error(client.request(method, path, json=body, headers={"apikey": auth_only}), 403, "AUTH_ERR_NO_ACCESS")


# -- ingestion -------------------------------------------------------------------------------------


def test_post_events_single_and_batch(client: TestClient, tenant: Tenant) -> None:
    events = direct_call_events()
    one = client.post("/v3/calls/events", json=events[0], headers=tenant.headers)
    assert one.json() == {"data": {"accepted": 1, "duplicates": 0}}
    rest = client.post("/v3/calls/events", json=events, headers=tenant.headers)
    assert rest.json() == {"data": {"accepted": 6, "duplicates": 1}}


def test_invalid_batch_stores_nothing(client: TestClient, tenant: Tenant) -> None:
    events = direct_call_events()
    events[3] = {**events[3], "uid": "bad uid"}
    events[5] = {**events[5], "at": "later"}
    error = assert_error(
        client.post("/v3/calls/events", json=events, headers=tenant.headers),
        400,
        "ERR_BAD_REQUEST",
        "events[3].uid",
        "events[5].at",
    )
    assert len(error["details"]) == 2
    assert client.get("/v3/calls", headers=tenant.headers).json()["data"] == []
    fixed = client.post("/v3/calls/events", json=direct_call_events(), headers=tenant.headers)
    assert fixed.json()["data"]["accepted"] == 7


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (b"", "body"),
        (b"   ", "body"),
        (b"{not json", "body"),
        (b"[]", "events"),
        (b"42", "events[0]"),
        (b'"text"', "events[0]"),
        (b"[1, 2]", "events[0]"),
        (b"null", "events[0]"),
    ],
)
def test_bad_event_bodies(client: TestClient, tenant: Tenant, content: bytes, key: str) -> None:
    response = client.post(
        "/v3/calls/events", content=content, headers={**tenant.headers, "content-type": "application/json"}
    )
    assert_error(response, 400, "ERR_BAD_REQUEST", key)


def test_too_many_events_and_too_large_bodies(client: TestClient, tenant: Tenant) -> None:
    event = direct_call_events()[1]
    batch = [{**event, "id": f"e{i}"} for i in range(1001)]
    assert_error(client.post("/v3/calls/events", json=batch, headers=tenant.headers), 400, "ERR_BAD_REQUEST", "events")
    huge = b"[" + b" " * (9 * 1024 * 1024) + b"]"
    assert_error(client.post("/v3/calls/events", content=huge, headers=tenant.headers), 413, "ERR_PAYLOAD_TOO_LARGE")


# -- import ----------------------------------------------------------------------------------------

RECORD = {
    "initiator": "ann",
    "receiver": "ben",
    "receiverType": "user",
    "type": "video",
    "status": "ended",
    "initiatedAt": 1700000000,
    "startedAt": 1700000005,
    "endedAt": 1700000065,
    "totalDuration": "00:01:00",
    "totalDurationInMinutes": 1,
    "totalVideoMinutes": 1,
    "totalAudioMinutes": 0,
    "mode": "call",
    "metaData": {"crm": "42"},
    "tags": ["vip"],
    "vendorField": {"kept": True},
    "participants": [
        {
            "uid": "ann",
            "isJoined": True,
            "state": "ended",
            "joinedAt": 1700000005,
            "leftAt": 1700000065,
            "totalDuration": 1,
            "deviceId": "web",
        }
    ],
}


@pytest.mark.parametrize("wrapped", [False, True])
def test_put_record_is_served_back_as_sent(client: TestClient, tenant: Tenant, wrapped: bool) -> None:
    body = {"data": RECORD} if wrapped else RECORD
    response = client.put("/v3/calls/imported-1", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    expected = {**RECORD, "sessionId": "imported-1"}
    assert response.json() == {"data": expected}
    assert client.get("/v3/calls/imported-1", headers=tenant.headers).json() == {"data": expected}
    listed = client.get("/v3/calls?type=video&uid=ann", headers=tenant.headers).json()["data"]
    assert listed == [{k: v for k, v in expected.items() if k not in ("metaData", "tags")}]


def test_put_replaces(client: TestClient, tenant: Tenant) -> None:
    client.put("/v3/calls/imported-2", json=RECORD, headers=tenant.headers)
    client.put("/v3/calls/imported-2", json={**RECORD, "status": "busy"}, headers=tenant.headers)
    assert client.get("/v3/calls/imported-2", headers=tenant.headers).json()["data"]["status"] == "busy"
    assert client.get("/v3/calls?status=ended", headers=tenant.headers).json()["meta"]["pagination"]["total"] == 0


def test_put_rejects_bad_records(client: TestClient, tenant: Tenant) -> None:
    assert_error(
        client.put("/v3/calls/x1", json={**RECORD, "sessionId": "x2"}, headers=tenant.headers),
        400,
        "ERR_BAD_REQUEST",
        "sessionId",
    )
    assert_error(
        client.put("/v3/calls/x1", json={**RECORD, "status": "nope", "initiatedAt": "x"}, headers=tenant.headers),
        400,
        "ERR_BAD_REQUEST",
        "status",
        "initiatedAt",
    )
    assert_error(client.put("/v3/calls/x1", json=[RECORD], headers=tenant.headers), 400, "ERR_BAD_REQUEST", "body")
    assert_error(
        client.put("/v3/calls/bad%20id", json=RECORD, headers=tenant.headers), 400, "ERR_BAD_REQUEST", "sessionId"
    )
    assert client.get("/v3/calls/x1", headers=tenant.headers).status_code == 404


# -- routing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v3", "/v3/users/x/calls", "/v4/calls", "/v3/calls/a/b"])  # "/" is the dashboard
def test_unknown_routes(client: TestClient, tenant: Tenant, path: str) -> None:
    assert_error(client.get(path, headers=tenant.headers), 404, "ERR_API_NOT_FOUND")


def test_unsupported_method(client: TestClient, tenant: Tenant) -> None:
    assert_error(client.delete("/v3/calls", headers=tenant.headers), 405, "ERR_API_NOT_FOUND")
    assert_error(client.patch(f"/v3/calls/{DIRECT_SESSION}", headers=tenant.headers), 405, "ERR_API_NOT_FOUND")


# -- nothing a client sends produces a 500 ---------------------------------------------------------

_KEYS = st.sampled_from(
    [
        "type",
        "types",
        "types[]",
        "status",
        "statuses",
        "initiatedAt",
        "initiatedAt[gte]",
        "duration[lt]",
        "page",
        "perPage",
        "uid",
        "hasRecording",
        "mode",
        "x",
        "a[",
        "[]",
        "",
    ]
)
_VALUES = st.one_of(
    st.sampled_from(["", "0", "-1", "1e309", "nan", "audio", "video,voice", "true", "9" * 30]), st.text(max_size=20)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_KEYS, _VALUES), max_size=6))
def test_random_queries_never_fail_the_server(client: TestClient, tenant: Tenant, params: QueryParams) -> None:
    response = client.get("/v3/calls", params=params, headers=tenant.headers)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert_error(response, 400, "ERR_BAD_REQUEST")


_JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_EVENTISH = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=5),
        "type": st.sampled_from(["call.initiated", "participant.joined", "recording.ready", "call.updated", "x"]),
        "sessionId": st.text(max_size=6),
        "at": st.one_of(st.integers(), st.text(max_size=8)),
    },
    optional={
        "uid": _JSON,
        "initiator": _JSON,
        "receiver": _JSON,
        "receiverType": _JSON,
        "callType": _JSON,
        "invitees": _JSON,
        "metaData": _JSON,
        "tags": _JSON,
        "startTime": _JSON,
        "rid": _JSON,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(_JSON, _EVENTISH, st.lists(_EVENTISH, max_size=3)))
def test_random_event_bodies_never_fail_the_server(client: TestClient, tenant: Tenant, body: Any) -> None:
    response = client.post("/v3/calls/events", json=body, headers=tenant.headers)
    assert response.status_code in (200, 400), response.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(_JSON, st.fixed_dictionaries({}, optional={k: _JSON for k in RECORD})))
def test_random_records_never_fail_the_server(client: TestClient, tenant: Tenant, body: Any) -> None:
    response = client.put("/v3/calls/fuzzed", json=body, headers=tenant.headers)
    assert response.status_code in (200, 400), response.text
