"""Apps and API keys."""

from __future__ import annotations

import secrets

import pytest

from calltrail.kernel.errors import AppNotFound, Conflict, InvalidRequest
from calltrail.kernel.tenancy import new_app_settings, new_key_settings
from calltrail.store import Stores
from calltrail.store.tenants import hash_secret


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
