"""Validation of the fields of a Bird call record, shared by whole records and status events.

Pure: no I/O. Each field has one validator; a validator records every problem it finds in a
:class:`~calltrail.kernel.problems.Problems` collector under the field's path (``originator.number.type``,
``events[2].callFlow.commands[0].id``), so a client learns about all its mistakes at once.

The shapes follow spec file 004's schema. Objects whose schema is fully shown there
(``originator``/``receiver``, ``callFlow``, ``notification``) reject unknown keys, as Bird's
``additionalProperties: false`` does; ``qualityInsights``, ``sipInsights`` and ``amdResult``,
whose sub-fields the docs do not list completely, accept any keys with string values.
"""

from __future__ import annotations

from typing import Any

from calltrail.kernel.problems import (
    CONTROL_RULE,
    Problems,
    Validator,
    array,
    boolean,
    choice,
    has_control,
    integer,
    obj,
    rfc3339,
    text,
)
from calltrail.voice.vocabulary import (
    CALL_TYPES,
    DIRECTIONS,
    HANGUP_SOURCES,
    SIP_TYPES,
    STATUSES,
    UUID_RULE,
    is_uuid,
)

MAX_TEXT = 255
MAX_REASON = 1024
MAX_URL = 2048
MAX_TAGS = 10
MAX_TAG_LENGTH = 100
MAX_COMMANDS = 1000
MAX_CONDITIONS = 100
MAX_MAP_KEYS = 50
MAX_DURATION = 10**9
MAX_HANGUP_CAUSE = 65535


def uuid_field(value: Any, problems: Problems, path: str) -> None:
    """A UUID string."""
    if not is_uuid(value):
        problems.fail(path, UUID_RULE)


instant = rfc3339


def string_map(value: Any, problems: Problems, path: str) -> None:
    """An open object: at most 50 keys, each value a string (``"mos": "4.47"``)."""
    if not isinstance(value, dict) or len(value) > MAX_MAP_KEYS:
        problems.fail(path, f"must be a JSON object of at most {MAX_MAP_KEYS} string values")
        return
    for key, item in value.items():
        if not isinstance(item, str) or len(item) > MAX_TEXT:
            problems.fail(f"{path}.{key}", f"must be a string of at most {MAX_TEXT} characters")


def tags(value: Any, problems: Problems, path: str) -> None:
    """Bird allows at most 10 tags per call."""
    if (
        not isinstance(value, list)
        or len(value) > MAX_TAGS
        or not all(isinstance(tag, str) and 1 <= len(tag) <= MAX_TAG_LENGTH for tag in value)
    ):
        problems.fail(path, f"must be a list of at most {MAX_TAGS} strings of 1-{MAX_TAG_LENGTH} characters")
    elif any(has_control(tag) for tag in value):
        problems.fail(path, CONTROL_RULE)


_TEXT = text(MAX_TEXT)
PARTY = obj(
    {
        "contact": obj({"id": _TEXT, "identifierKey": _TEXT, "identifierValue": _TEXT}),
        "number": obj(
            {
                "type": choice(CALL_TYPES),
                "number": _TEXT,
                "anonymous": boolean,
                "callerIdName": _TEXT,
                "identity": _TEXT,
                "countryIsoCode": _TEXT,
                "pstnNumberType": _TEXT,
            }
        ),
    }
)
COMMAND = obj(
    {
        "id": uuid_field,
        "callId": uuid_field,
        "callFlowId": uuid_field,
        "status": _TEXT,
        "command": text(64, 1),
        "conditions": array(obj({"variable": _TEXT, "operator": _TEXT, "value": _TEXT}), MAX_CONDITIONS),
    }
)
CALL_FLOW = obj({"id": uuid_field, "commands": array(COMMAND, MAX_COMMANDS)})

#: Every field of a call record (spec file 004), in the order records show them.
RECORD_FIELDS: dict[str, Validator] = {
    "id": uuid_field,
    "channelId": uuid_field,
    "originator": PARTY,
    "receiver": PARTY,
    "from": _TEXT,
    "to": _TEXT,
    "parentId": uuid_field,
    "direction": choice(DIRECTIONS),
    "status": choice(STATUSES),
    "reason": text(MAX_REASON),
    "type": choice(CALL_TYPES),
    "duration": integer(MAX_DURATION),
    "hangupCauseCode": integer(MAX_HANGUP_CAUSE),
    "hangupSource": choice(HANGUP_SOURCES),
    "hangupSipCode": _TEXT,
    "callFlow": CALL_FLOW,
    "sipInsights": string_map,
    "qualityInsights": string_map,
    "amdResult": string_map,
    "sipType": choice(SIP_TYPES),
    "notification": obj({"url": text(MAX_URL, 1)}),
    "tags": tags,
    "createdAt": instant,
    "updatedAt": instant,
    "ringingAt": instant,
    "answeredAt": instant,
    "endedAt": instant,
    "scheduledFor": instant,
}
#: Fields a whole record must have (the schema's ``required``; ``receiver`` is required in only
#: one of Bird's renders, so it is optional here).
REQUIRED_FIELDS = (
    "id",
    "channelId",
    "from",
    "to",
    "originator",
    "direction",
    "status",
    "type",
    "createdAt",
    "updatedAt",
)
#: Fields Bird documents as nullable.
NULLABLE_FIELDS = frozenset(("hangupSource",))
