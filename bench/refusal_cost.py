"""What one shed request costs ``calltrail serve``'s HTTP protocol, in CPU time of the thread.

Feeds the protocol of :mod:`calltrail.api.server` a keep-alive ``GET /v3/calls`` (five headers,
as wrk sends it) again and again on one connection, with ``CALLTRAIL_MAX_IN_FLIGHT=0`` so every
request is refused with 503, and writes into memory instead of a socket: the figure is the
parsing, the gate and the rendered answer, without the system calls around them. Thread CPU time,
so other work on the machine barely shows; prints the best and the median of seven rounds.

    python bench/refusal_cost.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from calltrail.api.server import protocol_class
from calltrail.app import create_app
from calltrail.settings import Settings
from calltrail.store import open_stores

REQUEST = (
    b"GET /v3/calls?perPage=100 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\n"
    b"apikey: 35ca88bdfdb577eaa30885e371a686043e43aeb9\r\nX-Request-Id: 1764752400000000\r\n\r\n"
)
ROUNDS, PER_ROUND = 7, 20_000


class MemoryTransport:
    """Counts what the protocol writes; closing is refused (a refusal must keep the connection)."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def close(self) -> None:
        raise AssertionError("a keep-alive refusal closed the connection")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)


async def measure(db_url: str) -> list[float]:
    stores = open_stores(db_url)
    app = create_app(stores, Settings(max_in_flight=0))
    config = uvicorn.Config(app, http=protocol_class(app.state.gate), log_level="warning")
    config.load()
    protocol = protocol_class(app.state.gate)(config, ServerState(), {})
    transport = MemoryTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    for _ in range(PER_ROUND):  # warm
        protocol.data_received(REQUEST)
    rounds = []
    for _ in range(ROUNDS):
        started = time.thread_time()
        for _ in range(PER_ROUND):
            protocol.data_received(REQUEST)
        rounds.append((time.thread_time() - started) / PER_ROUND)
    assert transport.writes == PER_ROUND * (ROUNDS + 1), "every request is answered once"
    stores.close()
    return rounds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rounds = asyncio.run(measure(f"sqlite:///{Path(tmp) / 'cost.db'}"))
    print(
        f"CPU per shed request in the protocol: best {min(rounds) * 1e6:.2f} us, "
        f"median {statistics.median(rounds) * 1e6:.2f} us ({ROUNDS} rounds of {PER_ROUND:,})"
    )


if __name__ == "__main__":
    main()
