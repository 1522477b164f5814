"""Versioned schema migrations, applied in order and recorded in ``calltrail_migrations``.

Each migration is a module ``mNNNN_<name>.py`` in this package defining
``statements(dialect: str) -> list[str]``. Modules are discovered by name, so features add
their tables in their own module. Every migration runs in one transaction; on PostgreSQL an
advisory lock makes servers that start together apply each migration exactly once.

Citus rule, kept by every migration: the tenant column (``app_id``) leads every primary key,
unique constraint and foreign key of a per-tenant table.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass

from calltrail.kernel.instants import now_ms
from calltrail.store.database import Connection, Database

_MODULE = re.compile(r"^m(\d{4})_(\w+)$")
_LOCK_ID = 7_415_220_001  # arbitrary, constant: the advisory lock that serialises migrations


@dataclass(frozen=True)
class Migration:
    """One schema step."""

    version: int
    name: str
    statements: Callable[[str], list[str]]


def discover() -> list[Migration]:
    """All migrations in this package, ordered by version."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        match = _MODULE.match(info.name)
        if match:
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append(Migration(int(match.group(1)), match.group(2), module.statements))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


def _applied(conn: Connection) -> set[int]:
    return {version for (version,) in conn.fetchall("SELECT version FROM calltrail_migrations")}


def migrate(db: Database) -> list[str]:
    """Create or upgrade the schema; return the names of the migrations applied now."""
    with db.write() as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS calltrail_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        )
    applied_now = []
    for migration in discover():
        with db.write() as conn:
            if db.dialect == "postgresql":
                conn.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_ID,))
            if migration.version in _applied(conn):
                continue
            for statement in migration.statements(db.dialect):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO calltrail_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, now_ms()),
            )
            applied_now.append(f"{migration.version:04d}_{migration.name}")
    return applied_now


def pending(db: Database) -> list[str]:
    """Names of migrations not yet applied (the schema is current when this is empty)."""
    with db.read() as conn:
        try:
            done = _applied(conn)
        except Exception:
            done = set()
    return [f"{m.version:04d}_{m.name}" for m in discover() if m.version not in done]
