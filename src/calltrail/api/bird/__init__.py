"""The Bird dialect: Bird's Voice calls API under ``/workspaces`` (spec file 004).

Every error under this path, routing ones included, is rendered in Bird's envelope by
:mod:`calltrail.api.bird.envelope`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from calltrail.api.bird.rest import VoiceEndpoints
from calltrail.store import Stores


def routes(stores: Stores) -> list[BaseRoute]:
    """The routes of this dialect, relative to ``/workspaces`` where they are mounted."""
    voice = VoiceEndpoints(stores)
    channel = "/{workspace_id}/channels/{channel_id}/calls"
    return [
        Route("/{workspace_id}/channels/calls", voice.list_workspace_calls, methods=["GET"]),
        Route(channel, voice.list_channel_calls, methods=["GET"]),
        Route(channel + "/events", voice.post_events, methods=["POST"]),
        Route(channel + "/{call_id}", voice.get_call, methods=["GET"]),
        Route(channel + "/{call_id}", voice.put_call, methods=["PUT"]),
        Route(channel + "/{call_id}", voice.delete_call, methods=["DELETE"]),
    ]
