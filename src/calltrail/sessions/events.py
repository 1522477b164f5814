"""Calltrail's native call lifecycle events: their schema and validation.

Pure: no I/O. :func:`parse_batch` turns a decoded JSON body into :class:`Event` values or raises
:class:`~calltrail.kernel.errors.InvalidRequest` whose ``details`` are keyed ``events[i].field``; a
batch is all or nothing. The README's "Event schema" section documents the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from calltrail.kernel import batches
from calltrail.kernel.batches import MAX_BATCH, event_at, event_id
from calltrail.kernel.instants import parse_instant
from calltrail.kernel.problems import CONTROL_RULE, Problems, has_control
from calltrail.sessions.vocabulary import (
    CALL_MODES,
    ENTITY_ID_RULE,
    RECEIVER_TYPES,
    SESSION_ID_RULE,
    is_entity_id,
    is_session_id,
    normalize_type,
)

__all__ = ["EVENT_TYPES", "MAX_BATCH", "Event", "parse_batch", "parse_event"]

MAX_ID_LENGTH = 255
MAX_INVITEES = 1000
MAX_TAGS = 100
MAX_TAG_LENGTH = 100
MAX_URL_LENGTH = 2048

COMMON_FIELDS = ("id", "type", "sessionId", "at")


@dataclass(frozen=True, slots=True)
class Event:
    """A validated event. ``data`` holds the type-specific fields, normalised."""

    id: str
    type: str
    session_id: str
    at_ms: int
    data: Mapping[str, Any]


class _Fields:
    """Reads the fields of one event into normalised ``data``, reporting problems."""

    def __init__(self, raw: Mapping[str, Any], problems: Problems):
        self.raw = raw
        self.fail = problems.fail
        self.data: dict[str, Any] = {}

    def entity_id(self, field: str, *, required: bool = True) -> str | None:
        value = self.raw.get(field)
        if value is None:
            if required:
                self.fail(field, "is required")
            return None
        if not is_entity_id(value):
            self.fail(field, ENTITY_ID_RULE)
            return None
        self.data[field] = value
        return str(value)

    def text(self, field: str, *, max_length: int, required: bool = True) -> None:
        value = self.raw.get(field)
        if value is None:
            if required:
                self.fail(field, "is required")
            return
        if not isinstance(value, str) or not 1 <= len(value) <= max_length:
            self.fail(field, f"must be a string of 1-{max_length} characters")
            return
        if has_control(value):
            self.fail(field, CONTROL_RULE)
            return
        self.data[field] = value

    def choice(self, field: str, choices: tuple[str, ...], *, default: str | None = None) -> str | None:
        value = self.raw.get(field, default)
        if value is None:
            self.fail(field, "is required")
            return None
        if value not in choices:
            self.fail(field, f"must be one of {', '.join(choices)}")
            return None
        self.data[field] = value
        return str(value)

    def media_type(self) -> None:
        # The event's own ``type`` names the event, so the call's media type is ``callType``.
        value = self.raw.get("callType")
        if value is None:
            self.fail("callType", "is required")
            return
        normalized = normalize_type(value) if isinstance(value, str) else None
        if normalized is None:
            self.fail("callType", "must be one of audio, video, voice")
            return
        self.data["callType"] = normalized

    def instant(self, field: str) -> None:
        value = self.raw.get(field)
        if value is None:
            self.fail(field, "is required")
            return
        try:
            self.data[field] = parse_instant(value)
        except ValueError as exc:
            self.fail(field, str(exc))

    def uid_list(self, field: str) -> list[str] | None:
        value = self.raw.get(field)
        if value is None:
            return None
        if not isinstance(value, list) or len(value) > MAX_INVITEES:
            self.fail(field, f"must be a list of at most {MAX_INVITEES} uids")
            return None
        if not all(is_entity_id(uid) for uid in value):
            self.fail(field, f"every uid {ENTITY_ID_RULE}")
            return None
        # Keep the first occurrence of each uid: the order is the order invitees are listed in.
        return list(dict.fromkeys(value))

    def metadata(self) -> None:
        if "metaData" in self.raw:
            value = self.raw["metaData"]
            if not isinstance(value, dict | list):
                self.fail("metaData", "must be a JSON object or array")
            else:
                self.data["metaData"] = value

    def tags(self) -> None:
        if "tags" in self.raw:
            value = self.raw["tags"]
            if (
                not isinstance(value, list)
                or len(value) > MAX_TAGS
                or not all(isinstance(tag, str) and 1 <= len(tag) <= MAX_TAG_LENGTH for tag in value)
            ):
                self.fail("tags", f"must be a list of at most {MAX_TAGS} strings of 1-{MAX_TAG_LENGTH} characters")
            else:
                self.data["tags"] = value


def _initiated(f: _Fields) -> None:
    f.entity_id("initiator")
    receiver = f.entity_id("receiver")
    receiver_type = f.choice("receiverType", RECEIVER_TYPES)
    f.media_type()
    f.choice("mode", CALL_MODES, default="call")
    invitees = f.uid_list("invitees")
    if invitees is None and receiver_type == "user" and receiver is not None:
        invitees = [receiver]
    f.data["invitees"] = invitees or []
    f.metadata()
    f.tags()


def _participant(f: _Fields) -> None:
    uid = f.entity_id("uid")
    f.text("deviceId", max_length=MAX_ID_LENGTH, required=False)
    if uid is not None and "deviceId" not in f.data:
        f.data["deviceId"] = uid


def _rejected_by(f: _Fields) -> None:
    f.entity_id("uid")


def _type_changed(f: _Fields) -> None:
    f.media_type()


def _recording(f: _Fields) -> None:
    f.text("rid", max_length=MAX_ID_LENGTH)
    f.instant("startTime")
    f.instant("endTime")
    f.text("recording_url", max_length=MAX_URL_LENGTH)
    start, end = f.data.get("startTime"), f.data.get("endTime")
    if start is not None and end is not None and end < start:
        f.fail("endTime", "must not be before startTime")


def _updated(f: _Fields) -> None:
    if "metaData" not in f.raw and "tags" not in f.raw:
        f.fail("metaData", "call.updated needs metaData, tags or both")
    f.metadata()
    f.tags()


def _no_fields(f: _Fields) -> None:
    return None


#: Each event type, the extra fields it may carry, and the function that validates them.
EVENT_TYPES: dict[str, tuple[tuple[str, ...], Callable[[_Fields], None]]] = {
    "call.initiated": (
        ("initiator", "receiver", "receiverType", "callType", "mode", "invitees", "metaData", "tags"),
        _initiated,
    ),
    "call.started": ((), _no_fields),
    "participant.joined": (("uid", "deviceId"), _participant),
    "participant.left": (("uid", "deviceId"), _participant),
    "participant.rejected": (("uid",), _rejected_by),
    "call.rejected": ((), _no_fields),
    "call.busy": ((), _no_fields),
    "call.cancelled": ((), _no_fields),
    "call.unanswered": ((), _no_fields),
    "call.type_changed": (("callType",), _type_changed),
    "call.ended": ((), _no_fields),
    "recording.ready": (("rid", "startTime", "endTime", "recording_url"), _recording),
    "call.updated": (("metaData", "tags"), _updated),
}


def parse_event(raw: Mapping[str, Any], problems: Problems) -> Event | None:
    """Validate one event; record its problems and return None if it has any."""
    before = len(problems.errors)
    fields = _Fields(raw, problems)
    identifier = event_id(raw, problems)
    session_id = raw.get("sessionId")
    if not is_session_id(session_id):
        problems.fail("sessionId", f"is required and {SESSION_ID_RULE}")
    at_ms = event_at(raw, problems)
    event_type = raw.get("type")
    spec = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if spec is None:
        problems.fail("type", f"must be one of {', '.join(EVENT_TYPES)}")
    else:
        allowed, validate = spec
        for key in raw:
            if key not in COMMON_FIELDS and key not in allowed:
                problems.fail(key, f"is not a field of {event_type} events")
        validate(fields)
    if len(problems.errors) != before:
        return None
    return Event(id=identifier, type=str(event_type), session_id=str(session_id), at_ms=at_ms, data=fields.data)


def parse_batch(body: object) -> list[Event]:
    """Validate a request body: one event object or a list of 1-1000 of them (all or nothing)."""
    return batches.parse_batch(body, parse_event)
