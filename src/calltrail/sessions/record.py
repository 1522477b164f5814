"""Call records in CometChat's read shape: number formats, import validation, and the
mapping from a record to the row that stores and indexes it.

Pure: no I/O. Records reach storage two ways, derived from events (:mod:`calltrail.sessions.fold`)
or imported whole (``PUT /v3/calls/{sessionId}``, ``calltrail import``); both go through
:func:`row_from_record`, so the indexed columns always equal what the record shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.problems import Problems, is_whole
from calltrail.sessions.vocabulary import (
    CALL_MODES,
    ENTITY_ID_RULE,
    FINAL_STATUSES,
    PARTICIPANT_STATES,
    RECEIVER_TYPES,
    SESSION_ID_RULE,
    CallRow,
    Member,
    is_entity_id,
    is_session_id,
    normalize_status,
    normalize_type,
)

#: A record's scalar fields, in the order a tabular export (CSV) shows them. Each stored call
#: keeps their values as a compact JSON array (``CallRow.scalars``), so an export reads them
#: without parsing the record; changing this list needs a migration that rewrites that column
#: (see ``m0017_call_scalars``).
SCALAR_FIELDS = (
    "sessionId",
    "status",
    "type",
    "mode",
    "initiator",
    "receiver",
    "receiverType",
    "initiatedAt",
    "startedAt",
    "endedAt",
    "totalDurationInMinutes",
    "totalAudioMinutes",
    "totalVideoMinutes",
    "totalDuration",
    "totalParticipants",
    "hasRecording",
    "mid",
)
#: Fields only Get Call shows; List Calls leaves them out, as the spec examples do.
DETAIL_ONLY_FIELDS = ("metaData", "tags")
MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
MAX_PARTICIPANTS = 10000
MAX_RECORDINGS = 1000


def minutes(millis: int) -> float | int:
    """Minutes as CometChat shows them: a float, or the integer 0 when there are none."""
    return millis / 60000 if millis else 0


def hhmmss(millis: int) -> str:
    """A span as ``HH:MM:SS``, rounded to whole seconds (hours grow past 99 if they must)."""
    seconds = (millis + 500) // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def split_record(record: Mapping[str, Any]) -> tuple[bytes, bytes | None]:
    """Encode a record as (list-shape JSON, JSON of the detail-only fields or None)."""
    # A copy less the few detail-only keys (popping keeps the others' order): cheaper than
    # testing every key of the record against them.
    summary = dict(record)
    extra = {key: summary.pop(key) for key in DETAIL_ONLY_FIELDS if key in summary}
    return orjson.dumps(summary), (orjson.dumps(extra) if extra else None)


def merge_record(summary: bytes, extra: bytes | None) -> dict[str, Any]:
    """Rebuild the full record (Get Call shape) from its stored parts."""
    record: dict[str, Any] = orjson.loads(summary)
    if extra:
        record.update(orjson.loads(extra))
    return record


def record_json(summary: bytes, extra: bytes | None) -> bytes:
    """``orjson.dumps(merge_record(summary, extra))`` byte for byte, without decoding either part:
    :func:`split_record` writes two compact objects with no key in common, so the merged object
    is the first one's members followed by the second's."""
    if not extra or extra == b"{}":
        return summary
    if summary == b"{}":
        return extra
    return summary[:-1] + b"," + extra[1:]


def _members(record: Mapping[str, Any], status: str) -> tuple[Member, ...]:
    initiator = record["initiator"]
    uids = [initiator]
    if record["receiverType"] == "user":
        uids.append(record["receiver"])
    joined: set[str] = set()
    rejected: set[str] = set()
    for participant in record.get("participants") or ():
        uid = participant["uid"]
        uids.append(uid)
        if participant.get("isJoined"):
            joined.add(uid)
        if participant.get("state") == "rejected":
            rejected.add(uid)
    over = status in FINAL_STATUSES
    # Positional (uid, is_initiator, joined, rejected, missed): a call's members are built on
    # every fold, and keywords cost a frozen dataclass more.
    return tuple([
        Member(uid, uid == initiator, uid in joined, uid in rejected,
               over and uid != initiator and uid not in joined and uid not in rejected)
        for uid in dict.fromkeys(uids)
    ])  # fmt: skip


def row_from_record(record: Mapping[str, Any], source: str) -> CallRow:
    """Map a valid record (derived or imported) to its stored row."""
    status = normalize_status(record["status"]) or record["status"]
    participants = record.get("participants") or []
    audio = record.get("totalAudioMinutes", 0)
    video = record.get("totalVideoMinutes", 0)
    recordings = record.get("recordings") or []
    summary, extra = split_record(record)
    return CallRow(
        session_id=record["sessionId"],
        source=source,
        initiated_at=record["initiatedAt"],
        status=status,
        type=normalize_type(record["type"]) or record["type"],
        mode=record.get("mode", "call"),
        receiver_type=record["receiverType"],
        initiator=record["initiator"],
        receiver=record["receiver"],
        started_at=record.get("startedAt"),
        ended_at=record.get("endedAt"),
        duration=float(record.get("totalDurationInMinutes", audio + video)),
        audio_minutes=float(audio),
        video_minutes=float(video),
        total_participants=record.get("totalParticipants", sum(1 for p in participants if p.get("isJoined"))),
        participants_count=len(participants),
        has_recording=bool(record.get("hasRecording", bool(recordings))),
        summary=summary,
        extra=extra,
        # The list-shape record's values (no scalar field is detail-only), as orjson writes them.
        scalars=orjson.dumps([record.get(name) for name in SCALAR_FIELDS]),
        members=_members(record, status),
    )


def _check(problems: Problems, obj: Mapping[str, Any], path: str, key: str, kind: str, *, required: bool) -> None:
    """Report ``obj[key]`` unless it is of ``kind`` (or absent and not ``required``)."""
    if key not in obj:
        if required:
            problems.fail(path + key, "is required")
        return
    if not _VALIDATORS[kind](obj[key]):
        problems.fail(path + key, _REASONS[kind])


def _is_minutes(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1e9


_VALIDATORS: dict[str, Callable[[Any], bool]] = {
    "entity": is_entity_id,
    "seconds": lambda v: is_whole(v, MAX_SECONDS),
    "count": lambda v: is_whole(v, 10**9),
    "minutes": _is_minutes,
    "bool": lambda v: isinstance(v, bool),
    "text": lambda v: isinstance(v, str) and len(v) <= 2048,
    "type": lambda v: isinstance(v, str) and normalize_type(v) is not None,
    "status": lambda v: isinstance(v, str) and normalize_status(v) is not None,
    "mode": lambda v: v in CALL_MODES,
    "receiverType": lambda v: v in RECEIVER_TYPES,
    "state": lambda v: v in PARTICIPANT_STATES,
    "metaData": lambda v: isinstance(v, dict | list),
    "tags": lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
}
_REASONS = {
    "entity": ENTITY_ID_RULE,
    "seconds": "must be a Unix timestamp in whole seconds",
    "count": "must be a non-negative integer",
    "minutes": "must be a non-negative number of minutes",
    "bool": "must be true or false",
    "text": "must be a string of at most 2048 characters",
    "type": "must be one of audio, video, voice",
    "status": "must be one of "
    + ", ".join(("initiated", "ongoing", "ended", "unanswered", "rejected", "busy", "cancelled", "canceled")),
    "mode": "must be one of " + ", ".join(CALL_MODES),
    "receiverType": "must be one of " + ", ".join(RECEIVER_TYPES),
    "state": "must be one of " + ", ".join(PARTICIPANT_STATES),
    "metaData": "must be a JSON object or array",
    "tags": "must be a list of strings",
}

_CALL_FIELDS = {
    "initiator": ("entity", True),
    "receiver": ("entity", True),
    "receiverType": ("receiverType", True),
    "type": ("type", True),
    "status": ("status", True),
    "initiatedAt": ("seconds", True),
    "mode": ("mode", False),
    "startedAt": ("seconds", False),
    "endedAt": ("seconds", False),
    "totalAudioMinutes": ("minutes", False),
    "totalVideoMinutes": ("minutes", False),
    "totalDurationInMinutes": ("minutes", False),
    "totalDuration": ("text", False),
    "totalParticipants": ("count", False),
    "hasRecording": ("bool", False),
    "mid": ("text", False),
    "metaData": ("metaData", False),
    "tags": ("tags", False),
}
_PARTICIPANT_FIELDS = {
    "uid": ("entity", True),
    "isJoined": ("bool", False),
    "state": ("state", False),
    "deviceId": ("text", False),
    "joinedAt": ("seconds", False),
    "leftAt": ("seconds", False),
    "mid": ("text", False),
    "totalAudioMinutes": ("minutes", False),
    "totalVideoMinutes": ("minutes", False),
    "totalDuration": ("minutes", False),
    "totalDurationInMinutes": ("minutes", False),
}
_RECORDING_FIELDS = {
    "rid": ("text", True),
    "duration": ("minutes", False),
    "startTime": ("seconds", False),
    "endTime": ("seconds", False),
    "recording_url": ("text", False),
}


def validate_record(body: object, session_id: str | None = None, *, prefix: str = "") -> dict[str, Any]:
    """Check an imported record (bare or wrapped in ``{"data": ...}``) and return it.

    ``session_id`` is the id from the URL: the body's ``sessionId`` must match it, or is filled
    in from it. Unknown fields are kept and served back; known fields must have the types the
    read API gives them. Raises :class:`InvalidRequest` naming every bad field.
    """
    if isinstance(body, dict) and set(body) == {"data"} and isinstance(body["data"], dict):
        body = body["data"]
    problems = Problems(prefix=prefix)
    if not isinstance(body, dict):
        raise InvalidRequest(details={prefix.rstrip(".") or "body": ["must be a JSON object (a call record)"]})
    record = dict(body)
    if session_id is not None:
        if "sessionId" not in record:
            record["sessionId"] = session_id
        elif record["sessionId"] != session_id:
            problems.fail("sessionId", "must equal the session id in the URL")
    if not is_session_id(record.get("sessionId")):
        problems.fail("sessionId", f"is required and {SESSION_ID_RULE}")
    for key, (kind, required) in _CALL_FIELDS.items():
        _check(problems, record, "", key, kind, required=required)
    for list_key, fields, limit in (
        ("participants", _PARTICIPANT_FIELDS, MAX_PARTICIPANTS),
        ("recordings", _RECORDING_FIELDS, MAX_RECORDINGS),
    ):
        items = record.get(list_key, [])
        if not isinstance(items, list) or len(items) > limit:
            problems.fail(list_key, f"must be a list of at most {limit} objects")
            continue
        for index, item in enumerate(items):
            path = f"{list_key}[{index}]."
            if not isinstance(item, dict):
                problems.fail(path.rstrip("."), "must be a JSON object")
                continue
            for key, (kind, required) in fields.items():
                _check(problems, item, path, key, kind, required=required)
    problems.raise_if_any("The call record is invalid; nothing was stored.")
    return record
