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
import re
import time
import uuid
from collections.abc import Mapping

from starlette.datastructures import Headers
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
    """The client's ``X-Request-Id`` when it is sane (1-128 of A-Z a-z 0-9 . _ : -), else a new one."""
    return sent if sent and _REQUEST_ID.match(sent) else uuid.uuid4().hex


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
        headers = Headers(scope=scope)
        info = open_request(request_id(headers.get("x-request-id")))
        extra_headers = [(b"x-request-id", info.request_id.encode())]
        status = [500]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        verdict = (scope.get("extensions") or {}).get(ADMITTED)
        if not isinstance(verdict, Admission):
            verdict = self.gate.check(scope["path"], presented_credential(headers), self.metrics.in_flight)
        if isinstance(verdict, CalltrailError):
            await self.gate.render(scope["path"], verdict)(scope, receive, send_with_headers)
        else:
            if verdict.decision is not None:
                extra_headers += [(k.lower().encode(), v.encode()) for k, v in verdict.decision.headers().items()]
            self.metrics.in_flight += 1
            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                self.metrics.in_flight -= 1
        elapsed = time.perf_counter() - started
        route = route_template(scope)
        self.metrics.observe(route, scope["method"], status[0], elapsed)
        log_access(scope, route, status[0], elapsed, info.request_id, info.app_id)


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
