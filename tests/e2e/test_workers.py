"""``calltrail serve --workers N`` (api/workers.py): N processes answer on one port; a worker that
dies is replaced; SIGTERM stops them all. Both engines (each worker opens its own connections)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

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


def _tcp_sockets(port: int) -> dict[int, str]:
    """Inode -> state (``0A`` listening, ``01`` established) of this host's IPv4 TCP sockets
    whose local port is ``port``."""
    found = {}
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                found[int(fields[9])] = fields[3]
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def test_each_worker_accepts_on_its_own_socket_and_a_burst_reaches_both(
    server_factory: Callable[..., Server], database_url: Callable[[str], str]
) -> None:
    """One listening socket per worker (``SO_REUSEPORT``), none left in the parent: sixteen
    connections opened at once are spread among the workers by the kernel, where on one shared
    socket the first worker awake could take them all."""
    db_url = database_url("sqlite")
    _, key = _tenant(db_url)
    server = server_factory(db_url, "--workers", "2")
    _wait_for(lambda: len(_workers(server)) == 2)
    port = int(server.base_url.rsplit(":", 1)[1])
    clients = [httpx.Client(base_url=server.base_url, headers={"apikey": key}, timeout=10) for _ in range(16)]
    try:
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda client: client.get("/v3/calls").status_code, clients))
        assert statuses == [200] * 16
        sockets = _tcp_sockets(port)
        listening = {pid: {i for i in _socket_inodes(pid) if sockets.get(i) == "0A"} for pid in _workers(server)}
        assert all(len(own) == 1 for own in listening.values()), listening
        assert len(set().union(*listening.values())) == 2  # two sockets, one each
        assert not {i for i in _socket_inodes(server.process.pid) if sockets.get(i) == "0A"}
        served = [sum(sockets.get(i) == "01" for i in _socket_inodes(pid)) for pid in _workers(server)]
        assert sum(served) == 16 and min(served) >= 1, served  # all on one: 2 chances in 65,536
    finally:
        for client in clients:
            client.close()


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] == "Z"  # exited, not yet reaped
    except FileNotFoundError:
        return True
