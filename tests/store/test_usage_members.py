"""The per-user rollups the writers keep are what a rebuild computes, through random calls with
random members written, rewritten and deleted through the usage writers, as are the long calls'
members; a database from before them (or the long members, or the member minutes) gets them on
open. Both engines."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores
from calltrail.store.migrations import m0007_usage
from calltrail.store.usage_backlog import has_backlog, settle
from calltrail.store.usage_members import STILL_OPEN, backfill
from tests.store.member_calls import (
    _random_call,
    filled,  # noqa: F401  (a fixture, shared with the series reads' tests)
)
from tests.store.older_schema import reopened_after


def _member_rollups(stores: Stores, app_id: str) -> list[tuple[Any, ...]]:
    """The app's per-user rollups, its backlog recomputed first."""
    settle(stores.db, app_id)
    with stores.db.read() as conn:
        assert not has_backlog(conn, app_id)
        rows = conn.fetchall(
            "SELECT * FROM usage_member_rollups WHERE app_id = ? ORDER BY level, block, uid", (app_id,)
        )
        return [tuple(int(v) if not isinstance(v, str) else v for v in row) for row in rows]


def _long_members(stores: Stores, app_id: str) -> list[tuple[Any, ...]]:
    with stores.db.read() as conn:
        rows = conn.fetchall(
            "SELECT uid, open_until, session_id, initiated_at, started_at, status FROM usage_long_members "
            "WHERE app_id = ?",
            (app_id,),
        )
    return sorted((uid, int(until), sid, int(initiated), int(started), status)
                  for uid, until, sid, initiated, started, status in rows)  # fmt: skip


def _long_members_from_calls(stores: Stores, app_id: str) -> list[tuple[Any, ...]]:
    """What ``usage_long_members`` should hold, computed in Python from the calls and members."""
    with stores.db.read() as conn:
        calls = {row[0]: row[1:] for row in conn.fetchall(
            "SELECT session_id, initiated_at, started_at, ended_at, status FROM usage_calls WHERE app_id = ?", (app_id,)
        )}  # fmt: skip
        members = conn.fetchall("SELECT session_id, uid FROM call_members WHERE app_id = ?", (app_id,))
    found = []
    for session_id, uid in members:
        initiated, started, ended, status = calls[session_id]
        if started is not None and (ended is None or ended > initiated + 3600):
            until = STILL_OPEN if ended is None else int(ended)
            found.append((uid, until, session_id, int(initiated), int(started), status))
    return sorted(found)


def test_the_writers_keep_what_a_rebuild_computes(stores: Stores, filled: str) -> None:  # noqa: F811
    kept = _member_rollups(stores, filled)
    assert kept
    with stores.db.write() as conn:
        conn.execute("INSERT INTO usage_member_rollup_backfill (app_id) VALUES (?)", (filled,))
    assert filled in backfill(stores.db)
    assert _member_rollups(stores, filled) == kept


def test_the_writers_keep_each_long_call_member(stores: Stores, filled: str) -> None:  # noqa: F811
    """``usage_long_members`` through writes, rewrites (a call turned short, long, ended) and
    deletions: the members of the long calls, with each call's span as it is now."""
    kept = _long_members(stores, filled)
    assert {until == STILL_OPEN for _, until, *_ in kept} == {True, False}
    assert kept == _long_members_from_calls(stores, filled)


def test_deleting_every_call_leaves_no_rows(stores: Stores) -> None:
    app_id = stores.tenants.create_app(new_app_settings("Gone", f"g-{secrets.token_hex(5)}")).app_id
    rng = random.Random(5)
    calls = [_random_call(rng, n) for n in range(30)]
    with stores.db.write() as conn:
        stores.sessions._write_rows(conn, app_id, calls)
    assert _member_rollups(stores, app_id)
    with stores.db.write() as conn:
        stores.sessions._delete_rows(conn, app_id, [call.session_id for call in calls[:12]])
    with stores.db.write() as conn:
        stores.sessions._delete_rows(conn, app_id, [call.session_id for call in calls[12:]])
    assert _member_rollups(stores, app_id) == []
    assert _long_members(stores, app_id) == []


def _before_member_minutes(backend: str) -> tuple[str, ...]:
    """Back to before ``m0023``: each user's minutes in ``usage_members`` (as ``m0007`` made it),
    none in ``call_members``; an older schema than that goes back through this first."""
    usage_members = [sql for sql in m0007_usage.statements(backend) if "usage_members" in sql.split("(")[0]]
    assert len(usage_members) == 2  # the table and its time index
    return (
        *usage_members,
        "INSERT INTO usage_members (app_id, session_id, uid, initiated_at, minutes_ms, missed) "
        "SELECT app_id, session_id, uid, initiated_at, minutes_ms, missed FROM call_members",
        "DROP INDEX call_members_by_time",
        "ALTER TABLE call_members DROP COLUMN minutes_ms",
        "DELETE FROM calltrail_migrations WHERE version = 23",
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_from_before_the_member_rollups_gets_them_on_open(
    backend: str, database_url: Callable[[str], str]
) -> None:
    """Back to the schema before ``m0014`` (its tables and record dropped): opening the database
    computes the same rows."""
    statements = (*_before_member_minutes(backend), "DROP TABLE usage_member_rollup_backfill",
                  "DROP TABLE usage_member_rollups", "DELETE FROM calltrail_migrations WHERE version = 14")  # fmt: skip
    reopened_after(database_url(backend), statements, _member_rollups)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_from_before_the_long_members_gets_them_from_its_calls(
    backend: str, database_url: Callable[[str], str]
) -> None:
    """Back to before ``m0021``: migrating fills ``usage_long_members`` with what the writers keep."""
    statements = (*_before_member_minutes(backend), "DROP TABLE usage_long_members",
                  "DELETE FROM calltrail_migrations WHERE version = 21")  # fmt: skip
    reopened_after(database_url(backend), statements, _long_members)


def _members_and_rollups(stores: Stores, app_id: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with stores.db.read() as conn:
        rows = conn.fetchall(
            "SELECT session_id, uid, initiated_at, is_initiator, joined, rejected, missed, minutes_ms "
            "FROM call_members WHERE app_id = ? ORDER BY session_id, uid",
            (app_id,),
        )
    return [tuple(int(v) if not isinstance(v, str) else v for v in row) for row in rows], _member_rollups(
        stores, app_id
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_from_before_the_member_minutes_moves_them_into_call_members(
    backend: str, database_url: Callable[[str], str]
) -> None:
    """Back to before ``m0023``: migrating moves each user's minutes from ``usage_members`` into
    ``call_members``, and the per-user figures stay as they were."""
    members, _ = reopened_after(database_url(backend), _before_member_minutes(backend), _members_and_rollups)
    assert sum(row[-1] > 0 for row in members) > len(members) // 2
