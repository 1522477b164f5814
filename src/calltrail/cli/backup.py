"""``calltrail backup``: a consistent copy of a live SQLite database.

SQLite's online backup API copies the database in one step inside one read transaction, so the
copy is a snapshot of a single moment even while servers keep writing (WAL mode lets writers go
on during the copy). The copy is written to ``OUT.partial``, checked with ``PRAGMA quick_check``
and only then renamed to ``OUT``: a failed or interrupted backup never leaves a file that looks
complete. PostgreSQL is backed up with its own tools (``pg_dump``; see docs/deploy.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from calltrail.cli.common import db_option
from calltrail.kernel.errors import Unavailable
from calltrail.store.database import backup_sqlite, sqlite_path


@click.command()
@db_option
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def backup(db_url: str, force: bool, out: Path) -> None:
    """Write a consistent copy of the SQLite database to OUT, online (servers may keep running).

    Restore by stopping the servers and putting the copy in place of the database file (remove
    the old -wal and -shm files with it). For PostgreSQL use pg_dump/pg_restore (docs/deploy.md).
    """
    if not db_url.startswith("sqlite:///"):
        raise click.ClickException(
            "calltrail backup copies SQLite databases; for PostgreSQL use pg_dump --format=custom (see docs/deploy.md)."
        )
    source = Path(sqlite_path(db_url))
    if not source.is_file():
        raise click.ClickException(f"there is no database at {source}")
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists: choose another name or pass --force")
    if out.resolve() == source.resolve():
        raise click.ClickException("OUT must not be the database itself")
    started = time.perf_counter()
    try:
        size = backup_sqlite(str(source), out)
    except Unavailable as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"backed up {source} to {out} ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f}s", err=True)
