"""The only I/O in the SDK: sending one built request, sync or async, and decoding the answer.

Everything else builds :class:`httpx.Request` objects and parses :class:`httpx.Response`
objects without touching the network (sans-I/O), so the sync and async clients share it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from calltrail_sdk._exceptions import InvalidResponseError, RequestTimeoutError, TransportError, error_from_response
from calltrail_sdk._version import __version__

T = TypeVar("T")
USER_AGENT = f"calltrail-sdk-python/{__version__}"


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """A request and the function that turns its answer into a result."""

    request: httpx.Request
    parse: Callable[[httpx.Response], T]


def _transport_error(exc: httpx.TransportError, request: httpx.Request) -> TransportError:
    where = f"{request.method} {request.url.copy_with(query=None)}"
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"{where}: no answer in time ({exc})")
    return TransportError(f"{where}: {type(exc).__name__}: {exc}")


def send(client: httpx.Client, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
    """Send with a sync client; transport failures become :class:`TransportError`. With
    ``stream``, the body is read as it arrives (close the response)."""
    try:
        return client.send(request, stream=stream)
    except httpx.TransportError as exc:
        raise _transport_error(exc, request) from exc


async def send_async(client: httpx.AsyncClient, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
    """Send with an async client; transport failures become :class:`TransportError`."""
    try:
        return await client.send(request, stream=stream)
    except httpx.TransportError as exc:
        raise _transport_error(exc, request) from exc


def run(client: httpx.Client, operation: Operation[T]) -> T:
    """Send an operation's request and parse its answer."""
    return operation.parse(send(client, operation.request))


async def run_async(client: httpx.AsyncClient, operation: Operation[T]) -> T:
    """Send an operation's request and parse its answer, asynchronously."""
    return operation.parse(await send_async(client, operation.request))


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON of a successful answer; raises the matching :class:`APIError` for an
    error status and :class:`InvalidResponseError` for anything that is not JSON."""
    if response.is_error:
        raise error_from_response(response)
    try:
        return response.json()
    except ValueError as exc:
        raise InvalidResponseError(f"the answer (HTTP {response.status_code}) is not JSON: {exc}") from None


def data_of(response: httpx.Response) -> Any:
    """The ``data`` member of a successful answer."""
    body = json_body(response)
    if not isinstance(body, dict) or "data" not in body:
        raise InvalidResponseError('the answer has no "data" member')
    return body["data"]


def headers(**values: str | None) -> dict[str, str]:
    """Request headers: the SDK's user agent, JSON, and every value that is not None."""
    result = {"Accept": "application/json", "User-Agent": USER_AGENT}
    result.update({name: value for name, value in values.items() if value is not None})
    return result
