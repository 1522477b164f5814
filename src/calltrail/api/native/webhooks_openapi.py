"""OpenAPI description of ``/api/webhooks`` and of the events Calltrail sends to subscribers."""

from __future__ import annotations

from typing import Any

from calltrail.api.native.webhooks import LIMIT_DEFAULT, LIMIT_MAX
from calltrail.outbound.backoff import SCHEDULE
from calltrail.outbound.events import EVENT_TYPES, WILDCARD
from calltrail.outbound.guard import MAX_URL_LENGTH
from calltrail.outbound.subscriptions import MAX_DESCRIPTION

SECURITY: list[dict[str, list[str]]] = [{"apikey": []}, {"bearerKey": []}]
TAGS = ["Webhooks"]
_DELIVERY = (
    "Each event is POSTed as `{type, timestamp, data}`, signed as Standard Webhooks says (`webhook-id`, stable "
    "across retries; `webhook-timestamp`; `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>` keyed "
    "with the secret). A 2xx answer within 10 s is a success; anything else is retried after "
    + ", ".join(f"{ms // 1000} s" if ms < 60_000 else f"{ms // 60_000} min" for ms in SCHEDULE[:4])
    + " and then up to 8 h apart (±20 % jitter), for about 32 hours. A 410 disables the subscription, as does a "
    "failing streak of 5 days. Deliveries to one subscription go in commit order."
)


def _error(description: str, codes: list[str]) -> dict[str, Any]:
    return {
        "description": description + " Codes: " + ", ".join(f"`{c}`" for c in codes) + ".",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
    }


_AUTH = {
    "401": _error("Missing or unknown API key.", ["AUTH_ERR_EMPTY_APIKEY", "AUTH_ERR_APIKEY_NOT_FOUND"]),
    "403": _error("The key is not a fullAccess key.", ["AUTH_ERR_NO_ACCESS"]),
}
_BAD = {"400": _error("A field or parameter is invalid; `details` names each.", ["ERR_BAD_REQUEST"])}
_MISSING = {"404": _error("No such webhook.", ["ERR_WEBHOOK_NOT_FOUND"])}
_ID = {"name": "webhookId", "in": "path", "required": True, "schema": {"type": "string"}}


def _data(schema: dict[str, Any], description: str) -> dict[str, Any]:
    body = {"type": "object", "required": ["data"], "properties": {"data": schema}}
    return {"description": description, "content": {"application/json": {"schema": body}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _op(operation_id: str, summary: str, description: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "tags": TAGS,
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": SECURITY,
        **extra,
        "responses": {**responses, **_AUTH},
    }


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def paths() -> dict[str, Any]:
    """``/api/webhooks`` and its sub-resources."""
    page = [
        {"name": "limit", "in": "query", "required": False, "description": "Deliveries per page.",
         "schema": {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT}},
        {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "`meta.next` of the previous page."},
    ]  # fmt: skip
    delivery_page = {
        "description": "Deliveries, newest first.",
        "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {"data": {"type": "array", "items": _ref("WebhookDelivery")},
                           "meta": {"type": "object", "properties": {"next": {"type": ["string", "null"]}}}},
        }}},
    }  # fmt: skip
    with_secret = _ref("WebhookWithSecret")
    return {
        "/api/webhooks": {
            "post": _op("createWebhook", "Subscribe to events", _DELIVERY,
                        {"201": _data(with_secret, "The subscription, with its secret (shown here and on GET of "
                                      "this one subscription only)."), **_BAD},
                        requestBody=_body("WebhookCreate")),
            "get": _op("listWebhooks", "List subscriptions", "Oldest first, without secrets.",
                       {"200": _data({"type": "array", "items": _ref("Webhook")}, "Every subscription.")}),
        },
        "/api/webhooks/{webhookId}": {
            "get": _op("getWebhook", "Get a subscription", "With its secret; a disabled one says why.",
                       {"200": _data(with_secret, "The subscription."), **_MISSING}, parameters=[_ID]),
            "patch": _op("updateWebhook", "Change a subscription",
                         "Enabling a disabled subscription clears its failing streak; its pending deliveries are "
                         "then sent.", {"200": _data(_ref("Webhook"), "The subscription."), **_BAD, **_MISSING},
                         parameters=[_ID], requestBody=_body("WebhookPatch")),
            "delete": _op("deleteWebhook", "Delete a subscription", "With its deliveries and their attempts.",
                          {"200": _data({"type": "object", "properties": {"id": {"type": "string"},
                                                                          "deleted": {"type": "boolean"}}},
                                        "Deleted."), **_MISSING}, parameters=[_ID]),
        },
        "/api/webhooks/{webhookId}/deliveries": {
            "get": _op("listWebhookDeliveries", "List deliveries", "Each with every attempt.",
                       {"200": delivery_page, **_BAD, **_MISSING}, parameters=[_ID, *page]),
        },
        "/api/webhooks/{webhookId}/deliveries/{deliveryId}/retry": {
            "post": _op("retryWebhookDelivery", "Send a delivery again now",
                        "Any delivery, whatever its status, with the same `webhook-id` and body and a fresh retry "
                        "schedule; it keeps its place in commit order.",
                        {"202": _data(_ref("WebhookDelivery"), "Queued."),
                         "404": _error("No such webhook or delivery.",
                                       ["ERR_WEBHOOK_NOT_FOUND", "ERR_DELIVERY_NOT_FOUND"]),
                         "409": _error("The subscription is disabled.", ["ERR_CONFLICT"])},
                        parameters=[_ID, {"name": "deliveryId", "in": "path", "required": True,
                                          "schema": {"type": "string"}}]),
        },
    }  # fmt: skip


def components() -> dict[str, Any]:
    """The subscription, delivery and event schemas."""
    events = {"type": "array", "minItems": 1, "uniqueItems": True,
              "items": {"type": "string", "enum": [*EVENT_TYPES, WILDCARD]}}  # fmt: skip
    url = {"type": "string", "format": "uri", "maxLength": MAX_URL_LENGTH, "description": "http or https."}
    description = {"type": "string", "maxLength": MAX_DESCRIPTION}
    webhook: dict[str, Any] = {
        "type": "object",
        "required": ["id", "url", "events", "description", "enabled", "createdAt", "updatedAt"],
        "properties": {
            "id": {"type": "string"}, "url": url, "events": events, "description": description,
            "enabled": {"type": "boolean"},
            "disabledReason": {"type": "string", "description": "Present when disabled."},
            "disabledAt": {"type": "string", "format": "date-time"},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
        },
    }  # fmt: skip
    secret = {"type": "string", "description": "`whsec_` + base64 of 32 random bytes."}
    attempt = {
        "type": "object",
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "status": {"type": ["integer", "null"], "description": "The HTTP status; null after a network error."},
            "error": {"type": ["string", "null"], "description": "The network error, timeout or guard refusal."},
            "durationMs": {"type": "integer"},
        },
    }
    delivery = {
        "type": "object",
        "properties": {
            "id": {"type": "string"}, "webhookId": {"type": "string", "description": "The `webhook-id` header."},
            "type": {"type": "string", "enum": list(EVENT_TYPES)},
            "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "createdAt": {"type": "string", "format": "date-time"},
            "nextAttemptAt": {"type": "string", "format": "date-time", "description": "While pending."},
            "attempts": {"type": "array", "items": attempt},
        },
    }  # fmt: skip
    event = {
        "type": "object",
        "description": "The body of each webhook request. `data`: for `call.ended` and `call.updated` the record "
        "as `GET /v3/calls/{sessionId}` returns it; for `call.missed` `{uid, call}`; for `recording.ready` "
        "`{sessionId, recording}`; for `voice.call.ended` the call as the Bird API returns it.",
        "required": ["type", "timestamp", "data"],
        "properties": {"type": {"type": "string", "enum": list(EVENT_TYPES)},
                       "timestamp": {"type": "string", "format": "date-time"}, "data": {}},
    }  # fmt: skip
    return {
        "schemas": {
            "Webhook": webhook,
            "WebhookWithSecret": {**webhook, "properties": {**webhook["properties"], "secret": secret},
                                  "required": [*webhook["required"], "secret"]},
            "WebhookCreate": {"type": "object", "required": ["url"], "additionalProperties": False,
                              "properties": {"url": url, "events": {**events, "default": [WILDCARD]},
                                             "description": description}},
            "WebhookPatch": {"type": "object", "minProperties": 1, "additionalProperties": False,
                             "properties": {"url": url, "events": events, "description": description,
                                            "enabled": {"type": "boolean"}}},
            "WebhookDelivery": delivery,
            "WebhookEvent": event,
        },
    }  # fmt: skip
