"""Inbound webhooks: ``POST /hooks/{integrationId}`` takes a provider's payload as it sends it.

Order, whatever is wrong: the integration and the provider's own authentication first (HTTP
Basic with the generated credentials, or the provider's signature over the raw body): a failure,
an unknown integration included, is 401 and nothing is read or stored. Then the payload: a
malformed one is 400 naming what is wrong. Event types Calltrail does not use are counted
(``ignored``) and answered 200. The translated events go through the one event log, like
``POST /v3/calls/events``: the answer comes only after a durable commit; redelivery changes
nothing; the record is a function of the set of payloads received.

Errors use the ``{"error": {"code", "message", "details"}}`` envelope
(:func:`calltrail.api.http.render_error_envelope`), before routing too.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from calltrail.adapters.base import Adapter, HookRequest, Translation
from calltrail.adapters.integrations import Integration, check_basic, credentials, hook_url
from calltrail.adapters.janus import JanusFact
from calltrail.adapters.registry import ADAPTERS, ROOM_FOLDED
from calltrail.api.http import attempt, json_response, read_body, run, unwrap
from calltrail.kernel.batches import MAX_BATCH
from calltrail.kernel.errors import HookUnauthorized
from calltrail.sessions.events import parse_batch as parse_session_events
from calltrail.store import Stores
from calltrail.store.database import chunks
from calltrail.store.eventlog import IngestResult
from calltrail.voice.events import parse_batch as parse_status_events


def ingest(stores: Stores, integration: Integration, adapter: Adapter, translation: Translation) -> IngestResult:
    """Validate the translated events with their domain's own parser and store them."""
    if not translation.events:
        return IngestResult(0, 0)
    if integration.provider in ROOM_FOLDED:
        facts = [JanusFact.from_dict(raw) for raw in translation.events]
        return stores.rooms.ingest(integration.app_id, facts)
    if adapter.domain == "voice":
        channel = str(integration.channel_id)
        events = [
            event for chunk in chunks(translation.events, MAX_BATCH) for event in parse_status_events(chunk, channel)
        ]
        return stores.voice.ingest(integration.app_id, channel, events)
    calls = [event for chunk in chunks(translation.events, MAX_BATCH) for event in parse_session_events(chunk)]
    return stores.sessions.ingest(integration.app_id, calls)


class HooksEndpoints:
    """The handler of ``/hooks/{integrationId}``: one worker trip per request."""

    def __init__(self, stores: Stores):
        self.stores = stores

    async def post_hook(self, request: Request) -> Response:
        """``POST /hooks/{integrationId}``: a provider's webhook."""
        integration_id = request.path_params["integration_id"]
        body = await attempt(read_body(request))
        headers = {name.lower(): value for name, value in request.headers.items()}
        received_url = str(request.url)

        def handle() -> dict[str, int]:
            integration = self.stores.integrations.find(integration_id) if len(integration_id) <= 64 else None
            if integration is None:
                raise HookUnauthorized()
            adapter = ADAPTERS[integration.provider]
            if adapter.auth == "basic":
                check_basic(integration, headers.get("authorization"))
            hook = HookRequest(hook_url(integration, received_url), headers, unwrap(body))
            if adapter.auth == "signature":
                adapter.verify(hook, credentials(integration))
            translation = adapter.translate(hook)
            result = ingest(self.stores, integration, adapter, translation)
            return {"accepted": result.accepted, "duplicates": result.duplicates, "ignored": translation.ignored}

        return json_response({"data": await run(handle)})


def routes(stores: Stores) -> list[BaseRoute]:
    """The routes of inbound webhooks, relative to ``/hooks`` where they are mounted."""
    return [Route("/{integration_id}", HooksEndpoints(stores).post_hook, methods=["POST"])]
