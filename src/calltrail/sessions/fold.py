"""Fold a session's lifecycle events into its call record.

Pure: no I/O. The record is a function of the *set* of events: events are de-duplicated by id
and sorted by ``(at, type rank, id)`` before folding, and every "pick one" rule below breaks
ties the same way, so any arrival order and any redelivery give the same record.

Rules (documented for users in docs/events.md):

* No ``call.initiated`` yet: no record (the events are kept and the call appears once it arrives).
* ``startedAt`` is the earliest ``call.started`` or ``participant.joined``; ``endedAt`` the
  earliest ``call.ended`` (or, for a call that never started, the outcome event).
* Status: ``initiated``; ``ongoing`` once started; ``ended`` after ``call.ended``. A call that
  never started takes its outcome (``rejected``/``busy``/``cancelled``/``unanswered``), or
  ``unanswered`` when it simply ended.
* Each joined device (uid + deviceId) is one participant; repeated joins and leaves are paired
  into intervals; a device still in the call when it ends leaves at ``endedAt``. Each invitee
  who never joined is one more participant, ``rejected`` or ``unanswered``.
* Minutes split audio/video by the call's media type over time (``call.type_changed``); call
  minutes cover ``startedAt``..``endedAt``, not the sum over participants.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from calltrail.kernel.instants import to_unix_seconds
from calltrail.sessions.events import Event
from calltrail.sessions.record import hhmmss, minutes

#: Order of event types that share a timestamp: a join sorts before a leave at the same
#: instant, and the call's start before its participants.
_RANK = {
    "call.initiated": 0,
    "call.started": 1,
    "participant.joined": 2,
    "call.type_changed": 3,
    "call.updated": 3,
    "recording.ready": 3,
    "participant.rejected": 4,
    "participant.left": 5,
    "call.rejected": 6,
    "call.busy": 6,
    "call.cancelled": 6,
    "call.unanswered": 6,
    "call.ended": 7,
}
_OUTCOMES = {
    "call.rejected": "rejected",
    "call.busy": "busy",
    "call.cancelled": "cancelled",
    "call.unanswered": "unanswered",
}
# A fixed namespace so a session's ``mid`` is stable across re-derivations and servers.
_MID_NAMESPACE = uuid.UUID("6f0e2b1c-9d55-4b8e-a3c1-5a3f0d2c7e41")
_MID_PREFIX = _MID_NAMESPACE.bytes


def sort_key(event: Event) -> tuple[int, int, str]:
    """The canonical order of events within a session."""
    return (event.at_ms, _RANK.get(event.type, 9), event.id)


def meeting_id(session_id: str) -> str:
    """The ``mid`` shown on a derived call and its participants: a UUID stable per session.

    ``str(uuid.uuid5(_MID_NAMESPACE, session_id))`` spelled out (RFC 4122 section 4.3: SHA-1 of
    the namespace and the name, version 5, RFC variant): the same text without building a
    ``UUID`` (uuid5 was about a tenth of derive_record's time, profiled; a test checks they agree)."""
    digest = bytearray(hashlib.sha1(_MID_PREFIX + session_id.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class MediaTimeline:
    """The call's media type over time: the initial type, then each ``call.type_changed``."""

    def __init__(self, initial: str, changes: Sequence[tuple[int, str]]):
        self.initial = initial
        self.changes = list(changes)
        # Most calls never change type: then a span is all one medium (None: use the loop).
        self._audio_only = initial == "audio" if not self.changes and initial in ("audio", "video") else None

    @property
    def final(self) -> str:
        return self.changes[-1][1] if self.changes else self.initial

    def split(self, start: int, end: int) -> tuple[int, int]:
        """Milliseconds of ``[start, end)`` spent in audio and in video."""
        if self._audio_only is not None:
            span = end - start if end > start else 0
            return (span, 0) if self._audio_only else (0, span)
        spent = {"audio": 0, "video": 0}
        cursor, current = start, self.initial
        for at, media in self.changes:
            if at > cursor:
                if at >= end:
                    break
                spent[current] += at - cursor
                cursor = at
            current = media
        if end > cursor:
            spent[current] += end - cursor
        return spent["audio"], spent["video"]


@dataclass(slots=True)
class _Device:
    uid: str
    device_id: str
    intervals: list[tuple[int, int]] = field(default_factory=list)
    first_join: int | None = None
    open_since: int | None = None


def _devices(events: Iterable[Event], ended: int | None) -> list[_Device]:
    devices: dict[tuple[str, str], _Device] = {}
    for event in events:
        joins = event.type == "participant.joined"
        if not joins and event.type != "participant.left":
            continue
        data = event.data
        key = (data["uid"], data["deviceId"])
        device = devices.get(key)
        if device is None:
            # A first join opens the device at once (the common case, in one step); a first
            # leave (a lost join) only creates it.
            at = event.at_ms if joins else None
            devices[key] = _Device(key[0], key[1], [], at, at)
        elif joins:
            if device.first_join is None:
                device.first_join = event.at_ms
            if device.open_since is None:
                device.open_since = event.at_ms
        elif device.open_since is not None:
            device.intervals.append((device.open_since, event.at_ms))
            device.open_since = None
    joined = [device for device in devices.values() if device.first_join is not None]
    if ended is not None:
        for device in joined:
            if device.open_since is not None:
                device.intervals.append((device.open_since, ended))
                device.open_since = None
            # Late or skewed events must not stretch a device past the end of the call.
            device.intervals = [(a, max(a, min(b, ended))) for a, b in device.intervals]
    return joined


def derive_record(session_id: str, events: Iterable[Event]) -> dict[str, Any] | None:
    """Build the full call record (Get Call shape) from a session's events, or None if the
    session has no ``call.initiated`` event yet."""
    unique = sorted({event.id: event for event in events}.values(), key=sort_key)
    by_type: dict[str, list[Event]] = {}
    for event in unique:
        by_type.setdefault(event.type, []).append(event)
    if "call.initiated" not in by_type:
        return None
    init = by_type["call.initiated"][0]
    spec = init.data
    timeline = MediaTimeline(
        spec["callType"], [(e.at_ms, e.data["callType"]) for e in by_type.get("call.type_changed", [])]
    )

    # Each type's events are in canonical order, earliest first: the first start or join is the earliest.
    start_candidates = [
        events_of[0].at_ms
        for events_of in (by_type.get("call.started"), by_type.get("participant.joined"))
        if events_of
    ]
    started = min(start_candidates) if start_candidates else None
    ended = by_type["call.ended"][0].at_ms if "call.ended" in by_type else None
    outcomes = sorted((e for t in _OUTCOMES for e in by_type.get(t, [])), key=sort_key)

    if started is not None:
        status = "ended" if ended is not None else "ongoing"
        if ended is not None:
            ended = max(ended, started)
    else:
        ends = [e.at_ms for e in outcomes[:1]] + ([ended] if ended is not None else [])
        ended = min(ends) if ends else None
        status = _OUTCOMES[outcomes[0].type] if outcomes else ("unanswered" if ended is not None else "initiated")

    mid = meeting_id(session_id)
    participants: list[dict[str, Any]] = []
    joined_uids: set[str] = set()
    devices = sorted(_devices(unique, ended), key=lambda d: (d.first_join or 0, d.uid, d.device_id))
    for device in devices:
        audio = video = 0
        for a, b in device.intervals:
            part_audio, part_video = timeline.split(a, b)
            audio, video = audio + part_audio, video + part_video
        entry: dict[str, Any] = {
            "uid": device.uid,
            "totalAudioMinutes": minutes(audio),
            "totalVideoMinutes": minutes(video),
            "isJoined": True,
            "state": "ongoing" if device.open_since is not None else "ended",
            "totalDuration": minutes(audio + video),
            "deviceId": device.device_id,
            "joinedAt": to_unix_seconds(device.first_join or 0),
            "mid": mid,
        }
        if device.open_since is None and device.intervals:
            entry["leftAt"] = to_unix_seconds(device.intervals[-1][1])
        participants.append(entry)
        joined_uids.add(device.uid)

    rejecters = {e.data["uid"] for e in by_type.get("participant.rejected", [])}
    if "call.rejected" in by_type and spec["receiverType"] == "user":
        rejecters.add(spec["receiver"])
    invitees = list(spec["invitees"]) + sorted(rejecters - set(spec["invitees"]))
    for uid in invitees:
        if uid in joined_uids:
            continue
        participants.append(
            {
                "uid": uid,
                "totalAudioMinutes": 0,
                "totalVideoMinutes": 0,
                "isJoined": False,
                "state": "rejected" if uid in rejecters else "unanswered",
                "totalDuration": 0,
            }
        )

    recordings_by_rid = {e.data["rid"]: e for e in by_type.get("recording.ready", [])}
    recordings = sorted(
        (
            {
                "rid": rid,
                "duration": minutes(e.data["endTime"] - e.data["startTime"]),
                "startTime": to_unix_seconds(e.data["startTime"]),
                "endTime": to_unix_seconds(e.data["endTime"]),
                "recording_url": e.data["recording_url"],
            }
            for rid, e in recordings_by_rid.items()
        ),
        key=lambda r: (r["startTime"], r["rid"]),
    )

    meta_data: Any = spec.get("metaData", [])
    tags: Any = spec.get("tags", [])
    for update in by_type.get("call.updated", []):
        meta_data = update.data.get("metaData", meta_data)
        tags = update.data.get("tags", tags)

    call_audio = call_video = 0
    if started is not None and ended is not None:
        call_audio, call_video = timeline.split(started, ended)
    record: dict[str, Any] = {
        "sessionId": session_id,
        "totalAudioMinutes": minutes(call_audio),
        "totalVideoMinutes": minutes(call_video),
        "totalDuration": hhmmss(call_audio + call_video),
        "metaData": meta_data,
        "hasRecording": bool(recordings),
        "initiatedAt": to_unix_seconds(init.at_ms),
        "initiator": spec["initiator"],
        "mode": spec["mode"],
        "receiver": spec["receiver"],
        "receiverType": spec["receiverType"],
        "status": status,
        "tags": tags,
        "totalDurationInMinutes": minutes(call_audio + call_video),
        "totalParticipants": len(devices),
        "type": timeline.final,
        "mid": mid,
    }
    if started is not None:
        record["startedAt"] = to_unix_seconds(started)
    if ended is not None:
        record["endedAt"] = to_unix_seconds(ended)
    record["participants"] = participants
    if recordings:
        record["recordings"] = recordings
    return record
