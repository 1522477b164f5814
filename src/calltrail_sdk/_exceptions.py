"""
The exceptions the SDK raises (bad arguments raise the builtin ``ValueError`` instead, at the
call that got them):

* CalltrailError: base class of everything below
  * APIError: the server answered with an error (``status``, ``code``, ``message``, ``details``)
    * BadRequestError: 400, a parameter or body field is invalid (``details`` names it)
    * AuthenticationError: 401, missing, unknown or revoked API key or auth token
    * PermissionDeniedError: 403, the credential may not do this
    * NotFoundError: 404, no such call, user, group or token
    * ConflictError: 409
    * PayloadTooLargeError: 413
    * RateLimitError: 429
    * ServerError: 5xx
  * TransportError: no HTTP answer at all (connection refused, DNS, TLS, ...)
    * RequestTimeoutError: the server did not answer in time (also a builtin TimeoutError)
  * InvalidResponseError: an answer that is not the documented JSON
  * RequestInProgressError: a fetch was started while the previous one is still running
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

import httpx


class CalltrailError(Exception):
    """Base class of every exception the SDK raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIError(CalltrailError):
    """The server answered with an error envelope ``{"error": {"code", "message", "details"}}``.

    ``details`` maps each offending parameter or field to the reasons it was refused.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Sequence[str]] | None = None,
        *,
        request: httpx.Request | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details: dict[str, list[str]] = {key: list(value) for key, value in (details or {}).items()}
        self.request = request

    def __str__(self) -> str:
        text = f"{self.status} {self.code}: {self.message}"
        if self.details:
            text += " (" + "; ".join(f"{key}: {', '.join(reasons)}" for key, reasons in self.details.items()) + ")"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class BadRequestError(APIError):
    """Raised for 400: a parameter, header or body field is invalid."""


class AuthenticationError(APIError):
    """Raised for 401: the API key or auth token is missing, unknown or revoked."""


class PermissionDeniedError(APIError):
    """Raised for 403: the credential is valid but may not do this."""


class NotFoundError(APIError):
    """Raised for 404: the call, user, group or token does not exist (or is not yours)."""


class ConflictError(APIError):
    """Raised for 409: the request conflicts with stored state."""


class PayloadTooLargeError(APIError):
    """Raised for 413: the request body is too large."""


class RateLimitError(APIError):
    """Raised for 429: too many requests."""


class ServerError(APIError):
    """Raised for any 5xx answer."""


class TransportError(CalltrailError):
    """Raised when no HTTP answer arrived (connection refused, DNS, TLS, reset, ...)."""


class RequestTimeoutError(TransportError, builtins.TimeoutError):
    """Raised when the server did not answer within the configured timeout."""


class InvalidResponseError(CalltrailError):
    """Raised when an answer is not the JSON the API documents (a proxy's error page, say)."""


class RequestInProgressError(CalltrailError, RuntimeError):
    """Raised when a fetch starts while the same request's previous fetch is still running."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error response, read from Calltrail's (CometChat's) envelope.

    An answer without the envelope (a proxy's HTML page, say) still maps by status, with the
    code ``HTTP_<status>``.
    """
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    code, message, details = f"HTTP_{status}", response.reason_phrase or f"HTTP {status}", {}
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        raw = error.get("details")
        if isinstance(raw, dict):
            details = {str(k): [str(r) for r in v] if isinstance(v, list) else [str(v)] for k, v in raw.items()}
    try:
        request: httpx.Request | None = response.request
    except RuntimeError:  # a response built by hand, as in tests
        request = None
    return cls(status, code, message, details, request=request)
