"""A real HTTP receiver for outbound webhooks: a threading ``http.server`` on 127.0.0.1.

Each request is recorded (path, headers, body, when it started and ended). ``answer`` decides
the reply: an HTTP status, or a number of seconds to stall first (``(seconds, status)``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    started: float
    ended: float = 0.0

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


Answer = Callable[[Received], "int | tuple[float, int]"]


@dataclass
class Receiver:
    """Records requests; ``answer`` (default: 204) decides each reply."""

    answer: Answer = lambda request: 204
    requests: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def verified(self, secret: str) -> list[Any]:
        """Every request's body, each verified with the ``standardwebhooks`` package."""
        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in list(self.requests)]

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in list(self.requests) if r.json["type"] == event_type]

    def wait_for(self, test: Callable[[list[Received]], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not test(list(self.requests)):
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver did not get what was expected; it got {len(self.requests)}")
            time.sleep(0.02)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length),
                               time.monotonic())  # fmt: skip
            if len(request.body) != length:  # the sender died mid-request: nothing was received
                self.close_connection = True
                return
            with receiver.lock:
                now = receiver.in_flight.get(self.path, 0) + 1
                receiver.in_flight[self.path] = now
                receiver.max_in_flight[self.path] = max(now, receiver.max_in_flight.get(self.path, 0))
            finished = False
            try:
                reply = receiver.answer(request)
                stall, status = reply if isinstance(reply, tuple) else (0.0, reply)
                if stall:
                    time.sleep(stall)
                request.ended = time.monotonic()
                receiver.requests.append(request)
                # The request is over once its answer is decided: count it out before answering,
                # or a sender that gets the answer and hands the queue over at once would be
                # counted as overlapping with the next sender's request.
                with receiver.lock:
                    receiver.in_flight[self.path] -= 1
                finished = True
                answer = b"" if status in (204, 304) else b"ok"
                self.send_response(status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                if not finished:
                    with receiver.lock:
                        receiver.in_flight[self.path] -= 1

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a sender killed mid-request is part of the tests, not an error to print


@contextmanager
def running(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """Serve ``receiver`` on a free port of 127.0.0.1 for the duration of the block."""
    receiver = receiver or Receiver()
    server = _Server(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
