"""CometChat's Calls REST API (spec files 000-002) plus ingestion: list, get, events, import.

Authenticated by the ``apikey`` header with a ``fullAccess`` key; ``onBehalfOf`` narrows both
reads to the calls a user is part of.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from calltrail.api.auth import acting_user, authenticate_key
from calltrail.api.http import (
    JSONBytes,
    Parsed,
    json_response,
    parse_now,
    read_json_now,
    read_kind,
    run,
    run_point_read,
    run_read,
    unwrap,
)
from calltrail.kernel.errors import CallNotFound, CalltrailError, InvalidRequest, NotAPart
from calltrail.sessions.events import parse_batch
from calltrail.sessions.filters import LIST_CALLS_PARAMS, ParsedParams, parse_params
from calltrail.sessions.pages import page_meta
from calltrail.sessions.record import record_json, validate_record
from calltrail.sessions.vocabulary import SESSION_ID_RULE, is_session_id, path_session_id
from calltrail.store import Stores
from calltrail.store.eventlog import IngestResult
from calltrail.store.sessions import CallPage, StoredCall
from calltrail.store.tenants import ApiKey

PER_PAGE_DEFAULT = 100
PER_PAGE_MAX = 1000


class CallsEndpoints:
    """The request handlers of ``/v3/calls`` (mounted under ``/v3`` and ``/v3.0``).

    Each handler parses what needs no database on the event loop, then makes one trip to the
    worker threads for authentication and storage together (reads in one snapshot)."""

    def __init__(self, stores: Stores):
        self.stores = stores

    def _key(self, request: Request) -> ApiKey:
        return authenticate_key(self.stores, request.headers.get("apikey"))

    async def list_calls(self, request: Request) -> Response:
        """``GET /calls``: filtered, paginated, newest first."""
        parsed = parse_now(
            parse_params,
            request.query_params.multi_items(),
            LIST_CALLS_PARAMS,
            per_page_default=PER_PAGE_DEFAULT,
            per_page_max=PER_PAGE_MAX,
        )
        on_behalf_of = parse_now(acting_user, request.headers.get("onBehalfOf"))

        def find() -> tuple[ParsedParams, CallPage]:
            # No snapshot around the key and the page: on PostgreSQL page 1 is then one statement
            # outside a transaction (a deeper page opens its own snapshot, see SessionStore.find).
            with self.stores.db.read(snapshot=False):
                key = self._key(request)
                params, user = unwrap(parsed), unwrap(on_behalf_of)
                query = params.query
                for uid in (params.values.get("uid"), user):
                    if uid is not None:
                        query = query.involving(uid)
                return params, self.stores.sessions.find(key.app_id, query, params.page)

        params, page = await run_read(self.stores.db, read_kind("cometchat.calls", request), find)
        meta = orjson.dumps(page_meta(params.page, page.total, page.calls.count))
        return JSONBytes(b"".join((b'{"data":[', page.calls.joined, b'],"meta":', meta, b"}")))

    async def get_call(self, request: Request) -> Response:
        """``GET /calls/{sessionId}``: the full record."""
        on_behalf_of = parse_now(acting_user, request.headers.get("onBehalfOf"))
        path_id = parse_now(path_session_id, request.path_params["session_id"])

        def get() -> StoredCall:
            with self.stores.db.read(snapshot=False):
                key = self._key(request)
                session_id = unwrap(path_id)
                user = unwrap(on_behalf_of)
                stored = self.stores.sessions.get(key.app_id, session_id)
                if stored is None:
                    raise CallNotFound(f"There is no call with sessionId {session_id!r}.")
                if user is not None and not self.stores.sessions.involves(key.app_id, session_id, user):
                    raise NotAPart(f"The user {user!r} is not a part of the call {session_id!r}.")
                return stored

        stored = await run_point_read(self.stores.db, get)
        # The stored JSON spliced into the envelope: the bytes encoding the merged record gives.
        return JSONBytes(b'{"data":' + record_json(stored.summary, stored.extra) + b"}")

    async def post_events(self, request: Request) -> Response:
        """``POST /calls/events``: one event or a list of up to 1000, all or nothing."""
        body = await read_json_now(request)
        events = parse_now(parse_batch, body) if not isinstance(body, CalltrailError) else body

        def ingest() -> IngestResult:
            key = self._key(request)
            return self.stores.sessions.ingest(key.app_id, unwrap(events))

        result = await run(ingest)
        return json_response({"data": {"accepted": result.accepted, "duplicates": result.duplicates}})

    async def put_call(self, request: Request) -> Response:
        """``PUT /calls/{sessionId}``: replace the stored record with a whole record."""
        session_id = request.path_params["session_id"]
        body = await read_json_now(request)
        record = parse_now(_import_record, body, session_id)

        def put() -> dict[str, Any]:
            key = self._key(request)
            checked = unwrap(record)
            self.stores.sessions.put_records(key.app_id, [checked])
            return checked

        return json_response({"data": await run(put)})

    async def delete_call(self, request: Request) -> Response:
        """``DELETE /calls/{sessionId}``: the call, its events and everything derived from it."""
        path_id = parse_now(path_session_id, request.path_params["session_id"])

        def delete() -> str:
            key = self._key(request)
            session_id = unwrap(path_id)
            if not self.stores.sessions.delete(key.app_id, [session_id]):
                raise CallNotFound(f"There is no call with sessionId {session_id!r}.")
            return session_id

        session_id = await run(delete)
        return json_response(
            {"data": {"success": True, "sessionId": session_id, "message": f"Call {session_id} deleted."}}
        )


def _import_record(body: Parsed[Any], session_id: str) -> dict[str, Any]:
    if not is_session_id(session_id):
        raise InvalidRequest(details={"sessionId": [SESSION_ID_RULE]})
    return validate_record(unwrap(body), session_id)
