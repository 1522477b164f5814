"""Fixtures of the dashboard's in-process tests: a fresh browser-like client per test (its own
cookie jar) over one app per backend, and a signed-in one."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from calltrail.app import create_app
from calltrail.store import Stores
from tests.conftest import Tenant


@pytest.fixture(scope="session")
def web_app(stores: Stores) -> Starlette:
    return create_app(stores)


@pytest.fixture
def browser(web_app: Starlette) -> Iterator[TestClient]:
    """A client with its own cookies, as one browser."""
    with TestClient(web_app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def sign_in(client: TestClient, key: str, next_path: str = "/calls") -> httpx2.Response:
    form = client.get("/signin")
    assert form.status_code == 200, form.text
    return client.post("/signin", data={"apikey": key, "csrf": csrf_of(form.text), "next": next_path})


@pytest.fixture
def signed_in(browser: TestClient, tenant: Tenant) -> TestClient:
    response = sign_in(browser, tenant.key)
    assert response.status_code == 303, response.text
    return browser
