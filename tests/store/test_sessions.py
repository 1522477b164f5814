"""The call store, against SQLite and PostgreSQL: ingestion, import, reads and isolation."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import orjson
import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.events import parse_batch
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.sessions.record import merge_record, validate_record
from calltrail.store import Stores, database, open_stores
from calltrail.store import sessions as sessions_store
from calltrail.store.database import Connection, Documents, PostgresDatabase, key_hash
from tests.conftest import Tenant
from tests.sessions.spec_calls import DIRECT_SESSION, GROUP_SESSION, direct_call_events, group_call_events, without_mid
from tests.store.older_schema import reopened_after
from tests.store.statements import spy_statements


def record_of(stores: Stores, app_id: str, session: str) -> dict[str, Any] | None:
    stored = stores.sessions.get(app_id, session)
    return merge_record(stored.summary, stored.extra) if stored else None


def ids(stores: Stores, app_id: str, query: CallQuery | None = None, page: int = 1, per_page: int = 100) -> list[str]:
    result = stores.sessions.find(app_id, query or CallQuery(), PageRequest(page, per_page))
    return [record["sessionId"] for record in result.calls.parsed()]


def test_ingest_counts_new_events_and_duplicates(stores: Stores, tenant: Tenant) -> None:
    events = parse_batch(direct_call_events())
    first = stores.sessions.ingest(tenant.app_id, events)
    assert (first.accepted, first.duplicates) == (7, 0)
    before = stores.sessions.get(tenant.app_id, DIRECT_SESSION)
    again = stores.sessions.ingest(tenant.app_id, events[:3] + events[:1])
    assert (again.accepted, again.duplicates) == (0, 4)
    assert stores.sessions.get(tenant.app_id, DIRECT_SESSION) == before
    assert len(list(stores.sessions.events_of(tenant.app_id, DIRECT_SESSION))) == 7


def test_duplicate_ids_within_one_batch_count_once(stores: Stores, tenant: Tenant) -> None:
    events = parse_batch(direct_call_events())
    result = stores.sessions.ingest(tenant.app_id, events + events)
    assert (result.accepted, result.duplicates) == (7, 7)


def test_arrival_order_across_batches_does_not_matter(stores: Stores, tenant: Tenant) -> None:
    raw = group_call_events()
    stores.sessions.ingest(tenant.app_id, parse_batch(raw))
    expected = record_of(stores, tenant.app_id, GROUP_SESSION)
    other = stores.tenants.create_app(new_app_settings("Other order", tenant.app_id + "-b")).app_id
    shuffled = raw[:]
    random.Random(7).shuffle(shuffled)
    for event in shuffled:  # one event per request, worst order
        stores.sessions.ingest(other, parse_batch(event))
    assert record_of(stores, other, GROUP_SESSION) == expected


def test_session_is_kept_but_not_listed_until_initiated(stores: Stores, tenant: Tenant) -> None:
    raw = direct_call_events()
    stores.sessions.ingest(tenant.app_id, parse_batch(raw[1:]))
    assert stores.sessions.get(tenant.app_id, DIRECT_SESSION) is None
    assert ids(stores, tenant.app_id) == []
    stores.sessions.ingest(tenant.app_id, parse_batch(raw[0]))
    assert ids(stores, tenant.app_id) == [DIRECT_SESSION]
    record = record_of(stores, tenant.app_id, DIRECT_SESSION)
    assert record is not None and record["status"] == "ended" and record["totalParticipants"] == 2


def test_import_replaces_and_wins_over_later_events(stores: Stores, tenant: Tenant) -> None:
    stores.sessions.ingest(tenant.app_id, parse_batch(direct_call_events()))
    imported = validate_record(
        {
            "sessionId": DIRECT_SESSION,
            "initiator": "x",
            "receiver": "y",
            "receiverType": "user",
            "type": "video",
            "status": "busy",
            "initiatedAt": 1600000000,
            "custom": {"k": 1},
        }
    )
    stores.sessions.put_records(tenant.app_id, [imported])
    assert record_of(stores, tenant.app_id, DIRECT_SESSION) == imported
    late = {"id": "late-1", "type": "call.updated", "sessionId": DIRECT_SESSION, "at": 1700000000, "tags": ["x"]}
    assert stores.sessions.ingest(tenant.app_id, parse_batch(late)).accepted == 1
    assert record_of(stores, tenant.app_id, DIRECT_SESSION) == imported


def test_repeated_session_in_one_import_keeps_the_last(stores: Stores, tenant: Tenant) -> None:
    base = {
        "sessionId": "s",
        "initiator": "a",
        "receiver": "b",
        "receiverType": "user",
        "type": "audio",
        "initiatedAt": 1,
    }
    stores.sessions.put_records(
        tenant.app_id, [validate_record(base | {"status": "busy"}), validate_record(base | {"status": "ended"})]
    )
    record = record_of(stores, tenant.app_id, "s")
    assert record is not None and record["status"] == "ended"


def test_imports_and_events_count_toward_the_statistics_refresh(
    stores: Stores, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import, like ingested events, counts its rows toward the planner's next refresh
    (``Database.note_written``): a bulk import also leaves a table never analyzed otherwise."""
    written: list[int] = []
    monkeypatch.setattr(stores.db, "note_written", written.append)
    base: dict[str, object] = {
        "initiator": "a",
        "receiver": "b",
        "receiverType": "user",
        "type": "audio",
        "status": "ended",
    }
    base["initiatedAt"] = 1
    stores.sessions.put_records(tenant.app_id, [validate_record(base | {"sessionId": f"s{n}"}) for n in range(3)])
    stores.sessions.ingest(tenant.app_id, parse_batch(direct_call_events()))
    assert written == [3, len(direct_call_events())]


def test_apps_never_see_each_other(stores: Stores, tenant: Tenant) -> None:
    other = stores.tenants.create_app(new_app_settings("Other", tenant.app_id + "-o")).app_id
    stores.sessions.ingest(tenant.app_id, parse_batch(direct_call_events()))
    assert stores.sessions.get(other, DIRECT_SESSION) is None
    assert ids(stores, other) == []
    assert not stores.sessions.involves(other, DIRECT_SESSION, "superhero8")
    # the same event ids and session id in another app are new there, not duplicates
    assert stores.sessions.ingest(other, parse_batch(direct_call_events())).accepted == 7
    assert without_mid(record_of(stores, other, DIRECT_SESSION) or {}) == without_mid(
        record_of(stores, tenant.app_id, DIRECT_SESSION) or {}
    )


def test_member_queries(stores: Stores, tenant: Tenant) -> None:
    stores.sessions.ingest(tenant.app_id, parse_batch(direct_call_events() + group_call_events()))
    app = tenant.app_id
    assert ids(stores, app, CallQuery().involving("superhero8")) == [GROUP_SESSION, DIRECT_SESSION]
    assert ids(stores, app, CallQuery().involving("superhero4")) == [GROUP_SESSION]
    assert ids(stores, app, CallQuery().involving("superhero4", missed=True)) == [GROUP_SESSION]
    assert ids(stores, app, CallQuery().involving("superhero2", missed=True)) == []
    assert ids(stores, app, CallQuery().involving("superhero8", is_initiator=True)) == [GROUP_SESSION, DIRECT_SESSION]
    assert ids(stores, app, CallQuery().involving("superhero2").involving("superhero4")) == [GROUP_SESSION]
    assert ids(stores, app, CallQuery().involving("nobody")) == []
    assert stores.sessions.involves(app, GROUP_SESSION, "superhero6")
    assert not stores.sessions.involves(app, DIRECT_SESSION, "superhero6")


def _import_many(stores: Stores, app_id: str, count: int) -> list[str]:
    records = []
    for index in range(count):
        # three calls share each second so ties are ordered by sessionId
        records.append(
            validate_record(
                {
                    "sessionId": f"s-{index:04d}",
                    "initiator": "a",
                    "receiver": "b",
                    "receiverType": "user",
                    "type": "audio",
                    "status": "ended",
                    "initiatedAt": 1000 + index // 3,
                }
            )
        )
    stores.sessions.put_records(app_id, records)
    return sorted((r["sessionId"] for r in records), key=lambda s: (1000 + int(s[2:]) // 3, s), reverse=True)


def test_order_and_every_page_including_deep_ones(stores: Stores, tenant: Tenant) -> None:
    expected = _import_many(stores, tenant.app_id, 95)
    assert ids(stores, tenant.app_id, per_page=1000) == expected
    pages = [ids(stores, tenant.app_id, page=page, per_page=10) for page in range(1, 11)]
    assert [s for page in pages for s in page] == expected
    assert ids(stores, tenant.app_id, page=11, per_page=10) == []
    result = stores.sessions.find(tenant.app_id, CallQuery(), PageRequest(10, 10))
    assert result.total == 95 and result.calls.count == 5


def test_a_first_page_comes_with_its_total_in_one_statement_on_postgresql(
    stores: Stores, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page 1 needs nothing from its total, so where each statement is a round trip both come
    from one, outside a transaction (it is its own snapshot); the rows and the total equal those
    read apart (page 2 is read apart, in a transaction)."""
    expected = _import_many(stores, tenant.app_id, 40)
    executed = spy_statements(stores.db, monkeypatch)
    transactions: list[bool] = []
    if isinstance(stores.db, PostgresDatabase):
        begin = PostgresDatabase._transaction

        def recorded(db: PostgresDatabase, read_only: bool) -> AbstractContextManager[Connection]:
            transactions.append(read_only)
            return begin(db, read_only)

        monkeypatch.setattr(PostgresDatabase, "_transaction", recorded)
    window = CallQuery().where("initiated_at", "gte", 1004)
    by_initiator = CallQuery().where("initiator", "eq", "a").where("status", "eq", "ended")
    for query, wanted in ((CallQuery(), expected), (window, expected[:-12]), (by_initiator, expected)):
        executed.clear()
        first = stores.sessions.find(tenant.app_id, query, PageRequest(1, 15))
        assert len(executed) == (1 if stores.db.dialect == "postgresql" else 2), executed
        assert transactions == []
        second = stores.sessions.find(tenant.app_id, query, PageRequest(2, 15))
        assert first.total == second.total == len(wanted)
        assert [record["sessionId"] for record in first.calls.parsed() + second.calls.parsed()] == wanted[:30]
        transactions.clear()
    empty = stores.sessions.find(tenant.app_id, CallQuery().where("status", "eq", "busy"), PageRequest(1, 15))
    assert (empty.total, empty.calls) == (0, Documents(0, b""))


def test_filtered_deep_page(stores: Stores, tenant: Tenant) -> None:
    expected = _import_many(stores, tenant.app_id, 60)
    query = CallQuery().where("initiated_at", "gte", 1005)
    wanted = [s for s in expected if 1000 + int(s[2:]) // 3 >= 1005]
    pages = [ids(stores, tenant.app_id, query, page=page, per_page=7) for page in range(1, 10)]
    assert [s for page in pages for s in page] == wanted


def test_concurrent_writers_to_one_session_lose_nothing(stores: Stores, tenant: Tenant) -> None:
    raw = group_call_events()
    stores.sessions.ingest(tenant.app_id, parse_batch(raw[0]))
    barrier = threading.Barrier(len(raw) - 1)
    failures: list[BaseException] = []

    def send(event: dict[str, Any]) -> None:
        try:
            barrier.wait()
            stores.sessions.ingest(tenant.app_id, parse_batch(event))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(event,)) for event in raw[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    other = stores.tenants.create_app(new_app_settings("Reference", tenant.app_id + "-r")).app_id
    stores.sessions.ingest(other, parse_batch(raw))
    assert record_of(stores, tenant.app_id, GROUP_SESSION) == record_of(stores, other, GROUP_SESSION)


def test_call_counts_stay_exact_through_updates_and_imports(stores: Stores, tenant: Tenant) -> None:
    app = tenant.app_id
    raw = direct_call_events()
    for event in raw:  # the call moves initiated -> ongoing -> ended, one event at a time
        stores.sessions.ingest(app, parse_batch(event))
    stores.sessions.ingest(app, parse_batch(group_call_events()))
    stores.sessions.put_records(
        app,
        [
            validate_record(
                {
                    "sessionId": DIRECT_SESSION,
                    "initiator": "a",
                    "receiver": "b",
                    "receiverType": "user",
                    "type": "video",
                    "status": "busy",
                    "initiatedAt": 1,
                }
            )
        ],
    )
    with stores.db.read() as conn:
        counted = conn.fetchall(
            "SELECT status, type, mode, receiver_type, has_recording, n FROM call_counts WHERE app_id = ? AND n <> 0 "
            "ORDER BY status",
            (app,),
        )
        actual = conn.fetchall(
            "SELECT status, type, mode, receiver_type, has_recording, count(*) FROM calls WHERE app_id = ? "
            "GROUP BY status, type, mode, receiver_type, has_recording ORDER BY status",
            (app,),
        )
    assert [tuple(r) for r in counted] == [tuple(r) for r in actual]
    assert [r[0] for r in counted] == ["busy", "ended"]
    key = "m.uid, c.status, c.type, c.mode, c.receiver_type, c.has_recording, m.is_initiator, m.missed"
    with stores.db.read() as conn:
        per_user = conn.fetchall(
            "SELECT uid, status, type, mode, receiver_type, has_recording, is_initiator, missed, n FROM member_counts "
            "WHERE app_id = ? AND n <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8",
            (app,),
        )
        actual_per_user = conn.fetchall(
            f"SELECT {key}, count(*) FROM call_members m JOIN calls c ON c.app_id = m.app_id "
            f"AND c.session_id = m.session_id WHERE m.app_id = ? GROUP BY {key} ORDER BY 1, 2, 3, 4, 5, 6, 7, 8",
            (app,),
        )
    assert [tuple(r) for r in per_user] == [tuple(r) for r in actual_per_user] and len(per_user) >= 6
    busy = CallQuery().involving("a", is_initiator=True).where("status", "eq", "busy")
    assert stores.sessions.find(app, busy, PageRequest(1, 10)).total == 1
    assert (
        stores.sessions.find(app, CallQuery().where("status", "in", ("busy", "ended")), PageRequest(1, 10)).total == 2
    )


def test_a_list_with_a_range_filter_chooses_its_plan_from_its_total_on_both_engines(
    stores: Stores, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few matches: the page sorts them (the list's order hidden from its index); many: it walks
    the list's index in order (the range hidden instead). PostgreSQL left to itself walked the
    index in order through a month of calls for a one-day ``startedAt`` range: 313 ms at 1M calls."""
    expected = _import_many(stores, tenant.app_id, 60)
    started = [f"s-{i:04d}" for i in (3, 30, 50)]
    record = {"initiator": "a", "receiver": "b", "receiverType": "user", "type": "audio", "status": "ended"}
    stores.sessions.put_records(tenant.app_id, [
        validate_record({**record, "sessionId": sid, "initiatedAt": 1000 + int(sid[2:]) // 3, "startedAt": 5000})
        for sid in started
    ])  # fmt: skip
    with stores.db.read() as conn:
        order_hidden, range_hidden = conn.unindexed("c.initiated_at"), conn.unindexed("c.duration")
    executed = spy_statements(stores.db, monkeypatch)
    few = stores.sessions.find(tenant.app_id, CallQuery().where("started_at", "gte", 0), PageRequest(1, 10))
    assert few.total == 3 and order_hidden in executed[-1] and order_hidden != "c.initiated_at"
    assert [record["sessionId"] for record in few.calls.parsed()] == sorted(started, reverse=True)
    many = stores.sessions.find(tenant.app_id, CallQuery().where("duration", "gte", 0), PageRequest(1, 10))
    assert many.total == 60 and range_hidden in executed[-1] and order_hidden not in executed[-1]
    assert [record["sessionId"] for record in many.calls.parsed()] == expected[:10]


def test_both_page_plans_return_the_same_pages(stores: Stores, tenant: Tenant) -> None:
    from calltrail.store.sessions_sql import compile_query

    _import_many(stores, tenant.app_id, 60)
    query = CallQuery().where("started_at", "gte", 0).where("initiated_at", "lt", 1015)
    stores.sessions.put_records(
        tenant.app_id,
        [
            validate_record(
                {
                    "sessionId": f"s-{i:04d}",
                    "initiator": "a",
                    "receiver": "b",
                    "receiverType": "user",
                    "type": "audio",
                    "status": "ended",
                    "initiatedAt": 1000 + i // 3,
                    "startedAt": 2000 + i,
                }
            )
            for i in range(0, 60, 2)
        ],
    )
    compiled = compile_query(tenant.app_id, query)
    assert compiled.ranged
    with stores.db.read() as conn:
        pages = {
            sort: conn.fetchall(compiled.page_sql("DESC", sort=sort, conn=conn), (*compiled.params, 100, 0))
            for sort in (True, False)
        }
    assert pages[True] == pages[False] and len(pages[True]) == 23
    sessions = [orjson.loads(bytes(s))["sessionId"] for (s,) in pages[True]]
    assert sessions == ids(stores, tenant.app_id, query)


def test_a_capped_range_of_a_later_time_counts_the_calls_newer_than_its_cap(
    stores: Stores, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call starts after its initiation, so ``startedAt[lt]=X`` matches no call initiated at X
    or later: a scan in list order passes all of those first. 240 newer calls make the sort the
    cheaper plan for 60 matches among 300 calls, which their share alone would not tell."""
    base = {"initiator": "a", "receiver": "b", "receiverType": "user", "type": "audio", "status": "ended"}
    older = [{**base, "sessionId": f"o-{i:03d}", "initiatedAt": 1000 + i, "startedAt": 1100 + i} for i in range(60)]
    newer = [{**base, "sessionId": f"n-{i:03d}", "initiatedAt": 5000 + i} for i in range(240)]
    stores.sessions.put_records(tenant.app_id, [validate_record(r) for r in older + newer])
    with stores.db.read() as conn:
        order_hidden = conn.unindexed("c.initiated_at")
    executed = spy_statements(stores.db, monkeypatch)
    expected = [f"o-{i:03d}" for i in range(59, 49, -1)]
    uncapped = CallQuery().where("started_at", "gte", 1100)
    for query, sorted_ in ((uncapped, False), (uncapped.where("started_at", "lt", 1200), True)):
        found = stores.sessions.find(tenant.app_id, query, PageRequest(1, 10))
        assert [record["sessionId"] for record in found.calls.parsed()] == expected
        assert (order_hidden in executed[-1]) is sorted_, executed[-1]


def test_a_sort_on_one_range_reads_up_to_where_its_page_ends(
    stores: Stores, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list filtered by ranges of one column alone, when sorted, first finds in that column's
    index the initiation of the page's last row, then sorts the matches up to it: every page,
    read from either end, with ties on the initiation across its edges, is the list's."""
    rng = random.Random(5)
    records = []
    for index in range(150):
        record = {
            "sessionId": f"r-{rng.randrange(16**4):04x}-{index}",
            "initiator": "a",
            "receiver": "b",
            "receiverType": "user",
            "type": "audio",
            "status": "ended",
            "initiatedAt": 1000 + rng.randrange(30),
        }
        if rng.random() < 0.8:
            record["startedAt"] = 1000 + rng.randrange(60)
        records.append(validate_record(record))  # fmt: skip
    stores.sessions.put_records(tenant.app_id, records)
    matches = [r for r in records if 1010 <= r.get("startedAt", -1) < 1050]
    expected = [r["sessionId"] for r in sorted(matches, key=lambda r: (r["initiatedAt"], r["sessionId"]), reverse=True)]
    query = CallQuery().where("started_at", "gte", 1010).where("started_at", "lt", 1050)
    monkeypatch.setattr(sessions_store, "prefer_sort", lambda *args: True)
    executed = spy_statements(stores.db, monkeypatch)
    for per_page in (1, 7, 25):
        for number in range(1, len(expected) // per_page + 2):
            found = stores.sessions.find(tenant.app_id, query, PageRequest(number, per_page))
            assert found.total == len(expected)
            got = [record["sessionId"] for record in found.calls.parsed()]
            assert got == expected[(number - 1) * per_page : number * per_page], (per_page, number)
    assert "LIMIT 1 OFFSET ?" in executed[-1]


def test_sessions_sharing_a_hash_keep_their_own_events(
    stores: Stores, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events are found through their session id's hash and the id: with every id hashed alike,
    each call still folds, lists and deletes its own events alone."""
    expected = {}
    for session, raw in ((DIRECT_SESSION, direct_call_events()), (GROUP_SESSION, group_call_events())):
        stores.sessions.ingest(tenant.app_id, parse_batch(raw))
        expected[session] = (
            record_of(stores, tenant.app_id, session),
            stores.sessions.events_of(tenant.app_id, session),
        )
    for module in (database.sql, sessions_store):  # where hashed_among and the encoder find it
        monkeypatch.setattr(module, "key_hash", lambda key: 42)
    app_id = stores.tenants.create_app(new_app_settings("One hash", tenant.app_id + "-h")).app_id
    for raw in (direct_call_events(), group_call_events()):
        stores.sessions.ingest(app_id, parse_batch(raw[1:]))
    for raw in (direct_call_events(), group_call_events()):  # a re-fold reads the stored events back
        stores.sessions.ingest(app_id, parse_batch(raw[:1]))
    for session, (record, events) in expected.items():
        assert (record_of(stores, app_id, session), stores.sessions.events_of(app_id, session)) == (record, events)
    assert stores.sessions.delete(app_id, [DIRECT_SESSION]) == [DIRECT_SESSION]
    assert stores.sessions.events_of(app_id, DIRECT_SESSION) == []
    assert stores.sessions.events_of(app_id, GROUP_SESSION) == expected[GROUP_SESSION][1]


def test_a_session_s_events_are_read_through_the_hash_index(database_url: Callable[[str], str]) -> None:
    """SQLite's plan (PostgreSQL's depends on its statistics): the index on the hash, not a scan."""
    stores = open_stores(database_url("sqlite"))
    try:
        with stores.db.read() as conn:
            among, values = stores.sessions.log.spec.streams_among(conn, [DIRECT_SESSION, GROUP_SESSION])
            plan = conn.fetchall(f"EXPLAIN QUERY PLAN SELECT * FROM call_events WHERE app_id = ? AND {among}",
                                 ("a", *values))  # fmt: skip
    finally:
        stores.close()
    assert "USING INDEX call_events_by_session (app_id=? AND session_hash=?)" in " ".join(str(row[-1]) for row in plan)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_from_before_the_session_hash_gets_it_on_open(
    backend: str, database_url: Callable[[str], str]
) -> None:
    """Back to before ``m0024`` (the events indexed by session id, no hash column): migrating
    gives every event its hash, and the calls and their events read the same."""
    blob = "BLOB" if backend == "sqlite" else "BYTEA"
    statements = (
        "CREATE TABLE call_events_old (app_id TEXT NOT NULL REFERENCES apps (app_id), event_id TEXT NOT NULL, "
        f"session_id TEXT NOT NULL, type TEXT NOT NULL, at_ms BIGINT NOT NULL, body {blob} NOT NULL, "
        "PRIMARY KEY (app_id, event_id))",
        "INSERT INTO call_events_old SELECT app_id, event_id, session_id, type, at_ms, body FROM call_events",
        "DROP TABLE call_events",
        "ALTER TABLE call_events_old RENAME TO call_events",
        "CREATE INDEX call_events_by_session ON call_events (app_id, session_id)",
        "DELETE FROM calltrail_migrations WHERE version = 24",
    )

    def calls_and_events(stores: Stores, app_id: str) -> tuple[list[tuple[Any, ...]], bool]:
        sessions = sorted(record["sessionId"] for record in
                          stores.sessions.find(app_id, CallQuery(), PageRequest(1, 1000)).calls.parsed())  # fmt: skip
        with stores.db.read() as conn:
            hashes = conn.fetchall("SELECT session_id, session_hash FROM call_events WHERE app_id = ?", (app_id,))
        return [(session, record_of(stores, app_id, session), stores.sessions.events_of(app_id, session))
                for session in sessions], all(key_hash(session) == hashed for session, hashed in hashes)  # fmt: skip

    kept, hashed = reopened_after(database_url(backend), statements, calls_and_events)
    assert hashed and len(kept) > 100 and all(events for *_, events in kept)


def test_a_deleted_call_takes_its_member_rows(stores: Stores, tenant: Tenant) -> None:
    """The writers delete a call's member rows themselves: PostgreSQL has no cascade (``m0028``)."""
    app_id = tenant.app_id + "-del"
    stores.tenants.create_app(new_app_settings("Deletes", app_id))
    for raw in (direct_call_events(), group_call_events()):
        stores.sessions.ingest(app_id, parse_batch(raw))

    def members() -> dict[str, int]:
        with stores.db.read() as conn:
            rows = conn.fetchall("SELECT session_id, count(*) FROM call_members WHERE app_id = ? GROUP BY 1", (app_id,))
        return {session: int(n) for session, n in rows}

    assert members().keys() == {DIRECT_SESSION, GROUP_SESSION}
    kept = members()[GROUP_SESSION]
    assert stores.sessions.delete(app_id, [DIRECT_SESSION]) == [DIRECT_SESSION]
    assert members() == {GROUP_SESSION: kept}
