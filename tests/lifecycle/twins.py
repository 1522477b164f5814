"""Twin apps: one holds some calls, the other the same calls minus (or with changes to) some of
them. After a deletion, a purge or an erasure in the first, every total and usage figure the
API gives must equal the twin's, which never had what was removed: exactness, checked through
the public API on both engines."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.testclient import TestClient

from calltrail.jobs.feeder import feed, feed_session_demo
from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.store import Stores
from calltrail.voice.demo import generate_calls as generate_phone_calls
from calltrail.voice.events import parse_event as parse_status_event
from calltrail.voice.vocabulary import new_channel_settings

Calls = list[list[dict[str, Any]]]
LINE = "0b6f0e1c-7a52-4d8e-9d0a-3f1e2c4b5a69"
WINDOW = "from=2026-03-20T00:00:00Z&to=2026-04-06T00:00:00Z"


@dataclass
class App:
    app_id: str
    key: str
    channel_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"apikey": self.key}

    @property
    def bird(self) -> dict[str, str]:
        return {"Authorization": f"AccessKey {self.key}"}


def session_calls(count: int = 40, seed: int = 7) -> Calls:
    """Generated in-app calls (each a list of events), between 2026-03-25 and 2026-04-02."""
    world = build_world(3)
    return [list(call) for call in generate_calls(world, app_id="twin", count=count, seed=seed,
                                                  end="2026-04-02T00:00:00Z", span_days=8)]  # fmt: skip


def phone_calls(count: int = 20, seed: int = 8) -> Calls:
    """Generated phone calls (each a list of status events), between 2026-03-27 and 2026-04-01."""
    return [list(call) for call in generate_phone_calls(LINE, count=count, seed=seed,
                                                        end="2026-04-01T00:00:00Z", span_days=5)]  # fmt: skip


def session_of(call: list[dict[str, Any]]) -> str:
    return str(call[0]["sessionId"])


def call_of(call: list[dict[str, Any]]) -> str:
    return str(call[0]["callId"])


def make_app(stores: Stores, sessions: Calls, phones: Calls, edit: Callable[[Any], Any] = lambda raw: raw) -> App:
    """A new app holding these calls (passed through ``edit`` first)."""
    app = stores.tenants.create_app(new_app_settings("Twin", f"tw-{secrets.token_hex(6)}"))
    key, _ = stores.tenants.create_key(app.app_id)
    channel = stores.voice.create_channel(app.app_id, new_channel_settings("Line")).channel_id
    feed_session_demo(stores.sessions, app.app_id, [[edit(e) for e in call] for call in sessions])
    feed(
        [[edit(e) for e in call] for call in phones],
        lambda raw, problems: parse_status_event(raw, problems, channel),
        lambda batch: stores.voice.ingest(app.app_id, channel, batch),
        lambda: None,
        2000,
    )
    return App(app.app_id, key, channel)


def _total(client: TestClient, app: App, query: str) -> int:
    response = client.get(f"/v3/calls?perPage=1&{query}", headers=app.headers)
    assert response.status_code == 200, response.text
    return int(response.json()["meta"]["pagination"]["total"])


def _bird_list(client: TestClient, app: App, query: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = ""
    while True:
        suffix = f"&pageToken={token}" if token else ""
        response = client.get(f"/workspaces/{app.app_id}/channels/calls?limit=100&{query}{suffix}", headers=app.bird)
        assert response.status_code == 200, response.text
        found += response.json()["results"]
        token = response.json().get("nextPageToken", "")
        if not token:
            return found


def _usage(client: TestClient, app: App, path: str) -> Any:
    response = client.get(f"/api/usage/{path}", headers=app.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def figures(client: TestClient, app: App, uids: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every total and usage figure compared between twins (ids left out: they differ by app)."""
    snapshot: dict[str, Any] = {
        f"total {q}": _total(client, app, q)
        for q in ("", "status=ended", "status=unanswered", "type=video", "receiverType=group", "hasRecording=true")
    }
    for uid in uids:
        snapshot[f"total uid={uid}"] = _total(client, app, f"uid={uid}")
        user = {**app.headers, "onBehalfOf": uid}
        response = client.get("/v3/calls?perPage=1", headers=user)
        snapshot[f"onBehalfOf {uid}"] = response.json()["meta"]["pagination"]["total"]
    snapshot["usage calls by day"] = _usage(client, app, f"calls?{WINDOW}&interval=day")
    snapshot["usage calls by uid"] = _usage(client, app, f"calls?{WINDOW}&interval=week&groupBy=uid&limit=1000")
    snapshot["usage voice by day"] = _usage(client, app, f"voice?{WINDOW}&interval=day")
    phones = _bird_list(client, app)
    snapshot["bird list"] = sorted((p["id"], p["status"], p.get("duration")) for p in phones)
    snapshot["bird completed"] = len(_bird_list(client, app, "status=completed"))
    return snapshot
