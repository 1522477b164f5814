"""``calltrail webhooks``: subscribe other systems to an app's call events (as ``/api/webhooks``)."""

from __future__ import annotations

import click

from calltrail.api.native.webhooks import subscription_json
from calltrail.cli.common import _echo_json, _stores, db_option
from calltrail.kernel.errors import CalltrailError
from calltrail.outbound.events import EVENT_TYPES, WILDCARD
from calltrail.outbound.subscriptions import parse_new

app_option = click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app whose events these are.")


@click.group()
def webhooks() -> None:
    """Send signed webhooks when calls end, are missed, or get a recording.

    \b
    Events: call.ended, call.updated, call.missed, recording.ready, voice.call.ended (or *).
    `calltrail serve` delivers them; see docs/webhooks.md for receivers and retries.
    """


@webhooks.command("create")
@app_option
@click.option("--url", required=True, help="The receiver: an http or https URL.")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice([*EVENT_TYPES, WILDCARD]),
    help="An event type to send (repeat it); every type when omitted.",
)
@click.option("--description", default="", help="A note on what the receiver is.")
@db_option
def webhooks_create(app_id: str, url: str, events: tuple[str, ...], description: str, db_url: str) -> None:
    """Subscribe a URL; prints the subscription with its secret (receivers verify with it)."""
    body = {"url": url, "events": list(events or (WILDCARD,)), "description": description}
    try:
        new = parse_new(body)
    except CalltrailError as exc:
        raise click.UsageError("; ".join(f"{k}: {', '.join(v)}" for k, v in exc.details.items())) from None
    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        _echo_json(subscription_json(stores.outbox.create(app_id, new), with_secret=True))


@webhooks.command("list")
@app_option
@db_option
def webhooks_list(app_id: str, db_url: str) -> None:
    """Print the app's subscriptions, one JSON object per line, oldest first (no secrets)."""
    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        for sub in stores.outbox.list_subscriptions(app_id):
            _echo_json(subscription_json(sub, with_secret=False))


@webhooks.command("delete")
@app_option
@click.option("--id", "subscription_id", required=True, metavar="WEBHOOK_ID", help="The subscription to delete.")
@db_option
def webhooks_delete(app_id: str, subscription_id: str, db_url: str) -> None:
    """Delete a subscription with its deliveries."""
    with _stores(db_url) as stores:
        stores.outbox.delete(app_id, subscription_id)
    _echo_json({"id": subscription_id, "deleted": True})
