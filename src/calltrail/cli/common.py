"""What every ``calltrail`` command shares: the ``--db`` option, JSON output, opening the stores."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
import orjson

from calltrail.kernel.errors import CalltrailError
from calltrail.settings import DEFAULT_DB
from calltrail.store import Stores, open_stores

F = TypeVar("F", bound=Callable[..., Any])

DB_HELP = (
    "Database URL: sqlite:///relative/path, sqlite:////absolute/path or postgresql://user@host:port/db. "
    "Defaults to $CALLTRAIL_DB, else sqlite:///./calltrail.db."
)
DEMO_AVATARS = "https://avatars.example.com/demo"
db_option: Callable[[F], F] = click.option(
    "--db", "db_url", envvar="CALLTRAIL_DB", default=DEFAULT_DB, metavar="URL", help=DB_HELP
)


def _echo_json(value: dict[str, Any]) -> None:
    click.echo(orjson.dumps(value).decode())


@contextmanager
def _stores(db_url: str) -> Iterator[Stores]:
    """Open the database (migrating it); domain errors become one-line CLI errors."""
    try:
        stores = open_stores(db_url)
    except (CalltrailError, ValueError) as exc:
        raise click.ClickException(getattr(exc, "message", str(exc))) from None
    try:
        yield stores
    except CalltrailError as exc:
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.details.items())
        raise click.ClickException(f"{exc.message} {details}".strip()) from None
    finally:
        stores.close()


def bulk_collector() -> None:
    """For bulk commands (``demo``, ``import``): they allocate millions of short-lived objects and
    few reference cycles, so the cyclic collector runs a hundred times less often (``calltrail demo``
    takes about a sixth less time; docs/storage.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
