"""Validation of native lifecycle events."""

from __future__ import annotations

from typing import Any

import pytest

from calltrail.kernel.errors import InvalidRequest
from calltrail.sessions.events import MAX_BATCH, parse_batch


def base(kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": "e1", "type": kind, "sessionId": "s1", "at": 1700000000, **fields}


INITIATED = base("call.initiated", initiator="alice", receiver="bob", receiverType="user", callType="voice")


def details(body: object) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as info:
        parse_batch(body)
    return info.value.details


def test_single_event_and_normalisation() -> None:
    (event,) = parse_batch(INITIATED)
    assert event.type == "call.initiated" and event.session_id == "s1" and event.at_ms == 1700000000000
    assert event.data["callType"] == "audio"  # voice is audio
    assert event.data["mode"] == "call"
    assert event.data["invitees"] == ["bob"]  # a user call rings its receiver


def test_group_call_invitees_default_to_none_and_dedupe() -> None:
    (event,) = parse_batch(INITIATED | {"receiver": "team", "receiverType": "group"})
    assert event.data["invitees"] == []
    (event,) = parse_batch(INITIATED | {"receiverType": "group", "invitees": ["a", "b", "a"]})
    assert event.data["invitees"] == ["a", "b"]


def test_participant_device_defaults_to_uid() -> None:
    (event,) = parse_batch(base("participant.joined", uid="alice"))
    assert event.data == {"uid": "alice", "deviceId": "alice"}


def test_rfc3339_at() -> None:
    (event,) = parse_batch(base("call.ended") | {"at": "2023-11-14T22:13:20.5Z"})
    assert event.at_ms == 1700000000500


@pytest.mark.parametrize(
    ("body", "key", "fragment"),
    [
        ({**INITIATED, "id": ""}, "events[0].id", "string"),
        ({**INITIATED, "id": 5}, "events[0].id", "string"),
        ({**INITIATED, "sessionId": "a/b"}, "events[0].sessionId", "characters"),
        ({k: v for k, v in INITIATED.items() if k != "at"}, "events[0].at", "required"),
        ({**INITIATED, "at": "soon"}, "events[0].at", "RFC 3339"),
        ({**INITIATED, "at": True}, "events[0].at", "boolean"),
        ({**INITIATED, "type": "call.exploded"}, "events[0].type", "must be one of"),
        ({**INITIATED, "receiverType": "room"}, "events[0].receiverType", "user, group"),
        ({**INITIATED, "callType": "hologram"}, "events[0].callType", "audio, video, voice"),
        ({**INITIATED, "mode": "party"}, "events[0].mode", "call, meet, presenter"),
        ({**INITIATED, "initiator": "has space"}, "events[0].initiator", "without spaces"),
        ({**INITIATED, "invitees": "bob"}, "events[0].invitees", "list"),
        ({**INITIATED, "metaData": "x"}, "events[0].metaData", "object or array"),
        ({**INITIATED, "tags": [1]}, "events[0].tags", "strings"),
        ({**INITIATED, "reciever": "typo"}, "events[0].reciever", "not a field"),
        (base("participant.joined"), "events[0].uid", "required"),
        (base("participant.left", uid="a", deviceId=""), "events[0].deviceId", "1-255"),
        (base("call.started", uid="a"), "events[0].uid", "not a field of call.started"),
        (base("call.updated"), "events[0].metaData", "needs metaData, tags or both"),
        (base("call.type_changed"), "events[0].callType", "required"),
        (base("recording.ready", rid="r", startTime=10, endTime=5, recording_url="u"), "events[0].endTime", "before"),
        (base("recording.ready", rid="r", startTime=10), "events[0].recording_url", "required"),
        ("not an object", "events[0]", "JSON object"),
    ],
)
def test_invalid_events_name_the_field(body: object, key: str, fragment: str) -> None:
    found = details(body)
    assert key in found, found
    assert any(fragment in reason for reason in found[key]), found[key]


def test_batch_is_all_or_nothing_and_indexes_each_event() -> None:
    found = details([INITIATED, base("call.started"), base("call.ended", at="bad")])
    assert list(found) == ["events[2].at"]


def test_batch_size_limits() -> None:
    assert "events" in details([])
    assert "events" in details([INITIATED] * (MAX_BATCH + 1))
    assert len(parse_batch([INITIATED] * MAX_BATCH)) == MAX_BATCH
