"""Fixtures for the Bird dialect: a workspace (app) with a channel and its credentials."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores
from calltrail.voice.vocabulary import new_channel_settings


@dataclass
class Workspace:
    """A fresh app with a fullAccess key and one channel, and the URLs to reach them."""

    workspace_id: str
    key: str
    channel_id: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def calls(self) -> str:
        """The channel's calls collection."""
        return f"/workspaces/{self.workspace_id}/channels/{self.channel_id}/calls"

    @property
    def all_calls(self) -> str:
        """The workspace-wide calls log."""
        return f"/workspaces/{self.workspace_id}/channels/calls"

    def call(self, call_id: str) -> str:
        return f"{self.calls}/{call_id}"


@pytest.fixture
def workspace(stores: Stores) -> Workspace:
    app = stores.tenants.create_app(new_app_settings("Bird workspace", f"w-{secrets.token_hex(6)}"))
    key, _ = stores.tenants.create_key(app.app_id)
    channel = stores.voice.create_channel(app.app_id, new_channel_settings("Main line", str(uuid.uuid4())))
    return Workspace(app.app_id, key, channel.channel_id, {"Authorization": f"AccessKey {key}"})


def assert_error(response: httpx2.Response, status: int, code: str, *detail_keys: str) -> dict[str, Any]:
    """Bird's error envelope with the expected status, code and detail keys."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code and isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    for key in detail_keys:
        assert key in body["details"], body["details"]
        assert body["details"][key] and all(isinstance(reason, str) for reason in body["details"][key])
    return dict(body)
