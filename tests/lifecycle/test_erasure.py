"""Erasure of a person: ``DELETE /v3/users/{uid}?erase=true`` and ``calltrail users erase``.

The erased app must answer exactly like a twin app whose calls named the pseudonym from the
start: totals, the user view, usage figures (per uid too), and the records themselves. The uid
is then nowhere in the app's stored events or records. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
from click.testing import CliRunner
from starlette.testclient import TestClient

from calltrail.cli import main
from calltrail.store import Stores
from calltrail.store.erasure import Eraser, pseudonym, replace_uid
from tests.lifecycle.twins import App, Calls, figures, make_app, phone_calls, session_calls, session_of

OTHER = "priya-larsen-85"
SOMEONE = "aria-santos-16"


def _most_involved(sessions: Calls) -> str:
    """The uid named in the most generated calls (erased below)."""
    named: Counter[str] = Counter(e["initiator"] for call in sessions for e in call if e["type"] == "call.initiated")
    return named.most_common(1)[0][0]


def _imported(uid: str) -> dict[str, Any]:
    return {"sessionId": "imported-1", "initiator": uid, "receiver": OTHER, "receiverType": "user",
            "type": "audio", "status": "ended", "initiatedAt": 1774711192,
            "participants": [{"uid": uid, "isJoined": False, "state": "unanswered", "totalDuration": 0}]}  # fmt: skip


@dataclass
class Twins:
    """An app whose calls name ``uid``, and its twin whose calls name ``alias`` instead."""

    app: App
    twin: App
    uid: str
    alias: str
    sessions: Calls


def _twins(client: TestClient, stores: Stores, seed: int) -> Twins:
    sessions = session_calls(count=60, seed=seed)
    uid = _most_involved(sessions)
    app = make_app(stores, sessions, phone_calls(count=3))
    alias = Eraser(stores.sessions).pseudonym(app.app_id, uid)
    twin = make_app(stores, sessions, phone_calls(count=3), lambda raw: replace_uid(raw, uid, alias))
    for target, record in ((app, _imported(uid)), (twin, _imported(alias))):
        assert client.put("/v3/calls/imported-1", headers=target.headers, json=record).status_code == 200
    uids = (uid, alias, OTHER)
    assert figures(client, app, uids) != figures(client, twin, uids)
    assert figures(client, app, uids)[f"total uid={uid}"] >= 3  # the uid is in several calls
    return Twins(app, twin, uid, alias, sessions)


def _records(client: TestClient, app: App) -> list[dict[str, Any]]:
    listed = client.get("/v3/calls?perPage=1000", headers=app.headers).json()["data"]
    return [client.get(f"/v3/calls/{c['sessionId']}", headers=app.headers).json()["data"] for c in listed]


def _assert_erased(client: TestClient, stores: Stores, t: Twins) -> None:
    uids = (t.uid, t.alias, OTHER)
    assert figures(client, t.app, uids) == figures(client, t.twin, uids)
    assert _records(client, t.app) == _records(client, t.twin)  # every field of every record
    stored = b"".join(
        orjson.dumps([e.data for e in stores.sessions.events_of(t.app.app_id, session_of(call))]) for call in t.sessions
    )
    assert t.uid.encode() not in stored and t.alias.encode() in stored
    assert client.get(f"/v3/users/{t.uid}", headers=t.app.headers).status_code == 404


def test_erase_over_http(client: TestClient, stores: Stores) -> None:
    t = _twins(client, stores, seed=21)
    user = f"/v3/users/{t.uid}"
    assert client.put(user, headers=t.app.headers, json={"name": "Someone"}).status_code == 200
    token = client.post(f"{user}/auth_tokens", headers=t.app.headers).json()["data"]["authToken"]
    assert client.get("/v3.0/calls", headers={"authToken": token}).status_code == 200
    response = client.delete(f"{user}?erase=true", headers=t.app.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["success"] is True and data["pseudonym"] == t.alias and data["tokensRevoked"] == 1
    assert data["callsRewritten"] == figures(client, t.twin, (t.alias,))[f"total uid={t.alias}"]
    assert t.alias.startswith("erased-") and len(t.alias) == len("erased-") + 16
    assert client.get("/v3.0/calls", headers={"authToken": token}).status_code == 401
    _assert_erased(client, stores, t)
    # Erasing again changes nothing and gives the same pseudonym.
    again = client.delete(f"{user}?erase=true", headers=t.app.headers).json()["data"]
    assert again["pseudonym"] == t.alias and again["callsRewritten"] == 0


def test_erase_command(client: TestClient, stores: Stores) -> None:
    t = _twins(client, stores, seed=22)
    result = CliRunner().invoke(main, ["users", "erase", "--app", t.app.app_id, t.uid, "--db", stores.db.url])
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert out["pseudonym"] == t.alias and out["profileDeleted"] is False and out["calls"] >= 3
    _assert_erased(client, stores, t)


def test_batches_of_two_give_the_same_result(client: TestClient, stores: Stores) -> None:
    t = _twins(client, stores, seed=23)
    assert Eraser(stores.sessions, batch=2).erase(t.app.app_id, t.uid).calls >= 3
    _assert_erased(client, stores, t)


def test_delete_user_without_erase_keeps_calls(client: TestClient, stores: Stores) -> None:
    app = make_app(stores, session_calls(count=10, seed=24), [])
    before = figures(client, app, (SOMEONE,))
    assert client.delete(f"/v3/users/{SOMEONE}", headers=app.headers).status_code == 404  # no profile, no token
    client.put(f"/v3/users/{SOMEONE}", headers=app.headers, json={"name": "Aria"})
    response = client.delete(f"/v3/users/{SOMEONE}?erase=false", headers=app.headers)
    assert response.status_code == 200 and "pseudonym" not in response.json()["data"]
    assert figures(client, app, (SOMEONE,)) == before
    bad = client.delete(f"/v3/users/{SOMEONE}?erase=yes", headers=app.headers)
    assert bad.status_code == 400 and "erase" in bad.json()["error"]["details"]


def test_pseudonyms_are_stable_and_per_app() -> None:
    assert pseudonym(b"k", "a", "u") == pseudonym(b"k", "a", "u") != pseudonym(b"k", "b", "u")
    assert pseudonym(b"k", "a", "u") != pseudonym(b"other", "a", "u")
