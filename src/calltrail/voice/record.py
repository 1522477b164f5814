"""Whole call records: validation of an imported record and the row that stores and indexes one.

Pure: no I/O. Records reach storage two ways, folded from status events
(:mod:`calltrail.voice.fold`) or sent whole (``PUT .../calls/{callId}``); both go through
:func:`row_from_record`, so the indexed columns always equal what the record shows and a filter
matches exactly what a client reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.instants import parse_rfc3339
from calltrail.kernel.problems import Problems
from calltrail.voice.fields import NULLABLE_FIELDS, RECORD_FIELDS, REQUIRED_FIELDS


@dataclass(frozen=True, slots=True)
class ChannelCallRow:
    """One call as stored: the filterable columns plus the record's JSON, served verbatim.

    ``call_id`` and ``channel_id`` are lower case; ``tags`` are lower case and distinct, because
    tag filters match case-insensitively (Bird lower-cases tags).
    """

    call_id: str
    channel_id: str
    source: str
    created_at: int
    status: str
    type: str
    direction: str
    call_from: str
    call_to: str
    duration: int | None
    tags: tuple[str, ...]
    body: bytes


def normalize_tags(values: Any) -> tuple[str, ...]:
    """Tags as indexed: lower case, each once, sorted."""
    return tuple(sorted({str(tag).lower() for tag in values or ()}))


def row_from_record(record: Mapping[str, Any], source: str) -> ChannelCallRow:
    """Map a valid record (folded or imported) to its stored row."""
    duration = record.get("duration")
    return ChannelCallRow(
        call_id=str(record["id"]).lower(),
        channel_id=str(record["channelId"]).lower(),
        source=source,
        created_at=parse_rfc3339(record["createdAt"]),
        status=record["status"],
        type=record["type"],
        direction=record["direction"],
        call_from=record["from"],
        call_to=record["to"],
        duration=duration if isinstance(duration, int) else None,
        tags=normalize_tags(record.get("tags")),
        body=orjson.dumps(record),
    )


def validate_record(body: object, *, call_id: str, channel_id: str) -> dict[str, Any]:
    """Check a whole record sent to ``PUT .../channels/{channelId}/calls/{callId}`` and return it.

    ``call_id`` and ``channel_id`` come from the URL (already valid, lower case): the body's
    ``id`` and ``channelId`` must name the same call and channel (in any case), or are filled in
    from the URL when absent. Every other field must have the type spec file 004 gives it;
    unknown fields are rejected, as Bird's schema has ``additionalProperties: false``. Absent
    values must be absent: ``null`` is accepted only where Bird documents it (``hangupSource``).

    Raises :class:`InvalidRequest` naming every bad field; otherwise returns the record exactly
    as it will be served.
    """
    if not isinstance(body, dict):
        raise InvalidRequest(details={"body": ["must be a JSON object (a call record)"]})
    errors: dict[str, list[str]] = {}
    problems = Problems(errors)
    record: dict[str, Any] = {}
    if "id" not in body:
        record["id"] = call_id
    if "channelId" not in body:
        record["channelId"] = channel_id
    record.update(body)
    for key, value in record.items():
        validate = RECORD_FIELDS.get(key)
        if validate is None:
            problems.fail(key, "is not a field of a call record")
        elif value is None:
            if key not in NULLABLE_FIELDS:
                problems.fail(key, "must not be null: leave the field out when it has no value")
        else:
            validate(value, problems, key)
    for key in REQUIRED_FIELDS:
        if key not in record:
            problems.fail(key, "is required")
    if "id" not in errors and str(record["id"]).lower() != call_id:
        problems.fail("id", "must equal the callId in the URL")
    if "channelId" not in errors and str(record["channelId"]).lower() != channel_id:
        problems.fail("channelId", "must equal the channelId in the URL")
    times_valid = "createdAt" in record and "updatedAt" in record and not {"createdAt", "updatedAt"} & set(errors)
    if times_valid and parse_rfc3339(record["updatedAt"]) < parse_rfc3339(record["createdAt"]):
        problems.fail("updatedAt", "must not be before createdAt")
    if errors:
        raise InvalidRequest("The call record is invalid; nothing was stored.", errors)
    return record
