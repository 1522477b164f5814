"""``calltrail keys list|revoke``, ``apps list`` and ``channels list``: what an operator needs to
see and withdraw credentials and tenants. (``keys create`` and the groups live in the package.)

A key is never shown again after it is created; ``keys list`` names each by its *prefix* (its
first 8 characters, for keys made since migration 0008) and its *key id* (the first 16 hex digits
of its stored hash, for any key). ``keys revoke`` takes either (6 characters or more).
"""

from __future__ import annotations

import re
from typing import Any

import click

from calltrail.cli.common import _echo_json, _stores, db_option
from calltrail.kernel.instants import format_rfc3339, now_ms
from calltrail.kernel.tenancy import key_reference
from calltrail.store.tenants import ApiKey

_DURATION = re.compile(r"(\d{1,9})([smhdw]?)\Z")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A duration such as ``90d``, ``12h``, ``30m``, ``45s`` or plain seconds; converted to seconds."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = _DURATION.match(str(value).strip().lower())
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else 0
        if seconds <= 0:
            self.fail(f"{value!r} is not a duration such as 90d, 12h, 30m or 3600 (seconds)", param, ctx)
        return seconds


DURATION = Duration()


def key_json(key: ApiKey, now: int | None = None) -> dict[str, Any]:
    """A key as the CLI shows it: never its secret."""
    now = now_ms() if now is None else now
    body: dict[str, Any] = {
        "keyId": key.key_id,
        "prefix": key.prefix,
        "name": key.name,
        "scope": key.scope,
        "createdAt": key.created_at_ms // 1000,
        "expiresAt": None if key.expires_at_ms is None else format_rfc3339(key.expires_at_ms),
    }
    body["expired"] = key.expires_at_ms is not None and key.expires_at_ms <= now
    return body


@click.command("list")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app whose keys to list.")
@db_option
def keys_list(app_id: str, db_url: str) -> None:
    """List an app's keys, oldest first, one JSON object per line (never the secret)."""
    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        found = stores.tenants.list_keys(app_id)
    now = now_ms()
    for key in found:
        _echo_json(key_json(key, now))


@click.command("revoke")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app the key belongs to.")
@click.argument("key", metavar="KEY_PREFIX_OR_ID")
@db_option
def keys_revoke(app_id: str, key: str, db_url: str) -> None:
    """Revoke (delete) one key, named by its prefix or key id as `keys list` shows them. Requests
    with it are refused (401) from then on, by every server on the database."""
    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        revoked = stores.tenants.revoke_key(app_id, key_reference(key))
    _echo_json({"revoked": key_json(revoked)})


@click.command("list")
@db_option
def apps_list(db_url: str) -> None:
    """List every app, one JSON object per line: {"appId", "name", "region", "createdAt"}."""
    with _stores(db_url) as stores:
        found = stores.tenants.list_apps()
    for app in found:
        _echo_json(
            {"appId": app.app_id, "name": app.name, "region": app.region, "createdAt": app.created_at_ms // 1000}
        )


@click.command("list")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app (Bird workspace).")
@db_option
def channels_list(app_id: str, db_url: str) -> None:
    """List an app's channels, oldest first, one JSON object per line."""
    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        found = stores.voice.list_channels(app_id, limit=10**6)
    for channel in found:
        _echo_json(
            {
                "channelId": channel.channel_id,
                "workspaceId": channel.app_id,
                "name": channel.name,
                "createdAt": format_rfc3339(channel.created_at_ms),
            }
        )
