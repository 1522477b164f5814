"""CometChat's Calls REST API (spec files 000-002) plus ingestion: list, get, events, import.

Authenticated by the ``apikey`` header with a ``fullAccess`` key; ``onBehalfOf`` narrows both
reads to the calls a user is part of.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from calltrail.api.auth import acting_user, authenticate_key
from calltrail.api.http import JSONBytes, json_response, read_json, run
from calltrail.kernel.errors import CallNotFound, InvalidRequest, NotAPart
from calltrail.sessions.events import parse_batch
from calltrail.sessions.filters import LIST_CALLS_PARAMS, parse_params
from calltrail.sessions.pages import page_meta
from calltrail.sessions.record import merge_record, validate_record
from calltrail.sessions.vocabulary import SESSION_ID_RULE, is_session_id
from calltrail.store import Stores
from calltrail.store.tenants import ApiKey

PER_PAGE_DEFAULT = 100
PER_PAGE_MAX = 1000


class CallsEndpoints:
    """The request handlers of ``/v3/calls`` (mounted under ``/v3`` and ``/v3.0``)."""

    def __init__(self, stores: Stores):
        self.stores = stores

    async def _key(self, request: Request) -> ApiKey:
        return await run(authenticate_key, self.stores, request.headers.get("apikey"))

    async def list_calls(self, request: Request) -> Response:
        """``GET /calls``: filtered, paginated, newest first."""
        key = await self._key(request)
        on_behalf_of = acting_user(request.headers.get("onBehalfOf"))
        parsed = parse_params(
            request.query_params.multi_items(),
            LIST_CALLS_PARAMS,
            per_page_default=PER_PAGE_DEFAULT,
            per_page_max=PER_PAGE_MAX,
        )
        query = parsed.query
        for uid in (parsed.values.get("uid"), on_behalf_of):
            if uid is not None:
                query = query.involving(uid)
        page = await run(self.stores.sessions.find, key.app_id, query, parsed.page)
        meta = orjson.dumps(page_meta(parsed.page, page.total, len(page.items)))
        return JSONBytes(b'{"data":[' + b",".join(page.items) + b'],"meta":' + meta + b"}")

    async def get_call(self, request: Request) -> Response:
        """``GET /calls/{sessionId}``: the full record."""
        key = await self._key(request)
        on_behalf_of = acting_user(request.headers.get("onBehalfOf"))
        session_id = request.path_params["session_id"]
        stored = await run(self.stores.sessions.get, key.app_id, session_id)
        if stored is None:
            raise CallNotFound(f"There is no call with sessionId {session_id!r}.")
        if on_behalf_of is not None and not await run(
            self.stores.sessions.involves, key.app_id, session_id, on_behalf_of
        ):
            raise NotAPart(f"The user {on_behalf_of!r} is not a part of the call {session_id!r}.")
        return json_response({"data": merge_record(stored.summary, stored.extra)})

    async def post_events(self, request: Request) -> Response:
        """``POST /calls/events``: one event or a list of up to 1000, all or nothing."""
        key = await self._key(request)
        events = parse_batch(await read_json(request))
        result = await run(self.stores.sessions.ingest, key.app_id, events)
        return json_response({"data": {"accepted": result.accepted, "duplicates": result.duplicates}})

    async def put_call(self, request: Request) -> Response:
        """``PUT /calls/{sessionId}``: replace the stored record with a whole record."""
        key = await self._key(request)
        session_id = request.path_params["session_id"]
        if not is_session_id(session_id):
            raise InvalidRequest(details={"sessionId": [SESSION_ID_RULE]})
        record = validate_record(await read_json(request), session_id)
        await run(self.stores.sessions.put_records, key.app_id, [record])
        return json_response({"data": record})
