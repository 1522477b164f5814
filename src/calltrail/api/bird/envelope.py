"""Bird's error envelope: the renderer of every error under ``/workspaces`` (named in the registry).

``{"code": "InvalidPayload", "message": "...", "details": {"<parameter>": ["why"]}}``. Bird
documents only that 404 and 422 answer "The request did not pass validation" in JSON; this body
follows the shape of Bird's v1 APIs as far as it is known (UNCONFIRMED, see
docs/bird-voice-api.md). Validation failures are 422, as Bird answers them, not the core's 400.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from calltrail.api.http import json_response
from calltrail.kernel.errors import CalltrailError, InvalidRequest

#: Bird's status and code for each HTTP status of Calltrail's errors.
STATUS_CODES: dict[int, tuple[int, str]] = {
    400: (422, "InvalidPayload"),
    401: (401, "Unauthorized"),
    403: (403, "Forbidden"),
    404: (404, "NotFound"),
    405: (405, "MethodNotAllowed"),
    409: (409, "Conflict"),
    413: (413, "PayloadTooLarge"),
    429: (429, "TooManyRequests"),
    431: (431, "RequestHeaderFieldsTooLarge"),
    499: (499, "ClientClosedRequest"),
    503: (503, "ServiceUnavailable"),
}
INTERNAL = (500, "InternalError")


def error_body(exc: CalltrailError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for an error."""
    status, code = STATUS_CODES.get(exc.status, INTERNAL)
    if isinstance(exc, InvalidRequest):
        status, code = 422, "InvalidPayload"
    return status, {"code": code, "message": exc.message, "details": exc.details}


def render(exc: CalltrailError) -> Response:
    """The response for an error; 401s say which scheme to use."""
    status, body = error_body(exc)
    headers = dict(exc.headers)
    if status == 401:
        headers["WWW-Authenticate"] = "AccessKey"
    return json_response(body, status, headers)
