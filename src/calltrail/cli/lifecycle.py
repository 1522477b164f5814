"""``calltrail apps update --retention-days``, ``calltrail purge`` and ``calltrail users erase``:
deleting data on purpose (docs/lifecycle.md).

Each works in bounded batches (SQLite: 500 calls per transaction for purges, 200 for erasure;
PostgreSQL: 32), so a server serving the same database keeps ingesting and answering meanwhile.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from typing import Any

import click

from calltrail.cli.common import _echo_json, _stores, db_option
from calltrail.kernel.instants import format_rfc3339
from calltrail.store.erasure import Eraser
from calltrail.store.lifecycle import Purger, retention_of, set_retention


def _bar(total: int, label: str) -> Any:
    """A progress bar on standard error (drawn on a terminal; one final line otherwise)."""
    return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)


class Instant(click.ParamType):  # type: ignore[type-arg]
    """A date (``2026-01-31``, midnight UTC) or an RFC 3339 instant; converted to epoch ms."""

    name = "DATE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            if len(text) == 10:
                parsed = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            else:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    self.fail(f"{value!r} has no time zone: add Z or an offset such as +02:00", param, ctx)
        except ValueError:
            self.fail(f"{value!r} is not a date (2026-01-31) or an RFC 3339 instant", param, ctx)
        return int(parsed.timestamp() * 1000)


@click.command("update")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app to change.")
@click.option(
    "--retention-days",
    type=click.IntRange(0, 36500),
    help="Delete calls older than this many days, in the background of calltrail serve; 0 keeps them forever.",
)
@db_option
def apps_update(app_id: str, retention_days: int | None, db_url: str) -> None:
    """Change an app's settings (today: how long its calls are kept)."""
    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        if retention_days is not None:
            set_retention(stores.db, app_id, retention_days)
        _echo_json({"appId": app_id, "retentionDays": retention_of(stores.db, app_id) or 0})


@click.command()
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app whose calls to delete.")
@click.option(
    "--before",
    "before_ms",
    required=True,
    type=Instant(),
    help="Delete calls initiated (phone calls: created) before this date (midnight UTC) or RFC 3339 instant.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
def purge(app_id: str, before_ms: int, yes: bool, db_url: str) -> None:
    """Delete an app's calls older than a date, with their events, totals and usage figures."""
    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        purger = Purger(stores.sessions, stores.voice, app_id, before_ms)
        pending = purger.pending()
        if pending and not yes:
            click.confirm(f"Delete {pending} calls of {app_id} before {format_rfc3339(before_ms)}?", abort=True)
        deleted = 0
        with _bar(pending, "deleting") as bar:
            while done := purger.step():
                deleted += done
                bar.update(done)
        _echo_json({"appId": app_id, "before": format_rfc3339(before_ms), "deleted": deleted})


@click.group()
def users() -> None:
    """Manage the users of an app."""


@users.command("erase")
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app of the user.")
@click.argument("uid")
@db_option
def users_erase(app_id: str, uid: str, db_url: str) -> None:
    """Erase a person: delete their profile and tokens and replace UID by a stable pseudonym in
    every call and event (other participants keep their history)."""
    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        eraser = Eraser(stores.sessions)
        pending = eraser.pending(app_id, uid)
        profile, tokens = eraser.forget_profile(app_id, uid)
        calls = 0
        with _bar(pending, "rewriting") as bar:
            for done in eraser.steps(app_id, uid):
                calls += done
                bar.update(done)
        _echo_json(
            {
                "uid": uid,
                "pseudonym": eraser.pseudonym(app_id, uid),
                "profileDeleted": profile,
                "tokensDeleted": tokens,
                "calls": calls,
            }
        )
