"""OpenAPI description of the Bird dialect, generated from the tables the parsers use
(:data:`calltrail.voice.filters.LIST_PARAMS`, :data:`calltrail.voice.fields.RECORD_FIELDS`,
the enumerations of :mod:`calltrail.voice.vocabulary`), so it cannot drift from what the
server accepts."""

from __future__ import annotations

from typing import Any

from calltrail.api.openapi import error_details_schema, event_batch_body
from calltrail.voice.events import DERIVED_FIELDS, MAX_BATCH
from calltrail.voice.fields import MAX_TAGS, REQUIRED_FIELDS
from calltrail.voice.filters import LIMIT_DEFAULT, LIMIT_MAX, LIST_PARAMS, MAX_PAGE_TOKEN, WORKSPACE_PARAMS, Param
from calltrail.voice.vocabulary import CALL_TYPES, DIRECTIONS, HANGUP_SOURCES, SIP_TYPES, STATUSES

REF = "#/components/schemas/"
_UUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time", "example": "2023-10-26T15:26:47.77Z"}
_TEXT = {"type": "string", "maxLength": 255}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}

#: The schema of each record field; keys equal :data:`RECORD_FIELDS` (checked by the tests).
RECORD_SCHEMAS: dict[str, dict[str, Any]] = {
    "id": {**_UUID, "description": "The call's id."},
    "channelId": _UUID,
    "originator": {"$ref": REF + "BirdParty"},
    "receiver": {"$ref": REF + "BirdParty"},
    "from": _TEXT,
    "to": _TEXT,
    "parentId": {**_UUID, "description": "The call this one is a leg of."},
    "direction": {"type": "string", "enum": list(DIRECTIONS)},
    "status": {"type": "string", "enum": list(STATUSES)},
    "reason": {"type": "string", "maxLength": 1024},
    "type": {"type": "string", "enum": list(CALL_TYPES)},
    "duration": {"type": "integer", "minimum": 0, "description": "Seconds."},
    "hangupCauseCode": {"type": "integer", "minimum": 0},
    "hangupSource": {"type": ["string", "null"], "enum": [*HANGUP_SOURCES, None]},
    "hangupSipCode": _TEXT,
    "callFlow": {"$ref": REF + "BirdCallFlow"},
    "sipInsights": {**_STRINGS, "example": {"hangupSipCode": "200", "edgeRegion": "eu-west-1"}},
    "qualityInsights": {**_STRINGS, "example": {"mos": "4.47", "pdd": "1.23"}},
    "amdResult": _STRINGS,
    "sipType": {"type": "string", "enum": list(SIP_TYPES)},
    "notification": {"type": "object", "additionalProperties": False, "properties": {"url": {"type": "string"}}},
    "tags": {"type": "array", "maxItems": MAX_TAGS, "items": {"type": "string", "maxLength": 100}},
    "createdAt": _TIME,
    "updatedAt": _TIME,
    "ringingAt": _TIME,
    "answeredAt": _TIME,
    "endedAt": _TIME,
    "scheduledFor": _TIME,
}

_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT},
    "token": {"type": "string", "maxLength": MAX_PAGE_TOKEN},
    "datetime": {"type": "string", "format": "date-time"},
    "text": {"type": "string", "minLength": 1, "maxLength": 100},
    "int": {"type": "integer", "minimum": 0},
    "uuid": _UUID,
    "tag": {"type": "string", "minLength": 1, "maxLength": 100},
}


def query_parameter(param: Param) -> dict[str, Any]:
    """The OpenAPI parameter object of one list parameter."""
    schema = (
        {"type": "string", "enum": list(param.choices)} if param.kind == "enum" else dict(_KIND_SCHEMAS[param.kind])
    )
    if param.repeatable:
        schema = {"type": "array", "items": schema}
    described: dict[str, Any] = {
        "name": param.name,
        "in": "query",
        "required": False,
        "description": param.description,
        "schema": schema,
    }
    if param.repeatable:
        described |= {"style": "form", "explode": True}
    if param.example is not None:
        described["example"] = param.example
    return described


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF + "BirdError"}}}}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF + schema}}}}


def _path(name: str, description: str) -> dict[str, Any]:
    schema = {"type": "string"} if name == "workspaceId" else _UUID
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


WORKSPACE = _path("workspaceId", "The workspace: the Calltrail app id of the key.")
CHANNEL = _path("channelId", "The channel (phone line or SIP trunk).")
CALL = _path("callId", "The call.")
AUTH_ERRORS = {
    "401": _error("Missing, malformed or unknown key (`WWW-Authenticate: AccessKey`)."),
    "403": _error("The key is not a fullAccess key."),
}
NOT_FOUND = _error("The workspace, channel or call does not exist or is not visible to the key.")
INVALID = _error("The request did not pass validation: `details` names each parameter or field at fault.")
CONFLICT = _error("The call belongs to another channel of the workspace.")


def components() -> dict[str, Any]:
    """Schemas and security schemes of this dialect."""
    party_number = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "enum": list(CALL_TYPES)},
            "number": _TEXT,
            "anonymous": {"type": "boolean"},
            "callerIdName": _TEXT,
            "identity": _TEXT,
            "countryIsoCode": _TEXT,
            "pstnNumberType": _TEXT,
        },
    }
    contact = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"id": _TEXT, "identifierKey": _TEXT, "identifierValue": _TEXT},
    }
    command = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "id": _UUID,
            "callId": _UUID,
            "callFlowId": _UUID,
            "status": _TEXT,
            "command": {"type": "string", "example": "say"},
            "conditions": {
                "type": "array",
                "items": {"type": "object", "properties": {"variable": _TEXT, "operator": _TEXT, "value": _TEXT}},
            },
        },
    }
    event_fields = {name: schema for name, schema in RECORD_SCHEMAS.items() if name not in DERIVED_FIELDS}
    return {
        "securitySchemes": {
            "AccessKey": {
                "type": "http",
                "scheme": "AccessKey",
                "description": "`Authorization: AccessKey <key>` with a fullAccess Calltrail key (Bird's scheme).",
            },
            "BirdBearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "`Authorization: Bearer <key>`: the same key, as Bird's older examples send it.",
            },
        },
        "schemas": {
            "BirdParty": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"contact": contact, "number": party_number},
            },
            "BirdCallFlow": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"id": _UUID, "commands": {"type": "array", "items": command}},
            },
            "BirdCall": {
                "type": "object",
                "additionalProperties": False,
                "description": "A telephony call. Fields without a value are absent (never null).",
                "required": list(REQUIRED_FIELDS),
                "properties": RECORD_SCHEMAS,
            },
            "BirdCallList": {
                "type": "object",
                "required": ["results"],
                "properties": {
                    "results": {"type": "array", "items": {"$ref": REF + "BirdCall"}},
                    "nextPageToken": {
                        "type": "string",
                        "description": "Pass as `pageToken` for the next page; absent on the last page.",
                    },
                },
            },
            "BirdStatusEvent": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "callId", "status", "at"],
                "properties": {
                    "id": {"type": "string", "maxLength": 255, "description": "Idempotency key, unique per workspace."},
                    "callId": _UUID,
                    "status": {"type": "string", "enum": list(STATUSES)},
                    "at": {
                        "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
                        "description": "When the call reached the status: RFC 3339, or Unix seconds.",
                    },
                    "channelId": {**_UUID, "description": "Optional; must equal the path's channel."},
                    **event_fields,
                },
            },
            "BirdError": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "example": "InvalidPayload"},
                    "message": {"type": "string"},
                    "details": error_details_schema("`limit`, `events[3].at`"),
                },
            },
        },
    }


def paths() -> dict[str, Any]:
    """The ``/workspaces/...`` endpoints."""
    security: list[dict[str, list[str]]] = [{"AccessKey": []}, {"BirdBearer": []}]
    order = (
        "Newest `createdAt` first, ties by `id` descending; keyset pagination, so every page costs the same. "
        "Unknown or malformed parameters are rejected with 422, never ignored."
    )
    listing = {"200": _ok("A page of calls.", "BirdCallList"), **AUTH_ERRORS, "404": NOT_FOUND, "422": INVALID}
    event = {"$ref": REF + "BirdStatusEvent"}
    base = "/workspaces/{workspaceId}/channels"
    return {
        f"{base}/{{channelId}}/calls": {
            "get": {
                "tags": ["Bird Voice"],
                "operationId": "birdListChannelCalls",
                "summary": "List calls from a channel",
                "description": order,
                "security": security,
                "parameters": [WORKSPACE, CHANNEL, *(query_parameter(p) for p in LIST_PARAMS.values())],
                "responses": listing,
            }
        },
        f"{base}/calls": {
            "get": {
                "tags": ["Bird Voice"],
                "operationId": "birdListWorkspaceCalls",
                "summary": "Get calls log (every channel of the workspace)",
                "description": order,
                "security": security,
                "parameters": [WORKSPACE, *(query_parameter(p) for p in WORKSPACE_PARAMS.values())],
                "responses": listing,
            }
        },
        f"{base}/{{channelId}}/calls/{{callId}}": {
            "get": {
                "tags": ["Bird Voice"],
                "operationId": "birdGetCall",
                "summary": "Get a call",
                "security": security,
                "parameters": [WORKSPACE, CHANNEL, CALL],
                "responses": {"200": _ok("The call.", "BirdCall"), **AUTH_ERRORS, "404": NOT_FOUND},
            },
            "put": {
                "tags": ["Bird Ingestion"],
                "operationId": "birdPutCall",
                "summary": "Import a whole call record",
                "description": "Replaces the stored call; served back exactly as sent. `id` and `channelId` default "
                "to the path's. Status events that arrive later for the call are stored but do not change it.",
                "security": security,
                "parameters": [WORKSPACE, CHANNEL, CALL],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": REF + "BirdCall"}}},
                },
                "responses": {
                    "200": _ok("Stored; the record as it will be served.", "BirdCall"),
                    **AUTH_ERRORS,
                    "404": NOT_FOUND,
                    "409": CONFLICT,
                    "413": _error("The body is larger than 8 MiB."),
                    "422": INVALID,
                },
            },
            "delete": {
                "tags": ["Bird Voice"],
                "operationId": "birdDeleteCall",
                "summary": "Delete a call",
                "description": "Deletes the call with its status events, tags and usage figures, in one "
                "transaction. Answers 204 with no body.",
                "security": security,
                "parameters": [WORKSPACE, CHANNEL, CALL],
                "responses": {"204": {"description": "Deleted."}, **AUTH_ERRORS, "404": NOT_FOUND},
            },
        },
        f"{base}/{{channelId}}/calls/events": {
            "post": {
                "tags": ["Bird Ingestion"],
                "operationId": "birdPostStatusEvents",
                "summary": "Ingest call status events",
                "description": f"One event or a list of up to {MAX_BATCH}. The whole batch is validated first; an "
                "invalid batch stores nothing. Answered only after a durable commit. A repeated event id changes "
                "nothing and counts as a duplicate. The call's record is folded from all its events, whatever "
                "their order.",
                "security": security,
                "parameters": [WORKSPACE, CHANNEL],
                "requestBody": event_batch_body(event, MAX_BATCH),
                "responses": {
                    "200": {
                        "description": "Stored.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"accepted": {"type": "integer"}, "duplicates": {"type": "integer"}},
                                }
                            }
                        },
                    },
                    **AUTH_ERRORS,
                    "404": NOT_FOUND,
                    "409": CONFLICT,
                    "413": _error("The body is larger than 8 MiB."),
                    "422": INVALID,
                },
            }
        },
    }
