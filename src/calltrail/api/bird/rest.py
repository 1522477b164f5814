"""Bird's Voice calls API (spec file 004) plus ingestion: list, get, import and status events.

Authenticated by ``Authorization: AccessKey <key>`` (Bird's scheme) or ``Bearer <key>`` with a
``fullAccess`` Calltrail key; the workspace is the key's app. A workspace, channel or call the
key cannot see answers 404, exactly as one that does not exist.

Checks run in one order whatever is wrong: credentials (401/403), then workspace and channel
(404), then parameters and body (422). Each handler parses what needs no database on the event
loop, then makes one trip to the worker threads for authentication and storage together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from calltrail.api.auth import authenticate_key
from calltrail.api.http import (
    JSONBytes,
    Parsed,
    json_array,
    json_response,
    parse_now,
    read_json_now,
    read_kind,
    run,
    run_point_read,
    run_read,
    unwrap,
)
from calltrail.kernel import cursors
from calltrail.kernel.errors import (
    ChannelCallNotFound,
    ChannelNotFound,
    InvalidRequest,
    MissingApiKey,
    WorkspaceNotFound,
)
from calltrail.store import Stores
from calltrail.store.eventlog import IngestResult
from calltrail.store.voice import ChannelCallPage
from calltrail.voice.events import parse_batch
from calltrail.voice.filters import LIST_PARAMS, WORKSPACE_PARAMS, ListRequest, parse_list_params
from calltrail.voice.record import validate_record
from calltrail.voice.vocabulary import UUID_RULE, canonical_uuid, is_uuid

SCHEMES = ("accesskey", "bearer")
P = ParamSpec("P")
T = TypeVar("T")


def presented_key(header: str | None) -> str:
    """The key in ``Authorization: AccessKey <key>`` (or ``Bearer <key>``); 401 otherwise."""
    if not header:
        raise MissingApiKey("The Authorization header is missing: send `Authorization: AccessKey <key>`.")
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() not in SCHEMES or not secret.strip():
        raise MissingApiKey("The Authorization header must be `AccessKey <key>` or `Bearer <key>`.")
    return secret.strip()


def path_channel(request: Request) -> str:
    """The path's channel id in lower case, or "" for one that cannot exist (not a UUID).

    A malformed id is reported as not found only after the key is checked, so that a 401 never
    depends on the path.
    """
    return canonical_uuid(request.path_params["channel_id"]) or ""


class VoiceEndpoints:
    """The request handlers of ``/workspaces/{workspaceId}/channels/...``."""

    def __init__(self, stores: Stores):
        self.stores = stores

    # -- blocking helpers (run in the worker threads) --------------------------------------

    def _reading(self, function: Callable[P, T]) -> Callable[P, T]:
        """``function`` with its reads on one borrowed connection in process (SQLite: one
        snapshot, reads nest) and, on PostgreSQL, each statement its own transaction: the key,
        the channel and the page need no common snapshot (a page token names its position)."""

        def reading(*args: P.args, **kwargs: P.kwargs) -> T:
            with self.stores.db.read(snapshot=False):
                return function(*args, **kwargs)

        return reading

    def _authorize(self, header: str | None, workspace: str) -> str:
        """The app id the request may act on."""
        key = authenticate_key(self.stores, presented_key(header))
        if key.app_id != workspace:
            raise WorkspaceNotFound()
        return key.app_id

    def _authorize_channel(self, header: str | None, workspace: str, channel: str) -> str:
        """Authenticate, then 404 unless the channel exists (before any body is read)."""
        app_id = self._authorize(header, workspace)
        self._require_scope(app_id, channel)
        return app_id

    def _require_scope(self, app_id: str, scope: str | None) -> None:
        """404 unless ``scope`` (a channel id, "" when malformed) is None or an existing channel."""
        if scope is not None and (scope == "" or self.stores.voice.get_channel(app_id, scope) is None):
            raise ChannelNotFound()

    def _find(
        self, header: str | None, workspace: str, scope: str | None, parsed: ListRequest | InvalidRequest
    ) -> tuple[ChannelCallPage, str | None]:
        app_id = self._authorize(header, workspace)
        if isinstance(parsed, InvalidRequest):
            # Bad parameters are reported only after the workspace and channel are known to exist.
            self._require_scope(app_id, scope)
            raise parsed
        if scope == "":
            raise ChannelNotFound()
        bound_to = cursors.binding(app_id, parsed.query.fingerprint())
        secret = self.stores.voice.page_secret()
        after = None
        if parsed.page_token is not None:
            try:
                after = cursors.decode(parsed.page_token, secret=secret, bound_to=bound_to, valid_key=is_uuid)
            except InvalidRequest:
                self._require_scope(app_id, scope)
                raise
        page = self.stores.voice.find(app_id, parsed.query, after, parsed.limit)
        token = None
        if page.next_after is not None:
            token = cursors.encode(page.next_after, secret=secret, bound_to=bound_to)
        return page, token

    def _get(self, header: str | None, workspace: str, channel: str, call_id: str | None) -> bytes:
        app_id = self._authorize(header, workspace)
        if channel == "":
            raise ChannelNotFound()
        body = self.stores.voice.get(app_id, channel, call_id) if call_id is not None else None
        if body is None:
            raise ChannelCallNotFound()
        return body

    # -- handlers -------------------------------------------------------------------------

    async def _list(self, request: Request, scope: str | None) -> Response:
        params = LIST_PARAMS if scope is not None else WORKSPACE_PARAMS
        parsed: ListRequest | InvalidRequest
        try:
            parsed = parse_list_params(request.query_params.multi_items(), params, scope)
        except InvalidRequest as exc:
            parsed = exc
        kind = read_kind("bird.calls" if scope is not None else "bird.workspace_calls", request)
        page, token = await run_read(
            self.stores.db,
            kind,
            self._reading(self._find),
            request.headers.get("authorization"),
            request.path_params["workspace_id"],
            scope,
            parsed,
        )
        tail = b"]" if token is None else b'],"nextPageToken":' + orjson.dumps(token)
        return JSONBytes(json_array(b'{"results":[', page.items, tail + b"}"))

    async def list_channel_calls(self, request: Request) -> Response:
        """``GET .../channels/{channelId}/calls``: newest first, keyset-paginated."""
        return await self._list(request, path_channel(request))

    async def list_workspace_calls(self, request: Request) -> Response:
        """``GET .../channels/calls``: every channel's calls, with a repeatable ``channelId`` filter."""
        return await self._list(request, None)

    async def get_call(self, request: Request) -> Response:
        """``GET .../channels/{channelId}/calls/{callId}``: one call."""
        call_id = canonical_uuid(request.path_params["call_id"])
        body = await run_point_read(
            self.stores.db,
            self._reading(self._get),
            request.headers.get("authorization"),
            request.path_params["workspace_id"],
            path_channel(request),
            call_id,
        )
        return JSONBytes(body)

    async def put_call(self, request: Request) -> Response:
        """``PUT .../channels/{channelId}/calls/{callId}``: replace the stored record with a whole
        record (history migration); it is served back exactly as sent."""
        channel = path_channel(request)
        body = await read_json_now(request)
        record = parse_now(_import_record, body, request.path_params["call_id"], channel)

        def put() -> dict[str, Any]:
            app_id = self._authorize_channel(
                request.headers.get("authorization"), request.path_params["workspace_id"], channel
            )
            checked = unwrap(record)
            self.stores.voice.put_records(app_id, channel, [checked])
            return checked

        return json_response(await run(put))

    async def post_events(self, request: Request) -> Response:
        """``POST .../channels/{channelId}/calls/events``: one status event or a list of up to
        1000, all or nothing, answered after a durable commit, idempotent by event id."""
        channel = path_channel(request)
        body = await read_json_now(request)
        events = parse_now(lambda: parse_batch(unwrap(body), channel))

        def ingest() -> IngestResult:
            app_id = self._authorize_channel(
                request.headers.get("authorization"), request.path_params["workspace_id"], channel
            )
            return self.stores.voice.ingest(app_id, channel, unwrap(events))

        result = await run(ingest)
        return json_response({"accepted": result.accepted, "duplicates": result.duplicates})

    async def delete_call(self, request: Request) -> Response:
        """``DELETE .../channels/{channelId}/calls/{callId}``: the call, its status events and
        everything derived from it; 204 with no body (404 as for a read when absent)."""
        call_id = canonical_uuid(request.path_params["call_id"])
        channel = path_channel(request)

        def delete() -> None:
            app_id = self._authorize_channel(
                request.headers.get("authorization"), request.path_params["workspace_id"], channel
            )
            if call_id is None or not self.stores.voice.delete(app_id, [call_id], channel_id=channel):
                raise ChannelCallNotFound()

        await run(delete)
        return Response(status_code=204)


def _import_record(body: Parsed[Any], call_id: str, channel: str) -> dict[str, Any]:
    canonical = canonical_uuid(call_id)
    if canonical is None:
        raise InvalidRequest(details={"callId": [UUID_RULE]})
    return validate_record(unwrap(body), call_id=canonical, channel_id=channel)
