"""``/api/webhooks`` over HTTP on both engines: the subscription contract, deliveries, replay,
errors in the envelope, and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from calltrail.kernel.tenancy import new_app_settings, new_key_settings
from calltrail.store import Stores
from tests.conftest import Tenant
from tests.outbound.support import ended_call

URL = "https://receiver.example/hooks"


@pytest.fixture
def hook(client: TestClient, tenant: Tenant) -> Iterator[dict[str, object]]:
    created = client.post("/api/webhooks", headers=tenant.headers, json={"url": URL, "events": ["call.ended"]})
    assert created.status_code == 201, created.text
    yield created.json()["data"]
    client.delete(f"/api/webhooks/{created.json()['data']['id']}", headers=tenant.headers)


def test_the_subscription_contract(client: TestClient, tenant: Tenant) -> None:
    created = client.post(
        "/api/webhooks", headers=tenant.headers, json={"url": URL, "events": ["*"], "description": "CRM"}
    )
    assert created.status_code == 201
    data = created.json()["data"]
    assert set(data) == {"id", "url", "events", "description", "secret", "enabled", "createdAt", "updatedAt"}
    assert (data["url"], data["events"], data["description"], data["enabled"]) == (URL, ["*"], "CRM", True)
    assert data["secret"].startswith("whsec_") and data["createdAt"].endswith("Z")
    one = client.get(f"/api/webhooks/{data['id']}", headers={"Authorization": f"Bearer {tenant.key}"}).json()
    assert one["data"] == data
    listed = client.get("/api/webhooks", headers=tenant.headers).json()["data"]
    assert listed == [{k: v for k, v in data.items() if k != "secret"}]
    patched = client.patch(
        f"/api/webhooks/{data['id']}", headers=tenant.headers, json={"events": ["call.missed"], "enabled": False}
    )
    assert patched.status_code == 200
    shown = patched.json()["data"]
    assert shown["events"] == ["call.missed"] and shown["enabled"] is False and "secret" not in shown
    assert shown["disabledReason"] == "disabled by request"
    enabled = client.patch(f"/api/webhooks/{data['id']}", headers=tenant.headers, json={"enabled": True}).json()
    assert enabled["data"]["enabled"] is True and "disabledReason" not in enabled["data"]
    deleted = client.delete(f"/api/webhooks/{data['id']}", headers=tenant.headers)
    assert deleted.json() == {"data": {"id": data["id"], "deleted": True}}
    missing = client.get(f"/api/webhooks/{data['id']}", headers=tenant.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ERR_WEBHOOK_NOT_FOUND"


def test_deliveries_are_listed_newest_first_and_replayed(
    client: TestClient, tenant: Tenant, hook: dict[str, object]
) -> None:
    for number in range(3):
        assert (
            client.post("/v3/calls/events", headers=tenant.headers, json=ended_call(f"api-{number}")).status_code == 200
        )
    path = f"/api/webhooks/{hook['id']}/deliveries"
    first = client.get(path, headers=tenant.headers, params={"limit": 2}).json()
    assert [d["type"] for d in first["data"]] == ["call.ended", "call.ended"]
    assert [d["status"] for d in first["data"]] == ["pending", "pending"]
    assert first["data"][0]["webhookId"].startswith("msg_") and first["data"][0]["attempts"] == []
    second = client.get(path, headers=tenant.headers, params={"limit": 2, "cursor": first["meta"]["next"]}).json()
    assert len(second["data"]) == 1 and second["meta"]["next"] is None
    oldest = second["data"][0]["id"]
    retried = client.post(f"{path}/{oldest}/retry", headers=tenant.headers)
    assert retried.status_code == 202 and retried.json()["data"]["status"] == "pending"
    unknown = client.post(f"{path}/dlv_nope/retry", headers=tenant.headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "ERR_DELIVERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "path", "body", "fields"),
    [
        ("POST", "/api/webhooks", {"url": "ftp://x", "events": ["nope"], "colour": 1}, {"url", "events", "colour"}),
        ("POST", "/api/webhooks", [], {"body"}),
        ("PATCH", "/api/webhooks/{id}", {}, {"body"}),
        ("PATCH", "/api/webhooks/{id}", {"enabled": "yes"}, {"enabled"}),
        ("GET", "/api/webhooks/{id}/deliveries?limit=0&cursor=%%&x=1", None, {"limit", "cursor", "x"}),
    ],
)
def test_bad_input_is_a_400_naming_each_field(
    client: TestClient,
    tenant: Tenant,
    hook: dict[str, object],
    method: str,
    path: str,
    body: object,
    fields: set[str],
) -> None:
    response = client.request(method, path.format(id=hook["id"]), headers=tenant.headers, json=body)
    assert response.status_code == 400, response.text
    assert set(response.json()["error"]["details"]) == fields


def test_credentials_and_tenancy(client: TestClient, stores: Stores, tenant: Tenant, hook: dict[str, object]) -> None:
    assert client.get("/api/webhooks").json()["error"]["code"] == "AUTH_ERR_EMPTY_APIKEY"
    auth_only, _ = stores.tenants.create_key(tenant.app_id, new_key_settings("authOnly"))
    assert client.get("/api/webhooks", headers={"apikey": auth_only}).status_code == 403
    other = stores.tenants.create_app(new_app_settings("Other", f"{tenant.app_id}-other"))
    other_key, _ = stores.tenants.create_key(other.app_id)
    assert client.get(f"/api/webhooks/{hook['id']}", headers={"apikey": other_key}).status_code == 404
    assert client.get("/api/webhooks", headers={"apikey": other_key}).json()["data"] == []


def test_the_openapi_document_describes_every_operation(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/api/webhooks"]) == {"post", "get"}
    assert set(paths["/api/webhooks/{webhookId}"]) == {"get", "patch", "delete"}
    assert "get" in paths["/api/webhooks/{webhookId}/deliveries"]
    assert "post" in paths["/api/webhooks/{webhookId}/deliveries/{deliveryId}/retry"]
