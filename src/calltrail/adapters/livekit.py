"""LiveKit webhooks: one room session is one ``meet`` call keyed by the room's ``sid``.

LiveKit's server POSTs a ``WebhookEvent`` as protobuf JSON (lowerCamelCase keys, int64 values as
strings, enums by name, zero values omitted) with ``Content-Type: application/webhook+json``. The
``Authorization`` header is an HS256 JWT signed with the API secret, whose ``iss`` is the API key
and whose ``sha256`` claim is the base64 SHA-256 of the raw body (livekit/protocol
``webhook/url_notifier.go``). :func:`verify_token` checks it with the standard library only.

Mapping (docs/integrations/livekit.md has the table):

* every participant (not EGRESS/INGRESS) who joined is a device ``identity``/``sid``, joined at its
  join time and left at its ``participant_left``;
* each such participant is also a ``call.initiated`` candidate at the room's creation time whose id
  sorts by join time then identity, so the fold's "earliest ``call.initiated``" is the first joiner
  whatever order the webhooks arrive in;
* a published VIDEO track switches the call to video at that moment; ``room_finished`` ends it;
  ``egress_ended`` with files adds recordings.

Facts that several webhooks repeat (the room's start, a participant's join) get ids derived from
the fact itself, so they collapse into one event; the others take LiveKit's unique event ``id``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from calltrail.adapters.base import AuthKind, Credentials, Domain, HookRequest, Translation
from calltrail.adapters.common import Payload, at_seconds, decode_body, event_id
from calltrail.kernel.errors import HookUnauthorized

#: go-jose's ``DefaultLeeway`` (LiveKit's Go verifier) and livekit-api's ``DEFAULT_LEEWAY``.
LEEWAY_SECONDS = 60.0
#: Participant kinds that are LiveKit's own media pipes, not people or agents in the call.
NOT_PARTICIPANTS = frozenset({"INGRESS", "EGRESS", 1, 2})
#: Egress outcomes that produce no usable file.
FAILED_EGRESS = frozenset({"EGRESS_FAILED", "EGRESS_ABORTED", 4, 5})
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_NS_PER_MS = 1_000_000

Event = dict[str, Any]


def _b64url(segment: str) -> bytes:
    if not _SEGMENT.match(segment):
        raise HookUnauthorized()
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise HookUnauthorized() from None


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise HookUnauthorized() from None
    if not isinstance(value, dict):
        raise HookUnauthorized()
    return value


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HookUnauthorized()
    return float(value)


def _check_times(claims: dict[str, Any], now: float, leeway: float) -> None:
    # Like go-jose's Claims.Validate, plus livekit-api's ``require: ["exp"]``: a token without
    # an expiry would verify forever (livekit/protocol#1706).
    expiry = _number(claims, "exp")
    if expiry is None or now - leeway > expiry:
        raise HookUnauthorized()
    for name in ("nbf", "iat"):
        moment = _number(claims, name)
        if moment is not None and now + leeway < moment:
            raise HookUnauthorized()


def _check_body_hash(claims: dict[str, Any], body: bytes) -> None:
    claimed = claims.get("sha256")
    if not isinstance(claimed, str) or not claimed:
        raise HookUnauthorized()
    try:
        digest = base64.b64decode(claimed, validate=True)
    except (binascii.Error, ValueError):
        raise HookUnauthorized() from None
    if not hmac.compare_digest(digest, hashlib.sha256(body).digest()):
        raise HookUnauthorized()


def verify_token(token: str, *, api_key: str, secret: str, body: bytes, now: float, leeway: float) -> None:
    """Raise :class:`HookUnauthorized` unless ``token`` is LiveKit's signature of ``body``.

    Checks, in order: a three-part JWS with ``alg: HS256``; its HMAC-SHA256 under ``secret``;
    ``iss == api_key``; ``exp`` (required), ``nbf`` and ``iat`` within ``leeway`` seconds of ``now``;
    the ``sha256`` claim equals the SHA-256 of the raw ``body``.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise HookUnauthorized()
    header = _json_object(_b64url(parts[0]))
    if header.get("alg") != "HS256":
        raise HookUnauthorized()
    signed = f"{parts[0]}.{parts[1]}".encode("ascii")
    expected = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64url(parts[2])):
        raise HookUnauthorized()
    claims = _json_object(_b64url(parts[1]))
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not hmac.compare_digest(issuer.encode("utf-8"), api_key.encode("utf-8")):
        raise HookUnauthorized()
    _check_times(claims, now, leeway)
    _check_body_hash(claims, body)


def _enum(payload: Payload, key: str) -> str | int | None:
    """A protobuf enum, by name (or number, which protobuf JSON parsers also accept)."""
    value = payload.data.get(key)
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _webhook_id(payload: Payload) -> str:
    return event_id("lk", payload.text("id", max_length=200))


def _created_ms(payload: Payload) -> int:
    return payload.instant("createdAt", payload.int64("createdAt") * 1000)


@dataclass(frozen=True, slots=True)
class _Room:
    sid: str
    name: str
    created_ms: int | None

    @classmethod
    def read(cls, payload: Payload) -> _Room:
        room = payload.child("room")
        created_ms = room.int64("creationTimeMs") or room.int64("creationTime") * 1000
        return cls(
            sid=room.session("sid"),
            name=room.entity("name"),
            created_ms=room.instant("creationTime", created_ms) if created_ms else None,
        )

    def started(self) -> list[Event]:
        """``call.started`` at the room's creation, when the payload says when that was."""
        if self.created_ms is None:
            return []
        key = event_id("lk", self.sid, "started", str(self.created_ms))
        return [{"id": key, "type": "call.started", "sessionId": self.sid, "at": at_seconds(self.created_ms)}]


@dataclass(frozen=True, slots=True)
class _Participant:
    sid: str
    identity: str
    joined_ms: int

    @classmethod
    def read(cls, payload: Payload) -> _Participant | None:
        """The participant, or None for LiveKit's own egress and ingress pipes."""
        participant = payload.child("participant")
        if _enum(participant, "kind") in NOT_PARTICIPANTS:
            return None
        joined_ms = participant.int64("joinedAtMs") or participant.int64("joinedAt") * 1000
        return cls(
            sid=participant.text("sid"),
            identity=participant.entity("identity"),
            joined_ms=participant.instant("joinedAt", joined_ms),
        )

    def joined(self, room: _Room) -> list[Event]:
        """The join, and this participant as a ``call.initiated`` candidate."""
        # Every candidate sits at the room's creation and its id sorts by zero-padded join time,
        # then identity: the fold keeps the smallest (at, rank, id), i.e. the first joiner.
        initiated_ms = room.created_ms or self.joined_ms
        candidate = event_id(
            "lk", room.sid, "initiated", f"{initiated_ms:015d}", f"{self.joined_ms:015d}", self.identity
        )
        return [
            {
                "id": candidate,
                "type": "call.initiated",
                "sessionId": room.sid,
                "at": at_seconds(initiated_ms),
                "initiator": self.identity,
                "receiver": room.name,
                "receiverType": "group",
                "callType": "audio",
                "mode": "meet",
            },
            {
                "id": event_id("lk", room.sid, "joined", self.sid, str(self.joined_ms)),
                "type": "participant.joined",
                "sessionId": room.sid,
                "at": at_seconds(self.joined_ms),
                "uid": self.identity,
                "deviceId": self.sid,
            },
        ]

    def left(self, room: _Room, key: str, at_ms: int) -> Event:
        """The leave reported by the webhook ``key`` at ``at_ms``."""
        # createdAt is in whole seconds and the join in milliseconds: a leave within the second of
        # the join must not sort before it (the fold would ignore it and keep the device connected).
        return {
            "id": key,
            "type": "participant.left",
            "sessionId": room.sid,
            "at": at_seconds(max(at_ms, self.joined_ms)),
            "uid": self.identity,
            "deviceId": self.sid,
        }


def room_started(payload: Payload) -> Translation:
    """The room exists: the call started at its creation."""
    return Translation(events=_Room.read(payload).started())


def participant_joined(payload: Payload) -> Translation:
    """A participant became active."""
    room, participant = _Room.read(payload), _Participant.read(payload)
    if participant is None:
        return Translation(ignored=1)
    return Translation(events=room.started() + participant.joined(room))


def participant_left(payload: Payload) -> Translation:
    """An active participant left. Its join is repeated, in case ``participant_joined`` was lost."""
    room, participant = _Room.read(payload), _Participant.read(payload)
    if participant is None:
        return Translation(ignored=1)
    leave = participant.left(room, _webhook_id(payload), _created_ms(payload))
    return Translation(events=[*room.started(), *participant.joined(room), leave])


def connection_aborted(payload: Payload) -> Translation:
    """A participant gave up before becoming active: LiveKit sends this instead of
    ``participant_left`` when ``participant_joined`` was never sent, so it adds no join (and no
    initiator candidate); its leave only closes a join that some other webhook reported."""
    room, participant = _Room.read(payload), _Participant.read(payload)
    if participant is None:
        return Translation(ignored=1)
    return Translation(events=[participant.left(room, _webhook_id(payload), _created_ms(payload))])


def track_published(payload: Payload) -> Translation:
    """A VIDEO track (camera or screen share) makes the call a video call from now on."""
    track = payload.child("track")
    if _enum(track, "type") not in ("VIDEO", 1):
        return Translation(ignored=1)
    # track_* webhooks carry only the room's sid and name (livekit-server telemetry/events.go).
    session_id = payload.child("room").session("sid")
    change = {
        "id": _webhook_id(payload),
        "type": "call.type_changed",
        "sessionId": session_id,
        "at": at_seconds(_created_ms(payload)),
        "callType": "video",
    }
    return Translation(events=[change])


def room_finished(payload: Payload) -> Translation:
    """The room closed: the call ended."""
    room = _Room.read(payload)
    ended = {
        "id": _webhook_id(payload),
        "type": "call.ended",
        "sessionId": room.sid,
        "at": at_seconds(_created_ms(payload)),
    }
    return Translation(events=[*room.started(), ended])


def _file_span(egress: Payload, file: Payload) -> tuple[int, int]:
    """A file's start and end in epoch ms; LiveKit's egress times are Unix nanoseconds."""
    start_ns = file.int64("startedAt") or egress.int64("startedAt")
    end_ns = file.int64("endedAt") or egress.int64("endedAt")
    start = file.instant("startedAt", start_ns // _NS_PER_MS)
    end = file.instant("endedAt", end_ns // _NS_PER_MS)
    if end < start:
        file.fail("endedAt", "must not be before startedAt")
    return start, end


def egress_ended(payload: Payload) -> Translation:
    """A finished egress: each file it wrote is a recording of the room's call."""
    egress = payload.child("egressInfo")
    files = egress.children("fileResults")
    legacy = egress.optional_child("file")  # deprecated single result, still sent by older servers
    if not files and legacy is not None:
        files = [legacy]
    if _enum(egress, "status") in FAILED_EGRESS or not files:
        return Translation(ignored=1)
    session_id, egress_id = egress.session("roomId"), egress.text("egressId")
    at, key = at_seconds(_created_ms(payload)), _webhook_id(payload)
    events: list[Event] = []
    for index, file in enumerate(files):
        url = file.optional_text("location", 2048) or file.optional_text("filename", 2048)
        if url is None:
            continue
        start, end = _file_span(egress, file)
        events.append(
            {
                "id": event_id(key, str(index)),
                "type": "recording.ready",
                "sessionId": session_id,
                "at": at,
                "rid": egress_id if index == 0 else f"{egress_id}:{index}",
                "startTime": at_seconds(start),
                "endTime": at_seconds(end),
                "recording_url": url,
            }
        )
    return Translation(events=events, ignored=0 if events else 1)


#: Each LiveKit event Calltrail uses; any other is counted as ignored.
HANDLERS: dict[str, Callable[[Payload], Translation]] = {
    "room_started": room_started,
    "participant_joined": participant_joined,
    "participant_left": participant_left,
    "participant_connection_aborted": connection_aborted,
    "track_published": track_published,
    "egress_ended": egress_ended,
    "room_finished": room_finished,
}


class LiveKitAdapter:
    """LiveKit's webhooks, authenticated by their signed ``Authorization`` token."""

    provider: str = "livekit"
    domain: Domain = "sessions"
    auth: AuthKind = "signature"

    def __init__(self, clock: Callable[[], float] = time.time, leeway: float = LEEWAY_SECONDS):
        self.clock = clock
        self.leeway = leeway

    def verify(self, request: HookRequest, credentials: Credentials) -> None:
        """Check the ``Authorization`` token against the integration's API key and secret."""
        token = request.headers.get("authorization", "").strip()
        if token[:7].lower() == "bearer ":  # LiveKit sends the bare token; tolerate the usual prefix
            token = token[7:].strip()
        if not token or not credentials.api_key or not credentials.secret:
            raise HookUnauthorized()
        verify_token(
            token,
            api_key=credentials.api_key,
            secret=credentials.secret,
            body=request.body,
            now=self.clock(),
            leeway=self.leeway,
        )

    def translate(self, request: HookRequest) -> Translation:
        """The native events one LiveKit webhook means."""
        payload = Payload(decode_body(request.body))
        name = payload.data.get("event")
        handler = HANDLERS.get(name) if isinstance(name, str) else None
        if handler is None:
            return Translation(ignored=1)
        return handler(payload)


ADAPTER = LiveKitAdapter()
