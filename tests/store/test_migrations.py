"""Schema migrations and the Citus distribution rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from calltrail.store.database import Connection, open_database
from calltrail.store.migrations import discover, migrate, pending
from calltrail.store.migrations.m0028_call_tables_unchecked import UNCHECKED

# Server-wide tables (Citus reference tables): no tenant column.
GLOBAL_TABLES = {"calltrail_migrations", "apps", "calltrail_secrets"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrate_is_idempotent(backend: str, database_url: Callable[[str], str]) -> None:
    db = open_database(database_url(backend))
    try:
        names = [f"{m.version:04d}_{m.name}" for m in discover()]
        assert pending(db) == names
        assert migrate(db) == names
        assert migrate(db) == []
        assert pending(db) == []
    finally:
        db.close()


def _keys(db_url: str) -> dict[str, list[list[str]]]:
    """Per table: the column lists of its primary key, unique constraints and foreign keys."""
    db = open_database(db_url)
    migrate(db)
    keys: dict[str, list[list[str]]] = {}
    try:
        with db.read() as conn:
            if db.dialect == "sqlite":
                tables = [t for (t,) in conn.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")]
                for table in tables:
                    info = conn.fetchall(f"PRAGMA table_info({table})")
                    pk = [name for _, name, _, _, _, position in sorted(info, key=lambda r: r[5]) if position]
                    keys[table] = [pk]
                    for index_name, unique, *_rest in [r[1:3] for r in conn.fetchall(f"PRAGMA index_list({table})")]:
                        if unique:
                            keys[table].append([r[2] for r in conn.fetchall(f"PRAGMA index_info({index_name})")])
                    foreign: dict[int, list[str]] = {}
                    for row in conn.fetchall(f"PRAGMA foreign_key_list({table})"):
                        foreign.setdefault(row[0], []).append(row[3])
                    keys[table] += list(foreign.values())
            else:
                rows = conn.fetchall(
                    "SELECT tc.table_name, tc.constraint_name, kcu.column_name "
                    "FROM information_schema.table_constraints tc "
                    "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
                    "AND kcu.table_schema = tc.table_schema WHERE tc.table_schema = current_schema() "
                    "AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY') "
                    "ORDER BY tc.table_name, tc.constraint_name, kcu.ordinal_position"
                )
                grouped: dict[tuple[str, str], list[str]] = {}
                for table, constraint, column in rows:
                    grouped.setdefault((table, constraint), []).append(column)
                for (table, _), columns in grouped.items():
                    keys.setdefault(table, []).append(columns)
    finally:
        db.close()
    return keys


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_tenant_column_leads_every_key(backend: str, database_url: Callable[[str], str]) -> None:
    keys = _keys(database_url(backend))
    assert {"calls", "call_events", "call_members", "api_keys"} <= set(keys)
    for table, constraints in keys.items():
        if table in GLOBAL_TABLES:
            continue
        for columns in constraints:
            if columns:
                assert columns[0] == "app_id", f"{table}: key {columns} does not start with app_id"


def _foreign_keys(conn: Connection) -> set[tuple[str, str]]:
    rows = conn.fetchall(
        "SELECT c.relname, k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        "WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace"
    )
    return {(table, name) for table, name in rows}


def test_postgresql_call_tables_carry_no_per_row_checks(database_url: Callable[[str], str]) -> None:
    """``m0028``: the tables written per event, call, member and block lose their foreign keys on
    PostgreSQL (a trigger per row), the tables a client writes keep theirs; a database from before
    the migration loses them when migrated."""
    db = open_database(database_url("postgresql"))
    try:
        migrate(db)
        with db.read() as conn:
            keys = _foreign_keys(conn)
        assert not {table for table, _ in keys} & {table for table, _ in UNCHECKED}  # by any name
        assert {("api_keys", "api_keys_app_id_fkey"), ("channels", "channels_app_id_fkey")} <= keys
        with db.write() as conn:  # back to before m0028
            for table, constraint in UNCHECKED:
                target = "calls (app_id, session_id)" if table == "call_members" else "apps (app_id)"
                columns = "app_id, session_id" if table == "call_members" else "app_id"
                conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} FOREIGN KEY ({columns}) "
                             f"REFERENCES {target}")  # fmt: skip
            conn.execute("DELETE FROM calltrail_migrations WHERE version = 28")
        assert migrate(db) == ["0028_call_tables_unchecked"]
        with db.read() as conn:
            assert _foreign_keys(conn) == keys
    finally:
        db.close()
