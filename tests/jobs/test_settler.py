"""The settler inside ``calltrail serve`` recomputes the usage rollups' backlog on its own."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from calltrail.jobs.settler import settling
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores, open_stores
from calltrail.store.stats import USAGE_BACKLOG_MARKS
from calltrail.store.usage_backlog import waiting_marks
from calltrail.store.usage_members import backfill
from calltrail.store.usage_rollups import backfill as backfill_rollups
from tests.sessions.demo_events import demo_events


def _ingest_demo(stores: Stores, app_id: str, calls: int) -> None:
    events = demo_events(app_id, calls, seed=3, span_days=2)
    for start in range(0, len(events), 200):
        stores.sessions.ingest(app_id, events[start : start + 200])


def _rollups(stores: Stores, app_id: str) -> list[tuple[Any, ...]]:
    """Both rollups of the app as stored (not settled first: the settler must have done it)."""
    with stores.db.read() as conn:
        rows = conn.fetchall(
            "SELECT * FROM usage_member_rollups WHERE app_id = ? ORDER BY level, block, uid", (app_id,)
        ) + conn.fetchall("SELECT * FROM usage_rollups WHERE app_id = ? ORDER BY grp, level, block, value", (app_id,))
    return [tuple(_plain(v) for v in row) for row in rows]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return bytes(value) if isinstance(value, bytes | memoryview) else int(value)


def _backlog_vacuums(stores: Stores) -> int:
    """How many times PostgreSQL vacuumed the per-user marks' table (0 on SQLite)."""
    if stores.db.dialect != "postgresql":
        return 0
    with stores.db.read() as conn:
        row = conn.fetchone(
            "SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = current_schema() "
            "AND relname = 'usage_member_backlog'"
        )
    return int(row[0]) if row is not None else 0


def test_the_settler_recomputes_every_apps_backlog(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every app's backlog recomputed as a rebuild would, and the marks it found waiting at each
    round set as ``/metrics``' gauge: at least the two apps' at first, none once all is settled."""
    apps = [stores.tenants.create_app(new_app_settings("Settle", f"s-{secrets.token_hex(5)}")).app_id for _ in "ab"]
    for app_id in apps:
        _ingest_demo(stores, app_id, 60)
    waiting = waiting_marks(stores.db)
    assert set(apps) <= set(waiting)
    vacuums = _backlog_vacuums(stores)
    gauge: list[int] = []
    set_gauge = stores.db.stats.set

    def set_and_record(name: str, value: int) -> None:
        gauge.append(value)
        set_gauge(name, value)

    monkeypatch.setattr(stores.db.stats, "set", set_and_record)

    async def serve_until_settled() -> None:
        async with settling(stores.db, interval=0.05):
            with anyio.fail_after(60):
                while set(apps) & set(await anyio.to_thread.run_sync(waiting_marks, stores.db)) or gauge[-1:] != [0]:
                    await anyio.sleep(0.05)

    anyio.run(serve_until_settled)
    assert gauge[0] >= sum(waiting[app_id] for app_id in apps) > 0
    if stores.db.dialect == "postgresql":  # the marks' deleted rows reclaimed (usage_backlog.tidy)
        assert _backlog_vacuums(stores) > vacuums
    assert stores.db.stats.snapshot()[USAGE_BACKLOG_MARKS] == 0
    for app_id in apps:
        settled = _rollups(stores, app_id)
        assert settled
        with stores.db.write() as conn:
            conn.execute("INSERT INTO usage_member_rollup_backfill (app_id) VALUES (?)", (app_id,))
            conn.execute("INSERT INTO usage_rollup_backfill (app_id) VALUES (?)", (app_id,))
        assert app_id in backfill(stores.db) and app_id in backfill_rollups(stores.db)  # from scratch
        assert _rollups(stores, app_id) == settled


def test_calltrail_serve_runs_the_settler(
    server_factory: Callable[..., Any], database_url: Callable[[str], str]
) -> None:
    """A real ``calltrail serve`` process recomputes a backlog left by another writer, unasked."""
    db_url = database_url("sqlite")
    own = open_stores(db_url)
    try:
        app_id = own.tenants.create_app(new_app_settings("Serve", f"s-{secrets.token_hex(5)}")).app_id
        _ingest_demo(own, app_id, 30)
        assert app_id in waiting_marks(own.db)
        server = server_factory(db_url)
        deadline = time.monotonic() + 60
        while app_id in waiting_marks(own.db) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert app_id not in waiting_marks(own.db), server.output()
        assert _rollups(own, app_id)
    finally:
        own.close()
