"""The one event-log engine, through both call domains: bounded locking on PostgreSQL, whole
imports of any size, and the lock keys it takes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from calltrail.kernel.errors import Conflict
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.sessions.record import validate_record
from calltrail.store import Stores
from calltrail.store.database import MAX_KEY_LOCKS, Connection, Database, open_database
from calltrail.voice.record import validate_record as validate_voice_record
from calltrail.voice.vocabulary import new_channel_settings
from tests.conftest import Tenant

IMPORT_SIZE = 100_000


def _record(index: int) -> dict[str, Any]:
    return validate_record(
        {
            "sessionId": f"bulk-{index:06d}",
            "initiator": f"u{index % 97}",
            "receiver": f"u{(index + 1) % 97}",
            "receiverType": "user",
            "type": "audio",
            "status": "ended",
            "initiatedAt": 1_700_000_000 + index,
        }
    )


def _advisory_locks_held(conn: Connection) -> int:
    row = conn.fetchone("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
    return int(row[0]) if row else 0


@pytest.mark.slow
def test_an_import_of_100000_records_succeeds_in_one_call(stores: Stores, tenant: Tenant) -> None:
    """A stock PostgreSQL has 64 lock slots per connection: one lock per record would run out
    (``out of shared memory``). The import takes one bulk lock instead."""
    stores.sessions.put_records(tenant.app_id, [_record(index) for index in range(IMPORT_SIZE)])
    page = stores.sessions.find(tenant.app_id, CallQuery(), PageRequest(1, 3))
    assert page.total == IMPORT_SIZE
    assert [item.count(b"bulk-") for item in page.items] == [1, 1, 1]
    newest = stores.sessions.get(tenant.app_id, f"bulk-{IMPORT_SIZE - 1:06d}")
    assert newest is not None and b'"initiatedAt":1700099999' in newest.summary


def test_locks_per_transaction_are_bounded(stores: Stores) -> None:
    """However many keys a write touches, it holds at most ``MAX_KEY_LOCKS + 1`` advisory locks."""
    for count in (1, MAX_KEY_LOCKS, MAX_KEY_LOCKS + 1, 5000):
        with stores.db.write() as conn:
            conn.lock_keys(f"test/bounded/{count}/{index}" for index in range(count))
            if conn.dialect == "postgresql":
                assert _advisory_locks_held(conn) <= MAX_KEY_LOCKS + 1, count


def test_a_bulk_writer_and_a_small_writer_exclude_each_other(stores: Stores) -> None:
    """A transaction over many keys (bulk lock) and one over a few of the same keys (key locks
    under the shared bulk lock) never run at the same time: the guarantee the per-key locks gave.
    (SQLite serialises every writer of the file, so it holds there too.)"""
    keys = [f"test/exclusion/{index}" for index in range(MAX_KEY_LOCKS * 4)]
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def bulk() -> None:
        with stores.db.write() as conn:
            conn.lock_keys(keys)
            inside.set()
            release.wait(10)
            order.append("bulk done")

    thread = threading.Thread(target=bulk)
    thread.start()
    assert inside.wait(10)
    small = threading.Thread(target=lambda: _small_write(stores, keys[:2], order))
    small.start()
    small.join(0.5)
    assert small.is_alive(), "the small writer must wait for the bulk writer"
    release.set()
    thread.join(10)
    small.join(10)
    assert order == ["bulk done", "small done"]


def _small_write(stores: Stores, keys: list[str], order: list[str]) -> None:
    with stores.db.write() as conn:
        conn.lock_keys(keys)
        order.append("small done")


def test_a_phone_call_stays_in_its_channel_through_the_engine(stores: Stores, tenant: Tenant) -> None:
    first = stores.voice.create_channel(tenant.app_id, new_channel_settings("One")).channel_id
    second = stores.voice.create_channel(tenant.app_id, new_channel_settings("Two")).channel_id
    call_id = str(uuid.uuid4())
    record = {
        "from": "+31000000001",
        "to": "+31000000002",
        "originator": {"number": {"type": "pstn", "number": "+31000000001"}},
        "direction": "incoming",
        "status": "completed",
        "type": "pstn",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:05.000Z",
    }
    stores.voice.put_records(tenant.app_id, first, [validate_voice_record(record, call_id=call_id, channel_id=first)])
    with pytest.raises(Conflict):
        stores.voice.put_records(
            tenant.app_id, second, [validate_voice_record(record, call_id=call_id, channel_id=second)]
        )
    assert stores.voice.get(tenant.app_id, first, call_id) is not None
    assert stores.voice.get(tenant.app_id, second, call_id) is None


def test_a_bulk_writer_holds_up_its_own_app_only(pg_database: Callable[[], str]) -> None:
    """The bulk lock is per app: a long import into one app never blocks another app's writes
    (on SQLite every writer of the file is serialised anyway, so this is PostgreSQL's test)."""
    db = open_database(pg_database())
    try:
        inside, release = threading.Event(), threading.Event()

        def bulk() -> None:
            with db.write() as conn:
                conn.lock_keys(f"app-a/session/{index}" for index in range(MAX_KEY_LOCKS * 4))
                inside.set()
                release.wait(10)

        thread = threading.Thread(target=bulk)
        thread.start()
        try:
            assert inside.wait(10)
            other = threading.Thread(target=lambda: _lock(db, ["app-b/session/1"]))
            other.start()
            other.join(5)
            assert not other.is_alive(), "another app's writer must not wait for this app's import"
            same = threading.Thread(target=lambda: _lock(db, ["app-a/session/1"]))
            same.start()
            same.join(0.5)
            assert same.is_alive(), "a writer of the same app waits for the import"
        finally:
            release.set()
            thread.join(10)
        same.join(10)
        assert not same.is_alive()
    finally:
        db.close()


def _lock(db: Database, keys: list[str]) -> None:
    with db.write() as conn:
        conn.lock_keys(keys)
