"""``calltrail serve --workers N``: N server processes answering on one port.

Why processes: one Python process runs one request's Python at a time, so on a machine with
several cores a single server leaves all but one idle; a request's SQL is a small share of its
time (docs/storage.md). The parent migrates the database, binds one listening socket per worker
(``SO_REUSEPORT``, all on the port), then forks the workers; each opens its own database
connections (nothing opened before the fork is used after it) and accepts on its own socket.

Why a socket each: the kernel then hands each new connection to one of them by a hash of its
addresses, so a client's sixteen connections opened at once are spread among the workers. On one
shared socket the first worker awake accepted them all (it takes every waiting connection in one
pass), and ``bench/concurrency.py`` with ``--workers 2`` measured 1.17x to 2.03x from one
connection to sixteen for a list page, from run to run. A worker that dies takes the connections
still waiting on its socket with it (their clients see a reset); its replacement gets a new socket.

What is per process: the rate limits and the load-shedding budget (``CALLTRAIL_RATE_LIMIT`` and
``CALLTRAIL_MAX_IN_FLIGHT`` apply to each worker), and ``/metrics`` (each scrape answers for the
worker that took it). Outbound webhooks: every worker runs a deliverer; leases make each delivery
go out once (as with several servers on one database).

The parent restarts a worker that dies, and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

#: A worker that dies this soon after its start counts towards giving up.
QUICK_DEATH_SECONDS = 5.0
#: Quick deaths in a row after which the parent stops (a broken configuration, not bad luck).
MAX_QUICK_DEATHS = 5


def listening_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening socket on ``host:port``; with ``reuse_port``, one of several on that port
    among which the kernel spreads new connections (one per worker)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048, reuse_port=reuse_port)


def supervise(count: int, work: Callable[[socket.socket], None], host: str, port: int) -> int:
    """Run ``work(sock)`` in ``count`` forked processes until a signal, each with its own
    listening socket on ``host:port``; returns an exit status."""
    children: dict[int, float] = {}
    stopping = False
    # Bound here, before any fork: a port in use fails the command, not the workers one by one.
    first = listening_socket(host, port, reuse_port=True)
    port = first.getsockname()[1]  # the port given, or the one chosen for port 0
    ready = [first, *(listening_socket(host, port, reuse_port=True) for _ in range(count - 1))]

    def spawn() -> None:
        sock = ready.pop() if ready else listening_socket(host, port, reuse_port=True)
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            for other in ready:  # the other workers' sockets, not yet handed over: not ours to hold
                other.close()
            status = 0
            try:
                work(sock)
            except BaseException:
                import traceback

                traceback.print_exc()
                status = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        # The parent keeps no copy: when this worker ends, its socket closes and the kernel
        # stops handing it connections.
        sock.close()
        children[pid] = time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):  # it has just ended
                os.kill(pid, signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for _ in range(count):
        spawn()
    quick_deaths = 0
    while children:
        try:
            pid, _ = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        started = children.pop(pid, None)
        if stopping or started is None:
            continue
        quick_deaths = quick_deaths + 1 if time.monotonic() - started < QUICK_DEATH_SECONDS else 0
        if quick_deaths >= MAX_QUICK_DEATHS:
            print("calltrail: workers keep dying at start; stopping", file=sys.stderr)
            stop(signal.SIGTERM, None)
            stopping = True
            continue
        spawn()  # replace the worker that died
    return 0 if stopping else 1
