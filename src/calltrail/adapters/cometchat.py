"""CometChat call and meeting webhooks: the record is keyed by CometChat's own ``sessionId``.

CometChat POSTs ``{"trigger", "data", "type", "appId", "region", "webhook"}`` (``application/json``,
HTTP Basic auth checked by the endpoint). The ringing flow (``call_*``) starts with
``call_initiated``, which names the caller, the receiver and the media type; the call-session flow
(``meeting_*``) has no such event, so each participant who joins a meeting is a ``call.initiated``
candidate at its join time, and the fold's "earliest ``call.initiated``" picks the first joiner
(ties: the smallest uid) whatever order the webhooks arrive in.

CometChat's webhooks carry no event id. Each native event's id is derived from the fact it states
(session, trigger, uid, time), as CometChat's documented idempotency keys are, so a redelivery, or
the same occupant listed again in ``call_ended``'s ``all_occupants``, collapses into one event.
Occupants are only usable when they carry a ``uid``: the documented examples show a ``name`` only
(docs/integrations/cometchat.md lists what is confirmed and what is inferred).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from calltrail.adapters.base import BasicAuthAdapter, Domain, HookRequest, Translation
from calltrail.adapters.common import Payload, at_seconds, decode_body, event_id
from calltrail.sessions.vocabulary import RECEIVER_TYPES, is_entity_id, normalize_type

#: The outcome of a ringing call that never started, by trigger.
OUTCOMES = {
    "call_busy": "call.busy",
    "call_cancelled": "call.cancelled",
    "call_rejected": "call.rejected",
    "call_unanswered": "call.unanswered",
}

Event = dict[str, Any]


def _mode(trigger: str) -> str:
    return "meet" if trigger.startswith("meeting_") else "call"


def meeting_receiver(session_id: str) -> str:
    """The receiver of a meeting, which CometChat's meeting webhooks do not name: the meeting
    itself, as a group. Session ids use uid-safe characters; only a long one needs shortening."""
    if is_entity_id(session_id):
        return session_id
    return "meet-" + hashlib.sha256(session_id.encode()).hexdigest()[:32]


def _event(kind: str, session_id: str, at_ms: int, *key: str, **fields: Any) -> Event:
    return {
        "id": event_id("cc", session_id, *key),
        "type": kind,
        "sessionId": session_id,
        "at": at_seconds(at_ms),
        **fields,
    }


def _started(session_id: str, created_ms: int | None) -> list[Event]:
    if created_ms is None:
        return []
    return [_event("call.started", session_id, created_ms, "started", str(created_ms))]


def _is_video(occupant: Payload) -> bool:
    # ``audio_call`` is the string "true"/"false" in the documented examples; accept booleans too.
    return occupant.data.get("audio_call") in ("false", False)


def occupant_events(session_id: str, occupant: Payload, mode: str) -> list[Event]:
    """What one occupant object says: its join, its leave, and (in a meeting) its candidacy as
    initiator and its video. Empty when the occupant carries no ``uid``."""
    if not occupant.has("uid"):
        return []
    uid = occupant.entity("uid")
    joined, left = occupant.unix_seconds("joined_at"), occupant.unix_seconds("left_at")
    events: list[Event] = []
    if joined is not None:
        events.append(_event("participant.joined", session_id, joined, "joined", uid, str(joined), uid=uid))
        if mode == "meet":
            events.extend(_meeting_facts(session_id, occupant, uid, joined))
    if left is not None:
        left = max(left, joined or left)  # a leave never sorts before its own join
        events.append(_event("participant.left", session_id, left, "left", uid, str(left), uid=uid))
    return events


def _meeting_facts(session_id: str, occupant: Payload, uid: str, joined: int) -> list[Event]:
    # Candidates sit at their join time; equal times fall back to the id, which ends in the uid.
    candidate = _event(
        "call.initiated",
        session_id,
        joined,
        "initiated",
        f"{joined:015d}",
        uid,
        initiator=uid,
        receiver=meeting_receiver(session_id),
        receiverType="group",
        callType="audio",
        mode="meet",
    )
    if not _is_video(occupant):
        return [candidate]
    return [candidate, _event("call.type_changed", session_id, joined, "video", str(joined), uid, callType="video")]


def call_initiated(trigger: str, data: Payload) -> Translation:
    """A ringing call was placed: who called whom, and audio or video."""
    call = data.child("call")
    entity = call.child("data").child("entities").child("on").child("entity")
    session_id = entity.session("sessionid" if entity.has("sessionid") else "sessionId")
    initiated = entity.unix_seconds("initiatedAt") or call.unix_seconds("sentAt")
    if initiated is None:
        entity.fail("initiatedAt", "is required")
    media = normalize_type(call.text("type"))
    if media is None:
        call.fail("type", "must be audio or video")
    receiver_type = call.text("receiverType")
    if receiver_type not in RECEIVER_TYPES:
        call.fail("receiverType", f"must be one of {', '.join(RECEIVER_TYPES)}")
    fields = {
        "initiator": call.entity("sender"),
        "receiver": call.entity("receiver"),
        "receiverType": receiver_type,
        "callType": media,
        "mode": "call",
    }
    return Translation(events=[_event("call.initiated", session_id, initiated, "initiated", **fields)])


def outcome(trigger: str, data: Payload) -> Translation:
    """A ringing call that never started: busy, cancelled, rejected or unanswered."""
    call = data.child("call")
    # The documented examples of these triggers carry no session id; when a payload has one, it
    # sits where call_initiated has it. Without it the outcome cannot be tied to a call.
    entity = _optional_path(call, "data", "entities", "on", "entity")
    if entity is None or not (entity.has("sessionid") or entity.has("sessionId")):
        return Translation(ignored=1)
    session_id = entity.session("sessionid" if entity.has("sessionid") else "sessionId")
    at = call.unix_seconds("sentAt") or call.unix_seconds("updatedAt")
    if at is None:
        call.fail("sentAt", "is required")
    return Translation(events=[_event(OUTCOMES[trigger], session_id, at, trigger, str(at))])


def _optional_path(payload: Payload, *keys: str) -> Payload | None:
    found: Payload | None = payload
    for key in keys:
        found = found.optional_child(key) if found is not None else None
    return found


def session_started(trigger: str, data: Payload) -> Translation:
    """The session began (``call_started``/``meeting_started``)."""
    session_id = data.session("sessionId")
    created = data.unix_seconds("created_at")
    if created is None:
        data.fail("created_at", "is required")
    return Translation(events=_started(session_id, created))


def participant(trigger: str, data: Payload) -> Translation:
    """An occupant joined or left; one without a ``uid`` cannot be attributed and is ignored."""
    session_id = data.session("sessionId")
    events = occupant_events(session_id, data.child("occupant"), _mode(trigger))
    return Translation(events=events, ignored=0 if events else 1)


def session_ended(trigger: str, data: Payload) -> Translation:
    """The session ended; ``all_occupants`` repeats every join and leave, in case one was lost."""
    session_id = data.session("sessionId")
    destroyed = data.unix_seconds("destroyed_at")
    if destroyed is None:
        data.fail("destroyed_at", "is required")
    events = _started(session_id, data.unix_seconds("created_at"))
    for occupant in data.children("all_occupants"):
        events.extend(occupant_events(session_id, occupant, _mode(trigger)))
    events.append(_event("call.ended", session_id, destroyed, "ended", str(destroyed)))
    return Translation(events=events)


def recording_generated(trigger: str, data: Payload) -> Translation:
    """A recording is ready: ``startTime`` (Unix seconds) plus ``duration`` (seconds)."""
    session_id = data.session("sessionId")
    start, duration = data.unix_seconds("startTime"), data.decimal("duration")
    if start is None:
        data.fail("startTime", "is required")
    if duration is None or duration < 0:
        data.fail("duration", "is required: a number of seconds, not negative")
    end = data.instant("duration", start + int((duration * 1000).to_integral_value()))
    fields = {
        "rid": f"rec-{at_seconds(start)}",
        "startTime": at_seconds(start),
        "endTime": at_seconds(end),
        "recording_url": data.text("recording_url", 2048),
    }
    # Nothing in the payload says when it was sent; the recording's end is the closest fact.
    return Translation(events=[_event("recording.ready", session_id, end, "recording", str(start), **fields)])


#: Each CometChat trigger Calltrail uses; any other (chat events included) is counted as ignored.
HANDLERS: dict[str, Callable[[str, Payload], Translation]] = {
    "call_initiated": call_initiated,
    "call_started": session_started,
    "meeting_started": session_started,
    "call_participant_joined": participant,
    "call_participant_left": participant,
    "meeting_participant_joined": participant,
    "meeting_participant_left": participant,
    "call_ended": session_ended,
    "meeting_ended": session_ended,
    "recording_generated": recording_generated,
    **dict.fromkeys(OUTCOMES, outcome),
}


class CometChatAdapter(BasicAuthAdapter):
    """CometChat's call and meeting webhooks, authenticated with HTTP Basic by the endpoint."""

    provider: str = "cometchat"
    domain: Domain = "sessions"

    def translate(self, request: HookRequest) -> Translation:
        """The native events one CometChat webhook means."""
        payload = Payload(decode_body(request.body))
        trigger = payload.data.get("trigger")
        handler = HANDLERS.get(trigger) if isinstance(trigger, str) else None
        if handler is None:
            return Translation(ignored=1)
        return handler(str(trigger), payload.child("data"))


ADAPTER = CometChatAdapter()
