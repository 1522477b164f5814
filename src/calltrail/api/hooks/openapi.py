"""OpenAPI description of ``POST /hooks/{integrationId}``, one request body per provider."""

from __future__ import annotations

from typing import Any

REF = "#/components/schemas/"
_ERROR = {"content": {"application/json": {"schema": {"$ref": REF + "HookError"}}}}

#: Each provider: the media types it posts and how it authenticates.
PROVIDERS = {
    "livekit": (
        ("application/webhook+json",),
        "LiveKit's webhook `WebhookEvent` (protobuf JSON). `Authorization`: an HS256 JWT signed with the API "
        "secret, `iss` = the API key, `sha256` = base64 SHA-256 of the raw body.",
    ),
    "janus": (
        ("application/json",),
        "Events of Janus' HTTP event handler (`janus.eventhandler.sampleevh`): one event or an array. HTTP Basic.",
    ),
    "cometchat": (
        ("application/json",),
        "CometChat's call and meeting webhooks `{trigger, data, type, appId, region, webhook}`. HTTP Basic.",
    ),
    "twilio": (
        ("application/x-www-form-urlencoded",),
        "Twilio status callbacks. `X-Twilio-Signature`: HMAC-SHA1 with the auth token over the URL Twilio "
        "called (the integration's `--public-url` + `/hooks/<id>` when set) and the sorted POST parameters.",
    ),
    "freeswitch": (
        ("application/json", "application/x-www-form-urlencoded"),
        "A FreeSWITCH `mod_json_cdr` CDR (JSON, or a form field `cdr=`), one per call leg. HTTP Basic (`cred`).",
    ),
    "kamailio": (
        ("application/json",),
        "A dialog report of `contrib/kamailio/kamailio.cfg` (start, ringing, answered, end, failed). HTTP Basic.",
    ),
}


def components() -> dict[str, Any]:
    """The error schema and the Basic scheme of inbound webhooks."""
    return {
        "schemas": {
            "HookError": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string", "example": "ERR_HOOK_UNAUTHORIZED"},
                            "message": {"type": "string"},
                            "details": {
                                "type": "object",
                                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    }
                },
            },
            "HookResult": {
                "type": "object",
                "properties": {
                    "data": {
                        "type": "object",
                        "properties": {
                            "accepted": {"type": "integer", "description": "Native events newly stored."},
                            "duplicates": {"type": "integer", "description": "Events already stored (redelivery)."},
                            "ignored": {"type": "integer", "description": "Provider events Calltrail does not use."},
                        },
                    }
                },
            },
        },
        "securitySchemes": {
            "HookBasic": {
                "type": "http",
                "scheme": "basic",
                "description": "The username and password `calltrail integrations create` printed (janus, "
                "cometchat, freeswitch, kamailio). LiveKit and Twilio sign their requests instead.",
            }
        },
    }


def paths() -> dict[str, Any]:
    """The ``/hooks/{integrationId}`` endpoint."""
    content: dict[str, Any] = {}
    for provider, (media_types, description) in PROVIDERS.items():
        for media_type in media_types:
            content.setdefault(media_type, {"schema": {"description": "", "oneOf": []}})
            content[media_type]["schema"]["oneOf"].append(
                {"title": provider, "type": "object" if "json" in media_type else "string", "description": description}
            )
    return {
        "/hooks/{integrationId}": {
            "post": {
                "tags": ["Inbound webhooks"],
                "operationId": "postHook",
                "summary": "Receive a provider's webhook (LiveKit, Janus, CometChat, Twilio, FreeSWITCH, Kamailio)",
                "description": "The provider's payload exactly as it sends it. Its authentication is checked first "
                "(a bad or missing signature or password, or an unknown integration: 401, nothing stored); a "
                "malformed payload is 400; event types Calltrail does not use are answered 200 and counted as "
                "`ignored`; otherwise the answer comes after the translated events are durably committed, "
                "idempotently (the provider's event id, or a key derived from the payload).",
                "security": [{"HookBasic": []}, {}],
                "parameters": [
                    {
                        "name": "integrationId",
                        "in": "path",
                        "required": True,
                        "description": "The id `calltrail integrations create` printed.",
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "requestBody": {"required": True, "content": content},
                "responses": {
                    "200": {
                        "description": "Stored (or ignored), durably.",
                        "content": {"application/json": {"schema": {"$ref": REF + "HookResult"}}},
                    },
                    "400": {"description": "A malformed payload; `details` names what is wrong.", **_ERROR},
                    "401": {"description": "Authentication failed, or no such integration.", **_ERROR},
                    "413": {"description": "A body over 8 MiB.", **_ERROR},
                    "503": {"description": "The database is unavailable.", **_ERROR},
                },
            }
        }
    }
