"""HTTP plumbing shared by every dialect: fast JSON responses, bounded body reading, and
running blocking storage calls off the event loop. Nothing here knows a wire format."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, ParamSpec, TypeAlias, TypeVar

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from calltrail.api.context import current_request
from calltrail.kernel.errors import (
    CalltrailError,
    ClientClosedRequest,
    InvalidRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
)
from calltrail.store.database import Database, WouldWait

log = logging.getLogger("calltrail.api")

#: Largest request body accepted: 1000 events or a record with its participants fit easily.
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Deepest JSON nesting accepted. Real bodies nest a handful of levels; deeper documents are
#: refused before validation, so nothing downstream (the encoder, say) meets one.
MAX_JSON_DEPTH = 64

P = ParamSpec("P")
T = TypeVar("T")


class JSONBytes(Response):
    """A response whose body is already-encoded JSON."""

    media_type = "application/json"

    def __init__(self, content: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        if headers is not None or status_code in (204, 304) or status_code < 200:
            super().__init__(content, status_code, headers)
            return
        # The two headers Starlette's init_headers gives, in its order, built directly: it is
        # general (any media type, charset, caller headers) and every answer went through it.
        self.status_code, self.body, self.background = status_code, content, None
        self.raw_headers = [(b"content-length", b"%d" % len(content)), (b"content-type", b"application/json")]


def json_array(head: bytes, items: Sequence[bytes], tail: bytes) -> bytes:
    """``head + b",".join(items) + tail``, copying the items once: a page of a hundred calls is
    some 100 KB, and each ``+`` of that expression copied all of it again (about 10 µs a copy)."""
    if len(items) < 2:
        return b"".join((head, *items, tail))
    return b",".join([head + items[0], *items[1:-1], items[-1] + tail])


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Encode with orjson (several times faster than the stdlib on record-sized payloads)."""
    return JSONBytes(orjson.dumps(content), status_code=status_code, headers=headers)


class WorkerThreads:
    """The threads that run blocking storage calls for the event loop: at most ``limit``, started
    as concurrent calls need them and then kept (so there is never a burst of thread starts).

    A trip with a function that returns at once took about 15 µs on one development machine,
    against 30-40 µs through ``anyio.to_thread`` (its capacity limiter, cancel scopes and future
    chaining); on a later one (a 2-vCPU VM, whose idle CPUs wake slowly) it took 73-79 µs, 60 of
    them CPU time: see :func:`run_read` for what that changed.
    Calls past ``limit`` queue in order. A call runs in a copy of the caller's context, so what
    it records for the request (:func:`calltrail.api.context.note_app`) is seen by the middleware
    afterwards. One set serves every event loop: each job carries its own loop.
    """

    def __init__(self, limit: int = 40) -> None:
        self.limit = limit
        self._reset()
        # A forked server worker inherits the object but not its threads: start afresh there.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._jobs: queue.SimpleQueue[_Call[Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._busy = 0  # calls queued or running

    async def call(self, function: Callable[[], T], *, here_when_idle: Database | None = None) -> T:
        """``function()`` on a worker thread; its result, or what it raised. With
        ``here_when_idle``, on the event loop itself when no other call is queued or running, its
        reads of that database not waiting (:meth:`Database.reading_here`; see
        :func:`run_point_read`); if they would have to wait, on a worker thread after all."""
        if here_when_idle is not None and not self._busy:
            try:
                with here_when_idle.reading_here():
                    return contextvars.copy_context().run(function)
            except WouldWait:
                pass  # it read nothing it keeps: run it where it may wait
        loop = asyncio.get_running_loop()
        call: _Call[T] = _Call(loop, loop.create_future(), contextvars.copy_context(), function)
        with self._lock:
            self._busy += 1
            start = self._busy > self._threads and self._threads < self.limit
            self._threads += start
        if start:
            threading.Thread(target=self._work, name="calltrail-worker", daemon=True).start()
        self._jobs.put(call)
        try:
            # Awaited directly, not through asyncio.shield: each callback hop costs the caller one
            # pass of the event loop, and under a flood a pass over a thousand connections takes
            # some 30 ms. A shield added a hop: an accepted page waited three passes for its result.
            return await call.done
        except asyncio.CancelledError:
            # A thread cannot be interrupted: the request waits for its call to end (as anyio's
            # threads made it), so nothing the call does outlives the request or its stores.
            with self._lock:
                if not call.ended:
                    call.ending = loop.create_future()
            while call.ending is not None and not call.ending.done():
                try:
                    await asyncio.shield(call.ending)
                except asyncio.CancelledError:
                    continue
            raise

    def _work(self) -> None:
        while True:
            call = self._jobs.get()
            result, error = None, None
            try:
                result = call.context.run(call.function)
            except BaseException as exc:  # handed to the caller, whatever it is
                error = exc
            # Idle again before the caller learns the outcome: its next call needs no new thread.
            with self._lock:
                self._busy -= 1
                call.ended = True
            with contextlib.suppress(RuntimeError):  # the loop closed while it ran: nobody waits
                call.loop.call_soon_threadsafe(_settle, call, result, error)
            del result, error, call  # hold nothing until the next job


class _Call(Generic[T]):
    """One call handed to the worker threads: where its caller waits, and how it ended."""

    __slots__ = ("context", "done", "ended", "ending", "function", "loop")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        done: asyncio.Future[T],
        context: contextvars.Context,
        function: Callable[[], T],
    ):
        self.loop, self.done, self.context, self.function = loop, done, context, function
        self.ended = False  # the function has returned or raised (set by its thread, under the lock)
        self.ending: asyncio.Future[None] | None = None  # made when a cancelled caller waits for the end


def _settle(call: _Call[Any], result: Any, error: BaseException | None) -> None:
    """Hand a call's outcome to its caller (on the caller's loop), unless the caller is gone."""
    if call.ending is not None and not call.ending.done():
        call.ending.set_result(None)
    if call.done.done():
        return
    if error is None:
        call.done.set_result(result)
    else:
        call.done.set_exception(error)


#: The worker threads of this process.
WORKER_THREADS = WorkerThreads()


async def run(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking storage call in the worker threads (:class:`WorkerThreads`).

    Each endpoint makes exactly one such trip per request: its blocking part (credentials,
    reads, writes) is one function, and reads inside it share one snapshot
    (:meth:`calltrail.store.database.Database.read` nests)."""
    return await WORKER_THREADS.call(lambda: function(*args, **kwargs))


async def run_point_read(db: Database, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """:func:`run` for a read of a few rows by key (one call and its credentials, say).

    When no other blocking call is queued or running, it runs on the event loop itself: on
    SQLite the read takes some 20 µs, the trip to a thread and back costs more (two thread
    wake-ups), and with nothing else in flight there is nobody for it to delay and no reader
    connection it could wait for. On PostgreSQL each statement is a round trip, and every hop
    between threads wakes an idle CPU: on the loop, the read borrows a connection only if one is
    free at once and its statements share a deadline (:meth:`Database.reading_here`), so a
    server that stops answering holds the loop for at most that long. Otherwise it makes the
    worker trip."""
    return await WORKER_THREADS.call(lambda: function(*args, **kwargs), here_when_idle=db)


class QuickReads:
    """Which kinds of read have run quickly lately (see :func:`run_read`).

    A kind is named by the endpoint with what shapes its cost: the query parameters given and
    the order of magnitude of the page and page size (page 1 and page 5,000 are two kinds). Each
    keeps an exponentially weighted average of its reads' durations, wherever they ran; a kind
    not yet measured counts as slow. Parameter names come from clients, so the table is bounded:
    when full it starts over (every kind measured again)."""

    #: A kind whose reads average less than this (seconds) is quick.
    QUICK = 0.002
    #: The weight of the newest duration in the average.
    WEIGHT = 0.25
    #: Kinds kept at most.
    LIMIT = 1024

    def __init__(self) -> None:
        self._averages: dict[Hashable, float] = {}

    def quick(self, kind: Hashable) -> bool:
        return self._averages.get(kind, self.QUICK) < self.QUICK

    def note(self, kind: Hashable, seconds: float, *, held_the_loop: bool = False) -> None:
        """Count one read of ``kind``. A slow one that ran on the event loop makes the kind slow at
        once: the loop is not held up again while the average catches up."""
        # Updated from worker threads too, without a lock: a lost update only delays the average.
        averages = self._averages
        before = averages.get(kind)
        if before is None and len(averages) >= self.LIMIT:
            averages.clear()
        average = seconds if before is None else before + (seconds - before) * self.WEIGHT
        if held_the_loop and seconds >= self.QUICK:
            average = max(average, seconds)
        averages[kind] = average


#: The read kinds of this process.
QUICK_READS = QuickReads()


def read_kind(name: str, request: Request) -> Hashable:
    """The kind of a page read (:class:`QuickReads`): ``name``, the query parameters given, and
    the number of digits of ``page`` and ``perPage``."""
    params = request.query_params
    digits = tuple(len(params.get(size, "")) for size in ("page", "perPage"))
    return (name, tuple(sorted(params.keys())), digits)


async def run_read(db: Database, kind: Hashable, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """:func:`run` for a read that is quick or slow by what it asks (a list page): like
    :func:`run_point_read`, on the event loop when nothing else is in flight, but only when
    reads of its ``kind`` (:func:`read_kind`) have been quick lately (:data:`QUICK_READS`).

    On this project's 2-vCPU VM a worker trip took 73-79 µs, 60 µs of it CPU, while the other
    CPU was idle (waking it is slow), and 15 µs while it was busy (``bench/request_cost.py``): at
    one connection, a third of a 100-call page's time. A slow kind (a deep page read row by row, a
    wide range filter) keeps making the trip, so it never holds up the event loop. So does every
    read while the process is refusing requests (``Gate.refusing``): under a flood, quick pages on
    the loop were served faster but a fresh ``/healthz`` connection waited 220 ms at the median
    instead of 140, and up to 970 ms (``bench/overload.py``).

    A read on the event loop is timed by the clock: what it held the loop up. One on a worker
    thread is timed by its thread's CPU time, which leaves out the waits for the interpreter: with
    sixteen reads in threads each waited for the others, and timed by the clock a quick kind
    looked slow, kept travelling and kept the others waiting (two stable states, the slow one
    sticky). A read slow for its disk looks quick on a thread; its next run, here, corrects that.
    A PostgreSQL read waits for the server, not for its CPU: it is timed by the clock wherever it
    runs (by its CPU time a 30 ms query looked quick, came to the loop and hit the deadline of
    reads there, over and over)."""
    loop_thread = threading.get_ident()

    def timed() -> T:
        here = threading.get_ident() == loop_thread
        # Waits for another process (PostgreSQL) are the read's own: what it would hold the loop up.
        clock = time.perf_counter if here or not db.IN_PROCESS else time.thread_time
        started = clock()
        try:
            return function(*args, **kwargs)
        finally:
            QUICK_READS.note(kind, clock() - started, held_the_loop=here)

    request = current_request()
    refusing = request is not None and request.refusing
    here = not refusing and QUICK_READS.quick(kind)
    return await WORKER_THREADS.call(timed, here_when_idle=db if here else None)


#: A value parsed on the event loop, or the error parsing it raised (reported later).
Parsed: TypeAlias = T | CalltrailError


def parse_now(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Parsed[T]:
    """Parse what needs no database before the worker trip, keeping any error for later: a
    request is checked in one order whatever is wrong (credentials first, then its input)."""
    try:
        return function(*args, **kwargs)
    except CalltrailError as exc:
        return exc


async def attempt(awaitable: Awaitable[T]) -> Parsed[T]:
    """Await a parse (of the body, say), keeping its error for later (see :func:`parse_now`)."""
    try:
        return await awaitable
    except CalltrailError as exc:
        return exc


async def read_json_now(request: Request, limit: int = MAX_BODY_BYTES) -> Parsed[Any]:
    """:func:`read_json`, keeping its error for later (see :func:`parse_now`)."""
    return await attempt(read_json(request, limit))


def unwrap(value: Parsed[T]) -> T:
    """The parsed value, or raise the error parsing it raised."""
    if isinstance(value, CalltrailError):
        raise value
    return value


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw request body; 413 past ``limit`` (checked as it arrives, never buffered past it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientClosedRequest() from None
    return b"".join(chunks)


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The request body decoded as JSON; 413 past ``limit``, 400 for anything not JSON."""
    body = await read_body(request, limit)
    if not body.strip():
        raise InvalidRequest(details={"body": ["is required: a JSON document"]})
    return decode_json(body)


def decode_json(body: bytes) -> Any:
    """A body decoded as JSON; 400 for anything not JSON or nested over :data:`MAX_JSON_DEPTH`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(details={"body": [f"is not valid JSON: {exc}"]}) from None
    if json_depth(document) > MAX_JSON_DEPTH:
        raise InvalidRequest(details={"body": [f"nests deeper than {MAX_JSON_DEPTH} levels"]})
    return document


def json_depth(document: Any) -> int:
    """How deeply arrays and objects nest in a decoded document (a scalar is depth 0).

    Iterative, so no document can exhaust the stack; only containers are followed."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break  # already too deep: no need to look further
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def as_calltrail_error(exc: Exception, request: Request | None = None) -> CalltrailError:
    """Map any exception to the error class a client should see.

    Starlette's routing failures become :class:`RouteNotFound`/:class:`MethodNotAllowed`
    (the ``Allow`` header kept); the store already turned database failures into
    :class:`Unavailable`; anything else is a generic 500, logged with its traceback.
    """
    if isinstance(exc, CalltrailError):
        return exc
    if isinstance(exc, ClientDisconnect):
        return ClientClosedRequest()
    method, path = (request.method, request.url.path) if request is not None else ("?", "?")
    if isinstance(exc, HTTPException):
        if exc.status_code == 405:
            error: CalltrailError = MethodNotAllowed(f"{method} is not supported on {path}.")
            error.headers = dict(exc.headers or {})
            return error
        if exc.status_code == 413:
            return PayloadTooLarge()
        return RouteNotFound(f"No endpoint serves {method} {path}.")
    log.exception("unhandled error on %s %s", method, path, exc_info=exc)
    return CalltrailError()


def exception_handlers(render: Callable[[str, CalltrailError], Response]) -> dict[Any, Any]:
    """Starlette exception handlers that render every failure with ``render(path, error)`` (the
    app's :func:`calltrail.app.render_error`: in the envelope of the dialect owning the path).

    Starlette looks handlers up by the exception's class: routing errors and our errors are
    named so they are handled inside the app; ``Exception`` is the last resort.
    """

    async def handle(request: Request, exc: Exception) -> Response:
        # A client that left mid-upload gets a 499 nobody reads: the access log's line is all.
        return render(request.url.path, as_calltrail_error(exc, request))

    named: list[type[Exception]] = [HTTPException, CalltrailError, Exception]
    return dict.fromkeys(named, handle)


def error_envelope(exc: CalltrailError) -> dict[str, Any]:
    """The default error body, ``{"error": {"code", "message", "details"}}`` (CometChat's shape,
    shared by Calltrail's own ``/api``): each dialect package renders it or its own."""
    return {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}


def render_error_envelope(exc: CalltrailError) -> Response:
    """The response for an error in :func:`error_envelope`'s shape."""
    return json_response(error_envelope(exc), exc.status, exc.headers)
