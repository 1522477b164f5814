"""The Bird dialect: Bird's Voice calls API under ``/workspaces`` (spec file 004).

Every error under this path, routing ones included, is rendered in Bird's envelope by
:mod:`calltrail.api.bird.envelope`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from calltrail.api.bird.envelope import EXCEPTION_HANDLERS
from calltrail.api.bird.rest import VoiceEndpoints
from calltrail.api.routing import indexed_app
from calltrail.store import Stores


def create_app(stores: Stores) -> Starlette:
    """The ASGI app serving this dialect, to be mounted at ``/workspaces``."""
    voice = VoiceEndpoints(stores)
    channel = "/{workspace_id}/channels/{channel_id}/calls"
    routes = [
        Route("/{workspace_id}/channels/calls", voice.list_workspace_calls, methods=["GET"]),
        Route(channel, voice.list_channel_calls, methods=["GET"]),
        Route(channel + "/events", voice.post_events, methods=["POST"]),
        Route(channel + "/{call_id}", voice.get_call, methods=["GET"]),
        Route(channel + "/{call_id}", voice.put_call, methods=["PUT"]),
        Route(channel + "/{call_id}", voice.delete_call, methods=["DELETE"]),
    ]
    return indexed_app(routes, exception_handlers=EXCEPTION_HANDLERS)
