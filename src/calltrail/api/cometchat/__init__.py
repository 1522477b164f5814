"""The CometChat dialect: ``/v3/calls`` (REST key) under ``/v3`` and ``/v3.0``; with a user's
``authToken`` header, ``GET /calls`` and ``GET /calls/{sessionId}`` answer the user view.

Every error under these paths, routing ones included, is rendered in CometChat's envelope by
:mod:`calltrail.api.cometchat.envelope`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from calltrail.api.cometchat.envelope import EXCEPTION_HANDLERS
from calltrail.api.cometchat.rest import CallsEndpoints
from calltrail.api.cometchat.user_view import UserViewEndpoints, by_credential
from calltrail.api.cometchat.users import UsersEndpoints
from calltrail.api.routing import indexed_app
from calltrail.store import Stores


def create_app(stores: Stores) -> Starlette:
    """The ASGI app serving this dialect, to be mounted at ``/v3`` and ``/v3.0``."""
    calls = CallsEndpoints(stores)
    user_view = UserViewEndpoints(stores)
    routes = [
        Route("/calls", by_credential(calls.list_calls, user_view.list_calls), methods=["GET"]),
        Route("/calls/events", calls.post_events, methods=["POST"]),
        Route("/calls/{session_id}", by_credential(calls.get_call, user_view.get_call), methods=["GET"]),
        Route("/calls/{session_id}", calls.put_call, methods=["PUT"]),
        Route("/calls/{session_id}", calls.delete_call, methods=["DELETE"]),
        *UsersEndpoints(stores).routes(),
    ]
    return indexed_app(routes, exception_handlers=EXCEPTION_HANDLERS)
