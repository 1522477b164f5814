"""``calltrail integrations``: connect a calling stack's webhooks to an app."""

from __future__ import annotations

import click
import orjson

from calltrail.adapters.integrations import new_integration
from calltrail.adapters.registry import ADAPTERS
from calltrail.cli.common import _echo_json, _stores, db_option
from calltrail.voice.vocabulary import canonical_uuid


@click.group()
def integrations() -> None:
    """Connect LiveKit, Janus, CometChat, Twilio, FreeSWITCH or Kamailio to an app.

    \b
    Each integration has an id and a path, /hooks/<integrationId>, where the provider posts
    its webhooks. Providers that use HTTP Basic get a generated username and password, shown
    once. See docs/integrations/<provider>.md for each provider's configuration.
    """


@integrations.command("create")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app whose calls these are.")
@click.option("--provider", required=True, type=click.Choice(sorted(ADAPTERS)), help="The calling stack.")
@click.option("--channel", "channel_id", metavar="CHANNEL_ID", help="twilio/freeswitch/kamailio: the channel.")
@click.option("--api-key", "api_key", help="livekit: the API key (the JWT's issuer).")
@click.option("--api-secret", "api_secret", help="livekit: the API secret that signs webhooks.")
@click.option("--auth-token", "auth_token", help="twilio: the account's auth token that signs callbacks.")
@click.option("--public-url", "public_url", metavar="URL", help="twilio: the base URL Twilio calls, behind a proxy.")
@db_option
def integrations_create(
    app_id: str,
    provider: str,
    channel_id: str | None,
    api_key: str | None,
    api_secret: str | None,
    auth_token: str | None,
    public_url: str | None,
    db_url: str,
) -> None:
    """Create an integration; prints {"integrationId", "provider", "appId", "path"} (plus
    "channelId", and the generated "username"/"password" for Basic-auth providers)."""
    if api_secret is not None and auth_token is not None:
        raise click.UsageError("--api-secret is for livekit, --auth-token for twilio: give one.")
    channel = None
    if channel_id is not None:
        channel = canonical_uuid(channel_id)
        if channel is None:
            raise click.BadParameter("must be a channel id (a UUID)", param_hint="--channel")
    with _stores(db_url) as stores:
        integration, password = new_integration(
            app_id,
            provider,
            channel_id=channel,
            api_key=api_key,
            secret=api_secret if api_secret is not None else auth_token,
            public_url=public_url,
        )
        stores.integrations.create(integration)
    shown: dict[str, object] = {
        "integrationId": integration.integration_id,
        "provider": provider,
        "appId": app_id,
    }
    if integration.channel_id is not None:
        shown["channelId"] = integration.channel_id
    shown["path"] = integration.path
    if password is not None:
        shown |= {"username": integration.username, "password": password}
    _echo_json(shown)


@integrations.command("list")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app.")
@db_option
def integrations_list(app_id: str, db_url: str) -> None:
    """Print the app's integrations as a JSON array (never a secret or password)."""
    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        found = stores.integrations.list(app_id)
    click.echo(orjson.dumps([integration.summary() for integration in found]).decode())


@integrations.command("delete")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app.")
@click.argument("integration_id")
@db_option
def integrations_delete(app_id: str, integration_id: str, db_url: str) -> None:
    """Remove an integration: its hook answers 401 from now on; its calls stay."""
    with _stores(db_url) as stores:
        stores.integrations.delete(app_id, integration_id)
    _echo_json({"integrationId": integration_id, "deleted": True})
