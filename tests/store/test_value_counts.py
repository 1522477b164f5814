"""``call_value_counts``: calls counted per participant count, kept exact by the row writers and
filled by migration ``m0025`` from an older database's calls; a list filtered on one of those
columns alone is counted from it."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.sessions.record import validate_record
from calltrail.store import Stores
from calltrail.store.database import Database, open_database
from calltrail.store.migrations import migrate
from calltrail.store.sessions_sql import VALUE_COUNTED, compile_query
from tests.store.statements import spy_statements


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, database_url: Callable[[str], str]) -> Iterator[Database]:
    opened = open_database(database_url(request.param))
    migrate(opened)
    yield opened
    opened.close()


def _records(count: int, seed: int, prefix: str = "s") -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for index in range(count):
        invited = rng.randrange(0, 7)
        joined = rng.randrange(0, invited + 1)
        participants = [{"uid": f"u{n}", "isJoined": n < joined} for n in range(invited)]
        record: dict[str, Any] = {
            "sessionId": f"{prefix}-{index:04d}",
            "initiator": "u0",
            "receiver": "g1",
            "receiverType": "group",
            "type": rng.choice(("audio", "video")),
            "status": "ended",
            "initiatedAt": 1000 + index,
            "participants": participants,
        }
        if rng.random() < 0.3:
            record["totalParticipants"] = rng.randrange(0, 9)
        records.append(validate_record(record))
    return records


def _assert_exact(db: Database, app_id: str) -> None:
    with db.read() as conn:
        for column in VALUE_COUNTED:
            counted = conn.fetchall(
                "SELECT value, n FROM call_value_counts WHERE app_id = ? AND name = ? AND n <> 0 ORDER BY value",
                (app_id, column),
            )
            actual = conn.fetchall(
                f"SELECT {column}, count(*) FROM calls WHERE app_id = ? GROUP BY {column} ORDER BY {column}", (app_id,)
            )
            assert [tuple(int(v) for v in row) for row in counted] == [tuple(int(v) for v in row) for row in actual]
            assert len(actual) > 3


def _new_app(stores: Stores) -> str:
    return stores.tenants.create_app(new_app_settings("Values", f"values-{random.randrange(16**8):08x}")).app_id


def test_the_counts_stay_exact_through_imports_rewrites_and_deletions(db: Database) -> None:
    stores = Stores(db)
    app = _new_app(stores)
    stores.sessions.put_records(app, _records(300, seed=1))
    _assert_exact(db, app)
    stores.sessions.put_records(app, _records(150, seed=2))  # the same calls, other participants
    _assert_exact(db, app)
    stores.sessions.delete(app, [f"s-{index:04d}" for index in range(0, 300, 4)])
    _assert_exact(db, app)


def test_a_list_filtered_on_one_participant_count_is_counted_from_the_values(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = Stores(db)
    app = _new_app(stores)
    stores.sessions.put_records(app, _records(400, seed=3))
    queries = [
        CallQuery().where("total_participants", "gte", 4),
        CallQuery().where("total_participants", "gt", 1).where("total_participants", "lte", 3),
        CallQuery().where("participants_count", "eq", 2),
        CallQuery().where("participants_count", "in", (0, 5)),
    ]
    executed = spy_statements(db, monkeypatch)
    for query in queries:
        assert "call_value_counts" in compile_query(app, query).count_sql
        for page in (PageRequest(1, 10), PageRequest(3, 10)):
            executed.clear()
            found = stores.sessions.find(app, query, page)
            assert any("call_value_counts" in sql for sql in executed), executed
            compiled = compile_query(app, query)
            with db.read() as conn:
                actual = conn.fetchone(f"SELECT count(*) FROM calls c WHERE {compiled.where}", compiled.params)
            assert actual is not None and found.total == int(actual[0]) > 10, query
    for mixed in (
        CallQuery().where("total_participants", "gte", 4).where("participants_count", "gte", 4),
        CallQuery().where("total_participants", "gte", 4).where("type", "eq", "audio"),
    ):
        assert "call_value_counts" not in compile_query(app, mixed).count_sql


def test_the_migration_counts_the_calls_of_an_older_database(db: Database) -> None:
    stores = Stores(db)
    apps = [_new_app(stores) for _ in range(2)]
    for seed, app in enumerate(apps):
        stores.sessions.put_records(app, _records(250, seed=seed + 10, prefix=f"s{seed}"))
    with db.write() as conn:  # what the version before m0025 left: no such table
        conn.execute("DROP TABLE call_value_counts")
        conn.execute("DELETE FROM calltrail_migrations WHERE version = 25")
    assert migrate(db) == ["0025_value_counts"]
    for app in apps:
        _assert_exact(db, app)
    stores.sessions.put_records(apps[0], _records(100, seed=20, prefix="s0"))  # the writers go on from there
    _assert_exact(db, apps[0])
