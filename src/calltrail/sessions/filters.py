"""The query-string grammar of CometChat's call-log endpoints.

Pure: no I/O. A table of :class:`ParamSpec` drives parsing, validation *and* the OpenAPI
description, so a documented filter cannot be silently ignored: every parameter is either in
the table or rejected with a reason naming it.

Grammar: ``name=value`` means ``eq``; ``name[op]=value`` with ``op`` in ``eq gt gte lt lte``
where the spec allows operators; list parameters (``types``, ``statuses``) take comma-separated
values, ``name[]=a&name[]=b`` or repeated keys.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from calltrail.kernel.params import UNSUPPORTED, group_keys, label, not_empty, read_whole
from calltrail.kernel.problems import Problems
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import OPERATORS, CallQuery
from calltrail.sessions.vocabulary import CALL_MODES, CALL_STATUSES, RECEIVER_TYPES, is_entity_id

MAX_TIMESTAMP = 253402300799
_TRUE = {"true": True, "1": True, "false": False, "0": False}

TYPE_CHOICES = {"voice": "audio", "audio": "audio", "video": "video"}
STATUS_CHOICES = {status: status for status in CALL_STATUSES} | {"canceled": "cancelled"}


@dataclass(frozen=True)
class ParamSpec:
    """One query parameter: how to read it and which column it filters.

    ``kind`` is one of ``int``, ``timestamp``, ``number``, ``enum``, ``enum_list``, ``bool``,
    ``entity``. A spec with no ``column`` is parsed and validated but left for the endpoint to
    apply (``uid``, ``direction`` and the like), via :attr:`ParsedParams.values`.
    """

    name: str
    kind: str
    description: str
    column: str | None = None
    operators: bool = False
    choices: Mapping[str, Any] = field(default_factory=dict)
    example: Any = None


@dataclass(frozen=True)
class ParsedParams:
    """The result of parsing a query string."""

    query: CallQuery
    page: PageRequest
    values: dict[str, Any]


def _read(spec: ParamSpec, text: str) -> Any:
    """Convert one raw value, raising ValueError with the reason."""
    not_empty(text)
    if spec.kind == "int":
        return read_whole(text, 0, 10**9)
    if spec.kind == "timestamp":
        try:
            return read_whole(text, 0, MAX_TIMESTAMP)
        except ValueError:
            raise ValueError("must be a Unix timestamp in whole seconds, e.g. 1692368168") from None
    if spec.kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("must be a number, e.g. 1.5") from None
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        return number
    if spec.kind in ("enum", "enum_list"):
        if text not in spec.choices:
            raise ValueError(f"must be one of {', '.join(spec.choices)}")
        return spec.choices[text]
    if spec.kind == "bool":
        if text.lower() not in _TRUE:
            raise ValueError("must be true or false")
        return _TRUE[text.lower()]
    if spec.kind == "entity":
        if not is_entity_id(text):
            raise ValueError("must be 1-100 characters without spaces, '/', '?', '#' or '%'")
        return text
    raise AssertionError(f"unknown parameter kind {spec.kind}")


def parse_params(
    items: Iterable[tuple[str, str]],
    specs: Mapping[str, ParamSpec],
    *,
    per_page_default: int,
    per_page_max: int,
) -> ParsedParams:
    """Parse ``(key, value)`` pairs into a query, a page and the column-less values.

    Raises :class:`InvalidRequest` whose ``details`` name every bad parameter.
    """
    problems = Problems()
    errors = problems.errors
    grouped = group_keys(items, problems)

    query = CallQuery()
    values: dict[str, Any] = {}
    page, per_page = 1, per_page_default
    for (name, op), raw_values in grouped.items():
        key = label(name, op)
        if name in ("page", "perPage"):
            if op is not None or len(raw_values) > 1:
                errors.setdefault(key, []).append("must be given once, as a plain value")
                continue
            try:
                if name == "page":
                    page = read_whole(raw_values[0], 1, 10**9)
                else:
                    per_page = read_whole(raw_values[0], 1, per_page_max)
            except ValueError:
                errors.setdefault(key, []).append(
                    f"must be an integer between 1 and {per_page_max}"
                    if name == "perPage"
                    else "must be an integer between 1 and 1000000000"
                )
            continue
        spec = specs.get(name)
        if spec is None:
            errors.setdefault(key, []).append(UNSUPPORTED)
            continue
        if spec.kind == "enum_list":
            if op not in (None, ""):
                errors.setdefault(key, []).append(f"takes a list: {name}=a,b or {name}[]=a&{name}[]=b")
                continue
            parts = [part.strip() for raw in raw_values for part in raw.split(",")]
            try:
                chosen = tuple(dict.fromkeys(_read(spec, part) for part in parts))
            except ValueError as exc:
                errors.setdefault(key, []).append(str(exc))
                continue
            if spec.column:
                query = query.where(spec.column, "in", chosen)
            values[name] = chosen
            continue
        if op is not None and not (spec.operators and op in OPERATORS):
            reason = (
                f"has no [{op}] operator; use one of {', '.join(OPERATORS)}"
                if spec.operators
                else f"takes no operator; use {name}=value"
            )
            errors.setdefault(key, []).append(reason)
            continue
        if len(raw_values) > 1:
            errors.setdefault(key, []).append("must be given once")
            continue
        try:
            value = _read(spec, raw_values[0])
        except ValueError as exc:
            errors.setdefault(key, []).append(str(exc))
            continue
        if spec.column:
            query = query.where(spec.column, op or "eq", int(value) if spec.kind == "bool" else value)
        values[key] = value
    problems.raise_if_any("Invalid query parameters.")
    return ParsedParams(query, PageRequest(page, per_page), values)


_OPS_NOTE = " Supports bracket operators eq, gt, gte, lt, lte: `{name}[gte]=...`."

#: Every filter of CometChat's List Calls (spec file 000), in the spec's order.
LIST_CALLS_PARAMS: dict[str, ParamSpec] = {
    spec.name: spec
    for spec in (
        ParamSpec(
            "type",
            "enum",
            "Call type; `voice` and `audio` are the same.",
            "type",
            choices=TYPE_CHOICES,
            example="video",
        ),
        ParamSpec(
            "types",
            "enum_list",
            "Any of several call types, comma-separated or `types[]=` repeated.",
            "type",
            choices=TYPE_CHOICES,
            example="voice,video",
        ),
        ParamSpec("mode", "enum", "Call mode.", "mode", choices={m: m for m in CALL_MODES}, example="call"),
        ParamSpec(
            "participantsCount",
            "int",
            "Exact number of entries in `participants` (invitees who never joined included).",
            "participants_count",
            example=5,
        ),
        ParamSpec(
            "initiatedAt",
            "timestamp",
            "Initiation time, Unix seconds." + _OPS_NOTE,
            "initiated_at",
            operators=True,
            example=1692368168,
        ),
        ParamSpec(
            "startedAt",
            "timestamp",
            "Start time, Unix seconds." + _OPS_NOTE,
            "started_at",
            operators=True,
            example=1692368180,
        ),
        ParamSpec(
            "status",
            "enum",
            "Call status; `canceled` is read as `cancelled`.",
            "status",
            choices=STATUS_CHOICES,
            example="ended",
        ),
        ParamSpec(
            "statuses",
            "enum_list",
            "Any of several statuses, comma-separated or `statuses[]=` repeated.",
            "status",
            choices=STATUS_CHOICES,
            example="ended,ongoing",
        ),
        ParamSpec(
            "receiverType",
            "enum",
            "`user` for 1:1 calls, `group` for group calls.",
            "receiver_type",
            choices={r: r for r in RECEIVER_TYPES},
            example="group",
        ),
        ParamSpec(
            "endedAt",
            "timestamp",
            "End time, Unix seconds." + _OPS_NOTE,
            "ended_at",
            operators=True,
            example=1692368199,
        ),
        ParamSpec(
            "duration",
            "number",
            "`totalDurationInMinutes`, decimal minutes." + _OPS_NOTE,
            "duration",
            operators=True,
            example=1.5,
        ),
        ParamSpec(
            "totalParticipants",
            "int",
            "Joined devices (multi-device joins counted separately)." + _OPS_NOTE,
            "total_participants",
            operators=True,
            example=2,
        ),
        ParamSpec(
            "voiceMinutes",
            "number",
            "`totalAudioMinutes`, decimal." + _OPS_NOTE,
            "audio_minutes",
            operators=True,
            example=0.75,
        ),
        ParamSpec(
            "videoMinutes",
            "number",
            "`totalVideoMinutes`, decimal." + _OPS_NOTE,
            "video_minutes",
            operators=True,
            example=5,
        ),
        ParamSpec(
            "hasRecording",
            "bool",
            "Whether the call has a recording (`true`/`false`).",
            "has_recording",
            example="true",
        ),
        ParamSpec(
            "uid",
            "entity",
            "Calls the user is part of: initiator, receiver, participant or invitee.",
            example="superhero2",
        ),
    )
}


def operator_names(spec: ParamSpec) -> Sequence[str]:
    """The query keys a spec accepts: ``name`` plus ``name[op]`` for each operator."""
    if not spec.operators:
        return [spec.name]
    return [spec.name, *(f"{spec.name}[{op}]" for op in OPERATORS)]
