"""Parsing answers into models: every field of the spec's ``CallLog``, unknown keys kept,
wrong types refused with the key named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from calltrail_sdk import AuthToken, CallGroup, CallLog, CallUser, InvalidResponseError, Participant, Recording

FIXTURES = Path(__file__).parent.parent / "fixtures"

USER_VIEW_ITEM: dict[str, Any] = {
    "sessionId": "s1",
    "totalAudioMinutes": 0.5,
    "totalVideoMinutes": 1,
    "totalDuration": "00:01:30",
    "hasRecording": True,
    "initiatedAt": 1700000000,
    "initiator": "bob",
    "mode": "meet",
    "receiver": "team",
    "receiverType": "group",
    "status": "ended",
    "totalDurationInMinutes": 1.5,
    "totalParticipants": 2,
    "type": "video",
    "mid": "m-1",
    "startedAt": 1700000005,
    "endedAt": 1700000095,
    "participants": [
        {
            "uid": "bob",
            "totalAudioMinutes": 0.5,
            "totalVideoMinutes": 1,
            "isJoined": True,
            "state": "ended",
            "totalDuration": 1.5,
            "deviceId": "d1",
            "joinedAt": 1700000005,
            "leftAt": 1700000095,
            "mid": "m-1",
            "name": "Bob",
            "avatar": "https://i.example/bob.png",
            "hasJoined": True,
            "deviceID": "d1",
            "totalDurationInMinutes": 1.5,
            "futureField": 1,
        },
        {"uid": "alice", "isJoined": False, "state": "unanswered", "totalDuration": 0, "name": "alice"},
    ],
    "recordings": [
        {
            "rid": "r1",
            "duration": 1.5,
            "startTime": 1700000005,
            "endTime": 1700000095,
            "recording_url": "https://rec.example/r1.mp4",
        },
    ],
    "metaData": {"ticket": "T-1"},
    "tags": ["vip"],
    "data": {
        "entities": {
            "initiator": {
                "entity": {"uid": "bob", "name": "Bob", "avatar": "https://i.example/bob.png"},
                "entityType": "user",
            },
            "receiver": {
                "entity": {"guid": "team", "name": "Team", "icon": "https://i.example/t.png"},
                "entityType": "group",
            },
        },
        "other": 1,
    },
    "callCategory": "meet",
    "direction": "incoming",
    "missed": True,
    "somethingNew": {"x": 1},
}


def test_a_user_view_item_maps_every_spec_field() -> None:
    log = CallLog.from_json(USER_VIEW_ITEM)
    assert log.session_id == "s1"
    assert log.initiator == CallUser(uid="bob", name="Bob", avatar="https://i.example/bob.png")
    assert log.receiver == CallGroup(guid="team", name="Team", icon="https://i.example/t.png")
    assert (log.receiver_type, log.type, log.status, log.call_category, log.mode) == (
        "group",
        "video",
        "ended",
        "meet",
        "meet",
    )
    assert (log.initiated_at, log.started_at, log.ended_at) == (1700000000, 1700000005, 1700000095)
    assert (log.total_duration, log.total_duration_in_minutes) == ("00:01:30", 1.5)
    assert (log.total_audio_minutes, log.total_video_minutes, log.total_participants) == (0.5, 1.0, 2)
    assert log.has_recording is True
    assert log.recordings == (
        Recording(
            rid="r1",
            recording_url="https://rec.example/r1.mp4",
            start_time=1700000005,
            end_time=1700000095,
            duration=1.5,
        ),
    )
    bob, alice = log.participants
    assert log.participant_info_list is log.participants
    assert bob == Participant(
        uid="bob",
        name="Bob",
        avatar="https://i.example/bob.png",
        total_audio_minutes=0.5,
        total_video_minutes=1.0,
        total_duration_in_minutes=1.5,
        device_id="d1",
        has_joined=True,
        joined_at=1700000005,
        left_at=1700000095,
        mid="m-1",
        state="ended",
        extra={"futureField": 1},
    )
    assert (alice.has_joined, alice.state, alice.device_id, alice.joined_at) == (False, "unanswered", None, None)
    assert (log.direction, log.missed, log.mid) == ("incoming", True, "m-1")
    assert (log.metadata, log.tags) == ({"ticket": "T-1"}, ("vip",))
    assert log.extra == {"somethingNew": {"x": 1}}
    assert log.is_group_call


def test_rest_records_carry_ids_only() -> None:
    spec = json.loads((FIXTURES / "spec000_list_calls.json").read_text())
    logs = [CallLog.from_json(item) for item in spec["data"]]
    group, direct = logs
    assert group.receiver == CallGroup(guid="sivamathewstestgroup")
    assert group.initiator == CallUser(uid="superhero8")
    assert direct.receiver == CallUser(uid="superhero2")
    assert (direct.direction, direct.missed) == (None, None)
    assert direct.call_category == direct.mode == "call"
    assert direct.total_duration == "00:00:19"
    assert all(log.extra == {} for log in logs)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"sessionId": None}, "sessionId"),
        ({"initiator": 5}, "initiator"),
        ({"initiatedAt": "yesterday"}, "initiatedAt"),
        ({"initiatedAt": 1.5}, "initiatedAt"),
        ({"totalAudioMinutes": "1"}, "totalAudioMinutes"),
        ({"hasRecording": "true"}, "hasRecording"),
        ({"participants": {}}, "participants"),
        ({"participants": [{"uid": 3}]}, "participants[0].uid"),
        ({"recordings": [{"duration": 1}]}, "recordings[0].rid"),
        ({"status": None}, "status"),
    ],
)
def test_wrong_types_are_refused_naming_the_key(change: dict[str, Any], key: str) -> None:
    item = {**USER_VIEW_ITEM, **change}
    if change.get("sessionId", "") is None:
        del item["sessionId"]
    with pytest.raises(InvalidResponseError, match=key.replace("[", r"\[").replace("]", r"\]")):
        CallLog.from_json(item)


def test_not_an_object() -> None:
    with pytest.raises(InvalidResponseError):
        CallLog.from_json([1, 2])


def test_auth_tokens_never_show_their_secret() -> None:
    token = AuthToken.from_json({"uid": "u", "authToken": "app_" + "a" * 40, "tokenId": "0" * 16, "createdAt": 1})
    assert token.auth_token == "app_" + "a" * 40
    assert "a" * 40 not in repr(token) and "a" * 40 not in str(token)
