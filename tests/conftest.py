"""Shared fixtures.

Every test that takes ``stores`` (or anything built on it: ``client``, ``tenant``) runs twice,
against SQLite and against PostgreSQL. PostgreSQL is required: when it is unreachable those
tests *fail* (they are never skipped). Point ``CALLTRAIL_TEST_PG_URL`` elsewhere if needed.

Each test gets its own app (tenant), so tests share one database per backend and session yet
never see each other's calls, which is also a standing test of tenant isolation.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from calltrail.app import create_app
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores, open_stores

PG_URL = os.environ.get("CALLTRAIL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
FIXTURES = Path(__file__).parent / "fixtures"
BACKENDS = ["sqlite", "postgresql"]

#: Repeatable query parameters, as the ``params`` of a test client's request accepts them.
QueryParams = list[tuple[str, str | int | float | bool | None]]


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit the developer's Calltrail settings."""
    for name in list(os.environ):
        if name.startswith("CALLTRAIL_") and name != "CALLTRAIL_TEST_PG_URL":
            monkeypatch.delenv(name)


def _pg_schema_url(schema: str) -> str:
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh PostgreSQL schemas (each a clean database); dropped at the end."""
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for the storage tests and is unreachable at {PG_URL}: {exc}. "
            "Start it, or set CALLTRAIL_TEST_PG_URL.",
            pytrace=False,
        )
    created: list[str] = []

    def make() -> str:
        schema = f"ct_test_{secrets.token_hex(6)}"
        admin.execute(f"CREATE SCHEMA {schema}")
        created.append(schema)
        return _pg_schema_url(schema)

    yield make
    for schema in created:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    admin.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, pg_database: Callable[[], str]) -> Callable[[str], str]:
    """A factory: a fresh, empty database URL for a backend name."""

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'calltrail.db'}"
        return pg_database()

    return make


@pytest.fixture(scope="session", params=BACKENDS)
def stores(request: pytest.FixtureRequest, database_url: Callable[[str], str]) -> Iterator[Stores]:
    """Migrated stores over one database per backend, shared by the session's tests."""
    opened = open_stores(database_url(request.param))
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def client(stores: Stores) -> Iterator[TestClient]:
    """An HTTP client (httpx API) talking to the ASGI app in process."""
    with TestClient(create_app(stores), raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass
class Tenant:
    """A fresh app with a fullAccess key, plus the headers that authenticate as it."""

    app_id: str
    key: str
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def tenant(stores: Stores) -> Tenant:
    app = stores.tenants.create_app(new_app_settings("Test app", f"t-{secrets.token_hex(6)}"))
    secret, _ = stores.tenants.create_key(app.app_id)
    return Tenant(app.app_id, secret, {"apikey": secret})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running ``calltrail serve`` process; its output goes to files (read with :meth:`output`)."""

    process: subprocess.Popen[bytes]
    base_url: str
    db_url: str
    log_dir: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kwargs)

    def output(self) -> str:
        """Everything the server printed so far (stdout, then stderr)."""
        return (self.log_dir / "stdout").read_text() + (self.log_dir / "stderr").read_text()


def start_server(
    db_url: str, *extra: str, log_dir: Path, env: dict[str, str] | None = None, timeout: float = 90
) -> Server:
    """Start ``python -m calltrail serve`` on a free port and wait until /healthz answers."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "stdout", "wb") as out, open(log_dir / "stderr", "wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "calltrail",
                "serve",
                "--db",
                db_url,
                "--port",
                str(port),
                "--log-level",
                "warning",
                *extra,
            ],
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
        )
    server = Server(process, f"http://127.0.0.1:{port}", db_url, log_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {server.output()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not become healthy in time: {server.output()}")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start servers; every one still running at the end of the test is stopped."""
    started: list[Server] = []

    def start(db_url: str, *extra: str, **kwargs: Any) -> Server:
        server = start_server(db_url, *extra, log_dir=tmp_path / f"server-{len(started)}", **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_server(server)


def stop_server(server: Server) -> None:
    """Stop a server started by :func:`start_server` (terminate, then kill after 10 s)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
