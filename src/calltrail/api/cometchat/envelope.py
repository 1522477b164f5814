"""CometChat's error envelope and the one handler that renders every error in it.

``{"error": {"code": "...", "message": "...", "details": {"<field>": ["why"]}}}``: the shape
CometChat's SDKs read (``CometChatException{code, message, details}``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from calltrail.api.http import as_calltrail_error, json_response
from calltrail.errors import CalltrailError, MethodNotAllowed, PayloadTooLarge, RouteNotFound

log = logging.getLogger("calltrail.api")


def error_body(exc: CalltrailError) -> dict[str, Any]:
    """The JSON body for an error."""
    return {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}


def render(exc: CalltrailError, headers: Mapping[str, str] | None = None) -> Response:
    """The response for an error."""
    return json_response(error_body(exc), exc.status, dict(headers or {}))


async def handle_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: every failure, including routing ones, in the envelope."""
    if isinstance(exc, HTTPException):
        if exc.status_code == 405:
            return render(MethodNotAllowed(f"{request.method} is not supported on {request.url.path}."), exc.headers)
        if exc.status_code == 413:
            return render(PayloadTooLarge())
        return render(RouteNotFound(f"No endpoint serves {request.method} {request.url.path}."))
    error = as_calltrail_error(exc)
    if type(error) is CalltrailError:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return render(error)


def _driver_errors() -> tuple[type[Exception], ...]:
    import sqlite3

    import psycopg

    return (sqlite3.Error, psycopg.Error)


#: Starlette consults these by the exception's class; ``Exception`` is the last resort.
EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: handle_error,
    CalltrailError: handle_error,
    **{error: handle_error for error in _driver_errors()},
    Exception: handle_error,
}
