"""The CometChat dialect: ``/v3/calls`` (REST key) under ``/v3`` and ``/v3.0``; with a user's
``authToken`` header, ``GET /calls`` and ``GET /calls/{sessionId}`` answer the user view.

Every error under these paths, routing ones included, is rendered in CometChat's envelope by
:mod:`calltrail.api.cometchat.envelope` (the registry names it: :mod:`calltrail.api.registry`).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from calltrail.api.cometchat.rest import CallsEndpoints
from calltrail.api.cometchat.user_view import UserViewEndpoints, by_credential
from calltrail.api.cometchat.users import UsersEndpoints
from calltrail.store import Stores


def routes(stores: Stores) -> list[BaseRoute]:
    """The routes of this dialect, relative to ``/v3`` and ``/v3.0`` where they are mounted."""
    calls = CallsEndpoints(stores)
    user_view = UserViewEndpoints(stores)
    return [
        Route("/calls", by_credential(calls.list_calls, user_view.list_calls), methods=["GET"]),
        Route("/calls/events", calls.post_events, methods=["POST"]),
        Route("/calls/{session_id}", by_credential(calls.get_call, user_view.get_call), methods=["GET"]),
        Route("/calls/{session_id}", calls.put_call, methods=["PUT"]),
        Route("/calls/{session_id}", calls.delete_call, methods=["DELETE"]),
        *UsersEndpoints(stores).routes(),
    ]
