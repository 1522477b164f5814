"""Server-side clients for the REST API (an ``apikey``): :class:`CalltrailClient` and its
async twin. Each method is one line over :mod:`calltrail_sdk._rest`, which builds every
request and parses every answer; only sending differs between the two."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from calltrail_sdk._exceptions import error_from_response
from calltrail_sdk._filters import CallFilter
from calltrail_sdk._http import run, run_async, send, send_async
from calltrail_sdk._models import AuthToken, CallLog, CallPage, GroupProfile, IngestResult, UserProfile
from calltrail_sdk._rest import MAX_EVENTS, MAX_PER_PAGE, RestApi
from calltrail_sdk._usage import Filters, Instant, NativeApi, UsageSeries
from calltrail_sdk._webhooks import AsyncWebhookMethods, WebhookApi, WebhookMethods


def _batches(events: Sequence[Mapping[str, Any]]) -> list[Sequence[Mapping[str, Any]]]:
    if isinstance(events, Mapping):
        events = [events]
    if not events:
        raise ValueError("events must contain at least one event")
    return [events[start : start + MAX_EVENTS] for start in range(0, len(events), MAX_EVENTS)]


def _added(total: IngestResult, part: IngestResult) -> IngestResult:
    return IngestResult(accepted=total.accepted + part.accepted, duplicates=total.duplicates + part.duplicates)


class _Walk:
    """Which page ``iter_calls`` reads next, and which calls it has already yielded."""

    def __init__(self) -> None:
        self.page = 1
        self.seen: set[str] = set()
        self.done = False

    def take(self, page: CallPage) -> list[CallLog]:
        self.done = not page.has_next or not page.items
        self.page += 1
        fresh = [log for log in page.items if log.session_id not in self.seen]
        self.seen.update(log.session_id for log in fresh)
        return fresh


class CalltrailClient(WebhookMethods):
    """The REST API with an API key (``fullAccess``; ``authOnly`` may only create tokens).

    **Parameters:**

    * ``base_url``: the server's root URL, ``http://localhost:8080`` (or its ``/v3`` URL).
    * ``api_key``: the app's key (``calltrail keys create``).
    * ``on_behalf_of``: a uid; list and get only the calls that user is part of.
    * ``timeout``: seconds to wait for each answer.
    * ``http_client``: an ``httpx.Client`` to use (its owner closes it).

    ```python
    with CalltrailClient("http://localhost:8080", api_key) as client:
        page = client.list_calls(CallFilter(status="ended"), per_page=50)
        token = client.create_auth_token("ava-patel-1")
    ```
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        on_behalf_of: str | None = None,
        timeout: float = 30.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._api = RestApi(base_url, api_key, on_behalf_of)
        self._native = NativeApi(self._api.root_url, api_key)
        self._webhooks = WebhookApi(self._api.root_url, api_key)
        self._owns_client = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)

    @property
    def base_url(self) -> str:
        """The REST base URL, e.g. ``http://localhost:8080/v3``."""
        return self._api.base_url

    def close(self) -> None:
        """Close the connections (unless the ``http_client`` was passed in)."""
        if self._owns_client:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def list_calls(
        self,
        where: CallFilter | None = None,
        *,
        page: int = 1,
        per_page: int = 100,
        on_behalf_of: str | None = None,
    ) -> CallPage:
        """One page of calls (``per_page`` 1..1000), newest first."""
        return run(self._http, self._api.list_calls(where, page, per_page, on_behalf_of))

    def iter_calls(
        self, where: CallFilter | None = None, *, per_page: int = MAX_PER_PAGE, on_behalf_of: str | None = None
    ) -> Iterator[CallLog]:
        """Every matching call, newest first, page after page (each call once, even when new
        calls shift the pages while iterating)."""
        walk = _Walk()
        while not walk.done:
            yield from walk.take(self.list_calls(where, page=walk.page, per_page=per_page, on_behalf_of=on_behalf_of))

    def get_call(self, session_id: str, *, on_behalf_of: str | None = None) -> CallLog:
        """One call, with ``metadata`` and ``tags``."""
        return run(self._http, self._api.get_call(session_id, on_behalf_of))

    def send_events(self, events: Sequence[Mapping[str, Any]]) -> IngestResult:
        """Store lifecycle events. Batches of up to 1000 are all-or-nothing; a longer list is
        sent as several batches, in order."""
        total = IngestResult(accepted=0, duplicates=0)
        for batch in _batches(events):
            total = _added(total, run(self._http, self._api.send_events(batch)))
        return total

    def put_call(self, record: Mapping[str, Any]) -> CallLog:
        """Import (or replace) a whole call record, keyed by its ``sessionId``."""
        return run(self._http, self._api.put_call(record))

    def put_user(self, uid: str, name: str, avatar: str | None = None) -> UserProfile:
        """Create or replace a user's display profile."""
        return run(self._http, self._api.put_user(uid, name, avatar))

    def get_user(self, uid: str) -> UserProfile:
        """A user's display profile."""
        return run(self._http, self._api.get_user(uid))

    def put_group(self, guid: str, name: str, icon: str | None = None) -> GroupProfile:
        """Create or replace a group's display profile."""
        return run(self._http, self._api.put_group(guid, name, icon))

    def get_group(self, guid: str) -> GroupProfile:
        """A group's display profile."""
        return run(self._http, self._api.get_group(guid))

    def create_auth_token(self, uid: str, *, force: bool = False) -> AuthToken:
        """A new auth token for a user; ``token.auth_token`` is shown only now."""
        return run(self._http, self._api.create_auth_token(uid, force))

    def list_auth_tokens(self, uid: str) -> list[AuthToken]:
        """A user's valid tokens, newest first, without their secrets."""
        return run(self._http, self._api.list_auth_tokens(uid))

    def revoke_auth_token(self, uid: str, token: str) -> None:
        """Revoke one token, given as the token itself or its ``token_id``."""
        run(self._http, self._api.revoke_auth_token(uid, token))

    def revoke_auth_tokens(self, uid: str) -> int:
        """Revoke every token of a user; returns how many there were."""
        return run(self._http, self._api.revoke_auth_tokens(uid))

    # -- Calltrail's own API: usage and exports ----------------------------------------------

    def usage_calls(
        self,
        *,
        from_: Instant | None = None,
        to: Instant | None = None,
        interval: str | None = None,
        tz: str | None = None,
        group_by: str | None = None,
        limit: int | None = None,
        where: CallFilter | None = None,
        filters: Filters | None = None,
    ) -> UsageSeries:
        """``GET /api/usage/calls``: minutes, outcomes and peak concurrency per bucket."""
        operation = self._native.usage("calls", from_=from_, to=to, interval=interval, tz=tz, group_by=group_by,
                                       limit=limit, where=where, filters=filters)  # fmt: skip
        return run(self._http, operation)

    def usage_voice(
        self,
        *,
        from_: Instant | None = None,
        to: Instant | None = None,
        interval: str | None = None,
        tz: str | None = None,
        group_by: str | None = None,
        filters: Filters | None = None,
    ) -> UsageSeries:
        """``GET /api/usage/voice``: phone calls' ASR, ACD, billable minutes... per bucket."""
        operation = self._native.usage("voice", from_=from_, to=to, interval=interval, tz=tz, group_by=group_by,
                                       limit=None, where=None, filters=filters)  # fmt: skip
        return run(self._http, operation)

    def _export(self, kind: str, format: str, where: CallFilter | None, filters: Filters | None) -> Iterator[bytes]:
        # Built now, so bad arguments fail at the call; sent when the iteration starts.
        return self._stream(self._native.export(kind, format, where, filters))

    def _stream(self, request: httpx.Request) -> Iterator[bytes]:
        response = send(self._http, request, stream=True)
        try:
            if response.is_error:
                response.read()
                raise error_from_response(response)
            yield from response.iter_bytes()
        finally:
            response.close()

    def export_calls(
        self, format: str = "ndjson", where: CallFilter | None = None, filters: Filters | None = None
    ) -> Iterator[bytes]:
        """The bytes of ``GET /api/exports/calls``, streamed (write them to a file as they come)."""
        return self._export("calls", format, where, filters)

    def export_participants(
        self, format: str = "ndjson", where: CallFilter | None = None, filters: Filters | None = None
    ) -> Iterator[bytes]:
        """The bytes of ``GET /api/exports/participants``, streamed."""
        return self._export("participants", format, where, filters)

    def export_voice(self, format: str = "ndjson", filters: Filters | None = None) -> Iterator[bytes]:
        """The bytes of ``GET /api/exports/voice``, streamed."""
        return self._export("voice", format, None, filters)


class AsyncCalltrailClient(AsyncWebhookMethods):
    """The async twin of :class:`CalltrailClient` (same parameters and methods, awaited)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        on_behalf_of: str | None = None,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._api = RestApi(base_url, api_key, on_behalf_of)
        self._native = NativeApi(self._api.root_url, api_key)
        self._webhooks = WebhookApi(self._api.root_url, api_key)
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)

    @property
    def base_url(self) -> str:
        """The REST base URL, e.g. ``http://localhost:8080/v3``."""
        return self._api.base_url

    async def aclose(self) -> None:
        """Close the connections (unless the ``http_client`` was passed in)."""
        if self._owns_client:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    async def list_calls(
        self,
        where: CallFilter | None = None,
        *,
        page: int = 1,
        per_page: int = 100,
        on_behalf_of: str | None = None,
    ) -> CallPage:
        """One page of calls (``per_page`` 1..1000), newest first."""
        return await run_async(self._http, self._api.list_calls(where, page, per_page, on_behalf_of))

    async def iter_calls(
        self, where: CallFilter | None = None, *, per_page: int = MAX_PER_PAGE, on_behalf_of: str | None = None
    ) -> AsyncIterator[CallLog]:
        """Every matching call, newest first (``async for``)."""
        walk = _Walk()
        while not walk.done:
            page = await self.list_calls(where, page=walk.page, per_page=per_page, on_behalf_of=on_behalf_of)
            for log in walk.take(page):
                yield log

    async def get_call(self, session_id: str, *, on_behalf_of: str | None = None) -> CallLog:
        """One call, with ``metadata`` and ``tags``."""
        return await run_async(self._http, self._api.get_call(session_id, on_behalf_of))

    async def send_events(self, events: Sequence[Mapping[str, Any]]) -> IngestResult:
        """Store lifecycle events (see :meth:`CalltrailClient.send_events`)."""
        total = IngestResult(accepted=0, duplicates=0)
        for batch in _batches(events):
            total = _added(total, await run_async(self._http, self._api.send_events(batch)))
        return total

    async def put_call(self, record: Mapping[str, Any]) -> CallLog:
        """Import (or replace) a whole call record, keyed by its ``sessionId``."""
        return await run_async(self._http, self._api.put_call(record))

    async def put_user(self, uid: str, name: str, avatar: str | None = None) -> UserProfile:
        """Create or replace a user's display profile."""
        return await run_async(self._http, self._api.put_user(uid, name, avatar))

    async def get_user(self, uid: str) -> UserProfile:
        """A user's display profile."""
        return await run_async(self._http, self._api.get_user(uid))

    async def put_group(self, guid: str, name: str, icon: str | None = None) -> GroupProfile:
        """Create or replace a group's display profile."""
        return await run_async(self._http, self._api.put_group(guid, name, icon))

    async def get_group(self, guid: str) -> GroupProfile:
        """A group's display profile."""
        return await run_async(self._http, self._api.get_group(guid))

    async def create_auth_token(self, uid: str, *, force: bool = False) -> AuthToken:
        """A new auth token for a user; ``token.auth_token`` is shown only now."""
        return await run_async(self._http, self._api.create_auth_token(uid, force))

    async def list_auth_tokens(self, uid: str) -> list[AuthToken]:
        """A user's valid tokens, newest first, without their secrets."""
        return await run_async(self._http, self._api.list_auth_tokens(uid))

    async def revoke_auth_token(self, uid: str, token: str) -> None:
        """Revoke one token, given as the token itself or its ``token_id``."""
        await run_async(self._http, self._api.revoke_auth_token(uid, token))

    async def revoke_auth_tokens(self, uid: str) -> int:
        """Revoke every token of a user; returns how many there were."""
        return await run_async(self._http, self._api.revoke_auth_tokens(uid))

    # -- Calltrail's own API: usage and exports ----------------------------------------------

    async def usage_calls(
        self,
        *,
        from_: Instant | None = None,
        to: Instant | None = None,
        interval: str | None = None,
        tz: str | None = None,
        group_by: str | None = None,
        limit: int | None = None,
        where: CallFilter | None = None,
        filters: Filters | None = None,
    ) -> UsageSeries:
        """``GET /api/usage/calls``: minutes, outcomes and peak concurrency per bucket."""
        operation = self._native.usage("calls", from_=from_, to=to, interval=interval, tz=tz, group_by=group_by,
                                       limit=limit, where=where, filters=filters)  # fmt: skip
        return await run_async(self._http, operation)

    async def usage_voice(
        self,
        *,
        from_: Instant | None = None,
        to: Instant | None = None,
        interval: str | None = None,
        tz: str | None = None,
        group_by: str | None = None,
        filters: Filters | None = None,
    ) -> UsageSeries:
        """``GET /api/usage/voice``: phone calls' ASR, ACD, billable minutes... per bucket."""
        operation = self._native.usage("voice", from_=from_, to=to, interval=interval, tz=tz, group_by=group_by,
                                       limit=None, where=None, filters=filters)  # fmt: skip
        return await run_async(self._http, operation)

    def _export(
        self, kind: str, format: str, where: CallFilter | None, filters: Filters | None
    ) -> AsyncIterator[bytes]:
        # Built now, so bad arguments fail at the call; sent when the iteration starts.
        return self._stream(self._native.export(kind, format, where, filters))

    async def _stream(self, request: httpx.Request) -> AsyncIterator[bytes]:
        response = await send_async(self._http, request, stream=True)
        try:
            if response.is_error:
                await response.aread()
                raise error_from_response(response)
            async for chunk in response.aiter_bytes():
                yield chunk
        finally:
            await response.aclose()

    def export_calls(
        self, format: str = "ndjson", where: CallFilter | None = None, filters: Filters | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes of ``GET /api/exports/calls``, streamed (write them to a file as they come)."""
        return self._export("calls", format, where, filters)

    def export_participants(
        self, format: str = "ndjson", where: CallFilter | None = None, filters: Filters | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes of ``GET /api/exports/participants``, streamed."""
        return self._export("participants", format, where, filters)

    def export_voice(self, format: str = "ndjson", filters: Filters | None = None) -> AsyncIterator[bytes]:
        """The bytes of ``GET /api/exports/voice``, streamed."""
        return self._export("voice", format, None, filters)
