"""What an export holds per row: the scalar fields of each record kind, under their JSON names.

Pure: no I/O. Tabular formats (CSV) keep these columns, in this order; NDJSON keeps every field
of the record exactly as the list endpoint returns it. Timestamps stay as the JSON shows them
(Unix seconds for calls, RFC 3339 for phone calls).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from calltrail.exports.ndjson import lines
from calltrail.exports.registry import FORMATS

CALL_COLUMNS = (
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
PARTICIPANT_COLUMNS = (
    "sessionId",
    "uid",
    "deviceId",
    "isJoined",
    "state",
    "joinedAt",
    "leftAt",
    "totalAudioMinutes",
    "totalVideoMinutes",
    "totalDuration",
    "totalDurationInMinutes",
    "mid",
)
VOICE_COLUMNS = (
    "id",
    "channelId",
    "direction",
    "status",
    "type",
    "from",
    "to",
    "duration",
    "createdAt",
    "updatedAt",
    "ringingAt",
    "answeredAt",
    "endedAt",
    "scheduledFor",
    "hangupCauseCode",
    "hangupSource",
    "hangupSipCode",
    "reason",
    "parentId",
    "sipType",
    "mos",
    "pdd",
)


def participants(call: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per participant entry of a call, with the call's ``sessionId`` first."""
    for entry in call.get("participants") or ():
        if isinstance(entry, Mapping):
            yield {"sessionId": call.get("sessionId"), **entry}


def voice_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A phone call with ``qualityInsights.mos``/``.pdd`` brought up as ``mos``/``pdd``."""
    insights = record.get("qualityInsights")
    flat = dict(record)
    if isinstance(insights, Mapping):
        flat["mos"], flat["pdd"] = insights.get("mos"), insights.get("pdd")
    return flat


#: Turns a page of stored JSON documents into rows for a tabular format.
Rows = Callable[[list[bytes]], Iterable[Mapping[str, Any]]]


def call_rows(documents: list[bytes]) -> Iterable[Mapping[str, Any]]:
    """Call records."""
    return [orjson.loads(document) for document in documents]


def participant_rows(documents: list[bytes]) -> Iterable[Mapping[str, Any]]:
    """Participant entries of call records."""
    return [row for document in documents for row in participants(orjson.loads(document))]


def voice_rows(documents: list[bytes]) -> Iterable[Mapping[str, Any]]:
    """Phone-call records, flattened for CSV."""
    return [voice_row(orjson.loads(document)) for document in documents]


#: Per export kind: its columns, its rows, and whether NDJSON lines are the stored documents.
KINDS: dict[str, tuple[Sequence[str], Rows, bool]] = {
    "calls": (CALL_COLUMNS, call_rows, True),
    "participants": (PARTICIPANT_COLUMNS, participant_rows, False),
    "voice": (VOICE_COLUMNS, voice_rows, True),
}


def encode_page(format_name: str, kind: str, documents: list[bytes]) -> bytes:
    """A page of an export: stored JSON verbatim for NDJSON of whole records, else encoded rows."""
    columns, rows, verbatim = KINDS[kind]
    if format_name == "ndjson" and verbatim:
        return lines(documents)
    return FORMATS[format_name].page(rows(documents), columns)


def file_name(kind: str, app_id: str, extension: str, date: str) -> str:
    """``calls-<app>-<date>.<ext>``."""
    return f"{kind}-{app_id}-{date}.{extension}"
