"""The SDK against the real application, in process, on SQLite and PostgreSQL: a user's whole
history forward and back with every filter (sync and async), and the REST client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from calltrail.kernel.tenancy import new_key_settings
from calltrail.store import Stores
from calltrail_sdk import (
    AsyncCalltrailClient,
    AuthenticationError,
    BadRequestError,
    CallAppSettings,
    CallFilter,
    CallGroup,
    CallLog,
    CallLogRequestBuilder,
    CalltrailClient,
    CallUser,
    NotFoundError,
    PermissionDeniedError,
    Range,
    get_call_details,
    get_call_details_async,
)
from tests.conftest import Tenant
from tests.sdk.conftest import BASE_URL, Loaded
from tests.user_calls import GROUPS, IMPORTED, ME, USERS, Scenario, expected, newest_first

SETTINGS = CallAppSettings(host=f"{BASE_URL}/v3.0/", app_id="ignored")
Builder = Callable[[CallLogRequestBuilder], CallLogRequestBuilder]


def _ids(logs: list[CallLog]) -> list[str]:
    return [log.session_id for log in logs]


def _walk_forward_and_back(request: Any) -> tuple[list[list[str]], list[list[str]]]:
    forward = []
    while page := request.fetch_next():
        forward.append(_ids(page))
    back = []
    while page := request.fetch_previous():
        back.append(_ids(page))
    return forward, back


def test_pages_through_a_whole_history_forward_and_back(sync_http: httpx.Client, loaded: Loaded) -> None:
    request = CallLogRequestBuilder(SETTINGS).set_auth_token(loaded.tokens[ME]).set_limit(4).build(sync_http)
    forward, back = _walk_forward_and_back(request)
    everything = newest_first(set(expected(ME)))
    assert forward == [everything[i : i + 4] for i in range(0, 17, 4)]
    assert back == forward[-2::-1]  # from the page before the last, back to the first
    assert (request.current_page, request.total_pages, request.total) == (1, 5, 17)
    logs = {log.session_id: log for log in request.iter_all()}
    assert list(logs) == everything
    assert {sid: (log.direction, log.missed) for sid, log in logs.items()} == expected(ME)


def test_logs_carry_names_avatars_and_icons(sync_http: httpx.Client, loaded: Loaded) -> None:
    request = CallLogRequestBuilder(SETTINGS).set_auth_token(loaded.tokens[ME]).set_limit(100).build(sync_http)
    logs = {log.session_id: log for log in request.fetch_next()}
    assert logs["c02"].initiator == CallUser(uid="bob", name="Bob Baker", avatar=USERS["bob"][1])
    assert logs["c02"].receiver == CallUser(uid="alice", name="Alice Archer", avatar=USERS["alice"][1])
    assert logs["c07"].initiator == CallUser(uid="dave", name="dave")
    assert logs["c07"].receiver == CallGroup(guid="team", name=GROUPS["team"][0], icon=GROUPS["team"][1])
    assert logs["c16"].call_category == "meet" and logs["c16"].has_recording
    assert logs["c16"].recordings[0].recording_url == "https://rec.example.com/c16.mp4"
    assert {p.name for p in logs["c16"].participants} == {"Alice Archer", "Bob Baker", "Carol Cole"}
    assert all(log.extra == {} for log in logs.values())  # the SDK knows every field the server sends


def _receiver(log: CallLog) -> str:
    return log.receiver.guid if isinstance(log.receiver, CallGroup) else log.receiver.uid


def _between(log: CallLog, other: str) -> bool:
    return log.receiver_type == "user" and {log.initiator.uid, _receiver(log)} == {ME, other}


FILTERS: list[tuple[str, Builder, Callable[[CallLog, tuple[str, bool]], bool]]] = [
    ("missed", lambda b: b.set_call_status("missed"), lambda log, e: e[1]),
    ("incoming", lambda b: b.set_call_direction("incoming"), lambda log, e: e[0] == "incoming"),
    ("outgoing", lambda b: b.set_call_direction("outgoing"), lambda log, e: e[0] == "outgoing"),
    ("missed+incoming", lambda b: b.set_call_status("missed").set_call_direction("incoming"), lambda log, e: e[1]),
    ("video", lambda b: b.set_call_type("video"), lambda log, e: log.type == "video"),
    ("audio", lambda b: b.set_session_type("audio"), lambda log, e: log.type == "audio"),
    ("ended", lambda b: b.set_call_status("ended"), lambda log, e: log.status == "ended"),
    ("ongoing", lambda b: b.set_call_status("ongoing"), lambda log, e: log.status == "ongoing"),
    ("busy", lambda b: b.set_call_status("busy"), lambda log, e: log.status == "busy"),
    ("rejected", lambda b: b.set_call_status("rejected"), lambda log, e: log.status == "rejected"),
    ("cancelled", lambda b: b.set_call_status("cancelled"), lambda log, e: log.status == "cancelled"),
    ("unanswered", lambda b: b.set_call_status("unanswered"), lambda log, e: log.status == "unanswered"),
    ("initiated", lambda b: b.set_call_status("initiated"), lambda log, e: log.status == "initiated"),
    ("recorded", lambda b: b.set_has_recording(True), lambda log, e: log.has_recording),
    ("unrecorded", lambda b: b.set_has_recording(False), lambda log, e: not log.has_recording),
    ("meet", lambda b: b.set_call_category("meet"), lambda log, e: log.mode == "meet"),
    ("call", lambda b: b.set_call_category("call"), lambda log, e: log.mode == "call"),
    ("uid", lambda b: b.set_uid("bob"), lambda log, e: _between(log, "bob")),
    ("uid-carol", lambda b: b.set_uid("carol"), lambda log, e: _between(log, "carol")),
    ("guid", lambda b: b.set_guid("team"), lambda log, e: log.is_group_call and _receiver(log) == "team"),
    (
        "guid+missed",
        lambda b: b.set_guid("team").set_call_status("missed"),
        lambda log, e: _receiver(log) == "team" and e[1],
    ),
    (
        "range",
        lambda b: b.set_filter(CallFilter(initiated_at=Range(gte=1700000500, lt=1700001500))),
        lambda log, e: 1700000500 <= log.initiated_at < 1700001500,
    ),
    (
        "minutes",
        lambda b: b.set_filter(CallFilter(duration=Range(gt=0.9), receiver_type="group")),
        lambda log, e: log.total_duration_in_minutes > 0.9 and log.receiver_type == "group",
    ),
    (
        "everything",
        lambda b: (
            b.set_call_type("video")
            .set_call_status("ended")
            .set_has_recording(True)
            .set_call_category("call")
            .set_call_direction("outgoing")
            .set_uid("carol")
        ),
        lambda log, e: log.session_id == "c15",
    ),
]


@pytest.fixture
def history(sync_http: httpx.Client, loaded: Loaded) -> list[CallLog]:
    """alice's whole history, as one unfiltered walk shows it (the oracle's input)."""
    request = CallLogRequestBuilder(SETTINGS).set_auth_token(loaded.tokens[ME]).set_limit(100).build(sync_http)
    return request.fetch_next()


@pytest.mark.parametrize(("name", "build", "keep"), FILTERS, ids=[name for name, _, _ in FILTERS])
def test_every_filter_forward_and_back(
    sync_http: httpx.Client, loaded: Loaded, history: list[CallLog], name: str, build: Builder, keep: Any
) -> None:
    mine = expected(ME)
    want = [log.session_id for log in history if keep(log, mine[log.session_id])]
    request = build(CallLogRequestBuilder(SETTINGS).set_auth_token(loaded.tokens[ME]).set_limit(2)).build(sync_http)
    forward, back = _walk_forward_and_back(request)
    assert [sid for page in forward for sid in page] == want
    assert back == forward[-2::-1]


def test_async_pages_forward_and_back_with_filters(async_transport: httpx.ASGITransport, loaded: Loaded) -> None:
    async def main() -> None:
        async with httpx.AsyncClient(transport=async_transport) as http:
            request = (
                CallLogRequestBuilder(SETTINGS)
                .set_auth_token(loaded.tokens[ME])
                .set_call_status("missed")
                .set_limit(2)
                .build_async(http)
            )
            forward = []
            while page := await request.fetch_next():
                forward.append(_ids(page))
            back = []
            while page := await request.fetch_previous():
                back.append(_ids(page))
            assert forward == [["c18", "c09"], ["c07", "c04"], ["c03", "c02"]]
            assert back == [["c07", "c04"], ["c18", "c09"]]
            assert [log.session_id async for log in request.iter_all()] == ["c18", "c09", "c07", "c04", "c03", "c02"]
            (details,) = await get_call_details_async(SETTINGS, "c18", loaded.tokens[ME], http_client=http)
            assert (details.metadata, details.tags, details.missed) == (IMPORTED["metaData"], ("imported",), True)

    asyncio.run(main())


def test_call_details(sync_http: httpx.Client, loaded: Loaded) -> None:
    (log,) = get_call_details(SETTINGS, "c07", loaded.tokens["carol"], http_client=sync_http)
    assert (log.direction, log.missed, log.receiver) == (
        "incoming",
        True,
        CallGroup(guid="team", name="The Team", icon=GROUPS["team"][1]),
    )
    with pytest.raises(NotFoundError) as caught:
        get_call_details(SETTINGS, "c14", loaded.tokens[ME], http_client=sync_http)
    assert caught.value.code == "ERR_CALL_SESSION_NOT_FOUND"


def test_bad_and_revoked_tokens(sync_http: httpx.Client, stores: Stores, loaded: Loaded) -> None:
    request = CallLogRequestBuilder(SETTINGS).set_auth_token("nope").build(sync_http)
    with pytest.raises(AuthenticationError) as caught:
        request.fetch_next()
    assert (caught.value.status, caught.value.code) == (401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND")
    request = CallLogRequestBuilder(SETTINGS).set_auth_token(loaded.tokens[ME]).set_limit(5).build(sync_http)
    assert len(request.fetch_next()) == 5
    stores.users.revoke_tokens(loaded.tenant.app_id, ME)
    with pytest.raises(AuthenticationError):
        request.fetch_next()
    assert request.current_page == 1


# -- the REST client ----------------------------------------------------------------------


def _rest(sync_http: httpx.Client, key: str) -> CalltrailClient:
    return CalltrailClient(BASE_URL, key, http_client=sync_http)


def test_rest_lists_with_typed_filters(sync_http: httpx.Client, loaded: Loaded) -> None:
    with _rest(sync_http, loaded.tenant.key) as client:
        everything = list(client.iter_calls(per_page=5))
        assert [log.session_id for log in everything] == newest_first({f"c{n:02d}" for n in range(1, 19)})
        cases: list[tuple[CallFilter, Callable[[CallLog], bool]]] = [
            (CallFilter(status="ended", type="video"), lambda log: log.status == "ended" and log.type == "video"),
            (CallFilter(statuses=["busy", "cancelled"]), lambda log: log.status in ("busy", "cancelled")),
            (CallFilter(uid="carol"), lambda log: "carol" in {log.initiator.uid, *(p.uid for p in log.participants)}),
            (
                CallFilter(initiated_at=Range(gt=1700000300, lte=1700000900)),
                lambda log: 1700000300 < log.initiated_at <= 1700000900,
            ),
            (CallFilter(total_participants=Range(gte=3)), lambda log: log.total_participants >= 3),
            (
                CallFilter(receiver_type="group", has_recording=True),
                lambda log: log.is_group_call and log.has_recording,
            ),
            (
                CallFilter(mode="meet", duration=Range(gt=1)),
                lambda log: log.mode == "meet" and log.total_duration_in_minutes > 1,
            ),
        ]
        for where, keep in cases:
            want = [log.session_id for log in everything if keep(log)]
            assert want, where
            assert [log.session_id for log in client.iter_calls(where, per_page=2)] == want, where
            page = client.list_calls(where, per_page=1)
            assert page.pagination.total == len(want) and page.has_next == (len(want) > 1)
        on_behalf = [log.session_id for log in client.iter_calls(on_behalf_of=ME)]
        assert on_behalf == newest_first(set(expected(ME)))


def test_rest_round_trip(sync_http: httpx.Client, loaded: Loaded) -> None:
    with _rest(sync_http, loaded.tenant.key) as client:
        call = client.get_call("c18")
        assert (call.metadata, call.tags, call.receiver) == (IMPORTED["metaData"], ("imported",), CallUser(uid="alice"))
        scenario = Scenario("n1", 1_800_000_000, "yan", "alice", joined=("yan", "alice"))
        result = client.send_events(scenario.events())
        assert (result.accepted, result.duplicates) == (len(scenario.events()), 0)
        assert client.send_events(scenario.events()).duplicates == len(scenario.events())
        assert client.get_call("n1").status == "ended"
        record = {**IMPORTED, "sessionId": "n2", "initiatedAt": 1_800_000_100}
        assert client.put_call(record).session_id == "n2"
        user = client.put_user("yan", "Yan Yu", "https://img.example.com/yan.png")
        assert (user.uid, user.name, user.avatar) == ("yan", "Yan Yu", "https://img.example.com/yan.png")
        assert client.get_user("yan") == user
        group = client.put_group("squad", "Squad")
        assert (group.guid, group.name, group.icon) == ("squad", "Squad", None)
        assert client.get_group("squad") == group
        token = client.create_auth_token("yan", force=True)
        assert token.auth_token and token.uid == "yan"
        request = CallLogRequestBuilder(SETTINGS).set_auth_token(token.auth_token).build(sync_http)
        (log,) = request.fetch_next()
        assert (log.session_id, log.direction, log.initiator.name) == ("n1", "outgoing", "Yan Yu")
        second = client.create_auth_token("yan")
        assert [t.token_id for t in client.list_auth_tokens("yan")] == [second.token_id, token.token_id]
        client.revoke_auth_token("yan", token.token_id)
        assert [t.token_id for t in client.list_auth_tokens("yan")] == [second.token_id]
        assert client.revoke_auth_tokens("yan") == 1
        with pytest.raises(NotFoundError) as caught:
            client.revoke_auth_token("yan", second.auth_token or "")
        assert caught.value.code == "ERR_AUTH_TOKEN_NOT_FOUND"
        with pytest.raises(NotFoundError):
            client.get_call("nope")
        with pytest.raises(BadRequestError) as bad:
            client.put_user("yan", "Yan", "javascript:alert(1)")
        assert list(bad.value.details) == ["avatar"]


def test_rest_batches_long_event_lists(sync_http: httpx.Client, tenant: Tenant) -> None:
    calls = [Scenario(f"b{n:04d}", 1_600_000_000 + n, "ann", "ben", outcome="busy") for n in range(600)]
    events = [event for call in calls for event in call.events()]
    assert len(events) == 1200
    with _rest(sync_http, tenant.key) as client:
        result = client.send_events(events)
        assert (result.accepted, result.duplicates) == (1200, 0)
        assert client.list_calls(per_page=1).pagination.total == 600


def test_rest_errors(sync_http: httpx.Client, stores: Stores, loaded: Loaded) -> None:
    with _rest(sync_http, "wrong-key") as client, pytest.raises(AuthenticationError) as caught:
        client.list_calls()
    assert caught.value.code == "AUTH_ERR_APIKEY_NOT_FOUND"
    secret, _ = stores.tenants.create_key(loaded.tenant.app_id, new_key_settings("authOnly"))
    with _rest(sync_http, secret) as client:
        assert client.create_auth_token("ava").auth_token
        with pytest.raises(PermissionDeniedError) as denied:
            client.list_calls()
        assert denied.value.code == "AUTH_ERR_NO_ACCESS"
    with _rest(sync_http, loaded.tenant.key) as client, pytest.raises(BadRequestError) as bad:
        client.send_events([{"id": "x", "type": "call.started", "sessionId": "s", "at": "soon"}])
    assert list(bad.value.details) == ["events[0].at"]


def test_async_rest_client(async_transport: httpx.ASGITransport, loaded: Loaded) -> None:
    async def main() -> None:
        async with (
            httpx.AsyncClient(transport=async_transport) as http,
            AsyncCalltrailClient(BASE_URL, loaded.tenant.key, http_client=http) as client,
        ):
            ids = [log.session_id async for log in client.iter_calls(CallFilter(status="unanswered"), per_page=1)]
            assert ids == ["c18", "c09", "c06", "c02"]
            assert (await client.get_call("c09")).receiver == CallGroup(guid="team")
            token = await client.create_auth_token("carol")
            listed = [t.token_id for t in await client.list_auth_tokens("carol")]
            assert listed[0] == token.token_id and len(listed) == 2  # the fixture made one too
            assert (await client.put_user("carol", "Carol C.")).name == "Carol C."
            assert (await client.get_user("carol")).avatar is None
            assert (
                await client.put_group("team", "Team!", "https://i.example/t.png")
            ).icon == "https://i.example/t.png"
            assert (await client.get_group("team")).name == "Team!"
            scenario = Scenario("a1", 1_900_000_000, "carol", "bob", outcome="cancelled")
            assert (await client.send_events(scenario.events())).accepted == 2
            assert (await client.put_call({**IMPORTED, "sessionId": "a2"})).status == "unanswered"
            page = await client.list_calls(CallFilter(initiated_at=Range(gte=1_900_000_000)))
            assert [log.session_id for log in page.items] == ["a1"]
            await client.revoke_auth_token("carol", token.auth_token or "")
            assert await client.revoke_auth_tokens("carol") == 1

    asyncio.run(main())
