"""Fixtures wiring the SDK (which speaks ``httpx``) to the real application, in process.

Starlette's TestClient speaks ``httpx2``, so the sync SDK gets :class:`PortalTransport`, a
sync ``httpx`` transport that runs each request through ``httpx.ASGITransport`` on an event
loop in a helper thread (what TestClient does internally). The async SDK uses
``httpx.ASGITransport`` directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import anyio.from_thread
import httpx
import pytest
from anyio.from_thread import BlockingPortal
from starlette.types import ASGIApp

from calltrail.app import create_app
from calltrail.store import Stores
from tests.conftest import Tenant
from tests.user_calls import load

BASE_URL = "http://calltrail.test"


class PortalTransport(httpx.BaseTransport):
    """A sync ``httpx`` transport that calls an ASGI app in process."""

    def __init__(self, app: ASGIApp, portal: BlockingPortal) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def call() -> httpx.Response:
            inner = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            response = await self._inner.handle_async_request(inner)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)

        return self._portal.call(call)


@pytest.fixture(scope="session")
def sdk_app(stores: Stores) -> ASGIApp:
    """The application over the session's stores (one per backend)."""
    return create_app(stores)


@pytest.fixture
def sync_http(sdk_app: ASGIApp) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` whose requests reach the app in process."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        httpx.Client(transport=PortalTransport(sdk_app, portal), base_url=BASE_URL) as client,
    ):
        yield client


@pytest.fixture
def async_transport(sdk_app: ASGIApp) -> httpx.ASGITransport:
    """An async ``httpx`` transport into the app."""
    return httpx.ASGITransport(app=sdk_app)


@dataclass
class Loaded:
    """A tenant holding the test history, and auth tokens for its users."""

    tenant: Tenant
    tokens: dict[str, str]


@pytest.fixture
def loaded(stores: Stores, tenant: Tenant) -> Loaded:
    load(stores, tenant.app_id)
    tokens = {uid: stores.users.create_token(tenant.app_id, uid)[0] for uid in ("alice", "bob", "carol", "zed")}
    return Loaded(tenant, tokens)
