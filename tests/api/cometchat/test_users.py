"""Users, groups and auth tokens over REST: ``/v3/users/{uid}``, ``/v3/groups/{guid}``,
``/v3/users/{uid}/auth_tokens``. Both databases, every error in CometChat's envelope."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from calltrail.kernel.tenancy import new_app_settings, new_key_settings
from calltrail.store import Stores
from tests.conftest import Tenant


def _error(response: object, status: int, code: str) -> dict[str, list[str]]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    details: dict[str, list[str]] = error["details"]
    return details


# -- profiles -----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/v3", "/v3.0"])
def test_put_and_get_a_user(client: TestClient, tenant: Tenant, prefix: str) -> None:
    body = {"name": "Ava Patel", "avatar": "https://img.example.com/ava.png"}
    put = client.put(f"{prefix}/users/ava", json=body, headers=tenant.headers)
    assert put.status_code == 200
    data = put.json()["data"]
    assert {k: data[k] for k in ("uid", "name", "avatar")} == {"uid": "ava", **body}
    assert isinstance(data["createdAt"], int) and data["updatedAt"] >= data["createdAt"]
    assert client.get(f"{prefix}/users/ava", headers=tenant.headers).json()["data"] == data


def test_put_replaces_the_whole_profile(client: TestClient, tenant: Tenant) -> None:
    client.put("/v3/users/ava", json={"name": "Ava", "avatar": "https://a.example/1.png"}, headers=tenant.headers)
    first = client.get("/v3/users/ava", headers=tenant.headers).json()["data"]
    client.put("/v3/users/ava", json={"name": "Ava P.", "uid": "ava"}, headers=tenant.headers)
    second = client.get("/v3/users/ava", headers=tenant.headers).json()["data"]
    assert second["name"] == "Ava P." and "avatar" not in second
    assert second["createdAt"] == first["createdAt"]


def test_put_and_get_a_group(client: TestClient, tenant: Tenant) -> None:
    body = {"name": "Support", "icon": "http://img.example.com/support.png"}
    data = client.put("/v3/groups/support", json=body, headers=tenant.headers).json()["data"]
    assert {k: data[k] for k in ("guid", "name", "icon")} == {"guid": "support", **body}
    assert client.get("/v3/groups/support", headers=tenant.headers).json()["data"] == data


def test_profiles_belong_to_one_app(client: TestClient, stores: Stores, tenant: Tenant) -> None:
    client.put("/v3/users/ava", json={"name": "Ava"}, headers=tenant.headers)
    other = stores.tenants.create_app(new_app_settings("Other", f"{tenant.app_id}-b"))
    secret, _ = stores.tenants.create_key(other.app_id)
    _error(client.get("/v3/users/ava", headers={"apikey": secret}), 404, "ERR_UID_NOT_FOUND")


def test_missing_profiles_are_404(client: TestClient, tenant: Tenant) -> None:
    _error(client.get("/v3/users/nobody", headers=tenant.headers), 404, "ERR_UID_NOT_FOUND")
    _error(client.get("/v3/groups/nobody", headers=tenant.headers), 404, "ERR_GUID_NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"name"}),
        ({"name": ""}, {"name"}),
        ({"name": "   "}, {"name"}),
        ({"name": "x" * 101}, {"name"}),
        ({"name": 7}, {"name"}),
        ({"name": "Ava", "avatar": "javascript:alert(1)"}, {"avatar"}),
        ({"name": "Ava", "avatar": "ftp://x.example/a.png"}, {"avatar"}),
        ({"name": "Ava", "avatar": "https://"}, {"avatar"}),
        ({"name": "Ava", "avatar": "https://x.example/a b.png"}, {"avatar"}),
        ({"name": "Ava", "avatar": "https://x.example/" + "a" * 2048}, {"avatar"}),
        ({"name": "Ava", "avatar": 3}, {"avatar"}),
        ({"name": "Ava", "uid": "other"}, {"uid"}),
        ({"name": "Ava", "role": "admin", "metadata": {}}, {"role", "metadata"}),
        ({"avatar": 1, "role": "x"}, {"name", "avatar", "role"}),
    ],
)
def test_bad_user_bodies_are_400_naming_each_field(
    client: TestClient, tenant: Tenant, body: dict[str, object], fields: set[str]
) -> None:
    details = _error(client.put("/v3/users/ava", json=body, headers=tenant.headers), 400, "ERR_BAD_REQUEST")
    assert set(details) == fields
    _error(client.get("/v3/users/ava", headers=tenant.headers), 404, "ERR_UID_NOT_FOUND")


def test_bad_group_bodies_are_400(client: TestClient, tenant: Tenant) -> None:
    details = _error(
        client.put("/v3/groups/g1", json={"name": "G", "avatar": "https://x.example/a.png"}, headers=tenant.headers),
        400,
        "ERR_BAD_REQUEST",
    )
    assert set(details) == {"avatar"}  # groups have an icon, not an avatar
    details = _error(
        client.put("/v3/groups/g1", json={"name": "G", "guid": "g2"}, headers=tenant.headers), 400, "ERR_BAD_REQUEST"
    )
    assert set(details) == {"guid"}


@pytest.mark.parametrize(
    ("content", "field"),
    [(b"", "body"), (b"{not json", "body"), (b"[1, 2]", "body"), (b'"Ava"', "body")],
)
def test_bodies_that_are_not_profiles_are_400(client: TestClient, tenant: Tenant, content: bytes, field: str) -> None:
    response = client.put(
        "/v3/users/ava", content=content, headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert set(_error(response, 400, "ERR_BAD_REQUEST")) == {field}


def test_oversized_profile_bodies_are_413(client: TestClient, tenant: Tenant) -> None:
    response = client.put("/v3/users/ava", json={"name": "A", "pad": "x" * 10_000}, headers=tenant.headers)
    _error(response, 413, "ERR_PAYLOAD_TOO_LARGE")


def test_bad_ids_in_the_path_are_400(client: TestClient, tenant: Tenant) -> None:
    details = _error(client.put("/v3/users/a%20b", json={"name": "A"}, headers=tenant.headers), 400, "ERR_BAD_REQUEST")
    assert set(details) == {"uid"}
    details = _error(client.get("/v3/groups/" + "g" * 101, headers=tenant.headers), 400, "ERR_BAD_REQUEST")
    assert set(details) == {"guid"}
    details = _error(client.post("/v3/users/a%25b/auth_tokens", headers=tenant.headers), 400, "ERR_BAD_REQUEST")
    assert set(details) == {"uid"}


# -- auth tokens --------------------------------------------------------------------------

TOKEN = re.compile(r"^(?P<app>.+)_[0-9a-f]{40}$")


def test_create_a_token(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/v3/users/ava/auth_tokens", headers=tenant.headers)
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"uid", "authToken", "tokenId", "createdAt"}
    assert data["uid"] == "ava"
    match = TOKEN.match(data["authToken"])
    assert match and match.group("app") == tenant.app_id
    assert re.fullmatch(r"[0-9a-f]{16}", data["tokenId"])
    # Usable at once, for that user's view.
    assert client.get("/v3.0/calls", headers={"authToken": data["authToken"]}).status_code == 200


@pytest.mark.parametrize("body", [None, b"", b"{}", b'{"force": true}', b'{"force": false}'])
def test_token_bodies_are_optional(client: TestClient, tenant: Tenant, body: bytes | None) -> None:
    response = client.post("/v3/users/ava/auth_tokens", content=body, headers=tenant.headers)
    assert response.status_code == 200, response.text


def test_force_still_makes_a_new_token_each_time(client: TestClient, tenant: Tenant) -> None:
    tokens = {
        client.post("/v3/users/ava/auth_tokens", json=body, headers=tenant.headers).json()["data"]["authToken"]
        for body in ({"force": False}, {"force": True}, {})
    }
    assert len(tokens) == 3


@pytest.mark.parametrize(
    ("content", "fields"),
    [
        (b'{"force": "yes"}', {"force"}),
        (b'{"force": 1}', {"force"}),
        (b'{"forse": true}', {"forse"}),
        (b"[true]", {"body"}),
        (b"{oops", {"body"}),
    ],
)
def test_bad_token_bodies_are_400(client: TestClient, tenant: Tenant, content: bytes, fields: set[str]) -> None:
    response = client.post("/v3/users/ava/auth_tokens", content=content, headers=tenant.headers)
    assert set(_error(response, 400, "ERR_BAD_REQUEST")) == fields
    assert client.get("/v3/users/ava/auth_tokens", headers=tenant.headers).json()["data"] == []


def test_oversized_token_bodies_are_413(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/v3/users/ava/auth_tokens", content=b" " * 5000 + b"{}", headers=tenant.headers)
    _error(response, 413, "ERR_PAYLOAD_TOO_LARGE")


def test_list_tokens_without_secrets_newest_first(client: TestClient, tenant: Tenant) -> None:
    created = [client.post("/v3/users/ava/auth_tokens", headers=tenant.headers).json()["data"] for _ in range(3)]
    client.post("/v3/users/ben/auth_tokens", headers=tenant.headers)
    body = client.get("/v3/users/ava/auth_tokens", headers=tenant.headers).json()
    assert body["data"] == [
        {"uid": "ava", "tokenId": token["tokenId"], "createdAt": token["createdAt"]} for token in reversed(created)
    ]
    assert body["meta"]["pagination"] == {"total": 3, "count": 3, "per_page": 100, "current_page": 1, "total_pages": 1}
    page = client.get("/v3/users/ava/auth_tokens?perPage=2&page=2", headers=tenant.headers).json()
    assert [t["tokenId"] for t in page["data"]] == [created[0]["tokenId"]]
    assert page["meta"]["pagination"]["total_pages"] == 2


@pytest.mark.parametrize(("query", "param"), [("perPage=101", "perPage"), ("page=0", "page"), ("x=1", "x")])
def test_bad_token_list_parameters_are_400(client: TestClient, tenant: Tenant, query: str, param: str) -> None:
    response = client.get(f"/v3/users/ava/auth_tokens?{query}", headers=tenant.headers)
    assert set(_error(response, 400, "ERR_BAD_REQUEST")) == {param}


@pytest.mark.parametrize("by", ["authToken", "tokenId"])
def test_revoke_one_token(client: TestClient, tenant: Tenant, by: str) -> None:
    keep, drop = (client.post("/v3/users/ava/auth_tokens", headers=tenant.headers).json()["data"] for _ in range(2))
    response = client.delete(f"/v3/users/ava/auth_tokens/{drop[by]}", headers=tenant.headers)
    assert response.status_code == 200 and response.json()["data"]["success"] is True
    assert client.get("/v3.0/calls", headers={"authToken": drop["authToken"]}).status_code == 401
    assert client.get("/v3.0/calls", headers={"authToken": keep["authToken"]}).status_code == 200
    listed = client.get("/v3/users/ava/auth_tokens", headers=tenant.headers).json()["data"]
    assert [t["tokenId"] for t in listed] == [keep["tokenId"]]
    # Gone now; and a token is only revocable through its own user.
    _error(
        client.delete(f"/v3/users/ava/auth_tokens/{drop[by]}", headers=tenant.headers), 404, "ERR_AUTH_TOKEN_NOT_FOUND"
    )
    _error(
        client.delete(f"/v3/users/ben/auth_tokens/{keep[by]}", headers=tenant.headers), 404, "ERR_AUTH_TOKEN_NOT_FOUND"
    )
    assert client.get("/v3.0/calls", headers={"authToken": keep["authToken"]}).status_code == 200


def test_revoke_all_tokens(client: TestClient, tenant: Tenant) -> None:
    tokens = [client.post("/v3/users/ava/auth_tokens", headers=tenant.headers).json()["data"] for _ in range(3)]
    other = client.post("/v3/users/ben/auth_tokens", headers=tenant.headers).json()["data"]
    response = client.delete("/v3/users/ava/auth_tokens", headers=tenant.headers)
    assert response.status_code == 200 and response.json()["data"]["revoked"] == 3
    for token in tokens:
        assert client.get("/v3.0/calls", headers={"authToken": token["authToken"]}).status_code == 401
    assert client.get("/v3.0/calls", headers={"authToken": other["authToken"]}).status_code == 200
    assert client.delete("/v3/users/ava/auth_tokens", headers=tenant.headers).json()["data"]["revoked"] == 0


# -- keys and scopes ----------------------------------------------------------------------

ENDPOINTS = [
    ("PUT", "/v3/users/ava", {"name": "Ava"}),
    ("GET", "/v3/users/ava", None),
    ("PUT", "/v3/groups/g", {"name": "G"}),
    ("GET", "/v3/groups/g", None),
    ("POST", "/v3/users/ava/auth_tokens", None),
    ("GET", "/v3/users/ava/auth_tokens", None),
    ("DELETE", "/v3/users/ava/auth_tokens", None),
    ("DELETE", "/v3/users/ava/auth_tokens/0123456789abcdef", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_needs_a_key(client: TestClient, method: str, path: str, body: object) -> None:
    _error(client.request(method, path, json=body), 401, "AUTH_ERR_EMPTY_APIKEY")
    _error(client.request(method, path, json=body, headers={"apikey": "nope"}), 401, "AUTH_ERR_APIKEY_NOT_FOUND")


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_auth_only_keys_may_only_create_tokens(
    client: TestClient, stores: Stores, tenant: Tenant, method: str, path: str, body: object
) -> None:
    secret, _ = stores.tenants.create_key(tenant.app_id, new_key_settings("authOnly"))
    response = client.request(method, path, json=body, headers={"apikey": secret})
    if (method, path) == ("POST", "/v3/users/ava/auth_tokens"):
        assert response.status_code == 200
        assert client.get("/v3.0/calls", headers={"authToken": response.json()["data"]["authToken"]}).status_code == 200
    else:
        _error(response, 403, "AUTH_ERR_NO_ACCESS")


def test_an_auth_token_is_not_an_api_key(client: TestClient, tenant: Tenant) -> None:
    token = client.post("/v3/users/ava/auth_tokens", headers=tenant.headers).json()["data"]["authToken"]
    _error(client.get("/v3/users/ava/auth_tokens", headers={"authToken": token}), 401, "AUTH_ERR_EMPTY_APIKEY")
    _error(client.post("/v3/calls/events", json=[], headers={"authToken": token}), 401, "AUTH_ERR_EMPTY_APIKEY")


def test_wrong_methods_are_405_in_the_envelope(client: TestClient, tenant: Tenant) -> None:
    _error(client.patch("/v3/users/ava", json={}, headers=tenant.headers), 405, "ERR_API_NOT_FOUND")
    _error(client.put("/v3/users/ava/auth_tokens", headers=tenant.headers), 405, "ERR_API_NOT_FOUND")


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, method in [
        ("/v3.0/calls", "get"),
        ("/v3.0/calls/{sessionId}", "get"),
        ("/v3/users/{uid}", "put"),
        ("/v3/users/{uid}", "get"),
        ("/v3/groups/{guid}", "put"),
        ("/v3/users/{uid}/auth_tokens", "post"),
        ("/v3/users/{uid}/auth_tokens", "get"),
        ("/v3/users/{uid}/auth_tokens", "delete"),
        ("/v3/users/{uid}/auth_tokens/{authToken}", "delete"),
    ]:
        assert method in document["paths"][path], (path, method)
    names = {p["name"] for p in document["paths"]["/v3.0/calls"]["get"]["parameters"]}
    assert {"page", "perPage", "direction", "guid", "uid", "status", "initiatedAt[gte]", "hasRecording"} <= names
    assert "authToken" in document["components"]["securitySchemes"]
    # The REST list is still documented as it was.
    assert "/v3/calls" in document["paths"]
