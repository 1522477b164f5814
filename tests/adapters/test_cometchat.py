"""The CometChat adapter: the documented payloads, and realistic call and meeting sequences.

``tests/fixtures/cometchat/documented.json`` holds the examples of CometChat's webhook docs verbatim.
The sequences below follow the documented shapes, with a ``uid`` on each occupant (the docs show a
``name`` only; see docs/integrations/cometchat.md). No database: the translated events go through
``parse_batch`` and ``derive_record``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calltrail.adapters.base import Credentials, HookRequest, Translation
from calltrail.adapters.cometchat import ADAPTER, meeting_receiver
from calltrail.kernel.errors import HookUnauthorized, InvalidRequest
from calltrail.sessions.events import parse_batch
from calltrail.sessions.fold import derive_record

DOCUMENTED = json.loads((Path(__file__).parents[1] / "fixtures" / "cometchat" / "documented.json").read_text())
CALL = "v1.us.2491f2c8a3b7e.1790000000a6b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9"
MEETING = "v1.us.2491f2c8a3b7e.meet-design-review-1790000500"
T0, T1 = 1_790_000_000, 1_790_000_500
ENVELOPE = {"appId": "2491f2c8a3b7e", "region": "us", "webhook": "calltrail"}


def hook(trigger: str, data: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    return {"trigger": trigger, "data": data, **({"type": kind} if kind else {}), **ENVELOPE}


def occupant(uid: str | None, joined: int, left: int | None = None, *, audio: bool = True) -> dict[str, Any]:
    found: dict[str, Any] = {"joined_at": joined, "audio_call": "true" if audio else "false", "name": f"{uid} Name"}
    if uid is not None:
        found["uid"] = uid
    if left is not None:
        found["left_at"] = left
    return found


def initiated(session: str = CALL, media: str = "video", receiver: str = "cometchat-uid-5", kind: str = "user"):
    call = {
        "id": "3915",
        "conversationId": f"cometchat-uid-1_{kind}_{receiver}",
        "sender": "cometchat-uid-1",
        "receiverType": kind,
        "receiver": receiver,
        "category": "call",
        "type": media,
        "data": {
            "action": "initiated",
            "entities": {
                "by": {"entity": {"uid": "cometchat-uid-1", "name": "Andrew Joseph"}, "entityType": "user"},
                "on": {
                    "entity": {"sessionid": session, "status": "initiated", "type": media, "initiatedAt": T0},
                    "entityType": "call",
                },
            },
        },
        "sentAt": T0,
        "updatedAt": T0,
    }
    return hook("call_initiated", {"call": call})


def outcome(trigger: str, at: int, session: str | None = CALL) -> dict[str, Any]:
    action = trigger.removeprefix("call_")
    data: dict[str, Any] = {"action": action}
    if session is not None:
        data["entities"] = {"on": {"entity": {"sessionid": session, "status": action}, "entityType": "call"}}
    call = {"id": "3916", "sender": "cometchat-uid-5", "receiverType": "user", "receiver": "cometchat-uid-1"}
    return hook(trigger, {"call": {**call, "category": "call", "type": "video", "data": data, "sentAt": at}})


UID1, UID5 = occupant("cometchat-uid-1", T0 + 6, T0 + 101), occupant("cometchat-uid-5", T0 + 8, T0 + 100)
#: A recorded one-to-one video call, in the documented order.
RINGING = [
    initiated(),
    hook("call_started", {"created_at": T0 + 6, "sessionId": CALL}, "call"),
    hook("call_participant_joined", {"occupant": occupant("cometchat-uid-1", T0 + 6), "sessionId": CALL}, "call"),
    hook("call_participant_joined", {"occupant": occupant("cometchat-uid-5", T0 + 8), "sessionId": CALL}, "call"),
    hook("call_participant_left", {"occupant": UID5, "sessionId": CALL}, "call"),
    hook("call_participant_left", {"occupant": UID1, "sessionId": CALL}, "call"),
    hook(
        "call_ended",
        {"all_occupants": [UID5, UID1], "destroyed_at": T0 + 101, "created_at": T0 + 6, "sessionId": CALL},
        "call",
    ),
    hook(
        "recording_generated",
        {
            "recordingDate": "2026-09-21",
            "duration": "85.500000",
            "startTime": str(T0 + 10),
            "sessionId": CALL,
            "recording_url": "https://recordings.example.com/3915.mp4",
        },
    ),
]

ANN, BEN = occupant("ann", T1, T1 + 120), occupant("ben", T1 + 4, T1 + 64, audio=False)
GUEST = occupant(None, T1 + 9, T1 + 30)  # as documented: a name, no uid
#: A meeting (call-session flow): no call_initiated; ben has his camera on.
MEETING_HOOKS = [
    hook("meeting_started", {"created_at": T1, "sessionId": MEETING}, "meet"),
    hook("meeting_participant_joined", {"occupant": occupant("ann", T1), "sessionId": MEETING}, "meet"),
    hook(
        "meeting_participant_joined", {"occupant": occupant("ben", T1 + 4, audio=False), "sessionId": MEETING}, "meet"
    ),
    hook("meeting_participant_joined", {"occupant": occupant(None, T1 + 9), "sessionId": MEETING}, "meet"),
    hook("meeting_participant_left", {"occupant": GUEST, "sessionId": MEETING}, "meet"),
    hook("meeting_participant_left", {"occupant": BEN, "sessionId": MEETING}, "meet"),
    hook("meeting_participant_left", {"occupant": ANN, "sessionId": MEETING}, "meet"),
    hook(
        "meeting_ended",
        {"all_occupants": [ANN, BEN, GUEST], "destroyed_at": T1 + 120, "created_at": T1, "sessionId": MEETING},
        "meet",
    ),
]


def request(payload: dict[str, Any] | bytes) -> HookRequest:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"content-type": "application/json", "authorization": "Basic Y2FsbHRyYWlsOnNlY3JldA=="}
    return HookRequest(url="https://calltrail.example.com/hooks/int_cc41", headers=headers, body=body)


def translate(payload: dict[str, Any] | bytes) -> Translation:
    return ADAPTER.translate(request(payload))


def derive(payloads: list[dict[str, Any]], session: str = CALL) -> dict[str, Any] | None:
    return derive_record(session, parse_batch([e for p in payloads for e in translate(p).events]))


def spans(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (p["uid"], p["joinedAt"], p.get("leftAt"), p["totalAudioMinutes"], p["totalVideoMinutes"])
        for p in record["participants"]
    ]


def test_a_recorded_ringing_call_becomes_one_record():
    record = derive(RINGING)
    assert record is not None
    assert {k: record[k] for k in ("status", "mode", "type", "initiator", "receiver", "receiverType")} == {
        "status": "ended",
        "mode": "call",
        "type": "video",
        "initiator": "cometchat-uid-1",
        "receiver": "cometchat-uid-5",
        "receiverType": "user",
    }
    assert (record["initiatedAt"], record["startedAt"], record["endedAt"]) == (T0, T0 + 6, T0 + 101)
    assert (record["totalVideoMinutes"], record["totalAudioMinutes"], record["totalDuration"]) == (
        95 / 60,
        0,
        "00:01:35",
    )
    assert spans(record) == [
        ("cometchat-uid-1", T0 + 6, T0 + 101, 0, 95 / 60),
        ("cometchat-uid-5", T0 + 8, T0 + 100, 0, 92 / 60),
    ]
    assert record["recordings"] == [
        {
            "rid": f"rec-{T0 + 10}",
            "duration": 85.5 / 60,
            "startTime": T0 + 10,
            "endTime": T0 + 95,
            "recording_url": "https://recordings.example.com/3915.mp4",
        }
    ]


def test_a_meeting_becomes_one_record_initiated_by_its_first_joiner():
    record = derive(MEETING_HOOKS, MEETING)
    assert record is not None
    assert {k: record[k] for k in ("status", "mode", "type", "initiator", "receiver", "receiverType")} == {
        "status": "ended",
        "mode": "meet",
        "type": "video",
        "initiator": "ann",
        "receiver": MEETING,
        "receiverType": "group",
    }
    assert (record["initiatedAt"], record["startedAt"], record["endedAt"]) == (T1, T1, T1 + 120)
    # ann alone for 4 s (audio), then ben's camera makes it a video call
    assert (record["totalAudioMinutes"], record["totalVideoMinutes"]) == (4 / 60, 116 / 60)
    assert spans(record) == [("ann", T1, T1 + 120, 4 / 60, 116 / 60), ("ben", T1 + 4, T1 + 64, 0, 1.0)]
    assert "recordings" not in record


@pytest.mark.parametrize("seed", range(12))
def test_any_order_and_redelivery_give_the_same_records(seed):
    rng = random.Random(seed)
    for hooks, session in ((RINGING, CALL), (MEETING_HOOKS, MEETING)):
        deliveries = hooks + rng.sample(hooks, 3)
        rng.shuffle(deliveries)
        assert derive(deliveries, session) == derive(hooks, session)


def test_one_id_always_carries_the_same_event():
    by_id: dict[str, dict[str, Any]] = {}
    for payload in RINGING + MEETING_HOOKS:
        for event in translate(payload).events:
            assert by_id.setdefault(event["id"], event) == event
    assert translate(RINGING[4]).events[0] in translate(RINGING[6]).events  # left, also in all_occupants


def test_lost_participant_webhooks_are_recovered_from_call_ended():
    kept = [p for p in RINGING if not p["trigger"].startswith("call_participant")]
    assert derive(kept) == derive(RINGING)


def test_a_ringing_call_is_listed_once_call_initiated_arrives():
    # Only meetings synthesise their initiator; a ringing call's comes from call_initiated alone.
    assert derive(RINGING[1:]) is None


def test_a_participant_who_reconnects_has_both_intervals():
    first, second = occupant("ben", T1 + 4, T1 + 30), occupant("ben", T1 + 40, T1 + 64)
    hooks = [hook("meeting_participant_left", {"occupant": o, "sessionId": MEETING}, "meet") for o in (second, first)]
    record = derive(hooks, MEETING)
    assert record is not None
    assert [(p["uid"], p["joinedAt"], p["leftAt"], p["totalDuration"]) for p in record["participants"]] == [
        ("ben", T1 + 4, T1 + 64, 50 / 60)
    ]


@settings(max_examples=60, deadline=None)
@given(st.permutations(["zoe", "amy", "amy2", "bo"]))
def test_the_meeting_initiator_is_the_first_joiner_then_the_smallest_uid(order):
    joined = {"zoe": T1, "amy": T1 + 1, "amy2": T1 + 1, "bo": T1 + 1}
    hooks = [
        hook("meeting_participant_joined", {"occupant": occupant(uid, joined[uid]), "sessionId": MEETING}, "meet")
        for uid in order
    ]
    record = derive(hooks, MEETING)
    assert record is not None and record["initiator"] == "zoe"
    record = derive([h for h in hooks if h["data"]["occupant"]["uid"] != "zoe"], MEETING)
    assert record is not None and (record["initiator"], record["initiatedAt"]) == ("amy", T1 + 1)


@pytest.mark.parametrize(
    ("trigger", "status"),
    [
        ("call_busy", "busy"),
        ("call_cancelled", "cancelled"),
        ("call_rejected", "rejected"),
        ("call_unanswered", "unanswered"),
    ],
)
def test_outcomes_of_calls_that_never_started(trigger, status):
    record = derive([outcome(trigger, T0 + 30), initiated(media="audio")])
    assert record is not None
    assert (record["status"], record["type"], record["endedAt"], "startedAt" in record) == (
        status,
        "audio",
        T0 + 30,
        False,
    )
    invitee = record["participants"][0]
    assert (invitee["uid"], invitee["isJoined"]) == ("cometchat-uid-5", False)
    assert invitee["state"] == ("rejected" if status == "rejected" else "unanswered")


def test_a_group_call_has_no_invitees():
    record = derive([initiated(receiver="design-team", kind="group")])
    assert record is not None
    assert (record["receiverType"], record["receiver"], record["participants"], record["status"]) == (
        "group",
        "design-team",
        [],
        "initiated",
    )


def test_the_documented_examples_translate():
    session = "v1.us.31780434a95d45.1696934199e1d2b3c4f5"
    results = {}
    for trigger, example in DOCUMENTED.items():
        if trigger.startswith("_"):
            continue
        assert example["trigger"] == trigger
        translation = translate(json.loads(json.dumps(example).replace("<sessionId>", session)))
        if translation.events:
            parse_batch(translation.events)  # valid native events
        results[trigger] = ([e["type"] for e in translation.events], translation.ignored)
    assert results == {
        "call_initiated": (["call.initiated"], 0),
        "call_started": (["call.started"], 0),
        # documented occupants carry no uid: nothing to attribute the join or leave to
        "call_participant_joined": ([], 1),
        "call_participant_left": ([], 1),
        "call_ended": (["call.started", "call.ended"], 0),
        # documented outcomes carry no session id
        "call_busy": ([], 1),
        "call_cancelled": ([], 1),
        "call_rejected": ([], 1),
        "call_unanswered": ([], 1),
        "meeting_started": (["call.started"], 0),
        "meeting_participant_joined": ([], 1),
        "meeting_participant_left": ([], 1),
        "meeting_ended": (["call.started", "call.ended"], 0),
        "recording_generated": (["recording.ready"], 0),
    }


@pytest.mark.parametrize("trigger", ["after_message", "user_connection_status_changed", "call_recording_started", ""])
def test_other_triggers_are_ignored(trigger):
    assert translate(hook(trigger, {"sessionId": CALL})) == Translation(events=[], ignored=1)
    assert translate({"data": {}}) == Translation(events=[], ignored=1)


@pytest.mark.parametrize("payload", RINGING + MEETING_HOOKS, ids=lambda p: p["trigger"])
def test_a_payload_cut_in_half_names_the_body(payload):
    body = json.dumps(payload).encode()
    with pytest.raises(InvalidRequest) as caught:
        translate(body[: len(body) // 2])
    assert list(caught.value.details) == ["body"]


def with_data(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**payload, "data": {**payload["data"], **changes}}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (with_data(RINGING[2], occupant=occupant("uid\x00-1", T0)), "data.occupant.uid"),
        (with_data(RINGING[2], occupant=occupant("two words", T0)), "data.occupant.uid"),
        (with_data(RINGING[2], occupant={**occupant("u1", T0), "joined_at": "soon"}), "data.occupant.joined_at"),
        (with_data(RINGING[1], sessionId="has spaces"), "data.sessionId"),
        (with_data(RINGING[1], sessionId="a\x00b"), "data.sessionId"),
        (with_data(RINGING[1], created_at=None), "data.created_at"),
        (with_data(RINGING[6], all_occupants={"not": "a list"}), "data.all_occupants"),
        (with_data(RINGING[7], duration="-3"), "data.duration"),
        (with_data(RINGING[7], recording_url="https://x/\x00"), "data.recording_url"),
        (with_data(RINGING[0], call={**RINGING[0]["data"]["call"], "type": "hologram"}), "data.call.type"),
        (with_data(RINGING[0], call={**RINGING[0]["data"]["call"], "sender": None}), "data.call.sender"),
        (hook("call_started", "not an object"), "data"),  # type: ignore[arg-type]
    ],
)
def test_bad_values_are_invalid_requests_naming_the_field(payload, field):
    with pytest.raises(InvalidRequest) as caught:
        translate(payload)
    assert list(caught.value.details) == [field]


def test_times_may_be_numeric_strings_with_fractions():
    left = with_data(RINGING[4], occupant={**UID5, "joined_at": f"{T0 + 8}.250", "left_at": T0 + 100.5})
    events = {e["type"]: e for e in translate(left).events}
    assert (events["participant.joined"]["at"], events["participant.left"]["at"]) == (T0 + 8.25, T0 + 100.5)


def test_a_leave_reported_before_its_join_is_moved_to_the_join():
    skewed = with_data(RINGING[4], occupant={**UID5, "left_at": T0 + 7})
    events = {e["type"]: e["at"] for e in translate(skewed).events}
    assert events == {"participant.joined": T0 + 8, "participant.left": T0 + 8}


def test_long_session_ids_still_name_a_valid_meeting_receiver():
    long_session = "v1.us." + "a" * 200
    assert meeting_receiver(MEETING) == MEETING
    receiver = meeting_receiver(long_session)
    assert receiver.startswith("meet-") and len(receiver) == 37 and receiver == meeting_receiver(long_session)
    joined = hook("meeting_participant_joined", {"occupant": occupant("ann", T1), "sessionId": long_session}, "meet")
    events = parse_batch(translate(joined).events)
    assert len(events) == 2 and all(len(event.id) <= 255 for event in events)


def test_signature_verification_is_not_cometchats():
    with pytest.raises(HookUnauthorized):
        ADAPTER.verify(request(RINGING[0]), Credentials(api_key="calltrail", secret="secret"))
    assert (ADAPTER.provider, ADAPTER.domain, ADAPTER.auth) == ("cometchat", "sessions", "basic")
