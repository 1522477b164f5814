"""The one ASGI app: every dialect's routes mounted on it, every error in the owning dialect's envelope."""

from __future__ import annotations

import pytest
from starlette.routing import Mount
from starlette.testclient import TestClient

from calltrail.api.registry import DIALECTS
from calltrail.api.routing import IndexedRouter
from calltrail.app import create_app
from calltrail.store import Stores


def test_each_dialect_is_a_router_mounted_on_the_one_app(stores: Stores) -> None:
    app = create_app(stores)
    mounts = {route.path: route for route in app.routes if isinstance(route, Mount)}
    for dialect in DIALECTS.values():
        for prefix in dialect.mounts:
            # A router, not an app of its own: a request passes one stack of middleware and
            # error handling, the app's (one ServerErrorMiddleware, one ExceptionMiddleware).
            assert type(mounts[prefix].app) is IndexedRouter, prefix


def test_an_unexpected_failure_in_a_handler_is_a_500_in_the_envelope_of_the_owning_dialect(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(stores.tenants, "find_key", fail)
    with TestClient(create_app(stores), raise_server_exceptions=False) as client:
        cometchat = client.get("/v3/calls", headers={"apikey": "k"})
        assert cometchat.status_code == 500
        assert set(cometchat.json()["error"]) == {"code", "message", "details"}
        native = client.get("/api/usage/calls", headers={"apikey": "k"})
        assert native.status_code == 500 and set(native.json()["error"]) == {"code", "message", "details"}
        bird = client.get("/workspaces/w/channels/calls", headers={"Authorization": "AccessKey k"})
        assert bird.status_code == 500
        assert bird.json()["code"] == "InternalError" and "error" not in bird.json()
