"""The per-user rollups answer exactly what reading every member row answers: random calls (short,
long, still ongoing, starting before their initiation) with random members, written, rewritten
and deleted through the usage writers, and random ``groupBy=uid`` series (intervals, zones with
half-hour and 45-minute offsets and DST, edges off the slots, *now* inside the range). Both
engines."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.query import CallQuery
from calltrail.sessions.vocabulary import CallRow, Member
from calltrail.store import Stores
from calltrail.store.migrations import m0007_usage
from calltrail.store.usage_backlog import has_backlog, settle
from calltrail.store.usage_members import STILL_OPEN, backfill
from calltrail.store.usage_read import UsageReader
from calltrail.usage.params import CallUsageRequest, Period
from calltrail.usage.periods import buckets, zone
from tests.store.older_schema import reopened_after

BASE = 1_774_000_000  # 2026-03-20, before Europe's DST change
ZONES = ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Europe/Amsterdam")
DAY = 86_400
USERS = ("ana", "bo", "cy", "dee", "eli", "fay")


def _random_call(rng: random.Random, index: int) -> CallRow:
    initiated = BASE + rng.randrange(0, 12 * DAY)
    status = rng.choice(("ended", "ended", "ended", "ongoing", "unanswered", "cancelled", "initiated", "rejected"))
    started = ended = None
    if status in ("ended", "ongoing") or rng.random() < 0.1:
        started = initiated + rng.choice((0, rng.randrange(1, 40), rng.randrange(-30, 0)))
        length = rng.choice((rng.randrange(1, 600), rng.randrange(600, 3600), rng.randrange(3600, 3 * DAY), 3600))
        ended = None if status == "ongoing" else started + length
        if status == "ongoing" and rng.random() < 0.3:
            started += rng.randrange(0, 20 * DAY)  # in the future of some series
    users = rng.sample(USERS, rng.randrange(1, 5))
    entries = [{"uid": uid, "totalDuration": rng.randrange(0, 10**6) / 1000} for uid in users if rng.random() < 0.7]
    members = tuple(
        Member(uid, n == 0, rng.random() < 0.5, False, n > 0 and rng.random() < 0.4) for n, uid in enumerate(users)
    )
    return CallRow(
        session_id=f"s{index:05d}",
        source="test",
        initiated_at=initiated,
        status=status,
        type=rng.choice(("audio", "video")),
        mode=rng.choice(("call", "meet")),
        receiver_type="user",
        initiator=users[0],
        receiver=users[-1],
        started_at=started,
        ended_at=ended,
        duration=rng.randrange(0, 10**5) / 100,
        audio_minutes=rng.randrange(0, 10**4) / 100,
        video_minutes=0.0,
        total_participants=len(entries),
        participants_count=len(entries),
        has_recording=False,
        summary=orjson.dumps({"participants": entries}),
        extra=None,
        scalars=b"[]",
        members=members,
    )


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


def _write_random_calls(stores: Stores, app_id: str) -> int:
    """Twelve batches of 40 new calls, each also rewriting 5 earlier ones and deleting 5; returns
    how many batches left no backlog."""
    rng = random.Random(11)
    current: set[int] = set()
    settled = 0
    for batch in range(12):
        fresh = [_random_call(rng, batch * 40 + n) for n in range(40)]
        old = rng.sample(sorted(current), min(len(current), 10))
        rewritten = [_random_call(rng, index) for index in old[:5]]
        with stores.db.write() as conn:
            stores.sessions._delete_rows(conn, app_id, [f"s{index:05d}" for index in old[5:]])
            stores.sessions._write_rows(conn, app_id, [*fresh, *rewritten])
            settled += not has_backlog(conn, app_id)
        current -= set(old[5:])
        current |= {batch * 40 + n for n in range(40)}
    return settled


@pytest.fixture(scope="module")
def filled(stores: Stores) -> str:
    app_id = stores.tenants.create_app(new_app_settings("Members", f"m-{secrets.token_hex(5)}")).app_id
    _write_random_calls(stores, app_id)
    settle(stores.db, app_id)
    return app_id


def test_the_writers_keep_what_a_rebuild_computes(stores: Stores, filled: str) -> None:
    kept = _member_rollups(stores, filled)
    assert kept
    with stores.db.write() as conn:
        conn.execute("INSERT INTO usage_member_rollup_backfill (app_id) VALUES (?)", (filled,))
    assert filled in backfill(stores.db)
    assert _member_rollups(stores, filled) == kept


def test_the_writers_keep_each_long_call_member(stores: Stores, filled: str) -> None:
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


@pytest.mark.parametrize("seed", range(40))
def test_series_equal_reading_every_member_row(stores: Stores, filled: str, seed: int) -> None:
    rng = random.Random(seed)
    interval = rng.choice(("hour", "day", "day", "week", "month", "all"))
    tz_name = rng.choice(ZONES)
    start = BASE - DAY + rng.randrange(0, 3 * DAY) * rng.choice((1, 0)) // 900 * 900 + rng.choice((0, 0, 37, 1800))
    span = rng.choice((2 * DAY, 9 * DAY, 15 * DAY)) if interval != "hour" else rng.choice((DAY // 2, 3 * DAY))
    now_ms = (start + rng.randrange(0, span + 5 * DAY)) * 1000 + rng.randrange(0, 1000)
    from_ms, to_ms = start * 1000, (start + span) * 1000 + rng.choice((0, 555))
    limit = rng.choice((2, 4, 100))
    period = Period(from_ms, to_ms, interval, tz_name, zone(tz_name), "uid", limit)
    request = CallUsageRequest(period, CallQuery(), None)
    series = buckets(from_ms, to_ms, interval, zone(tz_name))
    reader = UsageReader(stores.db)
    with stores.db.read() as conn:
        assert not has_backlog(conn, filled)  # else the rollups are read around
        rows = reader._member_series(conn, filled, request, series, now_ms)  # the rollups: no filters
        want = reader._member_raw_series(conn, filled, request, series, now_ms)
    assert rows == want


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
