"""Authentication, visibility (404 for what a key cannot see) and Bird's error envelope."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import TestClient

from calltrail.kernel.tenancy import new_app_settings, new_key_settings
from calltrail.store import Stores
from calltrail.voice.vocabulary import new_channel_settings
from tests.api.bird.conftest import Workspace, assert_error

CALL = "4fc2edf7-68f5-437a-89eb-3ce0095409d6"


def endpoints(ws: Workspace) -> list[tuple[str, str]]:
    return [
        ("GET", ws.calls),
        ("GET", ws.all_calls),
        ("GET", ws.call(CALL)),
        ("PUT", ws.call(CALL)),
        ("POST", f"{ws.calls}/events"),
    ]


@pytest.mark.parametrize("scheme", ["AccessKey", "accesskey", "Bearer", "bearer", "BEARER"])
def test_access_key_and_bearer_schemes(client: TestClient, workspace: Workspace, scheme: str) -> None:
    response = client.get(workspace.calls, headers={"Authorization": f"{scheme} {workspace.key}"})
    assert response.status_code == 200 and response.json() == {"results": []}


@pytest.mark.parametrize(
    "header",
    [None, "", "AccessKey", "AccessKey ", "Basic abc", "Token {key}", "{key}", "AccessKey nope", "Bearer " + "k" * 300],
)
def test_missing_malformed_or_unknown_keys_are_401_on_every_endpoint(
    client: TestClient, workspace: Workspace, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header.format(key=workspace.key)}
    for method, url in endpoints(workspace):
        response = client.request(method, url, headers=headers, json={})
        assert_error(response, 401, "Unauthorized")
        assert response.headers["www-authenticate"] == "AccessKey"


def test_an_auth_only_key_is_403(client: TestClient, stores: Stores, workspace: Workspace) -> None:
    key, _ = stores.tenants.create_key(workspace.workspace_id, new_key_settings("authOnly"))
    response = client.get(workspace.calls, headers={"Authorization": f"AccessKey {key}"})
    assert_error(response, 403, "Forbidden")


def test_another_workspace_is_not_found_exactly_like_a_missing_one(
    client: TestClient, stores: Stores, workspace: Workspace
) -> None:
    other = stores.tenants.create_app(new_app_settings("Other", f"w-{uuid.uuid4().hex[:12]}")).app_id
    for workspace_id in (other, "no-such-workspace"):
        for method, url in endpoints(workspace):
            response = client.request(
                method, url.replace(workspace.workspace_id, workspace_id, 1), headers=workspace.headers, json={}
            )
            body = assert_error(response, 404, "NotFound")
            assert body["message"] == "The workspace does not exist."


def test_unknown_foreign_or_malformed_channels_are_not_found(
    client: TestClient, stores: Stores, workspace: Workspace
) -> None:
    other_app = stores.tenants.create_app(new_app_settings("Other", f"w-{uuid.uuid4().hex[:12]}")).app_id
    foreign = stores.voice.create_channel(other_app, new_channel_settings("Theirs")).channel_id
    for channel in (str(uuid.uuid4()), foreign, "main-line", "calls"):
        for method, url in endpoints(workspace):
            if url == workspace.all_calls:
                continue
            response = client.request(
                method, url.replace(workspace.channel_id, channel), headers=workspace.headers, json={}
            )
            assert assert_error(response, 404, "NotFound")["message"] == "The channel does not exist.", (method, url)


def test_channel_ids_are_case_insensitive(client: TestClient, workspace: Workspace) -> None:
    response = client.get(
        workspace.calls.replace(workspace.channel_id, workspace.channel_id.upper()), headers=workspace.headers
    )
    assert response.status_code == 200


def test_unknown_calls_are_not_found(client: TestClient, workspace: Workspace) -> None:
    for call in (CALL, "not-a-uuid"):
        assert_error(client.get(workspace.call(call), headers=workspace.headers), 404, "NotFound")


def test_checks_run_in_a_fixed_order(client: TestClient, workspace: Workspace) -> None:
    bad = {"limit": "0"}
    missing = workspace.calls.replace(workspace.channel_id, str(uuid.uuid4()))
    assert_error(client.get(missing, params=bad), 401, "Unauthorized")
    assert_error(client.get(missing, params=bad, headers=workspace.headers), 404, "NotFound")
    assert_error(client.get(missing, params={"pageToken": "forged"}, headers=workspace.headers), 404, "NotFound")
    assert_error(client.get(workspace.calls, params=bad, headers=workspace.headers), 422, "InvalidPayload", "limit")
    assert_error(
        client.put(workspace.call("nope"), content=b"{", headers=workspace.headers), 422, "InvalidPayload", "callId"
    )
    assert_error(client.post(f"{missing}/events", content=b"{", headers=workspace.headers), 404, "NotFound")


def test_routing_errors_use_the_envelope(client: TestClient, workspace: Workspace) -> None:
    assert_error(client.patch(workspace.call(CALL), headers=workspace.headers), 405, "MethodNotAllowed")
    assert_error(client.post(workspace.calls, headers=workspace.headers), 405, "MethodNotAllowed")
    assert_error(
        client.get(f"/workspaces/{workspace.workspace_id}/channels", headers=workspace.headers), 404, "NotFound"
    )
    assert_error(client.get(f"{workspace.all_calls}/{CALL}", headers=workspace.headers), 404, "NotFound")
    assert_error(client.get("/workspaces", headers=workspace.headers), 404, "NotFound")


def test_bodies_that_are_not_json_or_too_large(client: TestClient, workspace: Workspace) -> None:
    events = f"{workspace.calls}/events"
    assert_error(client.post(events, content=b"{nope", headers=workspace.headers), 422, "InvalidPayload", "body")
    assert_error(client.post(events, content=b"", headers=workspace.headers), 422, "InvalidPayload", "body")
    huge = b"[" + b'"x",' * (3 * 1024 * 1024) + b'"x"]'
    assert_error(client.post(events, content=huge, headers=workspace.headers), 413, "PayloadTooLarge")


def test_browsers_may_send_the_authorization_header(client: TestClient, workspace: Workspace) -> None:
    response = client.options(
        workspace.calls,
        headers={
            "Origin": "https://dashboard.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 200
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
