"""A real ``calltrail serve`` process: header limits, refusals answered by the HTTP protocol,
structured logs, secrets kept out of them, and a client leaving mid-upload."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.e2e


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'prod.db'}"


def _cli(db_url: str, *args: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "calltrail", *args, "--db", db_url], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.splitlines()[0]))


def _tenant(db_url: str) -> str:
    _cli(db_url, "apps", "create", "--name", "Prod", "--id", "prod")
    return _cli(db_url, "keys", "create", "--app", "prod")["apiKey"]


def _raw(server: Server, request: bytes) -> bytes:
    """Send raw bytes; everything the server answers until it closes (or 5 s pass)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with contextlib.suppress(OSError):  # the server may close while we still send; it has answered
            sock.sendall(request)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError:
            pass
    return received


def _body(answer: bytes) -> dict[str, Any]:
    return dict(json.loads(answer.split(b"\r\n\r\n", 1)[1]))


def test_oversized_headers_are_431_in_the_dialects_envelope(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    server = server_factory(_db(tmp_path))
    long_line = b"X-Big: " + b"a" * 17000 + b"\r\n"
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 8000) for i in range(10))  # 80 KB, no line over 16 KiB
    for path, headers, code in [
        (b"/v3/calls", long_line, "ERR_HEADERS_TOO_LARGE"),
        (b"/workspaces/w/channels/calls", long_line, "RequestHeaderFieldsTooLarge"),
        (b"/v3/calls", many, "ERR_HEADERS_TOO_LARGE"),
        (b"/workspaces/w/channels/calls", many, "RequestHeaderFieldsTooLarge"),
    ]:
        answer = _raw(server, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        body = _body(answer)
        assert code in (body.get("code"), dict(body.get("error") or {}).get("code")), body
    # a flood of headers is cut off at the limit, not read whole; the server stays healthy
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /v3/calls HTTP/1.1\r\nHost: x\r\n")
        sent = 0
        with pytest.raises(OSError):
            for index in range(6400):  # up to 64 MB
                sock.sendall(b"X-H%d: %s\r\n" % (index, b"c" * 10000))
                sent += 1
        assert sent < 6400
    assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200
    assert "Traceback" not in server.output()


def test_refusals_come_from_the_protocol_and_keep_the_connection(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    db_url = _db(tmp_path)
    key = _tenant(db_url)
    server = server_factory(db_url, env={"CALLTRAIL_RATE_LIMIT": "0.001", "CALLTRAIL_RATE_BURST": "3"})
    with server.client() as client:  # one keep-alive connection for all of it
        statuses = [client.get("/v3/calls?perPage=1", headers={"apikey": key}).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = client.get("/workspaces/prod/channels/calls", headers={"Authorization": f"AccessKey {key}"})
        assert refused.status_code == 429
        assert refused.json()["code"] == "TooManyRequests"
        assert int(refused.headers["Retry-After"]) >= 1 and refused.headers["X-Request-Id"]
        assert client.get("/healthz").status_code == 200
        metrics = client.get("/metrics").text
    assert "calltrail_http_requests_rate_limited_total 3" in metrics

    shedding = server_factory(db_url, env={"CALLTRAIL_MAX_IN_FLIGHT": "0"})
    with shedding.client() as client:
        for _ in range(3):
            shed = client.get("/v3/calls", headers={"apikey": key, "X-Request-Id": "abc"})
            assert (shed.status_code, shed.json()["error"]["code"]) == (503, "ERR_SERVER_OVERLOADED")
            assert shed.headers["Retry-After"] == "1" and shed.headers["X-Request-Id"] == "abc"
        posted = client.post("/v3/calls/events", headers={"apikey": key}, json=[{"id": "x"}])
        assert posted.status_code == 503  # a refused body is not read: the connection closes
        assert client.get("/healthz").status_code == 200


def test_json_logs_carry_request_fields_and_never_a_live_token(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    db_url = _db(tmp_path)
    key = _tenant(db_url)
    server = server_factory(db_url, "--log-level", "info", "--log-format", "json")
    with server.client(headers={"apikey": key}) as client:
        token = client.post("/v3/users/ava/auth_tokens").json()["data"]["authToken"]
        assert client.get("/v3.0/calls?perPage=1", headers={"authToken": token}).status_code == 200
        revoked = client.delete(f"/v3/users/ava/auth_tokens/{token}", headers={"X-Request-Id": "revoke-1"})
        assert revoked.status_code == 200
    time.sleep(0.5)  # the log line is written after the response
    output = server.output()
    assert token not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "calltrail.access"]
    revoke = next(line for line in access if line.get("request_id") == "revoke-1")
    assert revoke["route"] == "/v3/users/{uid}/auth_tokens/{token}"
    assert revoke["path"] == "/v3/users/ava/auth_tokens/[redacted]"
    assert (revoke["status"], revoke["app_id"], revoke["method"]) == (200, "prod", "DELETE")
    assert isinstance(revoke["duration_ms"], float)
    viewer = next(line for line in access if line["route"] == "/v3.0/calls")
    assert viewer["app_id"] == "prod"  # the user token's app


def _lines_about(output: str, path: str) -> list[str]:
    return [line for line in output.splitlines() if path in line]


def test_a_client_leaving_mid_upload_is_one_log_line(server_factory: Callable[..., Server], tmp_path: Path) -> None:
    db_url = _db(tmp_path)
    key = _tenant(db_url)
    server = server_factory(db_url, "--log-level", "info")
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        head = f"POST /v3/calls/events HTTP/1.1\r\nHost: x\r\napikey: {key}\r\ncontent-length: 1000000\r\n\r\n"
        sock.sendall(head.encode() + b"[" + b" " * 100_000)
        time.sleep(0.3)
    # Generous: on a loaded machine the server may take a while to notice the closed socket.
    # (Waited for by the line itself: a request id is random hex, so "499" alone may match one.)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _lines_about(server.output(), "/v3/calls/events"):
        time.sleep(0.1)
    time.sleep(0.2)  # a second line, if one were written, would follow at once
    output = server.output()
    assert "Traceback" not in output and "Exception" not in output
    mentions = _lines_about(output, "/v3/calls/events")
    assert len(mentions) == 1 and " 499 " in mentions[0], output
