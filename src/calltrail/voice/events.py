"""Status events of telephony calls: their schema and validation.

Pure: no I/O. A status event says that a call reached a status at an instant, and may bring any
record field it knows (numbers, direction, type, hangup details, insights, tags, call-flow
commands to append)::

    {"id": "evt-1", "callId": "4fc2edf7-...", "status": "ringing", "at": "2023-10-26T15:26:47.77Z",
     "direction": "incoming", "type": "pstn", "from": "+351910648518", "to": "+3197058016589"}

:func:`parse_batch` turns a decoded JSON body into :class:`StatusEvent` values or raises
:class:`~calltrail.kernel.errors.InvalidRequest` whose ``details`` are keyed ``events[i].field``; a batch
is all or nothing. The timestamps of a record (``createdAt``, ``ringingAt``...) are derived from
the events' ``at`` and cannot be sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calltrail.kernel import batches
from calltrail.kernel.batches import MAX_BATCH, event_at, event_id
from calltrail.kernel.problems import Problems
from calltrail.voice.fields import RECORD_FIELDS, uuid_field
from calltrail.voice.vocabulary import STATUSES, UUID_RULE, canonical_uuid

__all__ = ["MAX_BATCH", "StatusEvent", "command_id", "parse_batch", "parse_event"]
#: Record fields folded from the events themselves, never sent in one.
DERIVED_FIELDS = ("id", "channelId", "status", "createdAt", "updatedAt", "ringingAt", "answeredAt", "endedAt")
#: The record fields a status event may bring.
EVENT_FIELDS = {name: check for name, check in RECORD_FIELDS.items() if name not in DERIVED_FIELDS}
COMMON_FIELDS = ("id", "callId", "status", "at", "channelId")
# A fixed namespace: a command sent without an id gets the same id on every server and retry.
_COMMAND_NAMESPACE = uuid.UUID("0b8f5f0e-3c1a-4f8e-9a55-7d2f1c9e4b31")


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A validated status event. ``data`` holds the record fields it brings, normalised."""

    id: str
    call_id: str
    status: str
    at_ms: int
    data: Mapping[str, Any]


def command_id(event_id: str, index: int) -> str:
    """The id given to the ``index``-th call-flow command of an event when it has none."""
    return str(uuid.uuid5(_COMMAND_NAMESPACE, f"{event_id}/{index}"))


def _normalise(data: dict[str, Any], event_id: str, call_id: str) -> None:
    """Bird lower-cases tags; commands get the ids a record shows (see :func:`command_id`)."""
    if "tags" in data:
        data["tags"] = list(dict.fromkeys(tag.lower() for tag in data["tags"]))
    flow = data.get("callFlow")
    if flow is not None:
        commands = []
        for index, command in enumerate(flow.get("commands", [])):
            filled = {"id": command_id(event_id, index), "callId": call_id, **command}
            commands.append(filled)
        data["callFlow"] = {**flow, "commands": commands}


def parse_event(raw: Mapping[str, Any], problems: Problems, channel_id: str) -> StatusEvent | None:
    """Validate one event sent to ``channel_id``; record its problems and return None if it
    has any."""
    before = len(problems.errors)
    identifier = event_id(raw, problems)
    call_id = canonical_uuid(raw["callId"]) if isinstance(raw.get("callId"), str) else None
    if call_id is None:
        problems.fail("callId", f"is required and {UUID_RULE}")
    status = raw.get("status")
    if status not in STATUSES:
        problems.fail("status", f"is required: one of {', '.join(STATUSES)}")
    at_ms = event_at(raw, problems)
    if "channelId" in raw:
        uuid_field(raw["channelId"], problems, "channelId")
        if isinstance(raw["channelId"], str) and raw["channelId"].lower() != channel_id:
            problems.fail("channelId", "must equal the channelId in the URL")
    data = _record_fields(raw, problems)
    if len(problems.errors) != before or call_id is None:
        return None
    _normalise(data, identifier, call_id)
    return StatusEvent(id=identifier, call_id=call_id, status=str(status), at_ms=at_ms, data=data)


def _record_fields(raw: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """The record fields an event brings, each validated."""
    data: dict[str, Any] = {}
    for key, value in raw.items():
        if key in COMMON_FIELDS:
            continue
        validate = EVENT_FIELDS.get(key)
        if validate is None:
            reason = (
                "is derived from the events' times and statuses; it cannot be sent"
                if key in DERIVED_FIELDS
                else "is not a field of a status event"
            )
            problems.fail(key, reason)
        elif value is None:
            problems.fail(key, "must not be null: leave the field out when it has no value")
        else:
            validate(value, problems, key)
            data[key] = value
    flow = data.get("callFlow")
    if isinstance(flow, dict) and isinstance(flow.get("commands"), list):
        for position, command in enumerate(flow["commands"]):
            if isinstance(command, dict) and "command" not in command:
                problems.fail(f"callFlow.commands[{position}].command", "is required")
    return data


def parse_batch(body: object, channel_id: str) -> list[StatusEvent]:
    """Validate a request body: one event object or a list of 1-1000 of them (all or nothing)."""
    return batches.parse_batch(body, lambda raw, problems: parse_event(raw, problems, channel_id))
