"""Fixtures of the webhook tests: a fresh database per test (the deliverer serves every app of
a database, so tests must not see each other's subscriptions), on both engines."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores, open_stores
from tests.conftest import BACKENDS
from tests.outbound.receiver import Receiver, running


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, database_url: Callable[[str], str]) -> Iterator[Stores]:
    stores = open_stores(database_url(request.param))
    yield stores
    stores.close()


@pytest.fixture
def app_id(fresh: Stores) -> str:
    return fresh.tenants.create_app(new_app_settings("Hooks", f"t-{secrets.token_hex(6)}")).app_id


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running() as started:
        yield started
