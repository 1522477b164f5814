"""``DELETE /v3/calls/{sessionId}`` and Bird's ``DELETE .../calls/{callId}``: the call, its events
and everything derived from it go; totals and usage figures equal those of a twin app that never
had the call. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from calltrail.store import Stores
from tests.lifecycle.twins import call_of, figures, make_app, phone_calls, session_calls, session_of

UIDS = ("aria-santos-16", "priya-larsen-85")


def test_deleting_calls_leaves_what_a_twin_without_them_has(client: TestClient, stores: Stores) -> None:
    sessions, phones = session_calls(), phone_calls()
    gone_sessions = {session_of(call) for call in sessions[3:30:5]}
    gone_phones = {call_of(call) for call in phones[2:18:6]}
    app = make_app(stores, sessions, phones)
    twin = make_app(
        stores,
        [call for call in sessions if session_of(call) not in gone_sessions],
        [call for call in phones if call_of(call) not in gone_phones],
    )
    before = figures(client, app, UIDS)
    assert before != figures(client, twin, UIDS)  # so the comparison below can fail
    for own in sorted(gone_sessions):
        response = client.delete(f"/v3/calls/{own}", headers=app.headers)
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"success": True, "sessionId": own, "message": f"Call {own} deleted."}
        assert stores.sessions.events_of(app.app_id, own) == []
        again = client.delete(f"/v3/calls/{own}", headers=app.headers)
        assert again.status_code == 404
        assert again.json()["error"]["code"] == "ERR_CALL_SESSION_NOT_FOUND"
        assert client.get(f"/v3/calls/{own}", headers=app.headers).status_code == 404
    calls = f"/workspaces/{app.app_id}/channels/{app.channel_id}/calls"
    for call_id in gone_phones:
        response = client.delete(f"{calls}/{call_id}", headers=app.bird)
        assert response.status_code == 204 and response.content == b""
        assert stores.voice.events_of(app.app_id, call_id) == []
        again = client.delete(f"{calls}/{call_id}", headers=app.bird)
        assert again.status_code == 404 and again.json()["code"] == "NotFound", again.text
    assert figures(client, app, UIDS) == figures(client, twin, UIDS)


def test_deletion_answers_in_each_dialect(client: TestClient, stores: Stores) -> None:
    phones = phone_calls(count=2)
    app = make_app(stores, [], phones)
    other = make_app(stores, [], [])
    calls = f"/workspaces/{app.app_id}/channels/{app.channel_id}/calls"
    call_id = call_of(phones[0])
    # Another app's key, another channel, a malformed id: 404, nothing deleted.
    assert client.delete(f"{calls}/{call_id}", headers=other.bird).status_code == 404
    foreign = f"/workspaces/{other.app_id}/channels/{other.channel_id}/calls/{call_id}"
    assert client.delete(foreign, headers=other.bird).status_code == 404
    assert client.delete(f"{calls}/not-a-uuid", headers=app.bird).status_code == 404
    assert client.delete(f"{calls}/{uuid.uuid4()}", headers={"Authorization": "AccessKey nope"}).status_code == 401
    assert client.get(f"{calls}/{call_id}", headers=app.bird).status_code == 200
    assert client.delete("/v3/calls/abc", headers=other.headers).status_code == 404
    assert client.delete("/v3/calls/abc", headers={"apikey": "nope"}).status_code == 401
    bad = client.delete("/v3/calls/a%01b", headers=app.headers)
    assert bad.status_code == 400 and "sessionId" in bad.text, bad.text
    # An imported record is deleted the same way.
    record = {"sessionId": "imported-1", "initiator": "ann", "receiver": "ben", "receiverType": "user",
              "type": "audio", "status": "ended", "initiatedAt": 1774511192}  # fmt: skip
    assert client.put("/v3/calls/imported-1", headers=app.headers, json=record).status_code == 200
    assert client.get("/v3/calls", headers=app.headers).json()["meta"]["pagination"]["total"] == 1
    assert client.delete("/v3/calls/imported-1", headers=app.headers).status_code == 200
    assert client.get("/v3/calls", headers=app.headers).json()["meta"]["pagination"]["total"] == 0
