"""Apps and API keys."""

from __future__ import annotations

import secrets

import pytest

from calltrail.kernel.errors import AppNotFound, Conflict, InvalidRequest
from calltrail.kernel.instants import now_ms
from calltrail.kernel.tenancy import new_app_settings, new_key_settings
from calltrail.store import Stores
from calltrail.store.tenants import KEY_CACHE_SECONDS, TenantStore, hash_secret


def new_id() -> str:
    return f"app-{secrets.token_hex(5)}"


def test_create_and_get_app(stores: Stores) -> None:
    app_id = new_id()
    app = stores.tenants.create_app(new_app_settings("Acme", app_id, "eu"))
    assert (app.app_id, app.name, app.region) == (app_id, "Acme", "eu")
    assert stores.tenants.get_app(app_id) == app
    assert stores.tenants.get_app(app_id + "x") is None


def test_random_id_is_assigned(stores: Stores) -> None:
    app = stores.tenants.create_app(new_app_settings("No id"))
    assert len(app.app_id) == 14 and stores.tenants.get_app(app.app_id) == app


def test_duplicate_and_invalid_apps(stores: Stores) -> None:
    app_id = new_id()
    stores.tenants.create_app(new_app_settings("One", app_id))
    with pytest.raises(Conflict):
        stores.tenants.create_app(new_app_settings("Two", app_id))
    with pytest.raises(InvalidRequest):
        stores.tenants.create_app(new_app_settings("Bad", "has space"))
    with pytest.raises(InvalidRequest):
        stores.tenants.create_app(new_app_settings("Bad", "x" * 101))
    with pytest.raises(InvalidRequest):
        stores.tenants.create_app(new_app_settings("Bad region", new_id(), "mars"))
    with pytest.raises(InvalidRequest):
        stores.tenants.create_app(new_app_settings("   ", new_id()))


def test_keys_are_stored_hashed_and_found_by_secret(stores: Stores) -> None:
    app_id = stores.tenants.create_app(new_app_settings("Keys", new_id())).app_id
    secret, key = stores.tenants.create_key(app_id, new_key_settings("authOnly", "Auth"))
    assert len(secret) == 40 and key.scope == "authOnly" and key.name == "Auth"
    assert stores.tenants.find_key(secret) == key
    assert stores.tenants.find_key(secret[:-1] + "x") is None
    with stores.db.read() as conn:
        stored = conn.fetchall("SELECT key_hash FROM api_keys WHERE app_id = ?", (app_id,))
    assert stored == [(hash_secret(secret),)]
    assert secret not in str(stored)


def test_key_defaults_and_errors(stores: Stores) -> None:
    app_id = stores.tenants.create_app(new_app_settings("Keys", new_id())).app_id
    _, key = stores.tenants.create_key(app_id)
    assert (key.scope, key.name) == ("fullAccess", "REST API Key")
    with pytest.raises(AppNotFound):
        stores.tenants.create_key(app_id + "-missing")
    with pytest.raises(InvalidRequest):
        stores.tenants.create_key(app_id, new_key_settings("root"))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_found_is_remembered_for_a_bounded_time(stores: Stores) -> None:
    """Another process's revocation (here: another store) is seen within KEY_CACHE_SECONDS."""
    app_id = stores.tenants.create_app(new_app_settings("Cache", new_id())).app_id
    secret, key = stores.tenants.create_key(app_id)
    clock = FakeClock()
    serving, elsewhere = TenantStore(stores.db, clock), TenantStore(stores.db)
    assert serving.find_key(secret) == key
    elsewhere.revoke_key(app_id, key.key_id)
    clock.now += KEY_CACHE_SECONDS - 0.5
    assert serving.find_key(secret) == key  # remembered: no lookup
    clock.now += 1
    assert serving.find_key(secret) is None
    assert serving.find_key(secret) is None  # unknown keys are not remembered either way


def test_a_key_revoked_by_the_serving_store_is_refused_at_once(stores: Stores) -> None:
    app_id = stores.tenants.create_app(new_app_settings("Revoke", new_id())).app_id
    secret, key = stores.tenants.create_key(app_id)
    other_secret, other = stores.tenants.create_key(app_id)
    assert stores.tenants.find_key(secret) == key and stores.tenants.find_key(other_secret) == other
    stores.tenants.revoke_key(app_id, key.key_id)
    assert stores.tenants.find_key(secret) is None
    assert stores.tenants.find_key(other_secret) == other


def test_a_remembered_key_still_expires_on_time(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    app_id = stores.tenants.create_app(new_app_settings("Expiry", new_id())).app_id
    now = now_ms()
    secret, key = stores.tenants.create_key(app_id, expires_at_ms=now + 60_000)
    assert stores.tenants.find_key(secret) == key
    monkeypatch.setattr("calltrail.store.tenants.now_ms", lambda: now + 60_000)
    assert stores.tenants.find_key(secret) is None
