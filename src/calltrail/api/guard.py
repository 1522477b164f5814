"""The middleware in front of every request: overload protection, request ids, metrics and
the access log.

Before any route runs (so none of it costs a database trip), the :class:`~calltrail.api.gate.Gate`
refuses what the process cannot or may not take: 503 when too much is in flight, 429 when the
credential's bucket is empty. Under ``calltrail serve`` the HTTP protocol has already asked the
gate (and answered refusals itself, far more cheaply); its decision arrives in the scope.

Every response carries ``X-Request-Id`` (the client's, when it sent a sane one, else a new one)
and, for a request with a credential, the ``X-RateLimit-*`` headers. Refusals are rendered by
the dialect that owns the path, so a Bird client gets Bird's envelope even here.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Mapping

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calltrail.api.context import open_request
from calltrail.api.gate import ADMITTED, Admission, Gate
from calltrail.api.metrics import UNMATCHED
from calltrail.api.ratelimit import presented_credential
from calltrail.kernel.errors import CalltrailError

access_log = logging.getLogger("calltrail.access")
#: Path parameters whose values are secrets: the access log shows ``[redacted]`` instead.
SECRET_PARAMS = frozenset(("token",))
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")


def request_id(sent: str | None) -> str:
    """The client's ``X-Request-Id`` when it is sane (1-128 of A-Z a-z 0-9 . _ : -), else a new one:
    a random (version 4) UUID's 32 hex digits."""
    return sent if sent and _REQUEST_ID.match(sent) else _new_id()


def _new_id() -> str:
    # uuid.uuid4().hex without building a UUID object (a few times faster, same format).
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    return raw.hex()


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of a request header (``name`` in lower case) among raw header pairs (an
    ASGI scope's, or the HTTP protocol's), as Starlette's ``Headers`` reads it, without building
    the whole mapping."""
    for key, value in headers:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Guard:
    """ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp, *, gate: Gate) -> None:
        self.app = app
        self.gate = gate
        self.metrics = gate.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        info = open_request(request_id(header(scope["headers"], b"x-request-id")))
        extra_headers = [(b"x-request-id", info.request_id.encode())]
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra_headers]
            await send(message)

        verdict = (scope.get("extensions") or {}).get(ADMITTED)
        if not isinstance(verdict, Admission):
            credential = presented_credential(Headers(scope=scope))
            verdict = self.gate.check(scope["path"], credential, self.metrics.in_flight)
        if isinstance(verdict, CalltrailError):
            await self.gate.render(scope["path"], verdict)(scope, receive, send_with_headers)
        else:
            if verdict.decision is not None:
                extra_headers += verdict.decision.raw_headers()
            info.refusing = self.gate.refusing()
            self.metrics.in_flight += 1
            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                self.metrics.in_flight -= 1
        elapsed = time.perf_counter() - started
        route = route_template(scope)
        self.metrics.observe(route, scope["method"], status, elapsed)
        log_access(scope, route, status, elapsed, info.request_id, info.app_id)


class CORS(CORSMiddleware):
    """Starlette's CORS middleware, answering the common case without building header mappings:
    a request with no ``Origin`` header (not a browser's cross-origin call) only gets ``Origin``
    added to the response's ``Vary`` header, exactly as the parent class adds it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or header(scope["headers"], b"origin") is not None:
            await super().__call__(scope, receive, send)
            return

        async def send_varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                vary_origin(message.setdefault("headers", []))
            await send(message)

        await self.app(scope, receive, send_varying)


def vary_origin(headers: list[tuple[bytes, bytes]]) -> None:
    """Add ``Origin`` to a response's ``Vary``: its values joined into the first ``vary`` header,
    the others dropped (as Starlette's ``MutableHeaders`` sets it), or a new one at the end."""
    found = [index for index, (name, _) in enumerate(headers) if name == b"vary"]
    value = b", ".join([*(headers[index][1] for index in found), b"Origin"])
    for index in reversed(found[1:]):
        del headers[index]
    if found:
        headers[found[0]] = (b"vary", value)
    else:
        headers.append((b"vary", value))


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/v3/calls/{session_id}``), or ``unmatched``."""
    route = scope.get("route")
    if not isinstance(route, Route):
        return UNMATCHED
    mounted_at = str(scope.get("root_path", ""))[len(str(scope.get("app_root_path", ""))) :]
    return mounted_at + route.path


def logged_path(scope: Scope) -> str:
    """The request's path and query as logged: secret path parameters redacted."""
    path = str(scope["path"])
    params: Mapping[str, object] = scope.get("path_params", {})
    for name in SECRET_PARAMS:
        value = params.get(name)
        if isinstance(value, str) and value:
            path = path.replace(value, "[redacted]")
    query = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def log_access(scope: Scope, route: str, status: int, seconds: float, request_id: str, app_id: str | None) -> None:
    """One access-log line (plain or JSON: see :mod:`calltrail.api.server`)."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    address = f"{client[0]}:{client[1]}" if client else "-"
    path = logged_path(scope)
    access_log.info(
        '%s - "%s %s" %d %.1fms id=%s app=%s',
        address,
        scope["method"],
        path,
        status,
        seconds * 1000,
        request_id,
        app_id or "-",
        extra={
            "request_id": request_id,
            "client": address,
            "method": scope["method"],
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "app_id": app_id,
        },
    )
