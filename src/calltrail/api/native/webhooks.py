"""``/api/webhooks``: outbound webhook subscriptions, their deliveries, and replay.

The ``secret`` is shown when a subscription is created and on ``GET`` of that one subscription
only. Times are RFC 3339. A URL is checked for syntax here; whether its address may be reached
is checked before every attempt (a name can resolve differently later), and a refused attempt
is recorded with its reason like any other failure.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calltrail.api.http import Parsed, json_response, parse_now, read_json_now, run, unwrap
from calltrail.api.native.keys import authenticate
from calltrail.kernel.errors import CalltrailError, InvalidRequest
from calltrail.kernel.instants import format_rfc3339
from calltrail.outbound.subscriptions import Changes, NewSubscription, parse_changes, parse_new
from calltrail.store import Stores
from calltrail.store.outbox import Delivery, DeliveryPage, Subscription

LIMIT_DEFAULT = 20
LIMIT_MAX = 100
DELIVERY_PARAMS = ("limit", "cursor")


def subscription_json(sub: Subscription, *, with_secret: bool) -> dict[str, Any]:
    """A subscription as the API shows it."""
    shown: dict[str, Any] = {
        "id": sub.subscription_id,
        "url": sub.url,
        "events": list(sub.events),
        "description": sub.description,
    }
    if with_secret:
        shown["secret"] = sub.secret
    shown["enabled"] = sub.enabled
    if not sub.enabled:
        shown["disabledReason"] = sub.disabled_reason
        if sub.disabled_at_ms is not None:
            shown["disabledAt"] = format_rfc3339(sub.disabled_at_ms)
    shown["createdAt"] = format_rfc3339(sub.created_at_ms)
    shown["updatedAt"] = format_rfc3339(sub.updated_at_ms)
    return shown


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """A delivery with its attempts, oldest first."""
    shown: dict[str, Any] = {
        "id": delivery.delivery_id,
        "webhookId": delivery.message_id,
        "type": delivery.event_type,
        "status": delivery.status,
        "createdAt": format_rfc3339(delivery.created_at_ms),
    }
    if delivery.next_attempt_at_ms is not None:
        shown["nextAttemptAt"] = format_rfc3339(delivery.next_attempt_at_ms)
    shown["attempts"] = [
        {"at": format_rfc3339(a.at_ms), "status": a.status_code, "error": a.error, "durationMs": a.duration_ms}
        for a in delivery.attempts
    ]
    return shown


def encode_cursor(position: int) -> str:
    """An opaque cursor for the page after ``position``."""
    return base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")


def parse_delivery_params(items: Sequence[tuple[str, str]]) -> tuple[int, int | None]:
    """``limit`` (1-100, default 20) and ``cursor`` of a deliveries page; 400 naming each problem."""
    details: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    for name, value in items:
        if name not in DELIVERY_PARAMS:
            details.setdefault(name, []).append("is not a supported parameter")
        elif name in values:
            details.setdefault(name, []).append("must be given once")
        values[name] = value
    limit = LIMIT_DEFAULT
    raw_limit = values.get("limit")
    if raw_limit is not None:
        if raw_limit.isdigit() and 1 <= int(raw_limit) <= LIMIT_MAX:
            limit = int(raw_limit)
        else:
            details.setdefault("limit", []).append(f"must be a whole number from 1 to {LIMIT_MAX}")
    before = None
    if "cursor" in values:
        before = _decode_cursor(values["cursor"])
        if before is None:
            details.setdefault("cursor", []).append("is not a cursor this endpoint returned")
    if details:
        raise InvalidRequest(details=details)
    return limit, before


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(text) if text.isdigit() and len(text) < 19 else None


class WebhookEndpoints:
    """The request handlers of ``/api/webhooks``; each makes one worker trip."""

    def __init__(self, stores: Stores):
        self.stores = stores

    def _app(self, request: Request) -> str:
        return authenticate(self.stores, request).app_id

    async def _answer(self, request: Request, action: Callable[[str], Any], status: int = 200) -> Response:
        """Authenticate, then ``action(app_id)`` in one worker trip; answer ``{"data": ...}``."""

        def act() -> Any:
            with self.stores.db.read():
                app_id = self._app(request)
            return action(app_id)

        return json_response({"data": await run(act)}, status)

    async def create(self, request: Request) -> Response:
        """``POST /webhooks``: 201 with the subscription and its secret."""
        body = await read_json_now(request)
        new: Parsed[NewSubscription] = parse_now(parse_new, body) if not isinstance(body, CalltrailError) else body
        return await self._answer(
            request, lambda app: subscription_json(self.stores.outbox.create(app, unwrap(new)), with_secret=True), 201
        )

    async def list(self, request: Request) -> Response:
        """``GET /webhooks``: every subscription, oldest first, without secrets."""
        return await self._answer(
            request,
            lambda app: [subscription_json(s, with_secret=False) for s in self.stores.outbox.list_subscriptions(app)],
        )

    async def get(self, request: Request) -> Response:
        """``GET /webhooks/{id}``: one subscription with its secret."""
        sub_id = request.path_params["webhook_id"]
        return await self._answer(
            request, lambda app: subscription_json(self.stores.outbox.get(app, sub_id), with_secret=True)
        )

    async def update(self, request: Request) -> Response:
        """``PATCH /webhooks/{id}``: change url, events, description or enabled."""
        sub_id = request.path_params["webhook_id"]
        body = await read_json_now(request)
        changes: Parsed[Changes] = parse_now(parse_changes, body) if not isinstance(body, CalltrailError) else body
        return await self._answer(
            request,
            lambda app: subscription_json(self.stores.outbox.update(app, sub_id, unwrap(changes)), with_secret=False),
        )

    async def delete(self, request: Request) -> Response:
        """``DELETE /webhooks/{id}``: the subscription, its deliveries and their attempts."""
        sub_id = request.path_params["webhook_id"]

        def delete(app: str) -> Mapping[str, Any]:
            self.stores.outbox.delete(app, sub_id)
            return {"id": sub_id, "deleted": True}

        return await self._answer(request, delete)

    async def deliveries(self, request: Request) -> Response:
        """``GET /webhooks/{id}/deliveries``: newest first, cursor-paged."""
        sub_id = request.path_params["webhook_id"]
        params = parse_now(parse_delivery_params, request.query_params.multi_items())

        def find() -> DeliveryPage:
            with self.stores.db.read():
                app = self._app(request)
                limit, before = unwrap(params)
                return self.stores.outbox.deliveries(app, sub_id, before, limit)

        page = await run(find)
        following = encode_cursor(page.next_before) if page.next_before is not None else None
        return json_response({"data": [delivery_json(d) for d in page.items], "meta": {"next": following}})

    async def retry(self, request: Request) -> Response:
        """``POST /webhooks/{id}/deliveries/{deliveryId}/retry``: send it again now (202)."""
        sub_id, delivery_id = request.path_params["webhook_id"], request.path_params["delivery_id"]
        return await self._answer(
            request, lambda app: delivery_json(self.stores.outbox.retry(app, sub_id, delivery_id)), 202
        )


def webhook_routes(stores: Stores) -> list[Route]:
    """The routes of ``/api/webhooks`` (relative to ``/api``)."""
    hooks = WebhookEndpoints(stores)
    return [
        Route("/webhooks", hooks.create, methods=["POST"]),
        Route("/webhooks", hooks.list, methods=["GET"]),
        Route("/webhooks/{webhook_id}", hooks.get, methods=["GET"]),
        Route("/webhooks/{webhook_id}", hooks.update, methods=["PATCH"]),
        Route("/webhooks/{webhook_id}", hooks.delete, methods=["DELETE"]),
        Route("/webhooks/{webhook_id}/deliveries", hooks.deliveries, methods=["GET"]),
        Route("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", hooks.retry, methods=["POST"]),
    ]
