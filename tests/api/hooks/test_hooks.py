"""``POST /hooks/{integrationId}`` end to end on both engines: each provider's payloads, signed
or authenticated the way the provider does it, become calls every read API serves; a forged
signature or a wrong password stores nothing; a cut payload is 400; unused events are counted."""

from __future__ import annotations

import base64
import json
import random
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]  # twilio ships no type hints

from calltrail.adapters.integrations import new_integration
from calltrail.store import Stores
from calltrail.voice.vocabulary import new_channel_settings
from tests.adapters import test_cometchat as cometchat_tests
from tests.adapters import test_janus as janus_tests
from tests.adapters import test_livekit as livekit_tests
from tests.conftest import Tenant

FIXTURES = Path(__file__).parents[2] / "fixtures"


def integrate(stores: Stores, tenant: Tenant, provider: str, **options: Any) -> tuple[str, dict[str, str]]:
    """A new integration: its hook path and the Basic header its provider would send."""
    integration, password = new_integration(tenant.app_id, provider, **options)
    stores.integrations.create(integration)
    headers = {}
    if password is not None:
        token = base64.b64encode(f"{integration.username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return integration.path, headers


def channel_of(stores: Stores, tenant: Tenant) -> str:
    return stores.voice.create_channel(tenant.app_id, new_channel_settings("Hooks")).channel_id


def stored_events(stores: Stores, tenant: Tenant, session_id: str) -> int:
    return len(stores.sessions.events_of(tenant.app_id, session_id))


# -- LiveKit --------------------------------------------------------------------------------------


def post_livekit(client: TestClient, path: str, body: bytes, token: str | None) -> Any:
    headers = {"Content-Type": "application/webhook+json"}
    if token is not None:
        headers["Authorization"] = token
    return client.post(path, content=body, headers=headers)


def test_livekit_webhooks_in_any_order_become_one_call(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    path, _ = integrate(stores, tenant, "livekit", api_key=livekit_tests.KEY, secret=livekit_tests.SECRET)
    bodies = [livekit_tests.encode(event) for event in livekit_tests.SEQUENCE]
    shuffled = [*bodies, bodies[3]]
    random.Random(7).shuffle(shuffled)
    answers = [post_livekit(client, path, body, livekit_tests.sign(body)) for body in shuffled]
    assert [answer.status_code for answer in answers] == [200] * len(shuffled)
    assert sum(answer.json()["data"]["ignored"] for answer in answers) >= 1  # egress_started is not used

    record = client.get(f"/v3/calls/{livekit_tests.ROOM_SID}", headers=tenant.headers).json()["data"]
    assert {key: record[key] for key in livekit_tests.EXPECTED} == livekit_tests.EXPECTED
    assert [p["uid"] for p in record["participants"]] == [row[0] for row in livekit_tests.PARTICIPANTS]
    listed = client.get("/v3/calls?mode=meet&type=video&hasRecording=true", headers=tenant.headers).json()
    assert [call["sessionId"] for call in listed["data"]] == [livekit_tests.ROOM_SID]
    token = client.post("/v3/users/alice/auth_tokens", headers=tenant.headers).json()["data"]["authToken"]
    mine = client.get("/v3.0/calls", headers={"authToken": token}).json()["data"]
    assert [(call["sessionId"], call["direction"]) for call in mine] == [(livekit_tests.ROOM_SID, "outgoing")]


def test_livekit_forged_expired_and_cut_payloads_store_nothing(
    client: TestClient, stores: Stores, tenant: Tenant
) -> None:
    path, _ = integrate(stores, tenant, "livekit", api_key=livekit_tests.KEY, secret=livekit_tests.SECRET)
    body = livekit_tests.encode(livekit_tests.SEQUENCE[1])
    other = livekit_tests.encode(livekit_tests.SEQUENCE[3])
    for token in (
        None,
        livekit_tests.sign(body, secret="not-the-secret-of-this-livekit-deployment-at-all"),
        livekit_tests.sign(body, key="APIother"),
        livekit_tests.sign(other),  # the body's hash does not match
        livekit_tests.sign(body, ttl=-timedelta(minutes=5)),
    ):
        answer = post_livekit(client, path, body, token)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "ERR_HOOK_UNAUTHORIZED"
    assert stored_events(stores, tenant, livekit_tests.ROOM_SID) == 0
    cut = body[: len(body) // 2]
    answer = post_livekit(client, path, cut, livekit_tests.sign(cut))
    assert answer.status_code == 400 and "body" in answer.json()["error"]["details"]
    assert stored_events(stores, tenant, livekit_tests.ROOM_SID) == 0
    assert post_livekit(client, path, body, livekit_tests.sign(body)).status_code == 200
    assert stored_events(stores, tenant, livekit_tests.ROOM_SID) > 0


def test_an_unknown_or_deleted_integration_answers_as_a_bad_credential(
    client: TestClient, stores: Stores, tenant: Tenant
) -> None:
    path, headers = integrate(stores, tenant, "janus")
    body = json.dumps({"type": 1, "timestamp": 1, "session_id": 1, "event": {"name": "created"}})
    assert client.post(f"/hooks/{uuid.uuid4()}", content=body, headers=headers).status_code == 401
    assert client.post(path, content=body, headers=headers).status_code == 200
    stores.integrations.delete(tenant.app_id, path.rsplit("/", 1)[-1])
    assert client.post(path, content=body, headers=headers).status_code == 401


# -- Janus (captured from a real Janus), CometChat ------------------------------------------------


def test_janus_events_become_one_call_per_room_occupancy(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    path, headers = integrate(stores, tenant, "janus")
    bodies, expected = janus_tests.load_capture()
    wrong = {"Authorization": "Basic " + base64.b64encode(b"calltrail-x:nope").decode()}
    assert client.post(path, content=bodies[0], headers=wrong).status_code == 401
    shuffled = [*bodies, bodies[0]]
    random.Random(3).shuffle(shuffled)
    for body in shuffled:
        answer = client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
    listed = client.get("/v3/calls?mode=meet&perPage=100", headers=tenant.headers).json()["data"]
    janus_tests.check_calls({call["sessionId"]: call for call in listed}, expected)


def test_janus_late_facts_replace_a_rooms_calls(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    """Two calls of one room merge when the leave that separated them was a late error: the
    calls served are always those of the set of facts received, never a stale one."""
    path, headers = integrate(stores, tenant, "janus")

    def event(name: str, feed: int, at_s: int, display: str) -> dict[str, Any]:
        data = {"event": name, "room": 4242, "id": feed, "display": display}
        plugin = {"plugin": "janus.plugin.videoroom", "data": data}
        return {"emitter": "j1", "type": 64, "timestamp": at_s * 1_000_000, "event": plugin}

    first = [event("joined", 1, 1_790_000_000, "ann"), event("leaving", 1, 1_790_000_060, "ann")]
    second = [event("joined", 2, 1_790_000_100, "bob"), event("leaving", 2, 1_790_000_160, "bob")]
    for batch in (first, second):
        assert client.post(path, content=json.dumps(batch), headers=headers).status_code == 200
    calls = client.get("/v3/calls?mode=meet", headers=tenant.headers).json()
    assert calls["meta"]["pagination"]["total"] == 2
    # ann was still in the room when bob joined: one call from 0 to 160 s.
    bridge = [event("joined", 3, 1_790_000_050, "cy"), event("leaving", 3, 1_790_000_120, "cy")]
    assert client.post(path, content=json.dumps(bridge), headers=headers).status_code == 200
    calls = client.get("/v3/calls?mode=meet", headers=tenant.headers).json()
    assert calls["meta"]["pagination"]["total"] == 1
    (call,) = calls["data"]
    assert [p["uid"] for p in call["participants"]] == ["ann", "cy", "bob"]
    assert (call["startedAt"], call["endedAt"]) == (1_790_000_000, 1_790_000_160)
    counted = client.get("/v3/calls?mode=meet&status=ended", headers=tenant.headers).json()
    assert counted["meta"]["pagination"]["total"] == 1


def test_cometchat_webhooks_need_the_password_and_feed_the_call(
    client: TestClient, stores: Stores, tenant: Tenant
) -> None:
    path, headers = integrate(stores, tenant, "cometchat")
    hooks = [*cometchat_tests.RINGING, cometchat_tests.RINGING[0]]
    random.Random(2).shuffle(hooks)
    assert client.post(path, json=hooks[0]).status_code == 401
    assert stored_events(stores, tenant, cometchat_tests.CALL) == 0
    for hook in hooks:
        answer = client.post(path, json=hook, headers=headers)
        assert answer.status_code == 200, answer.text
    record = client.get(f"/v3/calls/{cometchat_tests.CALL}", headers=tenant.headers).json()["data"]
    expected = cometchat_tests.derive(cometchat_tests.RINGING)
    assert expected is not None and record == expected
    again = client.post(path, json=cometchat_tests.RINGING[0], headers=headers).json()["data"]
    assert again["accepted"] == 0 and again["duplicates"] >= 1
    truncated = json.dumps(cometchat_tests.RINGING[0])[:40]
    assert client.post(path, content=truncated, headers=headers).status_code == 400


# -- Twilio, FreeSWITCH, Kamailio: phone calls of a channel ---------------------------------------


def twilio_post(client: TestClient, path: str, params: dict[str, str], url: str, token: str) -> Any:
    signature = RequestValidator(token).compute_signature(url, params)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return client.post(path, content=urlencode(params), headers=headers)


def bird_calls(client: TestClient, tenant: Tenant, channel: str, query: str = "") -> list[dict[str, Any]]:
    answer = client.get(
        f"/workspaces/{tenant.app_id}/channels/{channel}/calls?limit=100{query}",
        headers={"Authorization": f"AccessKey {tenant.key}"},
    )
    assert answer.status_code == 200, answer.text
    calls: list[dict[str, Any]] = answer.json()["results"]
    return calls


def test_twilio_callbacks_signed_for_the_public_url(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    channel = channel_of(stores, tenant)
    token = "9f2c4b7e1d3a5c8e0b6d4f2a1c3e5b7d"
    public = "https://calltrail.example.com"
    path, _ = integrate(stores, tenant, "twilio", channel_id=channel, secret=token, public_url=public)
    callbacks = json.loads((FIXTURES / "twilio" / "answered_call.json").read_text())["callbacks"]
    received_as = "http://testserver" + path
    assert twilio_post(client, path, callbacks[0], received_as, token).status_code == 401  # not the URL Twilio calls
    assert twilio_post(client, path, callbacks[0], public + path, "wrong-token").status_code == 401
    assert bird_calls(client, tenant, channel) == []
    order = [*callbacks, callbacks[2]]
    random.Random(5).shuffle(order)
    for params in order:
        assert twilio_post(client, path, params, public + path, token).status_code == 200
    calls = bird_calls(client, tenant, channel)
    assert {call["status"] for call in calls} == {"completed"} and len(calls) == 2
    parent = next(call for call in calls if "parentId" not in call)
    child = next(call for call in calls if "parentId" in call)
    assert child["parentId"] == parent["id"]
    assert [call["id"] for call in bird_calls(client, tenant, channel, "&direction=outgoing")] != []


def test_twilio_without_a_public_url_checks_the_url_as_received(
    client: TestClient, stores: Stores, tenant: Tenant
) -> None:
    channel = channel_of(stores, tenant)
    path, _ = integrate(stores, tenant, "twilio", channel_id=channel, secret="tok")
    params = json.loads((FIXTURES / "twilio" / "answered_call.json").read_text())["callbacks"][0]
    assert twilio_post(client, path, params, "http://testserver" + path, "tok").status_code == 200


FREESWITCH_TYPES = {".json": "application/json", ".form": "application/x-www-form-urlencoded"}


def test_freeswitch_cdrs_become_the_legs_of_a_channel(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    channel = channel_of(stores, tenant)
    path, headers = integrate(stores, tenant, "freeswitch", channel_id=channel)
    files = sorted(p for p in (FIXTURES / "freeswitch").iterdir() if p.suffix in FREESWITCH_TYPES)
    for file in [*files, files[0]]:
        answer = client.post(
            path, content=file.read_bytes(), headers={**headers, "Content-Type": FREESWITCH_TYPES[file.suffix]}
        )
        assert answer.status_code == 200, (file.name, answer.text)
    statuses = sorted(call["status"] for call in bird_calls(client, tenant, channel))
    assert statuses == ["busy", "busy", "cancelled", "cancelled", "completed", "completed"]
    busy = bird_calls(client, tenant, channel, "&status=busy")
    assert len(busy) == 2
    assert client.post(path, content=files[0].read_bytes()[:100], headers=headers).status_code == 400


def test_kamailio_reports_become_calls_of_the_channel(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    channel = channel_of(stores, tenant)
    path, headers = integrate(stores, tenant, "kamailio", channel_id=channel)
    reports = [r for p in sorted((FIXTURES / "kamailio").glob("*.json")) for r in json.loads(p.read_text())]
    random.Random(11).shuffle(reports)
    for report in reports:
        answer = client.post(path, content=json.dumps(report), headers=headers)
        assert answer.status_code == 200, answer.text
    statuses = sorted(call["status"] for call in bird_calls(client, tenant, channel))
    assert statuses == ["busy", "busy", "cancelled", "completed", "completed"]


def test_integrations_check_their_options(stores: Stores, tenant: Tenant) -> None:
    from calltrail.kernel.errors import ChannelNotFound, InvalidRequest

    with pytest.raises(InvalidRequest) as missing:
        new_integration(tenant.app_id, "livekit", api_key="k")
    assert "secret" in missing.value.details
    with pytest.raises(InvalidRequest) as channel:
        new_integration(tenant.app_id, "twilio", secret="t")
    assert "channel" in channel.value.details
    with pytest.raises(InvalidRequest):
        new_integration(tenant.app_id, "janus", channel_id=str(uuid.uuid4()))
    with pytest.raises(InvalidRequest):
        new_integration(tenant.app_id, "teams")
    foreign, _ = new_integration(tenant.app_id, "kamailio", channel_id=str(uuid.uuid4()))
    with pytest.raises(ChannelNotFound):
        stores.integrations.create(foreign)
    listed = [i.summary() for i in stores.integrations.list(tenant.app_id)]
    assert all("secret" not in str(item) and "password" not in str(item) for item in listed)
