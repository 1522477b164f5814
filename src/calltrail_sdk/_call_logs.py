"""``CallLogRequestBuilder`` and ``CallLogRequest``: a user's own call logs, page by page.

The paging rules are the official SDK's, made explicit:

* the first ``fetch_next()`` returns page 1, each later one the page after the last one
  fetched; past the last page it returns ``[]`` without asking the server;
* ``fetch_previous()`` returns the page before the last one fetched, and ``[]`` (again
  without a request) when that was the first page or nothing was fetched yet;
* a fetch started while the previous one of the same request is still running raises
  :class:`~calltrail_sdk.RequestInProgressError`.

:class:`_Pager` holds those rules and builds and parses every request without doing I/O;
:class:`CallLogRequest` and :class:`AsyncCallLogRequest` only send what it builds.
"""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Self
from urllib.parse import quote

import httpx

from calltrail_sdk._exceptions import InvalidResponseError, RequestInProgressError
from calltrail_sdk._filters import (
    CALL_STATUSES,
    CALL_TYPES,
    STATUS_ALIASES,
    TYPE_ALIASES,
    CallFilter,
    check_choice,
    check_entity_id,
)
from calltrail_sdk._http import headers, json_body, send, send_async
from calltrail_sdk._models import CallLog, Pagination
from calltrail_sdk._settings import CallAppSettings

DEFAULT_LIMIT = 30
MAX_LIMIT = 100
#: ``missed`` is a status only from one user's point of view: the user view computes it.
CALL_LOG_STATUSES = (*CALL_STATUSES, "missed")
CALL_CATEGORIES = ("call", "meet", "presenter")
CALL_DIRECTIONS = ("incoming", "outgoing")
# Header values must be visible ASCII; anything else could not be sent as it was given.
_TOKEN = re.compile(r"^[\x21-\x7e]{1,500}$")


@dataclass(frozen=True, slots=True)
class CallLogParams:
    """The frozen filters of a :class:`CallLogRequest`."""

    limit: int = DEFAULT_LIMIT
    call_type: str | None = None
    call_status: str | None = None
    has_recording: bool | None = None
    call_category: str | None = None
    call_direction: str | None = None
    uid: str | None = None
    guid: str | None = None
    where: CallFilter | None = None

    def query(self, page: int) -> list[tuple[str, str]]:
        """The query string for one page, with the official SDK's parameter names."""
        params = [("page", str(page)), ("perPage", str(self.limit))]
        if self.has_recording is not None:
            params.append(("hasRecording", "true" if self.has_recording else "false"))
        for name, value in (
            ("status", self.call_status),
            ("type", self.call_type),
            ("mode", self.call_category),
            ("direction", self.call_direction),
            ("uid", self.uid),
            ("guid", self.guid),
        ):
            if value is not None:
                params.append((name, value))
        if self.where is not None:
            params += self.where.to_params()
        return params


class CallLogRequestBuilder:
    """Configures a :class:`CallLogRequest`; every setter returns the builder and checks its
    argument at once (``ValueError`` naming it).

    ```python
    request = (
        CallLogRequestBuilder(settings)
        .set_auth_token(token)
        .set_call_status("missed")
        .set_limit(20)
        .build()
    )
    ```
    """

    def __init__(self, settings: CallAppSettings) -> None:
        if not isinstance(settings, CallAppSettings):
            raise ValueError(f"settings must be a CallAppSettings, got {type(settings).__name__}")
        self._settings = settings
        self._limit = DEFAULT_LIMIT
        self._call_type: str | None = None
        self._call_status: str | None = None
        self._has_recording: bool | None = None
        self._call_category: str | None = None
        self._call_direction: str | None = None
        self._uid: str | None = None
        self._guid: str | None = None
        self._auth_token: str | None = None
        self._where: CallFilter | None = None

    def set_limit(self, limit: int) -> Self:
        """Calls per page: 1 to 100 (default 30)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be an integer between 1 and {MAX_LIMIT}, got {limit!r}")
        self._limit = limit
        return self

    def set_call_type(self, call_type: str) -> Self:
        """Only ``audio`` or only ``video`` calls (``voice`` means ``audio``)."""
        self._call_type = check_choice("call_type", call_type, CALL_TYPES, TYPE_ALIASES)
        return self

    def set_session_type(self, session_type: str) -> Self:
        """The same as :meth:`set_call_type` (the spec's older name)."""
        return self.set_call_type(session_type)

    def set_call_status(self, call_status: str) -> Self:
        """Only calls with this status: ``initiated ongoing ended unanswered rejected busy
        cancelled``, or ``missed`` (you did not initiate, never joined, did not reject, and
        the call is over)."""
        self._call_status = check_choice("call_status", call_status, CALL_LOG_STATUSES, STATUS_ALIASES)
        return self

    def set_has_recording(self, has_recording: bool) -> Self:
        """Only calls with (True) or without (False) a recording."""
        if not isinstance(has_recording, bool):
            raise ValueError(f"has_recording must be True or False, got {has_recording!r}")
        self._has_recording = has_recording
        return self

    def set_call_category(self, call_category: str) -> Self:
        """Only calls of this category (the call's mode): ``call``, ``meet`` or ``presenter``."""
        self._call_category = check_choice("call_category", call_category, CALL_CATEGORIES)
        return self

    def set_call_direction(self, call_direction: str) -> Self:
        """Only ``outgoing`` calls (you initiated them) or only ``incoming`` ones."""
        self._call_direction = check_choice("call_direction", call_direction, CALL_DIRECTIONS)
        return self

    def set_uid(self, uid: str) -> Self:
        """Only the 1:1 calls between you and this user."""
        self._uid = check_entity_id("uid", uid)
        return self

    def set_guid(self, guid: str) -> Self:
        """Only the calls to this group."""
        self._guid = check_entity_id("guid", guid)
        return self

    def set_auth_token(self, auth_token: str) -> Self:
        """The user's auth token (``POST /v3/users/{uid}/auth_tokens``). Required."""
        if not isinstance(auth_token, str) or not _TOKEN.match(auth_token):
            raise ValueError("auth_token must be a non-empty string of visible ASCII characters")
        self._auth_token = auth_token
        return self

    def set_filter(self, where: CallFilter) -> Self:
        """Any other filter of the REST API (``initiated_at``, ``duration`` ranges, ...).

        A filter may not set what a setter above already sets (``build()`` says which).
        """
        if not isinstance(where, CallFilter):
            raise ValueError(f"where must be a CallFilter, got {type(where).__name__}")
        self._where = where
        return self

    def _params(self) -> CallLogParams:
        if self._auth_token is None:
            raise ValueError("auth_token is required: call set_auth_token() before build()")
        params = CallLogParams(
            self._limit,
            self._call_type,
            self._call_status,
            self._has_recording,
            self._call_category,
            self._call_direction,
            self._uid,
            self._guid,
            self._where,
        )
        if self._where is not None:
            own = {key for key, _ in replace(params, where=None).query(1)}
            clashing = sorted(own & {key.split("[")[0] for key, _ in self._where.to_params()})
            if clashing:
                raise ValueError(f"the filter sets {', '.join(clashing)}, which a setter already sets")
        return params

    def build(self, http_client: httpx.Client | None = None) -> CallLogRequest:
        """Freeze the settings into a request. Pass an ``httpx.Client`` to reuse its
        connections (and configure proxies, TLS, ...); without one, each fetch opens its own."""
        return CallLogRequest(self._settings, self._params(), self._auth_token or "", http_client)

    def build_async(self, http_client: httpx.AsyncClient | None = None) -> AsyncCallLogRequest:
        """Like :meth:`build`, for ``await request.fetch_next()``."""
        return AsyncCallLogRequest(self._settings, self._params(), self._auth_token or "", http_client)


class _Pager:
    """The paging state machine (sans-I/O): which page comes next, the request for it, and
    what an answer means. Thread-safe; at most one request in flight."""

    def __init__(self, settings: CallAppSettings, params: CallLogParams, auth_token: str) -> None:
        self.settings = settings
        self.params = params
        self.auth_token = auth_token
        self.current_page = 0
        self.total_pages: int | None = None
        self.total: int | None = None
        self._requested = 0
        self._busy = threading.Lock()

    def copy(self) -> _Pager:
        """A pager with the same filters, at the start."""
        return _Pager(self.settings, self.params, self.auth_token)

    @property
    def has_next(self) -> bool:
        return self.total_pages is None or self.current_page < self.total_pages

    @property
    def has_previous(self) -> bool:
        return self.current_page > 1

    def begin(self, forward: bool) -> httpx.Request | None:
        """The request for the next (or previous) page, or None when there is none. Until
        :meth:`finish` or :meth:`abort`, the pager counts as busy."""
        if not self._busy.acquire(blocking=False):
            raise RequestInProgressError("a fetch of this request is still running; await or wait for it first")
        if not (self.has_next if forward else self.has_previous):
            self._busy.release()
            return None
        page = self.current_page + 1 if forward else self.current_page - 1
        self._requested = page
        try:
            return httpx.Request(
                "GET",
                f"{self.settings.base_url}/calls",
                params=tuple(self.params.query(page)),
                headers=headers(authToken=self.auth_token),
            )
        except BaseException:
            self._busy.release()
            raise

    def finish(self, response: httpx.Response) -> list[CallLog]:
        """Parse an answer (raising for an error one) and move to the page it holds."""
        try:
            body = json_body(response)
            pagination = Pagination.from_json(body)
            data = body.get("data")
            if not isinstance(data, list):
                raise InvalidResponseError('the answer\'s "data" is not a list')
            if pagination.current_page != self._requested:
                # Trusting it could loop forever; the server must answer the page asked for.
                raise InvalidResponseError(
                    f"asked for page {self._requested}, the answer is page {pagination.current_page}"
                )
            logs = [CallLog.from_json(item, f"data[{index}].") for index, item in enumerate(data)]
            self.current_page = pagination.current_page
            self.total_pages = pagination.total_pages
            self.total = pagination.total
            return logs
        finally:
            self._busy.release()

    def abort(self) -> None:
        """The request failed before an answer arrived: nothing moved."""
        self._busy.release()


def _details_request(settings: CallAppSettings, session_id: str, auth_token: str) -> httpx.Request:
    if not isinstance(session_id, str) or not session_id or any(c in session_id for c in "/?#"):
        raise ValueError(f"session_id must be a non-empty string without '/', '?' or '#', got {session_id!r}")
    if not isinstance(auth_token, str) or not _TOKEN.match(auth_token):
        raise ValueError("auth_token must be a non-empty string of visible ASCII characters")
    return httpx.Request(
        "GET", f"{settings.base_url}/calls/{quote(session_id, safe='')}", headers=headers(authToken=auth_token)
    )


def _details(response: httpx.Response) -> list[CallLog]:
    body = json_body(response)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise InvalidResponseError('the answer\'s "data" is not a list')
    return [CallLog.from_json(item, f"data[{index}].") for index, item in enumerate(data)]


def get_call_details(
    settings: CallAppSettings, session_id: str, auth_token: str, *, http_client: httpx.Client | None = None
) -> list[CallLog]:
    """One of the user's calls, as a one-element list (the official SDK's
    ``CometChatCalls.getCallDetails``). Another user's call raises
    :class:`~calltrail_sdk.NotFoundError`."""
    request = _details_request(settings, session_id, auth_token)
    with nullcontext(http_client) if http_client else httpx.Client(timeout=settings.timeout) as http:
        return _details(send(http, request))


async def get_call_details_async(
    settings: CallAppSettings, session_id: str, auth_token: str, *, http_client: httpx.AsyncClient | None = None
) -> list[CallLog]:
    """The async twin of :func:`get_call_details`."""
    request = _details_request(settings, session_id, auth_token)
    async with nullcontext(http_client) if http_client else httpx.AsyncClient(timeout=settings.timeout) as http:
        return _details(await send_async(http, request))


class _RequestBase:
    """What both request flavours show of their position."""

    def __init__(self, settings: CallAppSettings, params: CallLogParams, auth_token: str) -> None:
        self._pager = _Pager(settings, params, auth_token)

    @property
    def params(self) -> CallLogParams:
        """The frozen filters."""
        return self._pager.params

    @property
    def current_page(self) -> int:
        """The page the last fetch returned (0 before the first)."""
        return self._pager.current_page

    @property
    def total_pages(self) -> int | None:
        """Pages in the whole list, as of the last fetch (None before the first)."""
        return self._pager.total_pages

    @property
    def total(self) -> int | None:
        """Calls in the whole list, as of the last fetch (None before the first)."""
        return self._pager.total

    @property
    def has_next(self) -> bool:
        """False once the last page was fetched."""
        return self._pager.has_next

    @property
    def has_previous(self) -> bool:
        """True when a page before the current one exists."""
        return self._pager.has_previous

    def __repr__(self) -> str:
        return f"{type(self).__name__}(page={self.current_page}, total_pages={self.total_pages}, params={self.params})"


class CallLogRequest(_RequestBase):
    """A user's call logs, fetched a page at a time (made by
    :meth:`CallLogRequestBuilder.build`)."""

    def __init__(
        self, settings: CallAppSettings, params: CallLogParams, auth_token: str, http_client: httpx.Client | None
    ) -> None:
        super().__init__(settings, params, auth_token)
        self._http_client = http_client

    def _client(self, client: httpx.Client | None = None) -> AbstractContextManager[httpx.Client]:
        """The caller's client (left open), or a new one closed after use."""
        client = client or self._http_client
        if client is not None:
            return nullcontext(client)
        return httpx.Client(timeout=self._pager.settings.timeout)

    def _fetch(self, pager: _Pager, forward: bool, client: httpx.Client | None = None) -> list[CallLog]:
        request = pager.begin(forward)
        if request is None:
            return []
        try:
            with self._client(client) as http:
                response = send(http, request)
        except BaseException:
            pager.abort()
            raise
        return pager.finish(response)

    def fetch_next(self) -> list[CallLog]:
        """The next page (page 1 first); ``[]`` past the last page."""
        return self._fetch(self._pager, True)

    def fetch_previous(self) -> list[CallLog]:
        """The page before the last one fetched; ``[]`` at the first."""
        return self._fetch(self._pager, False)

    def iter_all(self) -> Iterator[CallLog]:
        """Every call log, from page 1 to the last, whatever this request's own position.

        Calls that arrive while iterating shift later pages; a call shifted into a page
        already read is yielded only once.
        """
        pager = self._pager.copy()
        seen: set[str] = set()
        with self._client() as client:
            while pager.has_next:
                for log in self._fetch(pager, True, client):
                    if log.session_id not in seen:
                        seen.add(log.session_id)
                        yield log


class AsyncCallLogRequest(_RequestBase):
    """The async twin of :class:`CallLogRequest` (made by
    :meth:`CallLogRequestBuilder.build_async`): ``await request.fetch_next()``."""

    def __init__(
        self,
        settings: CallAppSettings,
        params: CallLogParams,
        auth_token: str,
        http_client: httpx.AsyncClient | None,
    ) -> None:
        super().__init__(settings, params, auth_token)
        self._http_client = http_client

    def _client(self, client: httpx.AsyncClient | None = None) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        """The caller's client (left open), or a new one closed after use."""
        client = client or self._http_client
        if client is not None:
            return nullcontext(client)
        return httpx.AsyncClient(timeout=self._pager.settings.timeout)

    async def _fetch(self, pager: _Pager, forward: bool, client: httpx.AsyncClient | None = None) -> list[CallLog]:
        request = pager.begin(forward)
        if request is None:
            return []
        try:
            async with self._client(client) as http:
                response = await send_async(http, request)
        except BaseException:
            pager.abort()
            raise
        return pager.finish(response)

    async def fetch_next(self) -> list[CallLog]:
        """The next page (page 1 first); ``[]`` past the last page."""
        return await self._fetch(self._pager, True)

    async def fetch_previous(self) -> list[CallLog]:
        """The page before the last one fetched; ``[]`` at the first."""
        return await self._fetch(self._pager, False)

    async def iter_all(self) -> AsyncIterator[CallLog]:
        """Every call log, from page 1 to the last (``async for log in request.iter_all()``)."""
        pager = self._pager.copy()
        seen: set[str] = set()
        async with self._client() as client:
            while pager.has_next:
                for log in await self._fetch(pager, True, client):
                    if log.session_id not in seen:
                        seen.add(log.session_id)
                        yield log
