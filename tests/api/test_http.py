"""The worker threads that run blocking calls, and point reads that may skip them."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import orjson
import pytest

from calltrail.api.context import open_request
from calltrail.api.http import QUICK_READS, QuickReads, WorkerThreads, json_array, run, run_point_read, run_read
from calltrail.store.database import Database, PostgresDatabase, open_database

REQUEST: ContextVar[str] = ContextVar("request", default="none")


def test_a_call_returns_or_raises_on_a_worker_thread_in_the_callers_context() -> None:
    threads = WorkerThreads(limit=2)

    async def main() -> None:
        REQUEST.set("r1")
        ran_on, seen = await threads.call(lambda: (threading.current_thread(), REQUEST.get()))
        assert ran_on is not threading.current_thread() and seen == "r1"
        with pytest.raises(KeyError, match="missing"):
            await threads.call(_missing)

    asyncio.run(main())


def _missing() -> None:
    raise KeyError("missing")


def test_threads_are_bounded_and_kept() -> None:
    threads = WorkerThreads(limit=3)
    gate = threading.Barrier(3, timeout=10)
    names: set[int] = set()

    def work() -> None:
        names.add(threading.get_ident())
        gate.wait()  # three at once: only possible on three threads

    async def main() -> None:
        await asyncio.gather(*(threads.call(work) for _ in range(3)))
        gate.reset()
        # Nine more calls, three at a time: the same three threads, none started.
        for _ in range(3):
            await asyncio.gather(*(threads.call(work) for _ in range(3)))

    asyncio.run(main())
    assert len(names) == 3 and threads._threads == 3


def test_calls_past_the_limit_wait_their_turn() -> None:
    threads = WorkerThreads(limit=1)
    running = []

    def work(number: int) -> int:
        running.append(number)
        assert len(running) == 1
        running.pop()
        return number

    async def main() -> list[int]:
        return list(await asyncio.gather(*(threads.call(functools.partial(work, n)) for n in range(20))))

    assert asyncio.run(main()) == list(range(20))


def test_a_cancelled_caller_waits_for_its_call_to_end() -> None:
    threads = WorkerThreads(limit=1)
    release, ended = threading.Event(), threading.Event()

    def slow() -> None:
        release.wait(10)
        ended.set()

    async def main() -> None:
        task = asyncio.ensure_future(threads.call(slow))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # still waiting for the thread
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ended.is_set()

    asyncio.run(main())


def test_point_reads_skip_the_trip_with_nothing_else_running(tmp_path: Path, pg_database: Callable[[], str]) -> None:
    sqlite = open_database(f"sqlite:///{tmp_path / 'point.db'}")
    postgres = open_database(pg_database())

    def where_it_read(db: Database) -> Callable[[], threading.Thread]:
        def read() -> threading.Thread:
            with db.read() as conn:
                conn.fetchone("SELECT 1")
            return threading.current_thread()

        return read

    try:

        async def main() -> None:
            here = threading.current_thread()
            # Idle: the read runs here, on the event loop's thread.
            assert await run_point_read(sqlite, where_it_read(sqlite)) is here
            assert await run_point_read(postgres, where_it_read(postgres)) is here
            # Another call in flight: the read makes the trip rather than wait behind it.
            release = threading.Event()
            busy = asyncio.ensure_future(run(release.wait, 10))
            await asyncio.sleep(0.05)
            assert await run_point_read(sqlite, where_it_read(sqlite)) is not here
            assert await run_point_read(postgres, where_it_read(postgres)) is not here
            release.set()
            await busy

        asyncio.run(main())
    finally:
        sqlite.close()
        postgres.close()


def test_a_postgresql_read_that_would_wait_on_the_loop_is_run_again_on_a_thread(
    pg_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement past the deadline of reads on the loop, or no pooled connection free at once:
    the read starts again on a worker thread, where it may wait, and its caller gets its result."""
    monkeypatch.setattr(PostgresDatabase, "HERE_SECONDS", 0.05)
    postgres = PostgresDatabase(pg_database(), max_connections=1)
    threads: list[threading.Thread] = []

    def read(sql: str) -> Callable[[], Any]:
        def reading() -> Any:
            threads.append(threading.current_thread())
            with postgres.read() as conn:
                return conn.fetchone(sql)

        return reading

    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # not a worker thread: the loop sees nothing else in flight
        with postgres.read():
            held.set()
            release.wait(10)

    try:

        async def main() -> None:
            here = threading.current_thread()
            assert await run_point_read(postgres, read("SELECT 1 FROM pg_sleep(0.3)")) == (1,)
            assert threads[0] is here and threads[1] is not here and len(threads) == 2
            threads.clear()
            holder = threading.Thread(target=hold)
            holder.start()
            held.wait(10)
            asyncio.get_running_loop().call_later(0.2, release.set)
            assert await run_point_read(postgres, read("SELECT 2")) == (2,)
            assert threads[0] is here and threads[1] is not here and len(threads) == 2
            holder.join()

        asyncio.run(main())
    finally:
        release.set()
        postgres.close()


def test_a_result_reaches_its_caller_two_loop_iterations_after_its_thread_ends() -> None:
    """Under a flood one iteration of the loop is a pass over every connection (tens of ms): each
    callback hop between a thread's end and its caller's resumption costs a request one."""
    threads = WorkerThreads(limit=1)
    go = threading.Event()
    iterations = 0

    def tick() -> None:
        nonlocal iterations
        iterations += 1
        asyncio.get_running_loop().call_soon(tick)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        ended_at: list[int] = []

        def hold_until_the_thread_ends() -> None:
            go.set()
            while threads._busy:  # the loop is held while the thread ends and queues its outcome
                time.sleep(0.001)
            time.sleep(0.05)
            ended_at.append(iterations)

        loop.call_soon(tick)
        loop.call_soon(hold_until_the_thread_ends)
        await threads.call(lambda: go.wait(10))
        return iterations - ended_at[0]

    assert asyncio.run(main()) <= 2


def test_a_json_array_is_the_items_joined_between_head_and_tail() -> None:
    for items in ([], [b"1"], [b"1", b"2"], [b'{"a":1}', b"[]", b'"x"', b"null"]):
        body = json_array(b'{"data":[', items, b'],"meta":{}}')
        assert body == b'{"data":[' + b",".join(items) + b'],"meta":{}}'
        assert orjson.loads(body)["data"] == [orjson.loads(item) for item in items]


def test_a_kind_is_quick_once_its_reads_average_under_the_bound() -> None:
    reads = QuickReads()
    assert not reads.quick("page 1")  # not measured yet: slow
    reads.note("page 1", QuickReads.QUICK / 10)
    assert reads.quick("page 1")
    for _ in range(3):  # a few slow reads move the average past the bound
        reads.note("page 1", QuickReads.QUICK * 10)
    assert not reads.quick("page 1")
    for _ in range(20):
        reads.note("page 1", QuickReads.QUICK / 10)
    assert reads.quick("page 1")
    reads.note("page 1", QuickReads.QUICK * 2, held_the_loop=True)  # one slow read on the loop is enough
    assert not reads.quick("page 1")
    for number in range(QuickReads.LIMIT):  # clients choose parameter names: the table is bounded
        reads.note(("kind", number), 0.0)
    assert len(reads._averages) <= QuickReads.LIMIT


def test_reads_of_a_quick_kind_stay_on_the_event_loop_and_slow_ones_travel(
    tmp_path: Path, pg_database: Callable[[], str]
) -> None:
    sqlite = open_database(f"sqlite:///{tmp_path / 'kinds.db'}")
    postgres = open_database(pg_database())
    quick, slow, waits = ("test", "quick", tmp_path), ("test", "slow", tmp_path), ("test", "waits", tmp_path)
    server_waits = ("test", "server waits", tmp_path)

    def slowly() -> threading.Thread:
        # CPU time: on a worker thread a read is timed by its thread's CPU, not the clock.
        ends = time.thread_time() + QuickReads.QUICK * 2
        while time.thread_time() < ends:
            pass
        return threading.current_thread()

    def waiting_for_postgres() -> threading.Thread:
        with postgres.read() as conn:
            conn.fetchone("SELECT 1 FROM pg_sleep(?)", (QuickReads.QUICK * 2,))
        return threading.current_thread()

    def waiting() -> threading.Thread:  # a read slow for its waits, not its work
        time.sleep(QuickReads.QUICK * 2)
        return threading.current_thread()

    try:

        async def main() -> None:
            here = threading.current_thread()
            assert await run_read(sqlite, quick, threading.current_thread) is not here  # first: measured
            assert await run_read(sqlite, quick, threading.current_thread) is here
            assert await run_read(postgres, quick, threading.current_thread) is here  # quick for both
            for _ in range(3):
                assert await run_read(sqlite, slow, slowly) is not here
            # A PostgreSQL read waits for the server, using little CPU: timed by the clock, it is
            # slow on a thread too, and never comes to the loop (where its wait would hold it up).
            for _ in range(3):
                assert await run_read(postgres, server_waits, waiting_for_postgres) is not here
            # Waits on a thread do not count; here they do (what they held the loop up).
            assert await run_read(sqlite, waits, waiting) is not here
            assert await run_read(sqlite, waits, waiting) is here
            assert await run_read(sqlite, waits, waiting) is not here
            # While the process refuses requests, the loop's time goes to answering: reads travel.
            open_request("refused nearby").refusing = True
            assert await run_read(sqlite, quick, threading.current_thread) is not here
            open_request("calm again")
            assert await run_read(sqlite, quick, threading.current_thread) is here
            # Another call in flight: even a quick kind travels rather than wait behind it.
            release = threading.Event()
            busy = asyncio.ensure_future(run(release.wait, 10))
            await asyncio.sleep(0.05)
            assert await run_read(sqlite, quick, threading.current_thread) is not here
            release.set()
            await busy

        asyncio.run(main())
        assert QUICK_READS.quick(quick) and not QUICK_READS.quick(slow)
    finally:
        sqlite.close()
        postgres.close()
