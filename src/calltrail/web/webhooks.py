"""The webhooks page (``/webhooks``): the app's outbound webhook endpoints and their recent
deliveries.

Read-only. An endpoint's fields are those ``GET /api/webhooks`` lists
(:func:`~calltrail.api.native.webhooks.subscription_json` without the secret: the signing
secret is never on the page); its deliveries are the newest page of
``GET /api/webhooks/{id}/deliveries``. Reads go through ``stores.outbox``, in the page's one
snapshot.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from calltrail.api.native.webhooks import subscription_json
from calltrail.outbound.events import EVENT_TYPES, WILDCARD
from calltrail.store.outbox import DELIVERED, FAILED, PENDING, Delivery, Subscription
from calltrail.web.pages import Pages, Viewer
from calltrail.web.render import when

#: Deliveries shown per endpoint, newest first (the API pages through the rest).
RECENT = 10
STATES = (PENDING, DELIVERED, FAILED)


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def delivery_row(delivery: Delivery, viewer: Viewer) -> dict[str, Any]:
    """One delivery: its event, state and attempts (never its payload)."""
    last = delivery.attempts[-1] if delivery.attempts else None
    outcome = ""
    if last is not None:
        outcome = f"HTTP {last.status_code}" if last.status_code is not None else (last.error or "no answer")
    return {
        "id": delivery.delivery_id,
        "type": delivery.event_type,
        "status": delivery.status,
        "created": when(_seconds(delivery.created_at_ms), viewer.tz),
        "attempts": len(delivery.attempts),
        "last": outcome,
        "last_at": when(_seconds(last.at_ms), viewer.tz) if last is not None else "",
        "next": when(_seconds(delivery.next_attempt_at_ms), viewer.tz),
    }


def endpoint_row(sub: Subscription, deliveries: list[Delivery], more: bool, viewer: Viewer) -> dict[str, Any]:
    """One endpoint as ``GET /api/webhooks`` lists it (no secret), with its recent deliveries."""
    shown = subscription_json(sub, with_secret=False)
    counts = Counter(d.status for d in deliveries)
    return {
        "id": shown["id"],
        "url": shown["url"],
        "events": shown["events"],
        "description": shown["description"],
        "enabled": shown["enabled"],
        "disabled_reason": shown.get("disabledReason") or "",
        "disabled_at": when(_seconds(sub.disabled_at_ms), viewer.tz) if not sub.enabled else "",
        "created": when(_seconds(sub.created_at_ms), viewer.tz),
        "counts": [(state, counts[state]) for state in STATES if counts[state]],
        "deliveries": [delivery_row(d, viewer) for d in deliveries],
        "more": more,
    }


class WebhookPage:
    """``/webhooks``."""

    def __init__(self, pages: Pages):
        self.pages = pages
        self.stores = pages.stores

    async def webhooks(self, request: Request) -> Response:
        """The app's endpoints, oldest first, each with its newest deliveries."""

        def view(viewer: Viewer) -> Response:
            rows = []
            for sub in self.stores.outbox.list_subscriptions(viewer.app_id):
                page = self.stores.outbox.deliveries(viewer.app_id, sub.subscription_id, None, RECENT)
                rows.append(endpoint_row(sub, page.items, page.next_before is not None, viewer))
            context = self.pages.context(
                viewer, "webhooks", "Webhooks", endpoints=rows, recent=RECENT, event_types=[*EVENT_TYPES, WILDCARD]
            )
            return self.pages.html("webhooks.html", context)

        return await self.pages.page(request, view)
