"""Outbound webhooks: the subscription calls of ``/api/webhooks`` and :func:`verify_webhook`.

```python
from calltrail_sdk import CalltrailClient, verify_webhook

with CalltrailClient("http://localhost:8080", api_key) as client:
    hook = client.create_webhook("https://crm.example.com/calltrail", events=["call.ended"])
    print(hook.secret)  # keep it: receivers verify with it

# in the receiver, with the raw body bytes and the request headers:
event = verify_webhook(secret, body, headers)  # raises WebhookVerificationError
```
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from calltrail_sdk._exceptions import CalltrailError, InvalidResponseError
from calltrail_sdk._http import Operation, data_of, headers, json_body, run, run_async

#: Seconds a webhook's timestamp may be off from now, either way (as Standard Webhooks advises).
TOLERANCE = 300


class WebhookVerificationError(CalltrailError):
    """A webhook whose signature, headers or timestamp do not check out: reject it (400)."""


def verify_webhook(
    secret: str, body: bytes | str, headers: Mapping[str, str], *, tolerance: int = TOLERANCE, now: float | None = None
) -> Any:
    """Check a webhook Calltrail sent (Standard Webhooks) and return its decoded JSON body.

    ``body`` must be the raw bytes received (not re-encoded JSON); ``headers`` the request's
    (any case). Raises :class:`WebhookVerificationError` unless ``webhook-signature`` has a
    ``v1`` HMAC-SHA256 of ``webhook-id.webhook-timestamp.body`` under ``secret`` and the
    timestamp is within ``tolerance`` seconds of now. Drop repeats by ``webhook-id``."""
    import json

    raw = body.encode() if isinstance(body, str) else bytes(body)
    lower = {name.lower(): value for name, value in headers.items()}
    message_id, stamp, signatures = (lower.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not message_id or not stamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not stamp.isdigit() or abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is not within the tolerance of now")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("secret must be the whsec_... value Calltrail showed") from None
    expected = hmac.new(key, f"{message_id}.{stamp}.".encode() + raw, hashlib.sha256).digest()
    for candidate in signatures.split():
        version, _, encoded = candidate.partition(",")
        try:
            if version == "v1" and hmac.compare_digest(base64.b64decode(encoded), expected):
                return json.loads(raw)
        except (binascii.Error, ValueError):
            continue
    raise WebhookVerificationError("no valid v1 signature")


@dataclass(frozen=True, slots=True)
class Webhook:
    """A subscription. ``secret`` is set when created and from :meth:`get_webhook` only."""

    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: str
    updated_at: str
    secret: str | None = None
    disabled_reason: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Webhook:
        try:
            return cls(
                data["id"], data["url"], list(data["events"]), data["description"], bool(data["enabled"]),
                data["createdAt"], data["updatedAt"], data.get("secret"), data.get("disabledReason"),
            )  # fmt: skip
        except (KeyError, TypeError) as exc:
            raise InvalidResponseError(f"not a webhook: {exc}") from None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event sent (or to send) to a subscription; ``attempts`` are ``{at, status, error, durationMs}``."""

    id: str
    webhook_id: str
    type: str
    status: str
    created_at: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    next_attempt_at: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> WebhookDelivery:
        try:
            return cls(data["id"], data["webhookId"], data["type"], data["status"], data["createdAt"],
                       list(data["attempts"]), data.get("nextAttemptAt"))  # fmt: skip
        except (KeyError, TypeError) as exc:
            raise InvalidResponseError(f"not a webhook delivery: {exc}") from None


@dataclass(frozen=True, slots=True)
class WebhookDeliveryPage:
    """Deliveries newest first; ``next_cursor`` fetches the next page (None: the last)."""

    items: list[WebhookDelivery]
    next_cursor: str | None


def _page(response: httpx.Response) -> WebhookDeliveryPage:
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise InvalidResponseError('the answer\'s "data" is not a list')
    return WebhookDeliveryPage(
        [WebhookDelivery.from_json(d) for d in body["data"]], (body.get("meta") or {}).get("next")
    )


class WebhookApi:
    """Builds the ``/api/webhooks`` operations (sans-I/O)."""

    def __init__(self, root_url: str, api_key: str) -> None:
        self.base = f"{root_url}/api/webhooks"
        self.api_key = api_key

    def _request(self, method: str, path: str = "", body: Any = None, params: Sequence[tuple[str, str]] = ()) -> Any:
        return httpx.Request(method, self.base + path, params=tuple(params), headers=headers(apikey=self.api_key),
                             json=body)  # fmt: skip

    @staticmethod
    def _id(value: str, name: str = "webhook_id") -> str:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
        return "/" + quote(value, safe="")

    def create(self, url: str, events: Sequence[str], description: str) -> Operation[Webhook]:
        body = {"url": url, "events": list(events), "description": description}
        return Operation(self._request("POST", body=body), lambda r: Webhook.from_json(data_of(r)))

    def list(self) -> Operation[list[Webhook]]:
        return Operation(self._request("GET"), lambda r: [Webhook.from_json(d) for d in data_of(r)])

    def get(self, webhook_id: str) -> Operation[Webhook]:
        return Operation(self._request("GET", self._id(webhook_id)), lambda r: Webhook.from_json(data_of(r)))

    def update(self, webhook_id: str, changes: Mapping[str, Any]) -> Operation[Webhook]:
        body = {name: value for name, value in changes.items() if value is not None}
        if not body:
            raise ValueError("give at least one of url, events, description, enabled")
        request = self._request("PATCH", self._id(webhook_id), body=body)
        return Operation(request, lambda r: Webhook.from_json(data_of(r)))

    def delete(self, webhook_id: str) -> Operation[None]:
        return Operation(self._request("DELETE", self._id(webhook_id)), lambda r: data_of(r) and None)

    def deliveries(self, webhook_id: str, limit: int, cursor: str | None) -> Operation[WebhookDeliveryPage]:
        params = [("limit", str(limit)), *([("cursor", cursor)] if cursor else [])]
        return Operation(self._request("GET", f"{self._id(webhook_id)}/deliveries", params=params), _page)

    def retry(self, webhook_id: str, delivery_id: str) -> Operation[WebhookDelivery]:
        path = f"{self._id(webhook_id)}/deliveries{self._id(delivery_id, 'delivery_id')}/retry"
        return Operation(self._request("POST", path), lambda r: WebhookDelivery.from_json(data_of(r)))


class WebhookMethods:
    """The webhook calls of :class:`~calltrail_sdk.CalltrailClient`."""

    _http: httpx.Client
    _webhooks: WebhookApi

    def create_webhook(self, url: str, events: Sequence[str] = ("*",), description: str = "") -> Webhook:
        """Subscribe ``url`` to event types (``"*"``: all); the answer carries the secret."""
        return run(self._http, self._webhooks.create(url, events, description))

    def list_webhooks(self) -> list[Webhook]:
        """Every subscription, oldest first (without secrets)."""
        return run(self._http, self._webhooks.list())

    def get_webhook(self, webhook_id: str) -> Webhook:
        """One subscription, with its secret; a disabled one says why."""
        return run(self._http, self._webhooks.get(webhook_id))

    def update_webhook(
        self, webhook_id: str, *, url: str | None = None, events: Sequence[str] | None = None,
        description: str | None = None, enabled: bool | None = None,
    ) -> Webhook:  # fmt: skip
        """Change a subscription; ``enabled=True`` re-enables a disabled one."""
        changes = {"url": url, "events": None if events is None else list(events), "description": description,
                   "enabled": enabled}  # fmt: skip
        return run(self._http, self._webhooks.update(webhook_id, changes))

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete a subscription with its deliveries."""
        run(self._http, self._webhooks.delete(webhook_id))

    def list_webhook_deliveries(
        self, webhook_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> WebhookDeliveryPage:
        """A page of deliveries, newest first, each with its attempts."""
        return run(self._http, self._webhooks.deliveries(webhook_id, limit, cursor))

    def retry_webhook_delivery(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Send a delivery again now (same ``webhook-id`` and body)."""
        return run(self._http, self._webhooks.retry(webhook_id, delivery_id))


class AsyncWebhookMethods:
    """The webhook calls of :class:`~calltrail_sdk.AsyncCalltrailClient` (awaited)."""

    _http: httpx.AsyncClient
    _webhooks: WebhookApi

    async def create_webhook(self, url: str, events: Sequence[str] = ("*",), description: str = "") -> Webhook:
        """See :meth:`WebhookMethods.create_webhook`."""
        return await run_async(self._http, self._webhooks.create(url, events, description))

    async def list_webhooks(self) -> list[Webhook]:
        """See :meth:`WebhookMethods.list_webhooks`."""
        return await run_async(self._http, self._webhooks.list())

    async def get_webhook(self, webhook_id: str) -> Webhook:
        """See :meth:`WebhookMethods.get_webhook`."""
        return await run_async(self._http, self._webhooks.get(webhook_id))

    async def update_webhook(
        self, webhook_id: str, *, url: str | None = None, events: Sequence[str] | None = None,
        description: str | None = None, enabled: bool | None = None,
    ) -> Webhook:  # fmt: skip
        """See :meth:`WebhookMethods.update_webhook`."""
        changes = {"url": url, "events": None if events is None else list(events), "description": description,
                   "enabled": enabled}  # fmt: skip
        return await run_async(self._http, self._webhooks.update(webhook_id, changes))

    async def delete_webhook(self, webhook_id: str) -> None:
        """See :meth:`WebhookMethods.delete_webhook`."""
        await run_async(self._http, self._webhooks.delete(webhook_id))

    async def list_webhook_deliveries(
        self, webhook_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> WebhookDeliveryPage:
        """See :meth:`WebhookMethods.list_webhook_deliveries`."""
        return await run_async(self._http, self._webhooks.deliveries(webhook_id, limit, cursor))

    async def retry_webhook_delivery(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """See :meth:`WebhookMethods.retry_webhook_delivery`."""
        return await run_async(self._http, self._webhooks.retry(webhook_id, delivery_id))
