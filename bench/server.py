"""Start a ``calltrail serve`` process for a benchmark, and stop it afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def running_server(db_url: str) -> Iterator[str]:
    """A server on a free port over ``db_url``; yields its base URL once /healthz answers."""
    with running_process(db_url) as (url, _pid):
        yield url


@contextmanager
def running_process(db_url: str) -> Iterator[tuple[str, int]]:
    """:func:`running_server`, yielding the process id too (to read its memory)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    process = subprocess.Popen(
        [sys.executable, "-m", "calltrail", "serve", "--db", db_url, "--port", str(port), "--log-level", "warning"],
        env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(10)
