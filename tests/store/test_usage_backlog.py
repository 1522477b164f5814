"""The rollups' backlog: what the session writers mark, recomputed together (by a due write, by
:func:`settle`) or read around, gives the rollups a rebuild from the calls gives, and the series
reading every call gives. Both engines."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.query import CallQuery
from calltrail.store import Stores, usage_backlog, usage_read
from calltrail.store.usage_backlog import has_backlog, has_rollup_backlog
from calltrail.store.usage_read import UsageReader
from calltrail.store.usage_rollups import backfill
from calltrail.usage.params import CallUsageRequest, Period
from calltrail.usage.periods import zone
from tests.store.member_calls import _write_random_calls
from tests.store.rollup_calls import BASE, DAY
from tests.store.test_usage_members import _member_rollups
from tests.store.test_usage_rollups import _rollups


def _app(stores: Stores, name: str) -> str:
    return stores.tenants.create_app(new_app_settings(name, f"k-{secrets.token_hex(5)}")).app_id


@pytest.fixture(scope="module")
def written(stores: Stores) -> str:
    """Random calls written, rewritten and deleted through the session writers; nothing settled."""
    app_id = _app(stores, "Backlog")
    _write_random_calls(stores, app_id)
    return app_id


def test_the_writers_mark_what_a_rebuild_computes(stores: Stores, written: str) -> None:
    with stores.db.read() as conn:
        assert has_rollup_backlog(conn, written) and has_backlog(conn, written)
    kept = _rollups(stores, written)  # settles first
    with stores.db.read() as conn:
        assert not has_backlog(conn, written)
        assert conn.fetchone("SELECT 1 FROM usage_member_backlog_size WHERE app_id = ?", (written,)) is None
    with stores.db.write() as conn:
        conn.execute("INSERT INTO usage_rollup_backfill (app_id) VALUES (?)", (written,))
    assert written in backfill(stores.db)
    assert _rollups(stores, written) == kept


def test_writes_recomputing_their_days_along_the_way_keep_the_same_rows(
    stores: Stores, written: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same writes into another app, each recomputing its days and the earliest marked one
    whenever 60 marks are due (so some keys more than once): the same rollups, the app's and the
    per-user ones, once the rest is settled. It fails if a due write drops its own marks."""
    monkeypatch.setattr(usage_backlog, "MARKS_BEFORE_RECOMPUTE", 60)
    app_id = _app(stores, "Due")
    recomputed_inline = _write_random_calls(stores, app_id)
    assert 3 <= recomputed_inline < 12
    assert _rollups(stores, app_id) == _rollups(stores, written)
    assert [row[1:] for row in _member_rollups(stores, app_id)] == [row[1:] for row in _member_rollups(stores, written)]


def _series(stores: Stores, app_id: str, group_by: str | None) -> list[dict[str, Any]]:
    period = Period(BASE * 1000, (BASE + 13 * DAY) * 1000, "day", "Asia/Kolkata", zone("Asia/Kolkata"), group_by, 100)
    return UsageReader(stores.db).calls(app_id, CallUsageRequest(period, CallQuery(), None), (BASE + 20 * DAY) * 1000)


@pytest.mark.parametrize("group_by", [None, "type", "uid"])
def test_a_series_whose_snapshot_still_holds_marks_recomputes_them_then_reads(
    stores: Stores, monkeypatch: pytest.MonkeyPatch, group_by: str | None
) -> None:
    """Writes that land between a read's settle and its snapshot (here: no settle at all): the
    rollups are recomputed and read in one write transaction, so the stale ones are never read."""
    app_id = _app(stores, "Marked")
    _write_random_calls(stores, app_id)
    monkeypatch.setattr(usage_read, "settle", lambda db, app_id: None)
    marked = _series(stores, app_id, group_by)
    with stores.db.read() as conn:
        assert not has_rollup_backlog(conn, app_id) if group_by != "uid" else not has_backlog(conn, app_id)
    monkeypatch.undo()
    fresh = _app(stores, "Settled")
    _write_random_calls(stores, fresh)
    assert marked == _series(stores, fresh, group_by)  # settled before the snapshot, then read


def test_tidy_reclaims_the_marks_deleted_rows(stores: Stores) -> None:
    """After a settle the marks are deleted rows; ``tidy`` (outside a transaction) reclaims them on
    PostgreSQL, where autovacuum may be off, and is nothing to do on SQLite."""
    app_id = _app(stores, "Tidy")
    _write_random_calls(stores, app_id)
    usage_backlog.settle(stores.db, app_id)
    usage_backlog.tidy(stores.db)
    with stores.db.read() as conn:
        assert not has_backlog(conn, app_id) and not has_rollup_backlog(conn, app_id)
        if stores.db.dialect == "postgresql":
            vacuumed = conn.fetchall(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND relname IN ('usage_member_backlog', 'usage_rollup_backlog', 'usage_member_backlog_size') "
                "AND last_vacuum IS NOT NULL ORDER BY 1"
            )
            assert [name for (name,) in vacuumed] == [
                "usage_member_backlog",
                "usage_member_backlog_size",
                "usage_rollup_backlog",
            ]


def test_tidying_calls_tidy_after_every_few_batches() -> None:
    """The bulk loaders' count (demo feeder, import): ``tidy`` after the 3rd and 6th batch of 7."""
    steps: list[str] = []
    batch_stored = usage_backlog.tidying(lambda: steps.append("tidy"), every=3)
    for batch in range(1, 8):
        steps.append(f"batch {batch}")
        batch_stored()
    assert steps == ["batch 1", "batch 2", "batch 3", "tidy", "batch 4", "batch 5", "batch 6", "tidy", "batch 7"]
