"""CORS: browsers on other origins call the user view (and the REST API) with custom headers.

Default: any origin. ``CALLTRAIL_CORS_ORIGINS`` narrows it to a list. Preflights must allow
the headers CometChat's SDKs send; answers, errors included, must carry the CORS headers so a
page can read ``{"error": {...}}``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from calltrail.app import create_app
from calltrail.settings import Settings
from calltrail.store import Stores
from tests.conftest import Tenant

ORIGIN = "https://app.example.com"
SDK_HEADERS = ["apikey", "authToken", "onBehalfOf", "Authorization", "Content-Type"]


def _preflight(client: TestClient, path: str, headers: str, origin: str = ORIGIN, method: str = "GET") -> object:
    return client.options(
        path,
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


def _allowed(response: object) -> set[str]:
    value = response.headers.get("access-control-allow-headers", "")  # type: ignore[attr-defined]
    return {h.strip().lower() for h in value.split(",") if h.strip()}


@pytest.mark.parametrize("path", ["/v3.0/calls", "/v3.0/calls/some-session", "/v3/calls", "/v3/users/u/auth_tokens"])
@pytest.mark.parametrize("requested", ["authtoken", "authToken", "apikey,onbehalfof", "authorization, content-type"])
def test_preflight_allows_any_origin_and_the_sdk_headers(client: TestClient, path: str, requested: str) -> None:
    response = _preflight(client, path, requested)
    assert response.status_code == 200  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["access-control-allow-origin"] == "*"
    assert "GET" in headers["access-control-allow-methods"]
    assert {h.lower() for h in SDK_HEADERS} <= _allowed(response)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_preflight_allows_every_method_the_api_uses(client: TestClient, method: str) -> None:
    response = _preflight(client, "/v3/users/u", "apikey,content-type", method=method)
    assert response.status_code == 200  # type: ignore[attr-defined]


def test_preflight_refuses_unknown_headers(client: TestClient) -> None:
    response = _preflight(client, "/v3.0/calls", "authtoken,x-secret")
    assert response.status_code == 400  # type: ignore[attr-defined]


def test_preflight_from_a_public_page_to_a_private_server(client: TestClient) -> None:
    response = client.options(
        "/v3.0/calls",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authtoken",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-private-network"] == "true"


def test_answers_and_errors_carry_cors_headers(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    token, _ = stores.users.create_token(tenant.app_id, "ava")
    cases = [
        ("/v3.0/calls", {"authToken": token}, 200),
        ("/v3.0/calls?perPage=500", {"authToken": token}, 400),
        ("/v3.0/calls", {"authToken": "revoked"}, 401),
        ("/v3.0/calls/nope", {"authToken": token}, 404),
        ("/v3/calls", {"apikey": tenant.key}, 200),
        ("/v3/nowhere", {}, 404),
    ]
    for path, headers, status in cases:
        response = client.get(path, headers={**headers, "Origin": ORIGIN})
        assert response.status_code == status, path
        assert response.headers["access-control-allow-origin"] == "*", path
        if status >= 400:
            assert set(response.json()["error"]) == {"code", "message", "details"}


@pytest.fixture
def listed(stores: Stores) -> Iterator[TestClient]:
    settings = Settings.from_env({"CALLTRAIL_CORS_ORIGINS": f"{ORIGIN}, http://localhost:3000"})
    assert settings.cors_origins == (ORIGIN, "http://localhost:3000")
    with TestClient(create_app(stores, settings)) as test_client:
        yield test_client


def test_an_allow_list_admits_its_origins(listed: TestClient, stores: Stores, tenant: Tenant) -> None:
    for origin in (ORIGIN, "http://localhost:3000"):
        preflight = _preflight(listed, "/v3.0/calls", "authtoken", origin)
        assert preflight.status_code == 200  # type: ignore[attr-defined]
        assert preflight.headers["access-control-allow-origin"] == origin  # type: ignore[attr-defined]
        token, _ = stores.users.create_token(tenant.app_id, "ava")
        response = listed.get("/v3.0/calls", headers={"authToken": token, "Origin": origin})
        assert response.headers["access-control-allow-origin"] == origin
        assert "origin" in response.headers["vary"].lower()


def test_an_allow_list_refuses_other_origins(listed: TestClient, stores: Stores, tenant: Tenant) -> None:
    preflight = _preflight(listed, "/v3.0/calls", "authtoken", "https://evil.example")
    assert preflight.status_code == 400  # type: ignore[attr-defined]
    assert "access-control-allow-origin" not in preflight.headers  # type: ignore[attr-defined]
    token, _ = stores.users.create_token(tenant.app_id, "ava")
    response = listed.get("/v3.0/calls", headers={"authToken": token, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_requests_without_an_origin_are_unaffected(client: TestClient) -> None:
    response = client.get("/healthz")
    assert "access-control-allow-origin" not in response.headers
