"""Errors raised by Calltrail's domain, storage and API layers.

Every error is a class with an HTTP ``status`` and a machine-readable ``code``; nothing here
renders a response. Each API dialect owns one handler that turns these into its own envelope
(CometChat's ``{"error": {...}}``, Bird's ``{"code", "message", "details"}``), so the same
exception can travel through any layer unchanged.

The hierarchy:

* CalltrailError (500, ERR_EXCEPTION)
  * InvalidRequest (400, ERR_BAD_REQUEST): bad query, header or body; ``details`` names each field
  * ResultTooLarge (400, ERR_BAD_REQUEST): a result over a server limit, known once data is read
  * PayloadTooLarge (413, ERR_PAYLOAD_TOO_LARGE)
  * HeadersTooLarge (431, ERR_HEADERS_TOO_LARGE): a header line over 16 KiB or all over 64 KiB
  * TooManyRequests (429, ERR_TOO_MANY_REQUESTS): a credential's rate limit; ``Retry-After`` set
  * ClientClosedRequest (499, ERR_CLIENT_CLOSED_REQUEST): the client left mid-request (logged only)
  * AuthError
    * MissingApiKey (401, AUTH_ERR_EMPTY_APIKEY)
    * UnknownApiKey (401, AUTH_ERR_APIKEY_NOT_FOUND)
    * MissingAuthToken (401, AUTH_ERR_EMPTY_AUTH_TOKEN)
    * UnknownAuthToken (401, AUTH_ERR_AUTH_TOKEN_NOT_FOUND)
    * NoAccess (403, AUTH_ERR_NO_ACCESS)
    * HookUnauthorized (401, ERR_HOOK_UNAUTHORIZED): a webhook's signature or password failed
  * NotFound (404)
    * CallNotFound (404, ERR_CALL_SESSION_NOT_FOUND)
    * AppNotFound, UidNotFound, GuidNotFound, AuthTokenNotFound (404, ERR_<THING>_NOT_FOUND)
    * WorkspaceNotFound, ChannelNotFound, ChannelCallNotFound (404; Bird's envelope says NotFound)
    * RouteNotFound (404, ERR_API_NOT_FOUND)
    * WebhookNotFound, DeliveryNotFound (404, ERR_WEBHOOK_NOT_FOUND, ERR_DELIVERY_NOT_FOUND)
  * NotAPart (403, ERR_CALL_NOT_A_PART)
  * MethodNotAllowed (405, ERR_API_NOT_FOUND)
  * Conflict (409, ERR_CONFLICT)
    * AuthTokenLimit (409, ERR_AUTH_TOKEN_LIMIT): a user already has the most tokens allowed
  * Unavailable (503, ERR_SERVICE_UNAVAILABLE)
    * Overloaded (503, ERR_SERVER_OVERLOADED): too much work in flight; ``Retry-After`` set
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Details = dict[str, list[str]]


class CalltrailError(Exception):
    """Base class: an error with an HTTP status, a stable code and optional per-field details."""

    status: int = 500
    code: str = "ERR_EXCEPTION"
    default_message: str = "An unexpected error occurred."

    def __init__(self, message: str | None = None, details: Mapping[str, Sequence[str]] | None = None):
        self.message = message or self.default_message
        self.details: Details = {key: list(reasons) for key, reasons in (details or {}).items()}
        #: Extra response headers (``Allow`` on a 405, for example).
        self.headers: dict[str, str] = {}
        super().__init__(self.message)


class InvalidRequest(CalltrailError):
    """Raised when a query parameter, header or body field fails validation."""

    status = 400
    code = "ERR_BAD_REQUEST"
    default_message = "Failed to validate the data sent with the request."


class ResultTooLarge(CalltrailError):
    """Raised when a request would produce more rows than a server limit (known only once the
    data is read: a ``groupBy`` over many users, say); ``details`` names the parameter to change."""

    status = 400
    code = "ERR_BAD_REQUEST"
    default_message = "The request would produce too many rows."


class PayloadTooLarge(CalltrailError):
    """Raised when a request body exceeds the configured limit."""

    status = 413
    code = "ERR_PAYLOAD_TOO_LARGE"
    default_message = "The request body is too large."


class HeadersTooLarge(CalltrailError):
    """Raised when one header line is over 16 KiB or all headers together over 64 KiB."""

    status = 431
    code = "ERR_HEADERS_TOO_LARGE"
    default_message = "The request headers are too large."


class TooManyRequests(CalltrailError):
    """Raised when a credential has used up its rate limit; says when to retry."""

    status = 429
    code = "ERR_TOO_MANY_REQUESTS"
    default_message = "Too many requests for this credential."

    def __init__(self, retry_after: int, headers: Mapping[str, str] | None = None):
        super().__init__(f"Too many requests for this credential; retry after {retry_after} second(s).")
        self.headers = {**(headers or {}), "Retry-After": str(retry_after)}


class ClientClosedRequest(CalltrailError):
    """Raised when the client disconnects before its request was read; nobody sees the answer."""

    status = 499
    code = "ERR_CLIENT_CLOSED_REQUEST"
    default_message = "The client closed the connection before the request was read."


class AuthError(CalltrailError):
    """Base class for authentication and authorisation failures."""

    status = 401


class MissingApiKey(AuthError):
    """Raised when a request carries no API key."""

    code = "AUTH_ERR_EMPTY_APIKEY"
    default_message = "The apikey header is missing from the request."


class UnknownApiKey(AuthError):
    """Raised when the API key matches no key of any app."""

    code = "AUTH_ERR_APIKEY_NOT_FOUND"
    default_message = "The API key does not exist. Please use a correct apiKey."


class MissingAuthToken(AuthError):
    """Raised when a user-level request carries no auth token."""

    code = "AUTH_ERR_EMPTY_AUTH_TOKEN"
    default_message = "The authToken header is missing from the request."


class UnknownAuthToken(AuthError):
    """Raised when an auth token is unknown or revoked."""

    code = "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"
    default_message = "The auth token does not exist or has been revoked."


class NoAccess(AuthError):
    """Raised when a credential is valid but its scope does not allow the operation."""

    status = 403
    code = "AUTH_ERR_NO_ACCESS"
    default_message = "The API key does not have the scope required for this operation."


class HookUnauthorized(AuthError):
    """Raised when an inbound webhook fails its provider's authentication (a bad or missing
    signature or password, an expired token, or an unknown integration: all look the same)."""

    code = "ERR_HOOK_UNAUTHORIZED"
    default_message = "The webhook could not be authenticated."


class NotFound(CalltrailError):
    """Base class for missing resources."""

    status = 404
    code = "ERR_NOT_FOUND"
    default_message = "The resource does not exist."


class CallNotFound(NotFound):
    """Raised when no call with the requested session id exists in the app."""

    code = "ERR_CALL_SESSION_NOT_FOUND"
    default_message = "The call does not exist."


class WorkspaceNotFound(NotFound):
    """Raised when the workspace in the path is not the app of the presented key."""

    code = "ERR_WORKSPACE_NOT_FOUND"
    default_message = "The workspace does not exist."


class ChannelCallNotFound(NotFound):
    """Raised when no call with the requested id exists in the channel."""

    code = "ERR_CALL_NOT_FOUND"
    default_message = "The call does not exist."


class UidNotFound(NotFound):
    """Raised when a uid has no stored profile."""

    code = "ERR_UID_NOT_FOUND"
    default_message = "The user does not exist."


class GuidNotFound(NotFound):
    """Raised when a guid has no stored profile."""

    code = "ERR_GUID_NOT_FOUND"
    default_message = "The group does not exist."


class AuthTokenNotFound(NotFound):
    """Raised when revoking a token the user does not have."""

    code = "ERR_AUTH_TOKEN_NOT_FOUND"
    default_message = "The auth token does not exist."


class ChannelNotFound(NotFound):
    """Raised when a channel id names no channel of the app."""

    code = "ERR_CHANNEL_NOT_FOUND"
    default_message = "The channel does not exist."


class AppNotFound(NotFound):
    """Raised when an app id names no app."""

    code = "ERR_APP_NOT_FOUND"
    default_message = "The app does not exist."


class RouteNotFound(NotFound):
    """Raised for a path no endpoint serves."""

    code = "ERR_API_NOT_FOUND"
    default_message = "The requested endpoint does not exist."


class WebhookNotFound(NotFound):
    """Raised when an app has no webhook subscription with the given id."""

    code = "ERR_WEBHOOK_NOT_FOUND"
    default_message = "The webhook does not exist."


class DeliveryNotFound(NotFound):
    """Raised when a webhook has no delivery with the given id."""

    code = "ERR_DELIVERY_NOT_FOUND"
    default_message = "The delivery does not exist."


class NotAPart(CalltrailError):
    """Raised when ``onBehalfOf`` names a user who is not part of the requested call."""

    status = 403
    code = "ERR_CALL_NOT_A_PART"
    default_message = "The user is not a part of the call."


class MethodNotAllowed(CalltrailError):
    """Raised for a known path requested with a method it does not serve."""

    status = 405
    code = "ERR_API_NOT_FOUND"
    default_message = "The requested method is not supported on this endpoint."


class Conflict(CalltrailError):
    """Raised when a write conflicts with stored state (an existing id, for example)."""

    status = 409
    code = "ERR_CONFLICT"
    default_message = "The request conflicts with the stored state."


class AuthTokenLimit(Conflict):
    """Raised when creating a token for a user who already has the most allowed: refused, so
    that minting tokens never silently signs the user out of another device."""

    code = "ERR_AUTH_TOKEN_LIMIT"
    default_message = "The user has the most auth tokens allowed; revoke one first."


class Unavailable(CalltrailError):
    """Raised when the database cannot be reached."""

    status = 503
    code = "ERR_SERVICE_UNAVAILABLE"
    default_message = "The database is unavailable."


class Overloaded(Unavailable):
    """Raised when the process has as much work in flight as it may: shed at once, not queued."""

    code = "ERR_SERVER_OVERLOADED"
    default_message = "The server is at capacity."

    def __init__(self, retry_after: int = 1):
        super().__init__(f"The server is at capacity; retry after {retry_after} second(s).")
        self.headers = {"Retry-After": str(retry_after)}
