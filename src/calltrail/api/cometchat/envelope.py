"""CometChat's error envelope and the one handler that renders every error in it.

``{"error": {"code": "...", "message": "...", "details": {"<field>": ["why"]}}}``: the shape
CometChat's SDKs read (``CometChatException{code, message, details}``).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from calltrail.api.http import exception_handlers, json_response
from calltrail.kernel.errors import CalltrailError


def error_body(exc: CalltrailError) -> dict[str, Any]:
    """The JSON body for an error."""
    return {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}


def render(exc: CalltrailError) -> Response:
    """The response for an error."""
    return json_response(error_body(exc), exc.status, exc.headers)


EXCEPTION_HANDLERS = exception_handlers(render)
