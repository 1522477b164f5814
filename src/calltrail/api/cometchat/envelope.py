"""CometChat's error envelope: the renderer of every error under ``/v3`` (named in the registry).

``{"error": {"code": "...", "message": "...", "details": {"<field>": ["why"]}}}``: the shape
CometChat's SDKs read (``CometChatException{code, message, details}``).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from calltrail.api.http import error_envelope, render_error_envelope
from calltrail.kernel.errors import CalltrailError


def error_body(exc: CalltrailError) -> dict[str, Any]:
    """The JSON body for an error (the shared shape of :func:`calltrail.api.http.error_envelope`)."""
    return error_envelope(exc)


def render(exc: CalltrailError) -> Response:
    """The response for an error."""
    return render_error_envelope(exc)
