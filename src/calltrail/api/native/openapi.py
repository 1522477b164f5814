"""OpenAPI description of ``/api``: usage series and exports, generated from the same parameter
tables the parsers use (:mod:`calltrail.usage.params` and the domains' list grammars)."""

from __future__ import annotations

from typing import Any

from calltrail.api.openapi import error_details_schema
from calltrail.sessions.filters import LIST_CALLS_PARAMS, ParamSpec, operator_names
from calltrail.sessions.vocabulary import CALL_STATUSES
from calltrail.usage.params import (
    CALL_GROUPS,
    FORMATS,
    LIMIT_DEFAULT,
    LIMIT_MAX,
    VOICE_EXPORT_PARAMS,
    VOICE_GROUPS,
    VOICE_USAGE_PARAMS,
)
from calltrail.usage.periods import INTERVALS
from calltrail.voice.filters import Param
from calltrail.voice.vocabulary import STATUSES as VOICE_STATUSES

_SESSION_KINDS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 0},
    "timestamp": {"type": "integer", "minimum": 0, "description": "Unix seconds"},
    "number": {"type": "number", "minimum": 0},
    "bool": {"type": "boolean"},
    "entity": {"type": "string", "minLength": 1, "maxLength": 100},
}
_VOICE_KINDS: dict[str, dict[str, Any]] = {
    "datetime": {"type": "string", "format": "date-time"},
    "text": {"type": "string", "minLength": 1, "maxLength": 100},
    "int": {"type": "integer", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
    "tag": {"type": "string", "minLength": 1, "maxLength": 100},
}
INSTANT = {"oneOf": [{"type": "integer", "description": "Unix seconds"}, {"type": "string", "format": "date-time"}]}


def _param(name: str, description: str, schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": False, "description": description}
    param["schema"] = schema
    if example is not None:
        param["example"] = example
    return param


def _session_filters() -> list[dict[str, Any]]:
    params = []
    for spec in LIST_CALLS_PARAMS.values():
        schema = _session_schema(spec)
        params += [_param(key, spec.description, schema, spec.example) for key in operator_names(spec)]
    return params


def _session_schema(spec: ParamSpec) -> dict[str, Any]:
    if spec.kind == "enum":
        return {"type": "string", "enum": list(spec.choices)}
    if spec.kind == "enum_list":
        return {"type": "array", "items": {"type": "string", "enum": list(spec.choices)}}
    return dict(_SESSION_KINDS[spec.kind])


def _voice_filters(params: dict[str, Param]) -> list[dict[str, Any]]:
    found = []
    for param in params.values():
        schema = {"type": "string", "enum": list(param.choices)} if param.kind == "enum" else _VOICE_KINDS[param.kind]
        if param.repeatable:
            schema = {"type": "array", "items": schema}
        found.append(_param(param.name, param.description, schema, param.example))
    return found


def _period(groups: tuple[str, ...], uid_limit: bool) -> list[dict[str, Any]]:
    params = [
        _param("from", "Start of the range (inclusive): Unix seconds or RFC 3339. Default: `to` minus 30 days.",
               INSTANT, "2026-03-01T00:00:00Z"),
        _param("to", "End of the range (exclusive): Unix seconds or RFC 3339. Default: now. At most 5 years "
               "after `from`.", INSTANT, "2026-04-01T00:00:00Z"),
        _param("interval", "Bucket size: calendar periods in `tz` (`week`: ISO weeks from Monday); `all`: one "
               "bucket.", {"type": "string", "enum": list(INTERVALS), "default": "day"}),
        _param("tz", "IANA time zone of the buckets, e.g. `Asia/Kolkata`.", {"type": "string", "default": "UTC"},
               "Europe/Amsterdam"),
        _param("groupBy", "One row per bucket and value.", {"type": "string", "enum": list(groups)}),
    ]  # fmt: skip
    if uid_limit:
        params.append(
            _param("limit", "With `groupBy=uid`: the users with the most minutes over the whole range.",
                   {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT})
        )  # fmt: skip
    return params


def _error(description: str, codes: list[str]) -> dict[str, Any]:
    return {
        "description": description + " Codes: " + ", ".join(f"`{c}`" for c in codes) + ".",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
    }


ERRORS = {
    "400": _error("A parameter is invalid; `details` names each.", ["ERR_BAD_REQUEST"]),
    "401": _error("Missing or unknown API key.", ["AUTH_ERR_EMPTY_APIKEY", "AUTH_ERR_APIKEY_NOT_FOUND"]),
    "403": _error("The key is not a fullAccess key.", ["AUTH_ERR_NO_ACCESS"]),
}
SECURITY: list[dict[str, list[str]]] = [{"apikey": []}, {"bearerKey": []}]


def _usage(summary: str, description: str, params: list[dict[str, Any]], row: str) -> dict[str, Any]:
    body = {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{row}"}},
            "meta": {"$ref": "#/components/schemas/UsageMeta"},
        },
    }
    return {
        "get": {
            "tags": ["Usage"],
            "operationId": "usage" + row.removesuffix("UsageRow"),
            "summary": summary,
            "description": description,
            "security": SECURITY,
            "parameters": params,
            "responses": {"200": {"description": "The series.", "content": {"application/json": {"schema": body}}},
                          **ERRORS},
        }
    }  # fmt: skip


def _export(kind: str, description: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    fmt = _param("format", "File format.", {"type": "string", "enum": list(FORMATS), "default": "ndjson"})
    return {
        "get": {
            "tags": ["Exports"],
            "operationId": f"export{kind.title()}",
            "summary": f"Export {kind}",
            "description": description + " Streamed newest first from one snapshot, with "
            f'`Content-Disposition: attachment; filename="{kind}-<app>-<date>.<ext>"`.',
            "security": SECURITY,
            "parameters": [fmt, *params],
            "responses": {
                "200": {
                    "description": "The file.",
                    "content": {"application/x-ndjson": {"schema": {"type": "string"}},
                                "text/csv": {"schema": {"type": "string"}}},
                },
                **ERRORS,
            },
        }
    }  # fmt: skip


def paths() -> dict[str, Any]:
    """``/api/usage/*`` and ``/api/exports/*``."""
    calls = (
        "Calls are bucketed by `initiatedAt`; every bucket is present, zeros included. Filters: every filter "
        "of `GET /v3/calls`. Minutes are counted to the millisecond. `peakConcurrent`: the most of the row's "
        "calls in progress (startedAt to endedAt, or now while ongoing) at one instant inside the bucket."
    )
    voice = "Phone calls are bucketed by `createdAt`; filters: the Bird list's (`fromNumber`/`toNumber` for its " \
        "`from`/`to`), `channelId` repeatable. `peakConcurrent` runs from `answeredAt` to `endedAt`."  # fmt: skip
    return {
        "/api/usage/calls": _usage("Usage of calls", calls, [*_period(CALL_GROUPS, True), *_session_filters()],
                                   "CallUsageRow"),
        "/api/usage/voice": _usage("Usage of phone calls", voice,
                                   [*_period(VOICE_GROUPS, False), *_voice_filters(VOICE_USAGE_PARAMS)],
                                   "VoiceUsageRow"),
        "/api/exports/calls": _export("calls", "Every matching call: NDJSON lines are the list's records; CSV "
                                      "rows their scalar fields.", _session_filters()),
        "/api/exports/participants": _export("participants", "One row per participant entry, with its call's "
                                             "`sessionId` (filters select the calls).", _session_filters()),
        "/api/exports/voice": _export("voice", "Every matching phone call (CSV adds `mos` and `pdd` from "
                                      "`qualityInsights`).", _voice_filters(VOICE_EXPORT_PARAMS)),
    }  # fmt: skip


def _counts(names: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "object", "properties": {name: {"type": "integer"} for name in names}}


def components() -> dict[str, Any]:
    """Schemas and security schemes of ``/api``."""
    number = {"type": "number"}
    common = {"period": {"type": "string", "format": "date-time"}, "group": {"description": "With `groupBy`."},
              "calls": {"type": "integer"}, "peakConcurrent": {"type": "integer"}}  # fmt: skip
    call_row = {
        "type": "object",
        "properties": {
            **common,
            "statuses": _counts(CALL_STATUSES),
            **{name: number for name in ("totalMinutes", "audioMinutes", "videoMinutes", "participantMinutes",
                                         "avgDurationMinutes")},
            "missed": {"type": "integer", "description": "With `groupBy=uid`: calls the user missed."},
        },
    }  # fmt: skip
    voice_row = {
        "type": "object",
        "properties": {
            **common,
            "statuses": _counts(VOICE_STATUSES),
            "answered": {"type": "integer"},
            "asr": number,
            "acdSeconds": number,
            "durationSeconds": {"type": "integer"},
            "billableMinutes": {"type": "integer"},
            "avgPddSeconds": {"type": ["number", "null"]},
            "avgMos": {"type": ["number", "null"]},
        },
    }
    fields: dict[str, Any] = {name: {"type": "string"} for name in ("from", "to", "interval", "tz")}
    meta = {"type": "object", "properties": {**fields, "groupBy": {"type": ["string", "null"]}}}
    error = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "details": error_details_schema("`tz`, `groupBy`")},
            }
        },
    }  # fmt: skip
    return {
        "securitySchemes": {
            "bearerKey": {"type": "http", "scheme": "bearer", "description": "A fullAccess Calltrail API key."},
        },
        "schemas": {"CallUsageRow": call_row, "VoiceUsageRow": voice_row, "UsageMeta": meta, "ApiError": error},
    }
