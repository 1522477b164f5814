"""The CometChat dialect: ``/v3/calls`` (REST key) under ``/v3`` and ``/v3.0``.

Every error under these paths, routing ones included, is rendered in CometChat's envelope by
:mod:`calltrail.api.cometchat.envelope`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from calltrail.api.cometchat.envelope import EXCEPTION_HANDLERS
from calltrail.api.cometchat.rest import CallsEndpoints
from calltrail.store import Stores


def create_app(stores: Stores) -> Starlette:
    """The ASGI app serving this dialect, to be mounted at ``/v3`` and ``/v3.0``."""
    calls = CallsEndpoints(stores)
    routes = [
        Route("/calls", calls.list_calls, methods=["GET"]),
        Route("/calls/events", calls.post_events, methods=["POST"]),
        Route("/calls/{session_id}", calls.get_call, methods=["GET"]),
        Route("/calls/{session_id}", calls.put_call, methods=["PUT"]),
    ]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)
