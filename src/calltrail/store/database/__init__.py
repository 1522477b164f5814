"""Connections to the embedded SQLite database or to PostgreSQL, behind one small interface.

SQL is written once, with ``?`` placeholders and syntax both engines accept (``ON CONFLICT``,
``RETURNING``, row values); :class:`Connection` translates placeholders for psycopg. The few
real differences (bulk insert-if-absent, per-key write locks, planner hints, array parameters)
are methods of the connection: no module outside this package branches on the SQL dialect.

Driver errors never leave this package: a database that cannot be reached or is busy raises
:class:`~calltrail.kernel.errors.Unavailable`, so no API module imports a driver.

Reads nest: a :meth:`Database.read` inside another on the same thread joins the outer
transaction, so one request's reads (credentials, records, profiles) share one snapshot.

Durability: SQLite runs in WAL mode with ``synchronous=FULL`` and PostgreSQL with its default
``synchronous_commit=on``, and :meth:`Database.write` returns only after COMMIT, so anything
acknowledged after a write survives ``kill -9`` of the server (and, storage permitting, power loss).

The package: ``base`` (the interface), ``sql`` (SQL text both engines share), ``sqlite`` and
``postgres`` (the engines), ``postgres_here`` (PostgreSQL statements with a deadline). Everything
is imported from here.
"""

from __future__ import annotations

from calltrail.store.database.base import Connection, Database, Documents, Row, WouldWait
from calltrail.store.database.postgres import PostgresConnection, PostgresDatabase
from calltrail.store.database.sql import (
    CHUNK,
    MAX_KEY_LOCKS,
    MAX_ROWS_PER_INSERT,
    bounded_among,
    chunks,
    hashed_among,
    integer,
    json_keys,
    json_values_sql,
    key_hash,
    key_hash_sql,
    matching_keys,
    placeholders,
)
from calltrail.store.database.sqlite import SQLiteConnection, SQLiteDatabase, backup_sqlite, sqlite_path

__all__ = [
    "CHUNK",
    "MAX_KEY_LOCKS",
    "MAX_ROWS_PER_INSERT",
    "Connection",
    "Database",
    "Documents",
    "PostgresConnection",
    "PostgresDatabase",
    "Row",
    "SQLiteConnection",
    "SQLiteDatabase",
    "WouldWait",
    "backup_sqlite",
    "bounded_among",
    "chunks",
    "hashed_among",
    "integer",
    "json_keys",
    "json_values_sql",
    "key_hash",
    "key_hash_sql",
    "matching_keys",
    "open_database",
    "placeholders",
    "sqlite_path",
]


def open_database(url: str) -> Database:
    """Open ``sqlite:///path`` or ``postgresql://...``; raises ValueError for other schemes."""
    if url.startswith("sqlite:///"):
        return SQLiteDatabase(url)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://...")
