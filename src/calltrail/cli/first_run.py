"""``calltrail serve --demo``: the demo app, its data and its credentials, made once and reused.

Keys and tokens are stored hashed, so the database cannot give the demo key back. The demo's
credentials are kept instead in a file next to the demo database, readable by its owner only
(mode 0600), and reused at every start while they are still valid: restarting the demo no longer
mints a fresh never-expiring key each time. Delete the file to get new ones.

On an empty database the demo also makes a phone channel, ``Support line``, with Bird-shaped
phone calls (:mod:`calltrail.voice.demo`), so the phone-call API, the dashboard's ``Phone calls``
page and the overview's phone figures have data too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import click
import orjson

from calltrail.kernel.tenancy import new_app_settings, new_key_settings
from calltrail.store import Stores
from calltrail.store.database import sqlite_path
from calltrail.voice.vocabulary import new_channel_settings

DEMO_APP = "demo"
DEMO_CHANNEL = "Support line"
#: Phone calls the demo makes by default: enough for every status and a few pages, made in a second.
DEMO_PHONE_CALLS = 300
CREDENTIALS_SUFFIX = ".demo-credentials.json"


def credentials_file(db_url: str) -> Path:
    """Where the demo's credentials are kept: next to an SQLite database (``calltrail.db`` ->
    ``calltrail.demo-credentials.json``), in the working directory for PostgreSQL."""
    if db_url.startswith("sqlite:///"):
        database = Path(sqlite_path(db_url))
        return database.with_name(database.stem + CREDENTIALS_SUFFIX)
    return Path("calltrail" + CREDENTIALS_SUFFIX)


def _read(path: Path) -> dict[str, str]:
    try:
        stored = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return {k: v for k, v in stored.items() if isinstance(v, str)} if isinstance(stored, dict) else {}


def _write(path: Path, credentials: dict[str, str]) -> None:
    """Write the file readable by its owner only (created so, not chmod-ed after the fact)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(orjson.dumps(credentials, option=orjson.OPT_INDENT_2) + b"\n")
    os.chmod(path, 0o600)  # an older file may have been created with other permissions


def demo_credentials(stores: Stores, path: Path, user: str) -> tuple[dict[str, str], bool]:
    """The demo's API key and user token: the stored ones while valid, else new ones (saved).
    Returns them and whether they were reused."""
    stored = _read(path)
    key = stored.get("apiKey", "")
    token = stored.get("authToken", "")
    found_key = stores.tenants.find_key(key) if key else None
    key_ok = found_key is not None and found_key.app_id == DEMO_APP and found_key.scope == "fullAccess"
    found_token = stores.users.find_token(token) if token else None
    token_ok = found_token is not None and found_token.app_id == DEMO_APP and found_token.uid == user
    if key_ok and token_ok:
        return {"apiKey": key, "authToken": token, "uid": user}, True
    if not key_ok:
        key, _ = stores.tenants.create_key(DEMO_APP, new_key_settings("fullAccess", "Demo key"))
    if not token_ok:
        token, _ = stores.users.create_token(DEMO_APP, user)
    credentials = {"apiKey": key, "authToken": token, "uid": user}
    _write(path, credentials)
    return credentials, False


def cli_hint() -> str:
    """How to run ``calltrail`` from here: the venv's script, or activating the venv."""
    script = Path(sys.executable).parent / "calltrail"
    try:
        shown = f"./{script.relative_to(Path.cwd())}"
    except ValueError:
        shown = str(script)
    if sys.prefix != sys.base_prefix and not os.environ.get("VIRTUAL_ENV"):
        return f"{shown} --help   (or `source {Path(shown).parent}/activate`, then `calltrail --help`)"
    return f"{shown} --help"


def prepare_demo(
    stores: Stores,
    db_url: str,
    host: str,
    port: int,
    calls: int,
    ingest: Callable[[Stores, str, int, int], object],
    *,
    phone_calls: int = DEMO_PHONE_CALLS,
    ingest_phone: Callable[[Stores, str, str, int, int], object] | None = None,
) -> None:
    """Create the demo app and data on an empty database, then print how to use it.

    ``ingest(stores, app, calls, seed)`` makes the in-app calls; ``ingest_phone(stores, app,
    channel, calls, seed)`` the phone calls of the demo channel (none without it, or with
    ``phone_calls`` 0)."""
    from calltrail.sessions.demo import build_world

    fresh = stores.tenants.count_apps() == 0
    if fresh:
        stores.tenants.create_app(new_app_settings("Demo", DEMO_APP))
        click.echo(f"Generating {calls} demo calls...", err=True)
        ingest(stores, DEMO_APP, calls, 1)
        if ingest_phone is not None and phone_calls > 0:
            channel = stores.voice.create_channel(DEMO_APP, new_channel_settings(DEMO_CHANNEL))
            click.echo(f"Generating {phone_calls} demo phone calls...", err=True)
            ingest_phone(stores, DEMO_APP, channel.channel_id, phone_calls, 1)
    elif stores.tenants.get_app(DEMO_APP) is None:
        raise click.ClickException("--demo needs an empty database or one with an app 'demo'.")
    channels = stores.voice.list_channels(DEMO_APP, limit=1)
    channel_id = channels[0].channel_id if channels else None
    user = build_world(1).people[0].uid
    path = credentials_file(db_url)
    credentials, reused = demo_credentials(stores, path, user)
    key, token = credentials["apiKey"], credentials["authToken"]
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    base = f"http://{shown}:{port}"
    phone = f"  channel   : {channel_id}   (phone calls, Bird's API)\n" if channel_id else ""
    export = f" CHANNEL={channel_id}" if channel_id else ""
    phone_curl = (
        f'  curl -s "$BASE/workspaces/{DEMO_APP}/channels/$CHANNEL/calls?limit=2" -H "Authorization: AccessKey $KEY"\n'
        if channel_id
        else ""
    )
    click.echo(
        f"\nCalltrail demo {'ready' if fresh else '(existing data)'}\n"
        f"  base URL  : {base}\n"
        f"  app       : {DEMO_APP}\n"
        f"  API key   : {key}\n"
        f"  authToken : {token}   (user {user})\n"
        f"{phone}"
        f"  API docs  : {base}/docs\n"
        f"  database  : {db_url}   (every calltrail command uses it by default)\n"
        f"  key file  : {path}   ({'reused' if reused else 'written'}; owner-only; delete it for new credentials)\n"
        f"  CLI       : {cli_hint()}\n\n"
        f"Try:\n"
        f"  export BASE={base} KEY={key} TOKEN={token}{export}\n"
        f'  curl -s "$BASE/v3/calls?perPage=2&status=ended" -H "apikey: $KEY"\n'
        f'  curl -s "$BASE/v3.0/calls?perPage=5&status=missed" -H "authToken: $TOKEN"\n'
        f"{phone_curl}\n"
        f"Dashboard: {base}/   (sign in with the API key above)\n",
        err=True,
    )
