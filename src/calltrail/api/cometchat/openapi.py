"""OpenAPI description of the CometChat dialect, generated from the same tables the parsers
use (:data:`calltrail.sessions.filters.LIST_CALLS_PARAMS`, :data:`calltrail.sessions.events.EVENT_TYPES`),
so the document cannot drift from what the server accepts."""

from __future__ import annotations

from typing import Any

from calltrail.api.openapi import error_details_schema, event_batch_body
from calltrail.sessions.events import EVENT_TYPES, MAX_BATCH
from calltrail.sessions.filters import LIST_CALLS_PARAMS, ParamSpec, operator_names
from calltrail.sessions.vocabulary import CALL_MODES, CALL_STATUSES, PARTICIPANT_STATES, RECEIVER_TYPES

_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 0},
    "timestamp": {"type": "integer", "minimum": 0, "description": "Unix seconds"},
    "number": {"type": "number", "minimum": 0},
    "bool": {"type": "boolean"},
    "entity": {"type": "string", "minLength": 1, "maxLength": 100},
}


def _schema(spec: ParamSpec) -> dict[str, Any]:
    if spec.kind == "enum":
        return {"type": "string", "enum": list(spec.choices)}
    if spec.kind == "enum_list":
        return {"type": "array", "items": {"type": "string", "enum": list(spec.choices)}}
    return dict(_KIND_SCHEMAS[spec.kind])


def query_parameters(specs: dict[str, ParamSpec]) -> list[dict[str, Any]]:
    """One OpenAPI parameter per accepted key (``initiatedAt``, ``initiatedAt[gte]``, ...)."""
    params = []
    for spec in specs.values():
        for key in operator_names(spec):
            param: dict[str, Any] = {
                "name": key,
                "in": "query",
                "required": False,
                "description": spec.description,
                "schema": _schema(spec),
            }
            if spec.kind == "enum_list":
                param["style"] = "form"
                param["explode"] = False
            if spec.example is not None:
                param["example"] = spec.example
            params.append(param)
    return params


def page_parameters(per_page_default: int, per_page_max: int) -> list[dict[str, Any]]:
    """``page`` and ``perPage``."""
    return [
        {
            "name": "page",
            "in": "query",
            "required": False,
            "description": "1-based page number.",
            "schema": {"type": "integer", "minimum": 1, "default": 1},
        },
        {
            "name": "perPage",
            "in": "query",
            "required": False,
            "description": "Calls per page.",
            "schema": {"type": "integer", "minimum": 1, "maximum": per_page_max, "default": per_page_default},
        },
    ]


def error_response(description: str, code_examples: list[str]) -> dict[str, Any]:
    """A response in CometChat's error envelope."""
    return {
        "description": description + " Codes: " + ", ".join(f"`{c}`" for c in code_examples) + ".",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CometChatError"}}},
    }


ON_BEHALF_OF = {
    "name": "onBehalfOf",
    "in": "header",
    "required": False,
    "description": "A uid: only calls that user is part of (initiator, receiver, participant or invitee).",
    "schema": {"type": "string", "maxLength": 100},
}
SESSION_ID = {"name": "sessionId", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 255}}
AUTH_ERRORS = {
    "401": error_response("Missing or unknown API key.", ["AUTH_ERR_EMPTY_APIKEY", "AUTH_ERR_APIKEY_NOT_FOUND"]),
    "403": error_response("The key is not a fullAccess key.", ["AUTH_ERR_NO_ACCESS"]),
}
BAD_REQUEST = error_response("A parameter, header or body field is invalid; `details` names each.", ["ERR_BAD_REQUEST"])


def _event_schema(event_type: str, fields: tuple[str, ...]) -> dict[str, Any]:
    field_schemas: dict[str, Any] = {
        "initiator": {"type": "string"},
        "receiver": {"type": "string"},
        "receiverType": {"type": "string", "enum": list(RECEIVER_TYPES)},
        "callType": {"type": "string", "enum": ["audio", "video", "voice"]},
        "mode": {"type": "string", "enum": list(CALL_MODES), "default": "call"},
        "invitees": {"type": "array", "items": {"type": "string"}},
        "metaData": {"oneOf": [{"type": "object"}, {"type": "array"}]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "uid": {"type": "string"},
        "deviceId": {"type": "string"},
        "rid": {"type": "string"},
        "recording_url": {"type": "string"},
        "startTime": {"$ref": "#/components/schemas/Instant"},
        "endTime": {"$ref": "#/components/schemas/Instant"},
    }
    required_extra = {
        "call.initiated": ["initiator", "receiver", "receiverType", "callType"],
        "participant.joined": ["uid"],
        "participant.left": ["uid"],
        "participant.rejected": ["uid"],
        "call.type_changed": ["callType"],
        "recording.ready": ["rid", "startTime", "endTime", "recording_url"],
    }.get(event_type, [])
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "type", "sessionId", "at", *required_extra],
        "properties": {
            "id": {"type": "string", "maxLength": 255, "description": "Idempotency key, unique per app."},
            "type": {"type": "string", "enum": [event_type]},
            "sessionId": {"type": "string", "maxLength": 255},
            "at": {"$ref": "#/components/schemas/Instant"},
            **{name: field_schemas[name] for name in fields},
        },
    }


def components() -> dict[str, Any]:
    """Schemas and security schemes of this dialect."""
    minutes = {"type": "number", "minimum": 0}
    participant = {
        "type": "object",
        "required": ["uid", "isJoined", "state"],
        "properties": {
            "uid": {"type": "string"},
            "totalAudioMinutes": minutes,
            "totalVideoMinutes": minutes,
            "totalDuration": {**minutes, "description": "Minutes (a number, unlike the call's HH:MM:SS)."},
            "isJoined": {"type": "boolean"},
            "state": {"type": "string", "enum": list(PARTICIPANT_STATES)},
            "deviceId": {"type": "string"},
            "joinedAt": {"type": "integer"},
            "leftAt": {"type": "integer"},
            "mid": {"type": "string"},
        },
    }
    recording = {
        "type": "object",
        "properties": {
            "rid": {"type": "string"},
            "duration": {**minutes, "description": "Minutes."},
            "startTime": {"type": "integer"},
            "endTime": {"type": "integer"},
            "recording_url": {"type": "string"},
        },
    }
    call = {
        "type": "object",
        "description": "A call. Fields without a value (e.g. `startedAt` of a call that never started) are absent.",
        "required": ["sessionId", "initiator", "receiver", "receiverType", "type", "status", "initiatedAt"],
        "properties": {
            "sessionId": {"type": "string"},
            "totalAudioMinutes": minutes,
            "totalVideoMinutes": minutes,
            "totalDuration": {"type": "string", "example": "00:00:19"},
            "metaData": {"oneOf": [{"type": "object"}, {"type": "array"}], "description": "Get Call only."},
            "hasRecording": {"type": "boolean"},
            "initiatedAt": {"type": "integer"},
            "initiator": {"type": "string"},
            "mode": {"type": "string", "enum": list(CALL_MODES)},
            "receiver": {"type": "string"},
            "receiverType": {"type": "string", "enum": list(RECEIVER_TYPES)},
            "status": {"type": "string", "enum": list(CALL_STATUSES)},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Get Call only."},
            "totalDurationInMinutes": minutes,
            "totalParticipants": {"type": "integer"},
            "type": {"type": "string", "enum": ["audio", "video"]},
            "mid": {"type": "string"},
            "startedAt": {"type": "integer"},
            "endedAt": {"type": "integer"},
            "participants": {"type": "array", "items": {"$ref": "#/components/schemas/Participant"}},
            "recordings": {"type": "array", "items": {"$ref": "#/components/schemas/Recording"}},
        },
    }
    return {
        "securitySchemes": {
            "apikey": {
                "type": "apiKey",
                "in": "header",
                "name": "apikey",
                "description": "A Calltrail API key (`calltrail keys create`); calls endpoints need fullAccess.",
            },
        },
        "schemas": {
            "Instant": {
                "oneOf": [{"type": "number", "description": "Unix seconds"}, {"type": "string", "format": "date-time"}]
            },
            "Call": call,
            "Participant": participant,
            "Recording": recording,
            "Pagination": {
                "type": "object",
                "properties": {
                    name: {"type": "integer"} for name in ("total", "count", "per_page", "current_page", "total_pages")
                },
            },
            "CallList": {
                "type": "object",
                "properties": {
                    "data": {"type": "array", "items": {"$ref": "#/components/schemas/Call"}},
                    "meta": {
                        "type": "object",
                        "properties": {"pagination": {"$ref": "#/components/schemas/Pagination"}},
                    },
                },
            },
            "CometChatError": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message", "details"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "details": error_details_schema("`perPage`, `events[3].at`"),
                        },
                    }
                },
            },
            **{f"Event_{t.replace('.', '_')}": _event_schema(t, fields) for t, (fields, _) in EVENT_TYPES.items()},
        },
    }


def paths() -> dict[str, Any]:
    """The ``/v3/calls`` endpoints (also served under ``/v3.0``)."""
    security: list[dict[str, list[str]]] = [{"apikey": []}]
    event = {"oneOf": [{"$ref": f"#/components/schemas/Event_{t.replace('.', '_')}"} for t in EVENT_TYPES]}
    return {
        "/v3/calls": {
            "get": {
                "tags": ["CometChat Calls"],
                "operationId": "listCalls",
                "summary": "List calls",
                "description": "Newest `initiatedAt` first, ties by `sessionId` descending. Unknown or malformed "
                "parameters are rejected with 400, never ignored. Also served under `/v3.0`.",
                "security": security,
                "parameters": [ON_BEHALF_OF, *page_parameters(100, 1000), *query_parameters(LIST_CALLS_PARAMS)],
                "responses": {
                    "200": {
                        "description": "A page of calls (without `metaData`/`tags`).",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallList"}}},
                    },
                    "400": BAD_REQUEST,
                    **AUTH_ERRORS,
                },
            },
        },
        "/v3/calls/events": {
            "post": {
                "tags": ["Ingestion"],
                "operationId": "postCallEvents",
                "summary": "Ingest call lifecycle events",
                "description": f"One event or a list of up to {MAX_BATCH}. The whole batch is validated first; an "
                "invalid batch stores nothing. Answered only after a durable commit. A repeated "
                "event id changes nothing and counts as a duplicate.",
                "security": security,
                "requestBody": event_batch_body(event, MAX_BATCH),
                "responses": {
                    "200": {
                        "description": "Stored.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "data": {
                                            "type": "object",
                                            "properties": {
                                                "accepted": {"type": "integer"},
                                                "duplicates": {"type": "integer"},
                                            },
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "400": BAD_REQUEST,
                    **AUTH_ERRORS,
                    "413": error_response("The body is larger than 8 MiB.", ["ERR_PAYLOAD_TOO_LARGE"]),
                },
            },
        },
        "/v3/calls/{sessionId}": {
            "get": {
                "tags": ["CometChat Calls"],
                "operationId": "getCall",
                "summary": "Get a call",
                "description": "The full record, with `metaData`, `tags`, `participants` and `recordings`.",
                "security": security,
                "parameters": [SESSION_ID, ON_BEHALF_OF],
                "responses": {
                    "200": {
                        "description": "The call.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"data": {"$ref": "#/components/schemas/Call"}},
                                }
                            }
                        },
                    },
                    "400": BAD_REQUEST,
                    **AUTH_ERRORS,
                    "403": error_response(
                        "Key lacks fullAccess, or `onBehalfOf` is not part of the call.",
                        ["AUTH_ERR_NO_ACCESS", "ERR_CALL_NOT_A_PART"],
                    ),
                    "404": error_response("No such call in this app.", ["ERR_CALL_SESSION_NOT_FOUND"]),
                },
            },
            "put": {
                "tags": ["Ingestion"],
                "operationId": "putCall",
                "summary": "Import a whole call record",
                "description": "Replaces the stored record; served back field for field as sent. The body is a "
                'record in the read shape, bare or wrapped in `{"data": ...}`.',
                "security": security,
                "parameters": [SESSION_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Call"}}},
                },
                "responses": {
                    "200": {
                        "description": "Stored.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"data": {"$ref": "#/components/schemas/Call"}},
                                }
                            }
                        },
                    },
                    "400": BAD_REQUEST,
                    **AUTH_ERRORS,
                    "413": error_response("The body is larger than 8 MiB.", ["ERR_PAYLOAD_TOO_LARGE"]),
                },
            },
            "delete": {
                "tags": ["CometChat Calls"],
                "operationId": "deleteCall",
                "summary": "Delete a call",
                "description": "Deletes the call, its stored events and everything derived from it (member rows, "
                "totals, usage figures), in one transaction. A call that came from a Janus room comes back if a "
                "later fact of that room arrives (the room's facts are kept).",
                "security": security,
                "parameters": [SESSION_ID],
                "responses": {
                    "200": {
                        "description": "Deleted.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "data": {
                                            "type": "object",
                                            "properties": {
                                                "success": {"type": "boolean", "const": True},
                                                "sessionId": {"type": "string"},
                                                "message": {"type": "string"},
                                            },
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "400": BAD_REQUEST,
                    **AUTH_ERRORS,
                    "404": error_response("No such call in this app.", ["ERR_CALL_SESSION_NOT_FOUND"]),
                },
            },
        },
    }
