"""The ``calltrail`` command line: a thin layer over the stores, the importer and the demo.

Results go to stdout as one JSON object where a command creates something; progress and
errors go to stderr. Every error is one line (``Error: ...``) and a non-zero exit.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import click

from calltrail import __version__
from calltrail.cli.common import DEMO_AVATARS, _echo_json, _stores, bulk_collector, db_option
from calltrail.cli.credentials import DURATION, key_json
from calltrail.cli.first_run import DEMO_PHONE_CALLS
from calltrail.kernel.errors import CalltrailError
from calltrail.kernel.tenancy import REGIONS, SCOPES, new_app_settings, new_key_settings
from calltrail.store import Stores
from calltrail.store.usage_backlog import settle
from calltrail.voice.vocabulary import new_channel_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="calltrail")
def main() -> None:
    """Calltrail: self-hosted call history with CometChat- and Bird-compatible APIs.

    \b
    Quick start (embedded database, demo data):
      calltrail serve --demo
    Then follow the curl example it prints.
    """


@main.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0 for all).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option(
    "--demo",
    is_flag=True,
    help="On an empty database, create app 'demo', a key, demo calls and a phone channel with demo "
    "phone calls, and print curl examples. With data present, print the key for 'demo'.",
)
@click.option(
    "--demo-calls",
    default=3000,
    show_default=True,
    type=click.IntRange(1, 10**7),
    help="How many calls --demo generates.",
)
@click.option(
    "--demo-phone-calls",
    default=DEMO_PHONE_CALLS,
    show_default=True,
    type=click.IntRange(0, 10**7),
    help="How many phone calls --demo generates, in a channel 'Support line' (0: none).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Server log level (info includes one access-log line per request).",
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="json: one JSON object per line (request id, route, status, duration, app id).",
)
@click.option(
    "--forwarded-allow-ips",
    envvar="CALLTRAIL_FORWARDED_ALLOW_IPS",
    default="127.0.0.1",
    show_default=True,
    metavar="IPS",
    help="Comma-separated proxy addresses (or *) whose X-Forwarded-For/-Proto are trusted for the "
    "client's address and scheme. Defaults to $CALLTRAIL_FORWARDED_ALLOW_IPS, else 127.0.0.1.",
)
@click.option(
    "--workers",
    envvar="CALLTRAIL_WORKERS",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (use the machine's cores). Rate limits, the load-shedding "
    "budget and /metrics are per process (docs/deploy.md). Defaults to $CALLTRAIL_WORKERS, else 1.",
)
def serve(
    db_url: str,
    host: str,
    port: int,
    demo: bool,
    demo_calls: int,
    demo_phone_calls: int,
    log_level: str,
    log_format: str,
    forwarded_allow_ips: str,
    workers: int,
) -> None:
    """Run the HTTP API server. The schema is created or migrated on start."""
    from calltrail.api import server
    from calltrail.app import create_app, deliver_webhooks
    from calltrail.cli.first_run import prepare_demo
    from calltrail.settings import Settings

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _check_port_free(host, port)

    def run(stores: Stores, sockets: list[socket.socket] | None = None) -> None:
        stores.prepare_to_serve()
        app = deliver_webhooks(create_app(stores, settings), stores, settings)
        server.run(app, app.state.gate, host=host, port=port, log_level=log_level, log_format=log_format,
                   forwarded_allow_ips=forwarded_allow_ips, sockets=sockets)  # fmt: skip

    with _stores(db_url) as stores:  # migrations (and the demo) happen once, here
        if demo:
            prepare_demo(
                stores,
                db_url,
                host,
                port,
                demo_calls,
                _ingest_demo,
                phone_calls=demo_phone_calls,
                ingest_phone=_ingest_telephony_demo,
            )
        if workers == 1:
            run(stores)
            return
    from calltrail.api.workers import supervise

    def work(sock: socket.socket) -> None:
        with _stores(db_url) as own:  # each worker its own connections, opened after the fork
            run(own, [sock])

    raise SystemExit(supervise(workers, work, host, port))


def _check_port_free(host: str, port: int) -> None:
    """Fail with one clear line before any work if the address cannot be listened on."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _progress(total: int, label: str) -> Any:
    """A progress bar on a terminal; silent otherwise."""
    return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True)


def _ingest_demo(stores: Stores, app_id: str, calls: int, seed: int) -> tuple[int, int]:
    """Send demo calls through validation and ingestion in batches; returns (calls, events)."""
    from calltrail.jobs.feeder import InvalidDemoEvent, feed_session_demo
    from calltrail.sessions.demo import build_world, generate_calls

    app = stores.tenants.require_app(app_id)
    world = build_world(seed)
    # Display profiles, so the user view (authToken) shows names; the avatar URLs are
    # deterministic placeholders on a reserved domain, never fetched by Calltrail.
    stores.users.put_users(app_id, [(p.uid, p.name, f"{DEMO_AVATARS}/users/{p.uid}.png") for p in world.people])
    stores.users.put_groups(app_id, [(t.guid, t.name, f"{DEMO_AVATARS}/groups/{t.guid}.png") for t in world.teams])
    generated = generate_calls(world, app_id=app_id, count=calls, seed=seed, region=app.region)
    with _progress(calls, "demo calls") as bar:
        try:
            sent = feed_session_demo(stores.sessions, app_id, generated, lambda: bar.update(1))
        except InvalidDemoEvent as exc:  # a generator bug, never user input
            raise click.ClickException(str(exc)) from None
    settle(stores.db, app_id)  # the rollups' last marks: the first usage read is quick
    stores.db.analyze()  # a bulk load changes the data's shape: refresh the planner's statistics
    return calls, sent


def _ingest_telephony_demo(stores: Stores, app_id: str, channel_id: str, calls: int, seed: int) -> tuple[int, int]:
    """Send a channel's demo calls through status-event validation and ingestion in batches;
    returns (calls, events)."""
    from calltrail.jobs.feeder import InvalidDemoEvent, feed_demo

    stores.tenants.require_app(app_id)
    channel = stores.voice.get_channel(app_id, channel_id)
    if channel is None:
        raise click.ClickException(
            f"There is no channel {channel_id!r} in app {app_id!r}: create it with `calltrail channels create`."
        )
    with _progress(calls, "demo calls") as bar:
        try:
            sent = feed_demo(stores.voice, app_id, channel.channel_id, calls, seed, on_call=lambda: bar.update(1))
        except InvalidDemoEvent as exc:  # a generator bug, never user input
            raise click.ClickException(str(exc)) from None
    stores.db.analyze()  # a bulk load changes the data's shape: refresh the planner's statistics
    return calls, sent


@main.command()
@db_option
def migrate(db_url: str) -> None:
    """Create or upgrade the database schema, then exit (serve also does this on start)."""
    from calltrail.store.database import open_database
    from calltrail.store.migrations import migrate as run_migrations

    try:
        db = open_database(db_url)
    except (CalltrailError, ValueError) as exc:
        raise click.ClickException(getattr(exc, "message", str(exc))) from None
    try:
        applied = run_migrations(db)
    finally:
        db.close()
    click.echo("applied: " + (", ".join(applied) if applied else "nothing (schema is current)"), err=True)


@main.group()
def apps() -> None:
    """Manage apps (tenants)."""


@apps.command("create")
@click.option("--name", required=True, help="Display name of the app.")
@click.option("--id", "app_id", metavar="APP_ID", help="App id (1-100 of A-Z a-z 0-9 . _ -); random if omitted.")
@click.option("--region", default="us", show_default=True, type=click.Choice(REGIONS), help="Region label.")
@db_option
def apps_create(name: str, app_id: str | None, region: str, db_url: str) -> None:
    """Create an app; prints {"appId", "name", "region", "createdAt"}."""
    with _stores(db_url) as stores:
        app = stores.tenants.create_app(new_app_settings(name, app_id, region))
    _echo_json({"appId": app.app_id, "name": app.name, "region": app.region, "createdAt": app.created_at_ms // 1000})


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app the key belongs to.")
@click.option(
    "--scope",
    default="fullAccess",
    show_default=True,
    type=click.Choice(SCOPES),
    help="fullAccess: every REST call; authOnly: only creating users and auth tokens.",
)
@click.option("--name", help="A label for the key.")
@click.option("--expires-in", type=DURATION, help="Refuse the key (401) after this long: 90d, 12h, 30m, 3600.")
@db_option
def keys_create(app_id: str, scope: str, name: str | None, expires_in: int | None, db_url: str) -> None:
    """Create an API key; prints {"apiKey", "keyId", "prefix", "name", "scope", "createdAt", "expiresAt"}.
    The key is shown only once."""
    from calltrail.kernel.instants import now_ms

    expires_at = None if expires_in is None else now_ms() + expires_in * 1000
    with _stores(db_url) as stores:
        secret, key = stores.tenants.create_key(app_id, new_key_settings(scope, name), expires_at)
    _echo_json({"apiKey": secret, **key_json(key)})


@main.group()
def channels() -> None:
    """Manage channels (phone lines or SIP trunks of an app, for the Bird-compatible API)."""


@channels.command("create")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app (Bird workspace) of the channel.")
@click.option("--name", required=True, help="Display name of the channel.")
@click.option("--id", "channel_id", metavar="UUID", help="Channel id (a UUID); random if omitted.")
@db_option
def channels_create(app_id: str, name: str, channel_id: str | None, db_url: str) -> None:
    """Create a channel; prints {"channelId", "workspaceId", "name", "createdAt"}."""
    from calltrail.kernel.instants import format_rfc3339

    with _stores(db_url) as stores:
        channel = stores.voice.create_channel(app_id, new_channel_settings(name, channel_id))
    _echo_json(
        {
            "channelId": channel.channel_id,
            "workspaceId": channel.app_id,
            "name": channel.name,
            "createdAt": format_rfc3339(channel.created_at_ms),
        }
    )


@main.command("import")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app to import into.")
@db_option
@click.argument("files", nargs=-1, required=True, type=click.File("rb"))
def import_(app_id: str, db_url: str, files: tuple[Any, ...]) -> None:
    """Import whole call records from FILES (or - for stdin).

    Accepts a List Calls response ({"data": [...], "meta": ...}), a Get Call response
    ({"data": {...}}), or NDJSON with one record (or get response) per line. Importing the same
    file twice changes nothing. Bad records are reported with their position and skipped; the
    exit status is 1 if any record was skipped.
    """
    bulk_collector()
    from calltrail.cli.importer import import_records

    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        report = import_records(stores.sessions, app_id, files, progress=_progress, warn=_warn)
        settle(stores.db, app_id)  # the rollups' last marks: the first usage read is quick
        stores.db.analyze()  # a bulk load changes the data's shape: refresh the planner's statistics
    click.echo(f"imported {report.imported} record(s), skipped {report.skipped}", err=True)
    if report.skipped:
        sys.exit(1)


def _warn(message: str) -> None:
    click.echo(message, err=True)


@main.command()
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app to fill (it must exist).")
@click.option("--calls", "count", required=True, type=click.IntRange(1, 10**8), help="How many calls to generate.")
@click.option("--seed", default=1, show_default=True, help="Random seed; the same seed gives the same calls.")
@click.option(
    "--channel",
    "channel_id",
    metavar="CHANNEL_ID",
    help="Generate telephony calls (Bird API) for this channel instead of CometChat calls.",
)
@db_option
def demo(app_id: str, count: int, seed: int, channel_id: str | None, db_url: str) -> None:
    """Generate realistic demo calls by sending their events through the ingestion pipeline.

    Deterministic for a given seed; also the benchmark data generator (1,000,000 calls take
    minutes). Re-running with the same seed and count adds nothing: every event is a duplicate. With
    --channel, the calls are telephony calls of that channel, sent as status events.
    """
    import time

    bulk_collector()
    with _stores(db_url) as stores:
        started = time.perf_counter()
        if channel_id is not None:
            calls, events = _ingest_telephony_demo(stores, app_id, channel_id, count, seed)
        else:
            calls, events = _ingest_demo(stores, app_id, count, seed)
        elapsed = time.perf_counter() - started
    click.echo(f"generated {calls} calls ({events} events) in {elapsed:.1f}s", err=True)


# Command groups in their own modules (imported last: they use the helpers above).
from calltrail.cli.integrations import integrations  # noqa: E402

main.add_command(integrations)

from calltrail.cli.backup import backup  # noqa: E402
from calltrail.cli.credentials import apps_list, channels_list, keys_list, keys_revoke  # noqa: E402

keys.add_command(keys_list)
keys.add_command(keys_revoke)
apps.add_command(apps_list)
channels.add_command(channels_list)
main.add_command(backup)

from calltrail.cli.export import export  # noqa: E402

main.add_command(export)

from calltrail.cli.webhooks import webhooks  # noqa: E402

main.add_command(webhooks)

from calltrail.cli.lifecycle import apps_update, purge, users  # noqa: E402

apps.add_command(apps_update)
main.add_command(purge)
main.add_command(users)
