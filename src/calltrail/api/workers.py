"""``calltrail serve --workers N``: N server processes sharing one listening socket.

Why processes: one Python process runs one request's Python at a time, so on a machine with
several cores a single server leaves all but one idle; a request's SQL is a small share of its
time (docs/storage.md). The parent binds the socket, migrates the database, then forks the
workers; each opens its own connections (nothing opened before the fork is used after it) and
runs the same app on the inherited socket, and the kernel spreads connections among them.

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


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket every worker accepts on (inherited across ``fork``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


def supervise(count: int, work: Callable[[socket.socket], None], sock: socket.socket) -> int:
    """Run ``work(sock)`` in ``count`` forked processes until a signal; returns an exit status."""
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
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
