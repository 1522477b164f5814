"""The LiveKit adapter against LiveKit's own types and signing code (the ``livekit-api`` package).

Payloads are ``livekit.api`` protobuf messages serialised with ``MessageToJson`` (protobuf JSON, as
LiveKit's server sends them); tokens are minted with ``AccessToken`` exactly as the server's
``webhook/url_notifier.go`` does (valid 5 minutes, ``sha256`` claim = base64 SHA-256 of the body),
and ``WebhookReceiver`` must accept what these tests send. No database: the translated events go
through ``parse_batch`` and ``derive_record``.
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
from datetime import timedelta
from typing import Any

import jwt
import pytest
from google.protobuf.json_format import MessageToJson
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit import api

from calltrail.adapters.base import Credentials, HookRequest, Translation
from calltrail.adapters.livekit import ADAPTER, LiveKitAdapter
from calltrail.kernel.errors import HookUnauthorized, InvalidRequest
from calltrail.sessions.events import parse_batch
from calltrail.sessions.fold import derive_record

KEY, SECRET = "APIw7Ks9QeTz", "lk-secret-5d2c9a0e81f34b6c9e7a1d3f0b8c2e4a6d9f1b3c5e7a9d0f2b4c6e8a1d3"
CREDENTIALS = Credentials(api_key=KEY, secret=SECRET)
T0 = 1_790_000_000  # the room's creation (2026-09-21T12:53:20Z), in seconds
ROOM_SID, ROOM_NAME = "RM_hT5vQ2mZ8xLe", "design-standup"
Kind, State = api.ParticipantInfo.Kind, api.ParticipantInfo.State


def room(**fields: Any) -> api.Room:
    """The room as LiveKit's ``Room.ToProto()`` shows it in room and participant webhooks."""
    defaults: dict[str, Any] = {
        "sid": ROOM_SID,
        "name": ROOM_NAME,
        "creation_time": T0,
        "creation_time_ms": T0 * 1000 + 250,
        "empty_timeout": 300,
        "departure_timeout": 20,
        "enabled_codecs": [api.Codec(mime="audio/opus"), api.Codec(mime="video/VP8")],
    }
    return api.Room(**{**defaults, **fields})


def person(
    identity: str, sid: str, joined_ms: int, kind: api.ParticipantInfo.Kind = Kind.STANDARD, **fields: Any
) -> api.ParticipantInfo:
    defaults: dict[str, Any] = {"name": identity.title(), "state": State.ACTIVE, "is_publisher": True}
    return api.ParticipantInfo(
        sid=sid,
        identity=identity,
        joined_at=joined_ms // 1000,
        joined_at_ms=joined_ms,
        kind=kind,
        **{**defaults, **fields},
    )


ALICE = person("alice", "PA_alice0001", (T0 + 2) * 1000 + 100)
BOB = person("bob", "PA_bob000002", (T0 + 5) * 1000)
AGENT = person("agent-1", "PA_agent0003", (T0 + 10) * 1000, Kind.AGENT)
RECORDER = person("EG_rec1", "PA_egress004", (T0 + 20) * 1000, Kind.EGRESS)
CALLER = person(
    "sip_+15551234567",
    "PA_sip000005",
    (T0 + 30) * 1000,
    Kind.SIP,
    attributes={"sip.phoneNumber": "+15551234567", "sip.trunkID": "ST_x"},
)
CAROL = person("carol", "PA_carol0006", (T0 + 38) * 1000, state=State.JOINING)


def webhook(event: str, number: int, created_at: int, **fields: Any) -> api.WebhookEvent:
    return api.WebhookEvent(event=event, id=f"EV_{number:04d}qR7s", created_at=created_at, **fields)


def track(kind: api.TrackType, sid: str) -> dict[str, Any]:
    # track_* webhooks carry only the room's sid/name and the participant's sid/identity.
    source = api.TrackSource.CAMERA if kind == api.TrackType.VIDEO else api.TrackSource.MICROPHONE
    return {"track": api.TrackInfo(sid=sid, type=kind, source=source, mime_type="video/VP8")}


def recording_egress() -> api.EgressInfo:
    ns = 1_000_000_000
    result = api.FileInfo(
        filename="design-standup.mp4",
        started_at=(T0 + 20) * ns + 5,
        ended_at=(T0 + 590) * ns,
        duration=570 * ns,
        size=48_213_004,
        location="https://recordings.example.com/design-standup.mp4",
    )
    return api.EgressInfo(
        egress_id="EG_k2Lm9Xp4",
        room_id=ROOM_SID,
        room_name=ROOM_NAME,
        status=api.EgressStatus.EGRESS_COMPLETE,
        started_at=(T0 + 19) * ns,
        ended_at=(T0 + 591) * ns,
        file_results=[result],
    )


def short_room() -> api.Room:
    return api.Room(sid=ROOM_SID, name=ROOM_NAME)


#: A recorded meeting, in the order LiveKit sent it.
SEQUENCE = [
    webhook("room_started", 1, T0, room=room()),
    webhook("participant_joined", 2, T0 + 3, room=room(num_participants=1), participant=ALICE),
    webhook(
        "track_published",
        3,
        T0 + 4,
        room=short_room(),
        participant=api.ParticipantInfo(sid=ALICE.sid, identity="alice"),
        **track(api.TrackType.AUDIO, "TR_a1"),
    ),
    webhook("participant_joined", 4, T0 + 6, room=room(num_participants=2), participant=BOB),
    webhook("participant_joined", 5, T0 + 11, room=room(num_participants=3), participant=AGENT),
    webhook("participant_joined", 6, T0 + 21, room=room(num_participants=4), participant=RECORDER),
    webhook("egress_started", 7, T0 + 21, egress_info=recording_egress()),
    webhook("participant_joined", 8, T0 + 31, room=room(num_participants=5), participant=CALLER),
    webhook("participant_connection_aborted", 9, T0 + 40, room=room(), participant=CAROL),
    webhook(
        "track_published",
        10,
        T0 + 60,
        room=short_room(),
        participant=api.ParticipantInfo(sid=BOB.sid, identity="bob"),
        **track(api.TrackType.VIDEO, "TR_b1"),
    ),
    webhook("participant_left", 11, T0 + 200, room=room(), participant=CALLER),
    webhook("participant_left", 12, T0 + 300, room=room(), participant=BOB),
    webhook("room_finished", 13, T0 + 600, room=room()),
    webhook("egress_ended", 14, T0 + 605, egress_info=recording_egress()),
]


def encode(event: api.WebhookEvent) -> bytes:
    return MessageToJson(event, indent=None).encode()


def sign(body: bytes, *, key: str = KEY, secret: str = SECRET, ttl: timedelta = timedelta(minutes=5)) -> str:
    """The token LiveKit's server puts in ``Authorization`` (auth.NewAccessToken(...).SetValidFor(5m).SetSha256)."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return api.AccessToken(key, secret).with_ttl(ttl).with_sha256(digest).to_jwt()


def request(body: bytes, token: str | None = None) -> HookRequest:
    headers = {"content-type": "application/webhook+json", "user-agent": "LiveKit"}
    if token is not None:
        headers["authorization"] = token
    return HookRequest(url="https://calltrail.example.com/hooks/int_7Hq2", headers=headers, body=body)


def translate(event: api.WebhookEvent) -> Translation:
    return ADAPTER.translate(request(encode(event)))


def derive(translations: list[Translation], session_id: str = ROOM_SID) -> dict[str, Any] | None:
    return derive_record(session_id, parse_batch([e for t in translations for e in t.events]))


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize("event", SEQUENCE, ids=lambda e: e.event)
def test_signed_webhooks_verify_here_and_in_livekit_receiver(event):
    body = encode(event)
    token = sign(body)
    ADAPTER.verify(request(body, token), CREDENTIALS)
    received = api.WebhookReceiver(api.TokenVerifier(KEY, SECRET)).receive(body.decode(), token)
    assert received == event


def test_bearer_prefix_is_tolerated():
    body = encode(SEQUENCE[0])
    ADAPTER.verify(request(body, "Bearer " + sign(body)), CREDENTIALS)


def forged(body: bytes) -> dict[str, tuple[bytes, str]]:
    """Requests LiveKit did not send, each with the body it carries."""
    altered = body.replace(b"design-standup", b"design-standuq")
    payload = {"iss": KEY, "sub": "", "sha256": base64.b64encode(hashlib.sha256(body).digest()).decode()}
    now = int(time.time())
    return {
        "wrong secret": (body, sign(body, secret="not-the-secret-" + "0123456789abcdef" * 4)),
        "wrong issuer": (body, sign(body, key="APIsomeoneElse")),
        "body altered after signing": (altered, sign(body)),
        "expired": (body, sign(body, ttl=timedelta(minutes=-2))),
        "no expiry": (body, jwt.encode({**payload, "nbf": now}, SECRET, algorithm="HS256")),
        "no body hash": (body, api.AccessToken(KEY, SECRET).to_jwt()),
        "alg none": (body, jwt.encode({**payload, "exp": now + 300}, None, algorithm="none")),
        "HS512": (body, jwt.encode({**payload, "exp": now + 300}, SECRET, algorithm="HS512")),
        "signature of another body": (body, sign(encode(SEQUENCE[1]))),
        "garbage": (body, "not.a.token"),
        "two parts": (body, "e30.e30"),
    }


@pytest.mark.parametrize("case", list(forged(b"{}").keys()))
def test_forged_requests_are_unauthorized_here_and_in_livekit_receiver(case):
    body, token = forged(encode(SEQUENCE[0]))[case]
    with pytest.raises(HookUnauthorized):
        ADAPTER.verify(request(body, token), CREDENTIALS)
    with pytest.raises(Exception):  # noqa: B017 - livekit-api raises jwt errors and bare Exceptions
        api.WebhookReceiver(api.TokenVerifier(KEY, SECRET)).receive(body.decode(), token)


@pytest.mark.parametrize(
    "credentials",
    [Credentials(), Credentials(api_key=KEY), Credentials(secret=SECRET), Credentials(api_key="other", secret=SECRET)],
)
def test_missing_or_other_credentials_are_unauthorized(credentials):
    body = encode(SEQUENCE[0])
    with pytest.raises(HookUnauthorized):
        ADAPTER.verify(request(body, sign(body)), credentials)


def test_missing_header_is_unauthorized():
    with pytest.raises(HookUnauthorized):
        ADAPTER.verify(request(encode(SEQUENCE[0])), CREDENTIALS)


@pytest.mark.parametrize(
    ("claim", "offset", "accepted"),
    [("nbf", -59, True), ("nbf", -61, False), ("exp", 59, True), ("exp", 61, False)],
)
def test_clock_leeway_is_one_minute(claim, offset, accepted):
    # The server's token is valid from its signing second (nbf) for five minutes (exp); clocks
    # may disagree by a minute either way, as go-jose and livekit-api allow.
    body = encode(SEQUENCE[0])
    token = sign(body)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["nbf"] == 300
    adapter = LiveKitAdapter(clock=lambda: claims[claim] + offset)
    if accepted:
        adapter.verify(request(body, token), CREDENTIALS)
    else:
        with pytest.raises(HookUnauthorized):
            adapter.verify(request(body, token), CREDENTIALS)


# --- translation ----------------------------------------------------------------------------

TRANSLATIONS = [translate(event) for event in SEQUENCE]


def test_translation_is_a_pure_function_of_the_payload():
    assert [translate(event) for event in SEQUENCE] == TRANSLATIONS
    by_id: dict[str, dict[str, Any]] = {}
    for event in (e for t in TRANSLATIONS for e in t.events):
        # One id always carries the same content, so "the first stored wins" never depends on order.
        assert by_id.setdefault(event["id"], event) == event


def test_unused_events_are_counted_as_ignored():
    ignored = [event.event for event, t in zip(SEQUENCE, TRANSLATIONS, strict=True) if t.ignored]
    assert ignored == ["track_published", "participant_joined", "egress_started"]  # audio track, egress bot
    assert all(not t.events for t in TRANSLATIONS if t.ignored)
    for name in ("track_unpublished", "ingress_started", "agent_job_started", "some_future_event"):
        assert translate(webhook(name, 99, T0, room=room())) == Translation(events=[], ignored=1)


EXPECTED = {
    "sessionId": ROOM_SID,
    "status": "ended",
    "mode": "meet",
    "type": "video",
    "initiator": "alice",
    "receiver": ROOM_NAME,
    "receiverType": "group",
    "initiatedAt": T0,
    "startedAt": T0,
    "endedAt": T0 + 600,
    "hasRecording": True,
    "totalParticipants": 4,
    # started at T0.250, switched to video at T0+60 (bob's camera), ended at T0+600
    "totalAudioMinutes": 59_750 / 60_000,
    "totalVideoMinutes": 9.0,
    "totalDuration": "00:10:00",
}
PARTICIPANTS = [
    # uid, deviceId, joinedAt, leftAt, audio ms, video ms
    ("alice", ALICE.sid, T0 + 2, T0 + 600, 57_900, 540_000),
    ("bob", BOB.sid, T0 + 5, T0 + 300, 55_000, 240_000),
    ("agent-1", AGENT.sid, T0 + 10, T0 + 600, 50_000, 540_000),
    ("sip_+15551234567", CALLER.sid, T0 + 30, T0 + 200, 30_000, 140_000),
]


def test_a_recorded_meeting_becomes_one_call():
    record = derive(TRANSLATIONS)
    assert record is not None
    assert {key: record[key] for key in EXPECTED} == EXPECTED
    shown = [
        (p["uid"], p["deviceId"], p["joinedAt"], p["leftAt"], p["totalAudioMinutes"], p["totalVideoMinutes"])
        for p in record["participants"]
    ]
    assert shown == [(u, d, j, left, a / 60_000, v / 60_000) for u, d, j, left, a, v in PARTICIPANTS]
    assert all(p["isJoined"] and p["state"] == "ended" for p in record["participants"])
    assert record["recordings"] == [
        {
            "rid": "EG_k2Lm9Xp4",
            "duration": 570 / 60,
            "startTime": T0 + 20,
            "endTime": T0 + 590,
            "recording_url": "https://recordings.example.com/design-standup.mp4",
        }
    ]


@pytest.mark.parametrize("seed", range(12))
def test_any_order_and_redelivery_give_the_same_record(seed):
    rng = random.Random(seed)
    deliveries = list(SEQUENCE) + rng.sample(SEQUENCE, 4)  # four webhooks delivered twice
    rng.shuffle(deliveries)
    assert derive([translate(event) for event in deliveries]) == derive(TRANSLATIONS)


def test_lost_joins_are_recovered_from_leaves():
    kept = [t for e, t in zip(SEQUENCE, TRANSLATIONS, strict=True) if e.event != "participant_joined"]
    record = derive(kept)
    assert record is not None
    assert [(p["uid"], p["joinedAt"], p["leftAt"]) for p in record["participants"]] == [
        ("bob", T0 + 5, T0 + 300),
        ("sip_+15551234567", T0 + 30, T0 + 200),
    ]
    assert (record["initiator"], record["initiatedAt"], record["startedAt"]) == ("bob", T0, T0)


@settings(max_examples=60, deadline=None)
@given(st.permutations(["zoe", "amy", "bo", "amy2", "late"]))
def test_the_initiator_is_the_first_joiner_then_the_smallest_identity(order):
    # zoe, amy, bo and amy2 join in the same millisecond; "late" joins one millisecond before them
    # but its webhook is sent last, and "amy" is a prefix of "amy2".
    joined = {"zoe": 5000, "amy": 5000, "bo": 5000, "amy2": 5000, "late": 4999}
    events = [
        webhook(
            "participant_joined",
            n,
            T0 + 9,
            room=room(),
            participant=person(name, f"PA_{name}", T0 * 1000 + joined[name]),
        )
        for n, name in enumerate(order)
    ]
    record = derive([translate(e) for e in events])
    assert record is not None and record["initiator"] == "late"
    record = derive([translate(e) for e in events if e.participant.identity != "late"])
    assert record is not None and record["initiator"] == "amy"


def test_a_leave_within_the_second_of_the_join_still_closes_it():
    # joinedAtMs is precise, createdAt whole seconds: the leave's second starts before the join.
    quick = person("quick", "PA_quick", (T0 + 100) * 1000 + 900)
    hooks = [
        webhook("participant_joined", 30, T0 + 100, room=room(), participant=quick),
        webhook("participant_left", 31, T0 + 100, room=room(), participant=quick),
    ]
    record = derive([translate(h) for h in hooks])
    assert record is not None
    [entry] = record["participants"]
    assert (entry["state"], entry["joinedAt"], entry["leftAt"], entry["totalDuration"]) == (
        "ended",
        T0 + 100,
        T0 + 100,
        0,
    )


def test_a_room_without_participants_has_no_call_yet():
    translations = [translate(SEQUENCE[0]), translate(SEQUENCE[12])]
    assert [e["type"] for t in translations for e in t.events] == ["call.started", "call.started", "call.ended"]
    assert derive(translations) is None


def test_unknown_fields_are_tolerated():
    body = encode(SEQUENCE[1]).replace(b'"event"', b'"futureField": {"x": [1, 2]}, "event"', 1)
    assert ADAPTER.translate(request(body)) == TRANSLATIONS[1]


# --- malformed payloads ---------------------------------------------------------------------


@pytest.mark.parametrize("event", SEQUENCE, ids=lambda e: e.event)
def test_a_payload_cut_in_half_names_the_body(event):
    body = encode(event)
    with pytest.raises(InvalidRequest) as caught:
        ADAPTER.translate(request(body[: len(body) // 2]))
    assert list(caught.value.details) == ["body"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (
            webhook("participant_joined", 1, T0, room=room(), participant=person("ali\x00ce", "PA_1", T0 * 1000)),
            "participant.identity",
        ),
        (
            webhook("participant_joined", 1, T0, room=room(), participant=person("ali ce", "PA_1", T0 * 1000)),
            "participant.identity",
        ),
        (
            webhook("participant_joined", 1, T0, room=room(), participant=person("alice", "PA\x001", T0 * 1000)),
            "participant.sid",
        ),
        (
            webhook("participant_joined", 1, T0, room=room(), participant=person("alice", "PA_1", 0)),
            "participant.joinedAt",
        ),
        (webhook("participant_joined", 1, T0, room=room(sid="RM/../x"), participant=ALICE), "room.sid"),
        (webhook("participant_joined", 1, T0, room=room(name="a room"), participant=ALICE), "room.name"),
        (webhook("participant_joined", 1, T0, participant=ALICE), "room"),
        (webhook("room_finished", 1, 0, room=room()), "createdAt"),
        (api.WebhookEvent(event="room_finished", id="EV\x00", created_at=T0, room=room()), "id"),
        (
            webhook(
                "egress_ended",
                1,
                T0,
                egress_info=api.EgressInfo(egress_id="EG_1", file_results=[api.FileInfo(location="x")]),
            ),
            "egressInfo.roomId",
        ),
    ],
)
def test_bad_values_are_invalid_requests_naming_the_field(event, field):
    with pytest.raises(InvalidRequest) as caught:
        translate(event)
    assert list(caught.value.details) == [field]


@pytest.mark.parametrize("body", [b"[]", b'"room_started"', b"\xff\xfe", b'{"event": NaN}', b""])
def test_bodies_that_are_not_json_objects_name_the_body(body):
    with pytest.raises(InvalidRequest) as caught:
        ADAPTER.translate(request(body))
    assert list(caught.value.details) == ["body"]


def test_failed_and_fileless_egress_is_ignored():
    failed = recording_egress()
    failed.status = api.EgressStatus.EGRESS_FAILED
    streamed = api.EgressInfo(egress_id="EG_2", room_id=ROOM_SID, status=api.EgressStatus.EGRESS_COMPLETE)
    for info in (failed, streamed):
        assert translate(webhook("egress_ended", 20, T0 + 700, egress_info=info)) == Translation(events=[], ignored=1)
