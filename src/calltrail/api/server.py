"""How ``calltrail serve`` runs the app under uvicorn: bounded request heads, logging, proxies.

* **Header limits.** uvicorn's fast parser (httptools) reads a request head of any size: 64 MB
  of headers were read whole. :class:`LimitedHttpToolsProtocol` feeds the parser at most
  :data:`MAX_HEAD_BYTES` of a head and refuses a header line over :data:`MAX_HEADER_LINE`, with
  a 431 in the envelope of the dialect owning the path, then closes the connection. Memory per
  connection is bounded by the limit, not by what a client sends.
* **Refusals at parser speed.** When the :class:`~calltrail.api.gate.Gate` refuses a request
  (503: too much in flight; 429: rate limit), the answer is written straight from the parser
  callback: no task, no middleware, a few microseconds. That is what keeps refusals within
  milliseconds and ``/healthz`` responsive with a thousand connections hammering one process.
* **Every waiting connection accepted at once.** uvloop's libuv accepts one connection per pass
  of the event loop; a pass over a thousand busy connections takes tens of milliseconds, so new
  connections (a ``/healthz`` probe, clients that do not keep connections alive, a thousand
  clients arriving together) waited one pass each, in turn: the last of a burst of 1,024 waited
  seconds. :class:`Acceptor` accepts every waiting connection when the listening socket is ready
  (up to :data:`ACCEPT_BATCH`) and hands each to the loop.
* **One write per response.** uvicorn writes a response's head and its body apart: two system
  calls, and two TCP segments for a small answer. :class:`HeldHead` holds the head until the first
  body write and sends them together.
* **Logs.** ``text`` (one line per record) or ``json`` (one JSON object per line). The access log is
  Calltrail's own (:mod:`calltrail.api.guard`: request id, route, status, duration, app id,
  secrets in paths redacted); uvicorn's, which would print paths as sent, is off.
* **Client addresses behind a proxy.** uvicorn reads ``X-Forwarded-For``/``-Proto`` from the
  addresses in ``forwarded_allow_ips`` only (see docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import orjson
import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from calltrail.api.gate import ADMITTED, Admission, Gate
from calltrail.api.guard import header, request_id
from calltrail.api.metrics import REFUSED
from calltrail.api.ratelimit import presented_credential
from calltrail.api.workers import listening_socket
from calltrail.kernel.errors import CalltrailError, HeadersTooLarge

#: The longest header line (name, colon, value) accepted.
MAX_HEADER_LINE = 16 * 1024
#: The most bytes of a request head (request line and every header) accepted.
MAX_HEAD_BYTES = 64 * 1024
#: The most connections accepted in one pass of the event loop (the listen backlog's size).
ACCEPT_BATCH = 2048
#: The cyclic collector's thresholds while serving (Python's defaults: 700, 10, 10). A request
#: allocates thousands of objects and leaves no cycles behind it, so the default thresholds ran a
#: collection every few requests, each a pause of every connection; under a flood these pauses
#: were the slowest refusals (1,024 connections: refusals per second +20%, the slowest 147 ->
#: 97-121 ms). Cycles are still collected, a young one within a million allocations.
GC_THRESHOLDS = (50_000, 20, 100)
log = logging.getLogger("calltrail.server")


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounded request heads and refusals answered by the
    parser (see the module docstring). ``gate`` is set by :func:`protocol_class`."""

    gate: Gate
    _refused = False
    _skip_message = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()

    def _start_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._line_too_long = False

    # Parser callbacks: once a request is refused, whatever follows on the connection is ignored.

    def on_message_begin(self) -> None:
        if not self._refused:
            super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        if len(name) + 2 + len(value) > MAX_HEADER_LINE:
            self._line_too_long = True
            return  # not kept: the request is refused when its head is complete
        # uvicorn's own on_header, inlined: it runs for every header of every request (a flood's
        # included), and a second Python call per header was a tenth of a refusal's cost.
        name = name.lower()
        value = value.rstrip(b" \t")
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        if self._line_too_long:
            self._refuse(f"A header line is longer than {MAX_HEADER_LINE} bytes.")
            return
        if self._gate_refused():
            return
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not before:  # none is made for an upgrade
            # The new cycle's task has not run yet: it writes through the holder from its first message.
            self.cycle.transport = HeldHead(self.transport)  # type: ignore[assignment]

    def _gate_refused(self) -> bool:
        """Ask the gate; answer a refusal here and now. Only when no earlier response on this
        connection is pending, so pipelined responses stay in order (else the middleware asks)."""
        if self.cycle is not None and not self.cycle.response_complete:
            return False
        started = time.perf_counter()
        path = _path(self.url)
        # The credential is looked up only when the rate limit needs it: never for a shed request.
        verdict = self.gate.admit(path, len(self.tasks), self._credential)
        if isinstance(verdict, Admission):
            extensions: dict[str, object] = {ADMITTED: verdict}
            self.scope["extensions"] = extensions  # type: ignore[typeddict-item]
            return False
        status, head, body = _rendered(self.gate, path, verdict)
        keep_alive = self.parser.should_keep_alive() and not self._has_body()
        ending = b"\r\n" if keep_alive else b"connection: close\r\n\r\n"
        self.transport.write(b"".join((head, b"x-request-id: ", self._request_id(), b"\r\n", ending, body)))
        method = self.parser.get_method().decode("ascii", "replace")
        self.gate.metrics.observe(REFUSED, method, status, time.perf_counter() - started)
        if keep_alive:
            self._skip_message = True  # its (empty) body and end are still parsed: ignore them
        else:
            self._refused = True  # a body may follow: close rather than read it
            self.transport.close()
        return True

    def _credential(self) -> str | None:
        """:func:`calltrail.api.ratelimit.presented_credential` over the raw header pairs."""
        return presented_credential(
            {name.decode("latin-1"): value.decode("latin-1") for name, value in self.headers if name in _CREDENTIALS}
        )

    def _request_id(self) -> bytes:
        return request_id(header(self.headers, b"x-request-id")).encode()

    def _has_body(self) -> bool:
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
                return True
        return False

    def on_response_complete(self) -> None:
        head = self.cycle.transport if self.cycle is not None else None
        if isinstance(head, HeldHead):
            head.flush()  # a response without a body write (HEAD, 204, 304): its head goes now
        super().on_response_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused and not self._skip_message:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._skip_message:
            self._skip_message = False
            self._start_head()
            return
        if not self._refused:
            super().on_message_complete()
            # The next bytes start the next request's head. (Counting restarts here, not when the
            # next message begins: that happens inside a feed whose bytes were counted already.)
            self._start_head()

    def data_received(self, data: bytes) -> None:
        # While a head is being read, feed the parser no more than the head may hold.
        while data and self._in_head and not self._refused:
            room = MAX_HEAD_BYTES - self._head_bytes
            piece, data = (data, b"") if len(data) <= room else (data[:room], data[room:])
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self._in_head and self._head_bytes >= MAX_HEAD_BYTES and not self._refused:
                self._refuse(f"The request head is larger than {MAX_HEAD_BYTES} bytes.")
        if data and not self._refused:
            super().data_received(data)

    def _refuse(self, message: str) -> None:
        """Answer 431 in the dialect's envelope and close the connection."""
        path = _path(self.url) if getattr(self, "url", b"") else "/"
        response = self.gate.render(path, HeadersTooLarge(message))
        head = [f"HTTP/1.1 {response.status_code} Request Header Fields Too Large\r\n".encode()]
        head += [name + b": " + value + b"\r\n" for name, value in response.raw_headers]
        head.append(b"connection: close\r\n\r\n")
        self._refused = True
        self._in_head = False
        self.transport.write(b"".join(head) + response.body)
        self.transport.close()
        log.warning("refused a request from %s: %s", self.client[0] if self.client else "-", message)


#: The largest body a held head is joined to by copying; a larger one goes beside it in one
#: ``writelines`` (uvloop gathers the two in one ``writev``: a list page of 100 KB is not copied).
JOIN_UP_TO = 16384


class HeldHead:
    """Stands for the transport in one of uvicorn's response cycles: a response's head is held
    until its first body write and goes out with it, in one system call and one TCP segment. uvicorn
    writes them apart: under load the head's write alone was a fifth of the event loop's time
    serving single calls (``py-spy``, 16 connections), and a small response left as two segments.

    Writes before the head (``100 Continue``) go at once; so does the head when the connection is
    closed or the response completes without a body write (see ``on_response_complete``)."""

    __slots__ = ("_held", "_started", "transport")

    def __init__(self, transport: asyncio.Transport):
        self.transport = transport
        self._held: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        if not self._started and not data.startswith(b"HTTP/1.1 100 "):
            self._started = True
            self._held = data
            return
        if self._held is None:
            self.transport.write(data)
        elif len(data) <= JOIN_UP_TO:
            data, self._held = self._held + data, None
            self.transport.write(data)
        else:  # a large body is not copied to join it: both go in one gathering write
            held, self._held = self._held, None
            self.transport.writelines((held, data))

    def flush(self) -> None:
        """Write the held head, if any."""
        if self._held is not None:
            held, self._held = self._held, None
            self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


#: The request headers that may carry a credential (see ``presented_credential``).
_CREDENTIALS = frozenset((b"apikey", b"authtoken", b"authorization"))
#: Refusals rendered so far: a flood repeats a handful of them (same dialect, same numbers).
_RENDERED: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], tuple[int, bytes, bytes]] = {}


def _rendered(gate: Gate, path: str, error: CalltrailError) -> tuple[int, bytes, bytes]:
    """``(status, head without its end, body)`` of a refusal, rendered once per distinct answer."""
    dialect = path.split("/", 2)[1] if path.count("/") >= 1 else ""
    key = (dialect, error.code, error.message, tuple(error.headers.items()))
    cached = _RENDERED.get(key)
    if cached is None:
        response = gate.render(path, error)
        head = [f"HTTP/1.1 {response.status_code} {_reason(response.status_code)}\r\n".encode()]
        head += [name + b": " + value + b"\r\n" for name, value in response.raw_headers]
        if len(_RENDERED) > 1024:
            _RENDERED.clear()
        cached = _RENDERED[key] = (response.status_code, b"".join(head), bytes(response.body))
    return cached


def _path(url: bytes) -> str:
    """The decoded path of a request target, as the gate and the dialects see it."""
    path = url.split(b"?", 1)[0].decode("latin-1")
    return unquote(path) if "%" in path else path


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def protocol_class(gate: Gate) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for one app, asking its gate and rendering with its renderer."""
    return type("CalltrailHttpProtocol", (LimitedHttpToolsProtocol,), {"gate": gate})


class Acceptor:
    """Accepts every connection waiting on a listening socket, each served by the protocol the
    factory makes (see the module docstring). Stands where uvicorn keeps its asyncio servers: it
    is closed the same way on shutdown."""

    def __init__(self, sock: socket.socket, factory: Callable[[], asyncio.Protocol]):
        self.sockets = [sock]
        self._sock = sock
        self._factory = factory
        self._loop = asyncio.get_running_loop()
        self._connecting: set[asyncio.Task[None]] = set()
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # none left (or another worker process took it)
            except OSError as exc:  # out of file descriptors, say: the next pass tries again
                log.warning("could not accept a connection: %s", exc)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._serve(conn))
            self._connecting.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._connecting.discard)

    async def _serve(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError:  # the client left before its transport was made
            conn.close()

    def close(self) -> None:
        """Stop accepting (the socket is closed; a worker's copy only, with ``--workers``)."""
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    async def wait_closed(self) -> None:
        """Nothing to wait for: connections are uvicorn's to close."""


def settle_collector() -> None:
    """Before serving: what startup made is moved out of the collector's sight (it lives as long
    as the process, and forked workers then share its pages), and :data:`GC_THRESHOLDS` apply."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class _Server(uvicorn.Server):
    """uvicorn's server, listening through :class:`Acceptor` instead of an asyncio server."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        settle_collector()
        config = self.config

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        listeners = sockets if sockets is not None else [listening_socket(config.host, config.port)]
        self.servers = [Acceptor(sock, protocol) for sock in listeners]  # type: ignore[misc]
        if sockets is None:  # a worker's parent has said where it listens
            self._log_started_message(listeners)
        self.started = True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's request fields."""

    FIELDS = ("request_id", "client", "method", "path", "route", "status", "duration_ms", "app_id")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A ``logging.config`` dictionary: access lines to stdout, everything else to stderr."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if log_format == "json" else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"},
            "stdout": {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "calltrail": {"handlers": ["stderr"], "level": level, "propagate": False},
            "calltrail.access": {"handlers": ["stdout"], "level": level, "propagate": False},
        },
    }


def run(
    app: ASGIApp,
    gate: Gate,
    *,
    host: str,
    port: int,
    log_level: str,
    log_format: str,
    forwarded_allow_ips: str,
    sockets: list[socket.socket] | None = None,
) -> None:
    """Serve ``app`` until interrupted (on ``sockets`` already listening, when given: a worker)."""
    import gc

    # Everything built so far (routes, the OpenAPI document, the stores) lives as long as the
    # process: keep it out of the cyclic collector's full passes, which otherwise stall the event
    # loop for milliseconds at a time under load.
    gc.collect()
    gc.freeze()

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_class(gate),
        log_config=logging_config(log_format, log_level),
        log_level=log_level,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    _Server(config).run(sockets=sockets)
