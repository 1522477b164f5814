"""The user view: one user's own call history, authenticated by that user's ``authToken``.

``GET /calls`` and ``GET /calls/{sessionId}`` (under ``/v3.0``, where CometChat's client SDKs
call, and ``/v3``) are answered here whenever the request carries an ``authToken`` header,
and by the REST handlers otherwise (see :func:`by_credential`).

Each call is the REST record plus what a client needs to show it to this user:

* ``callCategory``: the call's ``mode`` (the SDKs' name for it);
* ``data.entities.initiator.entity`` ``{uid, name, avatar}`` and ``data.entities.receiver.entity``
  (a user as above, or a group ``{guid, name, icon}``): the shapes the official SDKs parse.
  A user or group without a stored profile shows its id as its name;
* ``direction`` (``incoming``/``outgoing``) and ``missed`` (see :mod:`calltrail.sessions.viewer`);
* on each participant, ``name`` and ``avatar``, and the field names the official web SDK's
  ``Participant`` reads (``hasJoined``, ``deviceID``, ``totalDurationInMinutes``) next to
  the REST ones.

Get returns ``data`` as a one-element list, because the official web SDK maps it as a list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from calltrail.api.context import note_app
from calltrail.api.http import JSONBytes, parse_now, read_kind, run, run_read, unwrap
from calltrail.kernel.errors import CallNotFound, MissingAuthToken, UnknownAuthToken
from calltrail.sessions.pages import page_meta
from calltrail.sessions.record import merge_record
from calltrail.sessions.viewer import parse_user_params, user_query
from calltrail.sessions.vocabulary import path_session_id
from calltrail.store import Stores
from calltrail.store.users import AuthToken, PageContext

Endpoint = Callable[[Request], Awaitable[Response]]
AUTH_TOKEN_HEADER = "authToken"
#: Participant fields the official web SDK reads, and the REST fields they mirror.
_PARTICIPANT_ALIASES = (
    ("hasJoined", "isJoined"),
    ("deviceID", "deviceId"),
    ("totalDurationInMinutes", "totalDuration"),
)


def by_credential(rest: Endpoint, user_view: Endpoint) -> Endpoint:
    """An endpoint that hands requests carrying an ``authToken`` header to the user view and
    every other request to the REST handler (which then asks for an ``apikey``)."""

    async def endpoint(request: Request) -> Response:
        if AUTH_TOKEN_HEADER in request.headers:
            return await user_view(request)
        return await rest(request)

    return endpoint


def _user_entity(uid: str, context: PageContext) -> dict[str, Any]:
    profile = context.users.get(uid)
    if profile is None:
        return {"uid": uid, "name": uid}
    entity = {"uid": uid, "name": profile.name}
    if profile.avatar is not None:
        entity["avatar"] = profile.avatar
    return entity


def _group_entity(guid: str, context: PageContext) -> dict[str, Any]:
    profile = context.groups.get(guid)
    if profile is None:
        return {"guid": guid, "name": guid}
    entity = {"guid": guid, "name": profile.name}
    if profile.icon is not None:
        entity["icon"] = profile.icon
    return entity


def mentioned(records: Iterable[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """The uids and guids a set of records names (initiators, receivers, participants)."""
    uids: set[str] = set()
    guids: set[str] = set()
    for record in records:
        uids.add(record["initiator"])
        (guids if record.get("receiverType") == "group" else uids).add(record["receiver"])
        for participant in record.get("participants") or ():
            if isinstance(participant, dict) and isinstance(participant.get("uid"), str):
                uids.add(participant["uid"])
    return uids, guids


def present(record: dict[str, Any], viewer: str, context: PageContext) -> dict[str, Any]:
    """A record as the user view shows it to ``viewer`` (modified in place and returned)."""
    group = record.get("receiverType") == "group"
    receiver = _group_entity(record["receiver"], context) if group else _user_entity(record["receiver"], context)
    entities = {
        "initiator": {"entity": _user_entity(record["initiator"], context), "entityType": "user"},
        "receiver": {"entity": receiver, "entityType": "group" if group else "user"},
    }
    # An imported record may carry its own ``data`` object; keep it and add the entities.
    data = record.get("data")
    record["data"] = {**data, "entities": entities} if isinstance(data, dict) else {"entities": entities}
    record["callCategory"] = record.get("mode", "call")
    record["direction"] = "outgoing" if record["initiator"] == viewer else "incoming"
    flags = context.flags.get(record["sessionId"])
    record["missed"] = bool(flags and flags.missed)
    for participant in record.get("participants") or ():
        if not isinstance(participant, dict) or not isinstance(participant.get("uid"), str):
            continue
        entity = _user_entity(participant["uid"], context)
        participant.setdefault("name", entity["name"])
        if "avatar" in entity:
            participant.setdefault("avatar", entity["avatar"])
        for alias, source in _PARTICIPANT_ALIASES:
            if source in participant:
                participant.setdefault(alias, participant[source])
    return record


class UserViewEndpoints:
    """Handlers of the user view: one worker trip each, reading in one snapshot."""

    def __init__(self, stores: Stores):
        self.stores = stores

    def _viewer(self, request: Request) -> AuthToken:
        token = request.headers.get(AUTH_TOKEN_HEADER, "")
        if not token:
            raise MissingAuthToken()
        stored = self.stores.users.find_token(token)
        if stored is None:
            raise UnknownAuthToken()
        note_app(stored.app_id)
        return stored

    def _context(self, app_id: str, viewer: str, records: list[dict[str, Any]]) -> PageContext:
        uids, guids = mentioned(records)
        sessions = [record["sessionId"] for record in records]
        return self.stores.users.page_context(app_id, viewer, sessions, uids, guids)

    async def list_calls(self, request: Request) -> Response:
        """``GET /calls`` with an ``authToken``: the viewer's calls, newest first."""
        parsed = parse_now(parse_user_params, request.query_params.multi_items())

        def page() -> dict[str, Any]:
            with self.stores.db.read():
                token = self._viewer(request)
                params = unwrap(parsed)
                found = self.stores.sessions.find(token.app_id, user_query(params, token.uid), params.page)
                records = found.calls.parsed()
                context = self._context(token.app_id, token.uid, records)
            return {
                "data": [present(record, token.uid, context) for record in records],
                "meta": page_meta(params.page, found.total, len(records)),
            }

        return JSONBytes(orjson.dumps(await run_read(self.stores.db, read_kind("cometchat.user_calls", request), page)))

    async def get_call(self, request: Request) -> Response:
        """``GET /calls/{sessionId}`` with an ``authToken``: one of the viewer's calls, as a
        one-element list. Another user's call is indistinguishable from a missing one (404)."""
        path_id = parse_now(path_session_id, request.path_params["session_id"])

        def get() -> dict[str, Any]:
            with self.stores.db.read():
                token = self._viewer(request)
                session_id = unwrap(path_id)
                stored = self.stores.sessions.get(token.app_id, session_id)
                if stored is None or not self.stores.sessions.involves(token.app_id, session_id, token.uid):
                    raise CallNotFound(f"There is no call with sessionId {session_id!r}.")
                record = merge_record(stored.summary, stored.extra)
                context = self._context(token.app_id, token.uid, [record])
            return {"data": [present(record, token.uid, context)]}

        return JSONBytes(orjson.dumps(await run(get)))
