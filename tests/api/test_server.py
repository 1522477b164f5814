"""``calltrail serve``'s HTTP protocol, fed bytes in process: refusals answered by the parser (no
task, no middleware), the connection kept or closed as the request's framing requires, and
requests let in reaching the app with uvicorn's own view of their headers. (Against a real
server process: tests/e2e/test_production.py.)"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import orjson
import uvicorn
import uvloop
from uvicorn.server import ServerState

from calltrail.api.gate import ADMITTED, Admission
from calltrail.api.server import (
    GC_THRESHOLDS,
    JOIN_UP_TO,
    Acceptor,
    HeldHead,
    LimitedHttpToolsProtocol,
    protocol_class,
    settle_collector,
)
from calltrail.app import create_app
from calltrail.settings import Settings
from calltrail.store import Stores

GET = b"GET /v3/calls?perPage=1 HTTP/1.1\r\nHost: x\r\napikey: k\r\n\r\n"


class Transport:
    """What the protocol uses of an asyncio transport: it keeps what is written."""

    def __init__(self) -> None:
        self.sent = b""
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent += data
        self.writes.append(data)

    def writelines(self, pieces: Iterable[bytes]) -> None:
        """One gathering write: kept as the tuple of its pieces, which are not joined."""
        pieces = tuple(pieces)
        self.sent += b"".join(pieces)
        self.writes.append(pieces)  # type: ignore[arg-type]

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def _serving(stores: Stores, settings: Settings, test: Callable[[LimitedHttpToolsProtocol, Transport], Any]) -> None:
    """Run ``test(protocol, transport)`` on an event loop, with one connection made."""

    async def main() -> None:
        app = create_app(stores, settings)
        config = uvicorn.Config(app, http=protocol_class(app.state.gate), log_level="warning")
        config.load()
        protocol = protocol_class(app.state.gate)(config, ServerState(), {})
        transport = Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        outcome = test(protocol, transport)
        if isinstance(outcome, Coroutine):
            await outcome

    asyncio.run(main())


def _answers(sent: bytes) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """``(status line, headers, body)`` of each response in ``sent``."""
    answers = []
    while sent:
        head, _, rest = sent.partition(b"\r\n\r\n")
        status, *lines = head.split(b"\r\n")
        headers = dict(line.split(b": ", 1) for line in lines)
        length = int(headers[b"content-length"])
        answers.append((status, headers, rest[:length]))
        sent = rest[length:]
    return answers


def test_shed_requests_are_answered_by_the_parser_and_keep_the_connection(stores: Stores) -> None:
    def test(protocol: LimitedHttpToolsProtocol, transport: Transport) -> None:
        sent_id = GET.replace(b"apikey: k", b"apikey: k\r\nX-Request-Id: trace-1")
        protocol.data_received(sent_id + GET)  # two requests in one read
        answers = _answers(transport.sent)
        assert [status for status, _, _ in answers] == [b"HTTP/1.1 503 Service Unavailable"] * 2
        assert answers[0][1][b"retry-after"] == b"1" and answers[0][1][b"x-request-id"] == b"trace-1"
        assert len(answers[1][1][b"x-request-id"]) == 32  # made up: none was sent
        assert orjson.loads(answers[0][2])["error"]["code"] == "ERR_SERVER_OVERLOADED"
        assert not transport.closed and not protocol.tasks  # no task was made for either
        assert protocol.gate.metrics.shed == 2

    _serving(stores, Settings(max_in_flight=0), test)


def test_a_refused_request_with_a_body_closes_the_connection(stores: Stores) -> None:
    def test(protocol: LimitedHttpToolsProtocol, transport: Transport) -> None:
        protocol.data_received(b"POST /v3/calls/events HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n[")
        ((status, headers, _),) = _answers(transport.sent)
        assert status.startswith(b"HTTP/1.1 503") and headers[b"connection"] == b"close"
        assert transport.closed
        protocol.data_received(b"not read: the request is over" + GET)
        assert len(_answers(transport.sent)) == 1

    _serving(stores, Settings(max_in_flight=0), test)


def test_the_path_is_decoded_before_the_gate_sees_it(stores: Stores) -> None:
    def test(protocol: LimitedHttpToolsProtocol, transport: Transport) -> None:
        bird = b"GET /workspaces/w/channel%73/calls HTTP/1.1\r\nHost: x\r\n\r\n"
        protocol.data_received(bird)
        ((status, _, body),) = _answers(transport.sent)
        assert status.startswith(b"HTTP/1.1 503") and orjson.loads(body)["code"] == "ServiceUnavailable"

    _serving(stores, Settings(max_in_flight=0), test)


def test_health_is_let_in_with_headers_as_uvicorn_reads_them(stores: Stores) -> None:
    async def test(protocol: LimitedHttpToolsProtocol, transport: Transport) -> None:
        head = b"GET /heal%74hz HTTP/1.1\r\nHost: x\r\nX-Trace:  a b \t\r\nEXPECT: 100-Continue\r\n\r\n"
        protocol.data_received(head)
        assert protocol.scope["path"] == "/healthz"
        assert isinstance(protocol.scope["extensions"][ADMITTED], Admission)
        assert protocol.headers[-2:] == [(b"x-trace", b"a b"), (b"expect", b"100-Continue")]
        assert protocol.expect_100_continue
        await asyncio.gather(*protocol.tasks)
        ((status, _, body),) = _answers(transport.sent.split(b"HTTP/1.1 100 Continue\r\n\r\n")[-1])
        assert status == b"HTTP/1.1 200 OK" and orjson.loads(body)["status"] == "ok"

    _serving(stores, Settings(max_in_flight=0), test)


def test_a_response_goes_out_in_one_write_with_its_head(stores: Stores) -> None:
    async def test(protocol: LimitedHttpToolsProtocol, transport: Transport) -> None:
        protocol.data_received(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.gather(*protocol.tasks)
        ((status, _, body),) = _answers(transport.sent)
        assert status == b"HTTP/1.1 200 OK" and orjson.loads(body)["status"] == "ok"
        assert transport.writes == [transport.sent]  # head and body in one system call
        protocol.data_received(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.gather(*protocol.tasks)
        assert len(transport.writes) == 2 and transport.writes[1].startswith(b"HTTP/1.1 200 OK\r\n")
        assert transport.writes[1].endswith(b"\r\n\r\n")  # a HEAD answer: its head, sent when complete
        assert not transport.closed

    _serving(stores, Settings(max_in_flight=0), test)


def test_a_held_head_waits_for_the_first_body_write_only() -> None:
    transport = Transport()
    held = HeldHead(transport)  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the head: at once
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    held.write(b"chunk 1")
    held.write(b"chunk 2")
    held.flush()  # nothing held: nothing written
    assert transport.writes[1:] == [b"HTTP/1.1 200 OK\r\n\r\nchunk 1", b"chunk 2"]
    closing = HeldHead(transport)  # type: ignore[arg-type]
    closing.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    closing.close()  # the head goes before the connection closes
    assert transport.writes[-1] == b"HTTP/1.1 500 Internal Server Error\r\n\r\n" and transport.closed


def test_a_held_head_goes_beside_a_large_body_without_copying_it() -> None:
    transport = Transport()
    held = HeldHead(transport)  # type: ignore[arg-type]
    head, body = b"HTTP/1.1 200 OK\r\n\r\n", b"x" * (JOIN_UP_TO + 1)
    held.write(head)
    held.write(body)
    [write] = transport.writes
    assert isinstance(write, tuple) and write[0] == head and write[1] is body  # the same object: no copy
    assert transport.sent == head + body


def test_the_acceptor_takes_every_waiting_connection_in_one_pass() -> None:
    made: list[asyncio.Transport] = []

    class Counting(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            made.append(transport)  # type: ignore[arg-type]

    async def main() -> None:
        listening = socket.create_server(("127.0.0.1", 0), backlog=128)
        clients = [socket.create_connection(listening.getsockname()) for _ in range(50)]
        acceptor = Acceptor(listening, Counting)
        acceptor._accept()  # one pass, as when the socket is ready: all 50 at once, not one
        for _ in range(10):
            await asyncio.sleep(0)  # the transports are made and their protocols told
        assert len(made) == 50
        acceptor.close()
        await acceptor.wait_closed()
        assert listening.fileno() == -1
        for transport in made:
            transport.close()
        for client in clients:
            client.close()

    uvloop.run(main())  # the loop calltrail serve runs on, whose own accepting takes one per pass


def test_serving_freezes_startup_objects_and_collects_less_often() -> None:
    before = gc.get_threshold()
    try:
        settle_collector()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles made after startup are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
