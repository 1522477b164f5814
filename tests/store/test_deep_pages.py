"""Deep pages located by ``call_page_counts`` and ``call_page_totals`` (store/page_index.py), against
SQLite and PostgreSQL.

Every page read by seeking must be exactly the page a plain OFFSET reads, with the same exact
total: across bucket boundaries of every span, with many calls sharing one second, under every
filter the counts can express, while other threads write, and on a database whose calls were
written before migration ``m0012_page_index`` (or ``m0022_page_totals``) existed.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.sessions.record import validate_record
from calltrail.store import Stores, page_index
from calltrail.store.database import Connection, Database, Documents, open_database
from calltrail.store.migrations import discover, m0012_page_index, migrate
from calltrail.store.sessions_sql import compile_query
from tests.store.statements import spy_statements

DAY = 86_400
#: A 32-day bucket boundary (also a day and a 15-minute boundary): the calls straddle it.
EDGE = 2_764_800 * 650

QUERIES: list[tuple[str, CallQuery]] = [
    ("all", CallQuery()),
    ("status=ended", CallQuery().where("status", "eq", "ended")),
    ("status in busy,ended,rejected", CallQuery().where("status", "in", ("busy", "ended", "rejected"))),
    ("type=video&status=ended", CallQuery().where("type", "eq", "video").where("status", "eq", "ended")),
    ("receiverType=group&mode=meet", CallQuery().where("receiver_type", "eq", "group").where("mode", "eq", "meet")),
    ("hasRecording", CallQuery().where("has_recording", "eq", 1)),
    ("mode in call,presenter&type=audio",
     CallQuery().where("mode", "in", ("call", "presenter")).where("type", "eq", "audio")),
]  # fmt: skip


def _seconds(rng: random.Random, count: int) -> Iterator[int]:
    """Initiation times: spread over 80 days around :data:`EDGE`, piled up on bucket boundaries
    (the second before, at and after), and runs of many calls in one second."""
    boundaries = [EDGE, EDGE + 900, EDGE - DAY, EDGE + DAY, EDGE + 3 * 900, EDGE - 2_764_800 // 2]
    for _ in range(count):
        pick = rng.random()
        if pick < 0.45:
            yield EDGE + rng.randrange(-40 * DAY, 40 * DAY)
        elif pick < 0.8:
            yield rng.choice(boundaries) + rng.choice((-1, 0, 1))
        else:
            yield EDGE + rng.choice((-7, 12345, 86_399, -900 * 5 - 1))


def _record(session_id: str, initiated_at: int, rng: random.Random) -> dict[str, Any]:
    group = rng.random() < 0.4
    return validate_record(
        {
            "sessionId": session_id,
            "initiator": f"u{rng.randrange(20)}",
            "receiver": f"g{rng.randrange(5)}" if group else f"u{rng.randrange(20)}",
            "receiverType": "group" if group else "user",
            "type": rng.choice(("audio", "video")),
            "status": rng.choice(("ended", "ended", "ended", "busy", "rejected", "unanswered", "cancelled")),
            "mode": rng.choice(("call", "call", "meet", "presenter")),
            "hasRecording": rng.random() < 0.2,
            "initiatedAt": initiated_at,
        }
    )


def _load(stores: Stores, app_id: str, count: int, seed: int) -> None:
    rng = random.Random(seed)
    records = [
        # Session ids in no relation to time, so ties within a second are ordered by them alone.
        _record(f"s-{rng.randrange(16**6):06x}-{index}", at, rng)
        for index, at in enumerate(_seconds(rng, count))
    ]
    stores.sessions.put_records(app_id, records)


def _new_app(stores: Stores, name: str) -> str:
    return stores.tenants.create_app(new_app_settings("Deep pages", f"{name}-{random.randrange(16**8):08x}")).app_id


def _offset_page(conn: Connection, app_id: str, query: CallQuery, page: PageRequest) -> list[bytes]:
    """The page as a plain OFFSET reads it (the reference)."""
    compiled = compile_query(app_id, query)
    sql = compiled.page_sql("DESC", sort=False, conn=conn)
    return [bytes(s) for (s,) in conn.fetchall(sql, (*compiled.params, page.per_page, page.offset))]


def _count(conn: Connection, app_id: str, query: CallQuery) -> int:
    compiled = compile_query(app_id, query)
    return int((conn.fetchone(f"SELECT count(*) FROM calls c WHERE {compiled.where}", compiled.params) or (0,))[0])


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[page_index.Seek | None]:
    """What each walk found (None: it fell back to an OFFSET), in order."""
    found: list[page_index.Seek | None] = []
    locate = page_index.locate

    def spy(*args: Any, **kwargs: Any) -> page_index.Seek | None:
        seek = locate(*args, **kwargs)
        found.append(seek)
        return seek

    monkeypatch.setattr(page_index, "locate", spy)
    return found


@pytest.fixture
def seeks(monkeypatch: pytest.MonkeyPatch) -> list[page_index.Seek | None]:
    """Every page but the first of each end is located by the counts (none is near enough to
    read with an OFFSET); the list collects what each walk found."""
    monkeypatch.setattr(page_index, "SEEK_FROM", 0)
    return _spy(monkeypatch)


def _counts(stores: Stores, app_id: str) -> list[tuple[Any, ...]]:
    with stores.db.read() as conn:
        rows = conn.fetchall(
            "SELECT span, bucket_start, status, type, mode, receiver_type, has_recording, n FROM call_page_counts "
            "WHERE app_id = ? ORDER BY 1, 2, 3, 4, 5, 6, 7",
            (app_id,),
        )
    return [tuple(int(v) if not isinstance(v, str) else v for v in row) for row in rows]


def _counts_from_calls(stores: Stores, app_id: str) -> list[tuple[Any, ...]]:
    """What the counts must hold, computed from the calls themselves."""
    with stores.db.read() as conn:
        calls = conn.fetchall(
            "SELECT initiated_at, status, type, mode, receiver_type, has_recording FROM calls WHERE app_id = ?",
            (app_id,),
        )
    counted: page_index.Deltas = page_index.Deltas()
    for initiated_at, *columns in calls:
        page_index.account(counted, int(initiated_at), (*columns[:4], int(columns[4])), 1)
    return sorted((*key, n) for key, n in counted.items())


def _totals(stores: Stores, app_id: str) -> list[tuple[int, ...]]:
    with stores.db.read() as conn:
        rows = conn.fetchall(
            "SELECT span, bucket_start, n FROM call_page_totals WHERE app_id = ? ORDER BY 1, 2", (app_id,)
        )
    return [tuple(int(v) for v in row) for row in rows]


def _totals_from_counts(counts: list[tuple[Any, ...]]) -> list[tuple[int, ...]]:
    """What the totals must hold: the counts of each bucket summed over the counted columns."""
    totals: dict[tuple[int, int], int] = {}
    for span, start, *_, n in counts:
        totals[(span, start)] = totals.get((span, start), 0) + n
    return sorted((*key, n) for key, n in totals.items())


def _assert_counts_exact(stores: Stores, app_id: str) -> None:
    expected = _counts_from_calls(stores, app_id)
    assert _counts(stores, app_id) == expected
    assert _totals(stores, app_id) == _totals_from_counts(expected)


def _assert_pages_match(stores: Stores, app_id: str, query: CallQuery, pages: list[PageRequest]) -> None:
    for page in pages:
        with stores.db.read() as conn:
            found = stores.sessions.find(app_id, query, page)
            assert found.calls == Documents.of(_offset_page(conn, app_id, query, page)), page
            assert found.total == _count(conn, app_id, query)


def test_spans_are_the_migrations_and_nest() -> None:
    assert page_index.SPANS == m0012_page_index.SPANS
    assert all(coarse % fine == 0 for coarse, fine in zip(page_index.SPANS, page_index.SPANS[1:], strict=False))
    # The totals' walk takes some of the same spans, coarsest first, down to the finest.
    totals = page_index.TOTAL_SPANS
    assert set(totals) <= set(page_index.SPANS) and list(totals) == sorted(totals, reverse=True)
    assert totals[-1] == page_index.SPANS[-1]


def test_only_whole_app_lists_of_counted_equalities_are_located() -> None:
    for _, query in QUERIES:
        assert compile_query("app", query).counted == query.conditions
    for query in (
        CallQuery().involving("ann"),
        CallQuery().involving("ann").where("status", "eq", "ended"),
        CallQuery().where("status", "eq", "ended").where("duration", "gt", 1.0),
        CallQuery().where("initiated_at", "gte", 5),
        CallQuery().where("status", "gt", "a"),
        CallQuery().where("receiver", "eq", "g1"),
    ):
        assert compile_query("app", query).counted is None


def test_every_page_equals_the_offset_page(stores: Stores, seeks: list[page_index.Seek | None]) -> None:
    app = _new_app(stores, "deep")
    _load(stores, app, 1500, seed=1)
    rng = random.Random(2)
    for _, query in QUERIES:
        with stores.db.read() as conn:
            total = _count(conn, app, query)
        assert total > 30
        pages = [PageRequest(page, 7) for page in range(1, -(-total // 7) + 2)]  # and one past the end
        pages += [PageRequest(page, 100) for page in range(1, -(-total // 100) + 1)]
        pages += [PageRequest(page, 1) for page in (1, 2, total // 2, total // 2 + 1, total, total + 1)]
        pages += [PageRequest(rng.randrange(1, total + 1), 1) for _ in range(40)]
        pages += [PageRequest(1, 1000), PageRequest(2, 1000), PageRequest(1, total)]
        _assert_pages_match(stores, app, query, pages)
    assert len(seeks) > 900 and all(seek is not None for seek in seeks)


def test_the_whole_list_is_in_order_with_ties_by_session_id(
    stores: Stores, seeks: list[page_index.Seek | None]
) -> None:
    app = _new_app(stores, "ties")
    _load(stores, app, 600, seed=3)
    with stores.db.read() as conn:
        stored = conn.fetchall("SELECT initiated_at, session_id FROM calls WHERE app_id = ?", (app,))
    expected = [session for _, session in sorted(((int(at), s) for at, s in stored), reverse=True)]
    assert len({at for at, _ in stored}) < len(stored) - 200  # many calls share a second
    read = []
    for page in range(1, 600 // 9 + 2):
        read += [
            record["sessionId"]
            for record in stores.sessions.find(app, CallQuery(), PageRequest(page, 9)).calls.parsed()
        ]
    assert read == expected and all(seek is not None for seek in seeks)


def test_counts_stay_exact_through_moves_and_deletions(stores: Stores, seeks: list[page_index.Seek | None]) -> None:
    app = _new_app(stores, "moves")
    _load(stores, app, 800, seed=4)
    _assert_counts_exact(stores, app)
    rng = random.Random(5)
    with stores.db.read() as conn:
        sessions = [s for (s,) in conn.fetchall("SELECT session_id FROM calls WHERE app_id = ?", (app,))]
    # Re-import a third of the calls with another time and other columns, delete a sixth.
    moved = rng.sample(sessions, len(sessions) // 3)
    stores.sessions.put_records(
        app, [_record(s, at, rng) for s, at in zip(moved, _seconds(rng, len(moved)), strict=True)]
    )
    stores.sessions.delete(app, rng.sample(sessions, len(sessions) // 6))
    _assert_counts_exact(stores, app)
    assert all(row[-1] > 0 for row in _counts(stores, app) + _totals(stores, app))  # emptied buckets are gone
    for _, query in QUERIES[:4]:
        _assert_pages_match(stores, app, query, [PageRequest(page, 13) for page in range(1, 60)])
    stores.sessions.delete(app, sessions)
    assert _counts(stores, app) == [] and _totals(stores, app) == []


def test_pages_stay_exact_while_others_write(stores: Stores, seeks: list[page_index.Seek | None]) -> None:
    app = _new_app(stores, "busy")
    _load(stores, app, 1000, seed=6)
    stop = threading.Event()
    failures: list[BaseException] = []
    writes: list[int] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        index = 0
        try:
            while not stop.is_set():
                index += 1
                writes.append(index)
                fresh = [f"w{seed}-{index}-{n}" for n in range(rng.randrange(1, 30))]
                stores.sessions.put_records(
                    app, [_record(s, at, rng) for s, at in zip(fresh, _seconds(rng, len(fresh)), strict=True)]
                )
                with stores.db.read() as conn:
                    some = [s for (s,) in conn.fetchall(
                        "SELECT session_id FROM calls WHERE app_id = ? ORDER BY session_id LIMIT 20 OFFSET ?",
                        (app, rng.randrange(900)),
                    )]  # fmt: skip
                stores.sessions.put_records(
                    app, [_record(s, at, rng) for s, at in zip(some[:10], _seconds(rng, 10), strict=False)]
                )
                stores.sessions.delete(app, some[10:])
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def read(seed: int) -> None:
        rng = random.Random(seed)
        deadline = time.monotonic() + 120
        try:
            # At least 60 pages each, and on until the writers have written 20 times.
            for done in itertools.count():
                if done >= 60 and (len(writes) >= 20 or time.monotonic() > deadline):
                    break
                _, query = rng.choice(QUERIES)
                page = PageRequest(rng.randrange(1, 40), rng.choice((1, 7, 25)))
                _assert_pages_match(stores, app, query, [page])
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    writers = [threading.Thread(target=write, args=(seed,)) for seed in (10, 11)]
    readers = [threading.Thread(target=read, args=(seed,)) for seed in (20, 21, 22)]
    for thread in writers + readers:
        thread.start()
    for thread in readers:
        thread.join()
    stop.set()
    for thread in writers:
        thread.join()
    assert failures == [] and len(writes) >= 20
    assert _counts(stores, app) == _counts_from_calls(stores, app)
    assert len(seeks) >= 100 and all(seek is not None for seek in seeks)


def test_a_located_page_reads_its_counts_and_coarsest_buckets_in_one_statement(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk starts a span down: one statement fewer (a round trip on PostgreSQL), the page
    unchanged."""
    app = _new_app(stores, "coarsest")
    _load(stores, app, 1500, seed=3)
    monkeypatch.setattr(page_index, "SEEK_FROM", 100)
    executed = spy_statements(stores.db, monkeypatch)
    for query, spans in ((CallQuery(), page_index.TOTAL_SPANS), (QUERIES[1][1], page_index.SPANS)):
        executed.clear()
        page = PageRequest(3, 50)
        found = stores.sessions.find(app, query, page)
        assert len(executed) == 1 + (len(spans) - 1) + 1, executed  # counts and coarsest, the walk, the page
        assert "UNION ALL" in executed[0] and "initiated_at >= ?" in executed[-1]
        with stores.db.read() as conn:
            assert found.calls == Documents.of(_offset_page(conn, app, query, page))


def test_pages_near_either_end_are_read_with_an_offset(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _new_app(stores, "near")
    _load(stores, app, 2400, seed=8)
    seeks = _spy(monkeypatch)
    # An OFFSET passes at most 900 index entries from the nearer end: cheaper than the walk.
    _assert_pages_match(stores, app, CallQuery(), [PageRequest(page, 100) for page in (1, 2, 9, 16, 24)])
    assert seeks == []
    _assert_pages_match(stores, app, CallQuery(), [PageRequest(12, 100)])  # 1,100 entries from the newest
    assert len(seeks) == 1 and seeks[0] is not None
    # About 1 call in 7 is busy: an OFFSET of 20 busy calls passes about 140 entries, of 160 about 1,100.
    # (On SQLite a filtered list is always located: see the next test.)
    always = stores.db.dialect == "sqlite"
    busy = CallQuery().where("status", "eq", "busy")
    _assert_pages_match(stores, app, busy, [PageRequest(2, 20)])
    assert len(seeks) == 1 + always
    total = stores.sessions.find(app, busy, PageRequest(1, 1)).total
    _assert_pages_match(stores, app, busy, [PageRequest(total // 40 + 1, 20)])
    assert len(seeks) == 2 + 2 * always and seeks[-1] is not None


def test_a_filtered_list_is_located_from_page_1_on_sqlite(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    """The newest calls need not match: 600 calls newer than the rest, none of them ended, come
    before the first ended one. On SQLite, where the walk runs in process, page 1 of
    ``status=ended`` is read from the buckets that hold it instead of passing those 600 one by
    one; on PostgreSQL (its planner has statistics, each statement is a round trip) it is not."""
    app = _new_app(stores, "head")
    _load(stores, app, 1200, seed=12)
    rng = random.Random(13)
    newest = EDGE + 41 * DAY
    head = [_record(f"h-{index:04d}", newest + index, rng) | {"status": "rejected"} for index in range(600)]
    stores.sessions.put_records(app, head)
    seeks = _spy(monkeypatch)
    ended = CallQuery().where("status", "eq", "ended")
    pages = [PageRequest(1, 25), PageRequest(2, 25), PageRequest(1, 100)]
    _assert_pages_match(stores, app, ended, pages)
    video = CallQuery().where("type", "eq", "video").where("status", "in", ("ended", "busy"))
    _assert_pages_match(stores, app, video, pages)
    if stores.db.dialect == "sqlite":
        assert len(seeks) == 6 and all(seek is not None and seek.upper <= newest for seek in seeks), seeks
    else:
        assert seeks == []


def test_counts_out_of_step_fall_back_to_the_offset(stores: Stores, seeks: list[page_index.Seek | None]) -> None:
    app = _new_app(stores, "fallback")
    _load(stores, app, 300, seed=7)
    with stores.db.write() as conn:
        conn.execute("DELETE FROM call_page_counts WHERE app_id = ?", (app,))
        conn.execute("DELETE FROM call_page_totals WHERE app_id = ?", (app,))
    for _, query in QUERIES[:2]:
        _assert_pages_match(stores, app, query, [PageRequest(page, 10) for page in range(1, 32)])
    assert seeks and all(seek is None for seek in seeks)


def _older_database(db: Database, monkeypatch: pytest.MonkeyPatch, skipped: tuple[int, ...], unkept: str) -> list[str]:
    """Two apps of 700 calls each, written by a version without the migrations ``skipped`` (left
    out of discovery) whose writers keep nothing through ``page_index.<unkept>``."""
    with monkeypatch.context() as before:
        older = [m for m in discover() if m.version not in skipped]
        before.setattr("calltrail.store.migrations.discover", lambda: older)
        before.setattr(page_index, unkept, lambda *args: None)
        migrate(db)
        old = Stores(db)
        apps = [_new_app(old, "old") for _ in range(2)]
        for seed, app in enumerate(apps):
            _load(old, app, 700, seed=seed + skipped[0])
    return apps


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, database_url: Callable[[str], str]) -> Iterator[Database]:
    """A database of its own on each engine, for a test that runs migrations."""
    opened = open_database(database_url(request.param))
    yield opened
    opened.close()


def test_migration_counts_the_calls_of_an_older_database(
    db: Database, monkeypatch: pytest.MonkeyPatch, seeks: list[page_index.Seek | None]
) -> None:
    # Without m0012: every other migration (the writers need the later ones' tables too) but
    # m0022 (it sums m0012's counts), and writers that keep no page counts.
    apps = _older_database(db, monkeypatch, (12, 22), "write")
    with db.read() as conn:
        assert conn.fetchone("SELECT count(*) FROM calls")[0] == 1400  # type: ignore[index]
    assert migrate(db) == ["0012_page_index", "0022_page_totals"]
    stores = Stores(db)
    for app in apps:
        _assert_counts_exact(stores, app)
        for _, query in QUERIES[:3]:
            _assert_pages_match(stores, app, query, [PageRequest(page, 11) for page in range(1, 66, 3)])
    # The writers keep the migrated counts exact.
    _load(stores, apps[0], 100, seed=9)
    stores.sessions.delete(
        apps[0],
        [r["sessionId"] for r in stores.sessions.find(apps[0], CallQuery(), PageRequest(3, 50)).calls.parsed()],
    )
    _assert_counts_exact(stores, apps[0])
    assert seeks and all(seek is not None for seek in seeks)


def test_migration_totals_the_counts_of_an_older_database(
    db: Database, monkeypatch: pytest.MonkeyPatch, seeks: list[page_index.Seek | None]
) -> None:
    # The version before m0022: page counts kept, no totals.
    apps = _older_database(db, monkeypatch, (22,), "_write_totals")
    with db.read() as conn:
        gone = conn.fetchall("SELECT session_id FROM calls WHERE app_id = ? LIMIT 40", (apps[1],))
    with monkeypatch.context() as before:
        before.setattr(page_index, "_write_totals", lambda *args: None)
        Stores(db).sessions.delete(apps[1], [session_id for (session_id,) in gone])
    assert migrate(db) == ["0022_page_totals"]
    stores = Stores(db)
    for app in apps:
        _assert_counts_exact(stores, app)
        _assert_pages_match(stores, app, CallQuery(), [PageRequest(page, 11) for page in range(1, 60, 2)])
    _load(stores, apps[0], 100, seed=29)  # the writers keep the migrated totals exact
    _assert_counts_exact(stores, apps[0])
    assert seeks and all(seek is not None for seek in seeks)


def test_a_range_is_covered_by_a_few_aligned_runs() -> None:
    rng = random.Random(7)
    ends = [EDGE + delta for delta in (-2_764_800, -DAY, -900, -1, 0, 1, 899, 900, 14_400, DAY + 5)]
    for _ in range(400):
        lower = rng.choice([*ends, EDGE + rng.randrange(-90 * DAY, 90 * DAY)])
        upper = lower + rng.choice([0, 1, 899, 900, 901, DAY, 17 * DAY + 3, rng.randrange(200 * DAY)])
        runs = page_index.cover(lower, upper)
        assert all(before[2] == after[1] for before, after in itertools.pairwise(runs))
        assert (runs[0][1], runs[-1][2]) == (lower, upper) if runs else lower == upper
        for span, start, end in runs:
            assert start < end and (
                (span == 0 and end - start < 1800) or (span > 0 and start % span == end % span == 0)
            )
        assert all(sum(1 for run in runs if run[0] == span) <= 2 for span in (0, *page_index.SPANS))


def test_a_time_window_is_counted_from_the_buckets_exactly(stores: Stores) -> None:
    """A whole-app list narrowed by ``initiatedAt`` (and counted equalities) is counted by
    :func:`page_index.count_between`: its total and pages equal the plain count and OFFSET's."""
    app = _new_app(stores, "window")
    _load(stores, app, 1500, seed=11)
    rng = random.Random(12)
    points = [EDGE + delta for delta in (-40 * DAY, -DAY - 1, -900, -1, 0, 1, 900, 3 * 900 + 1, DAY, 41 * DAY)]
    for _ in range(60):
        _, query = rng.choice(QUERIES)
        lower, upper = sorted((rng.choice(points), rng.choice([*points, EDGE + rng.randrange(-40 * DAY, 40 * DAY)])))
        ops = rng.choice([("gte", "lt"), ("gt", "lte"), ("gte", None), (None, "lt"), ("eq", None)])
        if ops[0]:
            query = query.where("initiated_at", ops[0], lower)
        if ops[1]:
            query = query.where("initiated_at", ops[1], upper)
        assert compile_query(app, query).window is not None
        _assert_pages_match(stores, app, query, [PageRequest(1, 25), PageRequest(3, 10), PageRequest(10_000, 5)])
    for query in (
        CallQuery().where("initiated_at", "gte", 5).where("duration", "gt", 1.0),
        CallQuery().involving("ann").where("initiated_at", "gte", 5),
        CallQuery().where("status", "eq", "ended"),
    ):
        assert compile_query(app, query).window is None


def test_deep_pages_of_a_time_window_equal_the_offset_pages(
    stores: Stores, seeks: list[page_index.Seek | None]
) -> None:
    """A window's calls are a run of the whole list: its pages are located in that list, then cut
    to the window (from either end, with the window's edges inside 15-minute buckets)."""
    app = _new_app(stores, "window-pages")
    _load(stores, app, 1500, seed=13)
    rng = random.Random(14)
    windows = [
        (EDGE - 20 * DAY + 7, EDGE + 450),
        (EDGE - 1, EDGE + DAY + 1),
        (EDGE - 40 * DAY, EDGE + 3 * 900 + 1),
        (EDGE + 1, EDGE + 41 * DAY),
    ]
    for lower, upper in windows:
        for _, query in rng.sample(QUERIES, 3):
            query = query.where("initiated_at", "gte", lower).where("initiated_at", "lt", upper)
            with stores.db.read() as conn:
                total = _count(conn, app, query)
            pages = [PageRequest(page, 7) for page in range(1, -(-total // 7) + 2)]
            pages += [PageRequest(rng.randrange(1, total + 2), 1) for _ in range(20)]
            _assert_pages_match(stores, app, query, pages)
    assert len(seeks) > 300 and all(seek is not None for seek in seeks)
