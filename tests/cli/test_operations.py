"""Operator commands on both databases: keys list/revoke/expiry, apps and channels lists;
``calltrail backup`` while writes happen; the demo's credentials reused across starts."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from calltrail.cli import main
from calltrail.cli.first_run import credentials_file, demo_credentials
from calltrail.kernel.errors import Conflict, InvalidRequest, NotFound
from calltrail.kernel.instants import now_ms
from calltrail.kernel.tenancy import key_reference, new_app_settings, new_key_settings
from calltrail.sessions.demo import build_world
from calltrail.store import Stores, open_stores
from calltrail.store.tenants import TenantStore
from tests.conftest import Tenant


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_keys_are_listed_by_prefix_and_revoked_by_prefix_or_id(stores: Stores, tenant: Tenant) -> None:
    runner = CliRunner()
    db = ["--db", stores.db.url]
    made = json.loads(runner.invoke(main, ["keys", "create", "--app", tenant.app_id, "--name", "ci", *db]).stdout)
    assert made["prefix"] == made["apiKey"][:8] and len(made["keyId"]) == 16 and made["expiresAt"] is None
    listed = _lines(runner.invoke(main, ["keys", "list", "--app", tenant.app_id, *db]).stdout)
    assert [k["name"] for k in listed] == ["REST API Key", "ci"]
    assert all("apiKey" not in k for k in listed)  # never the secret
    assert tenant.key not in runner.invoke(main, ["keys", "list", "--app", tenant.app_id, *db]).stdout
    result = runner.invoke(main, ["keys", "revoke", "--app", tenant.app_id, str(made["prefix"]), *db])
    assert result.exit_code == 0, result.output
    assert stores.tenants.find_key(str(made["apiKey"])) is None
    assert stores.tenants.find_key(tenant.key) is not None
    by_id = stores.tenants.list_keys(tenant.app_id)[0].key_id
    assert runner.invoke(main, ["keys", "revoke", "--app", tenant.app_id, by_id, *db]).exit_code == 0
    # A store that had the key at hand trusts it for KEY_CACHE_SECONDS more; a fresh one (as any
    # server once that bound has passed) no longer finds it.
    assert TenantStore(stores.db).find_key(tenant.key) is None
    missing = runner.invoke(main, ["keys", "revoke", "--app", tenant.app_id, "abcdef", *db])
    assert missing.exit_code == 1 and "no key" in missing.output


def test_revoking_needs_an_unambiguous_hex_prefix(stores: Stores, tenant: Tenant) -> None:
    with pytest.raises(InvalidRequest):
        key_reference("abc")
    with pytest.raises(InvalidRequest):
        key_reference("zzzzzz")
    with pytest.raises(NotFound):
        stores.tenants.revoke_key(f"{tenant.app_id}-none", tenant.key[:8])
    keys = [stores.tenants.create_key(tenant.app_id)[0] for _ in range(40)]
    ids = [key.key_id for key in stores.tenants.list_keys(tenant.app_id)]
    shared = next((a[:6] for a in ids for b in ids if a != b and a[:6] == b[:6]), None)
    if shared is not None:  # rare: two key ids sharing 6 digits
        with pytest.raises(Conflict):
            stores.tenants.revoke_key(tenant.app_id, shared)
    assert stores.tenants.revoke_key(tenant.app_id, keys[5][:8]).prefix == keys[5][:8]


def test_an_expired_key_is_refused_like_an_unknown_one(stores: Stores, tenant: Tenant, client: TestClient) -> None:
    expired, _ = stores.tenants.create_key(tenant.app_id, new_key_settings(), expires_at_ms=now_ms() - 1)
    valid, _ = stores.tenants.create_key(tenant.app_id, new_key_settings(), expires_at_ms=now_ms() + 3_600_000)
    assert client.get("/v3/calls?perPage=1", headers={"apikey": valid}).status_code == 200
    refused = client.get("/v3/calls?perPage=1", headers={"apikey": expired})
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "AUTH_ERR_APIKEY_NOT_FOUND")
    listed = {key.key_id: key for key in stores.tenants.list_keys(tenant.app_id)}
    assert len(listed) == 3


def test_keys_create_takes_an_expiry(stores: Stores, tenant: Tenant) -> None:
    runner = CliRunner()
    made = runner.invoke(main, ["keys", "create", "--app", tenant.app_id, "--expires-in", "2h", "--db", stores.db.url])
    key = json.loads(made.stdout)
    stored = stores.tenants.find_key(key["apiKey"])
    assert stored is not None and stored.expires_at_ms is not None
    assert 7100 <= (stored.expires_at_ms - now_ms()) / 1000 <= 7200
    bad = runner.invoke(main, ["keys", "create", "--app", tenant.app_id, "--expires-in", "soon", "--db", stores.db.url])
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_apps_and_channels_are_listed(stores: Stores, tenant: Tenant) -> None:
    runner = CliRunner()
    created = runner.invoke(main, ["channels", "create", "--app", tenant.app_id, "--name", "NL", "--db", stores.db.url])
    channel = json.loads(created.stdout)["channelId"]
    apps = _lines(runner.invoke(main, ["apps", "list", "--db", stores.db.url]).stdout)
    assert tenant.app_id in [app["appId"] for app in apps]
    channels = _lines(runner.invoke(main, ["channels", "list", "--app", tenant.app_id, "--db", stores.db.url]).stdout)
    assert [(c["channelId"], c["name"], c["workspaceId"]) for c in channels] == [(channel, "NL", tenant.app_id)]


def test_backup_is_a_consistent_copy_while_writes_go_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    stores = open_stores(url)
    stores.tenants.create_app(new_app_settings("Live", "live"))
    stop = threading.Event()
    written = [0]

    def write() -> None:
        from calltrail.sessions.events import parse_batch

        while not stop.is_set():
            n = written[0]
            events = [
                {
                    "id": f"e{n}-{i}",
                    "type": "call.initiated",
                    "sessionId": f"s{n}",
                    "at": 1777000000 + n,
                    "initiator": "ann",
                    "receiver": "ben",
                    "receiverType": "user",
                    "callType": "audio",
                }
                for i in range(1)
            ] + [{"id": f"e{n}-end", "type": "call.ended", "sessionId": f"s{n}", "at": 1777000060 + n}]
            stores.sessions.ingest("live", parse_batch(events))
            written[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while written[0] < 50:
            time.sleep(0.01)
        result = CliRunner().invoke(main, ["backup", "--db", url, str(tmp_path / "copy.db")])
        assert result.exit_code == 0, result.output
        during = written[0]
    finally:
        stop.set()
        writer.join()
        stores.close()
    assert during >= 50
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        calls = copy.execute("SELECT count(*) FROM calls WHERE app_id = 'live'").fetchone()[0]
        events = copy.execute("SELECT count(*) FROM call_events WHERE app_id = 'live'").fetchone()[0]
        open_calls = copy.execute("SELECT count(*) FROM calls WHERE status = 'initiated'").fetchone()[0]
    assert calls > 0 and events == 2 * calls and open_calls == 0  # one snapshot: never half a batch
    copied = open_stores(f"sqlite:///{tmp_path / 'copy.db'}")  # a usable database, schema current
    assert copied.tenants.get_app("live") is not None
    copied.close()
    again = CliRunner().invoke(main, ["backup", "--db", url, str(tmp_path / "copy.db")])
    assert again.exit_code == 1 and "exists" in again.output
    assert not list(tmp_path.glob("*.partial"))


def test_backup_of_postgresql_points_to_pg_dump() -> None:
    result = CliRunner().invoke(main, ["backup", "--db", "postgresql://u@h/db", "out.dump"])
    assert result.exit_code == 1 and "pg_dump" in result.output


def test_the_demo_reuses_its_credentials_while_they_are_valid(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'calltrail.db'}"
    stores = open_stores(url)
    try:
        stores.tenants.create_app(new_app_settings("Demo", "demo"))
        user = build_world(1).people[0].uid
        path = credentials_file(url)
        assert path == tmp_path / "calltrail.demo-credentials.json"
        first, reused = demo_credentials(stores, path, user)
        assert not reused and stat.S_IMODE(os.stat(path).st_mode) == 0o600
        second, reused = demo_credentials(stores, path, user)
        assert reused and second == first
        assert len(stores.tenants.list_keys("demo")) == 1  # no new key at each start
        stores.tenants.revoke_key("demo", first["apiKey"][:8])
        third, reused = demo_credentials(stores, path, user)
        assert not reused and third["apiKey"] != first["apiKey"] and third["authToken"] == first["authToken"]
    finally:
        stores.close()
