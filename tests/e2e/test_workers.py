"""``calltrail serve --workers N`` (api/workers.py): N processes answer on one port; a worker that
dies is replaced; SIGTERM stops them all. Both engines (each worker opens its own connections)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import Server
from tests.e2e.test_server import _tenant

pytestmark = pytest.mark.e2e


def _workers(server: Server) -> set[int]:
    """The live worker processes of a server (children of its parent process)."""
    with open(f"/proc/{server.process.pid}/task/{server.process.pid}/children") as children:
        return {int(pid) for pid in children.read().split()}


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_workers_share_the_port_and_are_replaced(
    server_factory: Callable[..., Server], database_url: Callable[[str], str], backend: str
) -> None:
    db_url = database_url(backend)
    _, key = _tenant(db_url)
    server = server_factory(db_url, "--workers", "2")
    _wait_for(lambda: len(_workers(server)) == 2)
    first = _workers(server)
    for _ in range(20):  # a new connection each: the kernel hands them to either worker
        response = httpx.get(f"{server.base_url}/v3/calls", headers={"apikey": key}, timeout=10)
        assert response.status_code == 200, response.text
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: victim not in _workers(server) and len(_workers(server)) == 2)
    assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200
    workers = _workers(server)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(20) == 0
    _wait_for(lambda: all(_gone(pid) for pid in workers))


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] == "Z"  # exited, not yet reaped
    except FileNotFoundError:
        return True
