"""Deriving call records from lifecycle events: spec examples, rules, order independence."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calltrail.sessions.events import parse_batch
from calltrail.sessions.fold import MediaTimeline, derive_record, meeting_id
from tests.sessions.spec_calls import (
    DIRECT_SESSION,
    GROUP_SESSION,
    direct_call_events,
    group_call_events,
    spec_get_response,
    spec_list_response,
    without_mid,
)

S = "session-1"


def derive(raw: list[dict[str, Any]], session: str = S) -> dict[str, Any] | None:
    return derive_record(session, parse_batch(raw))


def event(kind: str, at: float, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": event_id or f"{kind}-{at}-{fields.get('uid', '')}-{fields.get('deviceId', '')}",
        "type": kind,
        "sessionId": S,
        "at": at,
        **fields,
    }


def initiated(at: float = 1000, **fields: Any) -> dict[str, Any]:
    base = {"initiator": "alice", "receiver": "bob", "receiverType": "user", "callType": "audio"}
    return event("call.initiated", at, "init", **(base | fields))


def list_shape(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("metaData", "tags")}


# -- the spec's acceptance examples --------------------------------------------------------------


def test_spec_000_group_call_is_derived_exactly() -> None:
    expected = spec_list_response()["data"][0]
    record = derive(group_call_events(), GROUP_SESSION)
    assert record is not None
    assert without_mid(list_shape(record)) == without_mid(expected)


def test_spec_000_direct_call_is_derived_exactly() -> None:
    expected = spec_list_response()["data"][1]
    record = derive(direct_call_events(), DIRECT_SESSION)
    assert record is not None
    assert without_mid(list_shape(record)) == without_mid(expected)


def test_spec_002_get_call_shape_includes_metadata_and_tags() -> None:
    expected = spec_get_response()["data"]
    record = derive(direct_call_events(), DIRECT_SESSION)
    assert record is not None
    assert record["metaData"] == [] and record["tags"] == []
    ordered = sorted(without_mid(record)["participants"], key=lambda p: p["uid"])
    assert {**without_mid(record), "participants": ordered} == {
        **without_mid(expected),
        "participants": sorted(without_mid(expected)["participants"], key=lambda p: p["uid"]),
    }


def test_mid_is_stable_and_shared_by_participants() -> None:
    record = derive(direct_call_events(), DIRECT_SESSION)
    assert record is not None
    assert record["mid"] == meeting_id(DIRECT_SESSION)
    assert {p["mid"] for p in record["participants"]} == {record["mid"]}


# -- order and duplicates ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=7))
def test_any_order_and_any_duplication_give_the_same_record(rng: random.Random, extra: int) -> None:
    raw = group_call_events() + direct_call_events()
    expected = {s: derive([e for e in raw if e["sessionId"] == s], s) for s in (GROUP_SESSION, DIRECT_SESSION)}
    shuffled = raw + [rng.choice(raw) for _ in range(extra)]
    rng.shuffle(shuffled)
    for session, record in expected.items():
        assert derive([e for e in shuffled if e["sessionId"] == session], session) == record


def test_no_record_until_call_initiated_arrives() -> None:
    raw = direct_call_events()
    assert derive(raw[1:], DIRECT_SESSION) is None
    assert derive(raw, DIRECT_SESSION) is not None


def test_first_of_two_initiated_events_wins_whatever_their_order() -> None:
    later = initiated(2000, callType="video") | {"id": "init-2"}
    a = derive([initiated(1000), later])
    b = derive([later, initiated(1000)])
    assert a == b and a is not None
    assert a["initiatedAt"] == 1000 and a["type"] == "audio"


# -- statuses ------------------------------------------------------------------------------------


def test_status_initiated_until_started() -> None:
    record = derive([initiated()])
    assert record is not None
    assert record["status"] == "initiated"
    assert "startedAt" not in record and "endedAt" not in record
    assert record["totalDuration"] == "00:00:00" and record["totalDurationInMinutes"] == 0


def test_first_join_starts_the_call_without_call_started() -> None:
    record = derive([initiated(), event("participant.joined", 1010, uid="alice")])
    assert record is not None
    assert record["status"] == "ongoing" and record["startedAt"] == 1010


def test_ended_after_call_ended() -> None:
    record = derive([initiated(), event("call.started", 1005), event("call.ended", 1065)])
    assert record is not None
    assert record["status"] == "ended" and record["endedAt"] == 1065
    assert record["totalDuration"] == "00:01:00" and record["totalDurationInMinutes"] == 1


def test_outcomes_of_calls_that_never_started() -> None:
    for kind, status in (
        ("call.rejected", "rejected"),
        ("call.busy", "busy"),
        ("call.cancelled", "cancelled"),
        ("call.unanswered", "unanswered"),
    ):
        record = derive([initiated(), event(kind, 1030)])
        assert record is not None
        assert record["status"] == status and record["endedAt"] == 1030
        assert "startedAt" not in record


def test_call_ended_with_nobody_joined_is_unanswered_unless_more_specific() -> None:
    plain = derive([initiated(), event("call.ended", 1040)])
    assert plain is not None and plain["status"] == "unanswered"
    busy = derive([initiated(), event("call.busy", 1003), event("call.ended", 1040)])
    assert busy is not None and busy["status"] == "busy" and busy["endedAt"] == 1003


def test_a_started_call_ignores_a_stray_outcome() -> None:
    record = derive(
        [initiated(), event("call.started", 1005), event("call.cancelled", 1001), event("call.ended", 1100)]
    )
    assert record is not None and record["status"] == "ended"


# -- participants --------------------------------------------------------------------------------


def test_rejecting_invitee_and_unanswered_invitee() -> None:
    record = derive(
        [
            initiated(receiver="team", receiverType="group", invitees=["bob", "carol", "dave"]),
            event("participant.rejected", 1002, uid="carol"),
            event("participant.joined", 1005, uid="alice"),
            event("participant.joined", 1006, uid="bob"),
            event("call.ended", 1065),
        ]
    )
    assert record is not None
    states = {(p["uid"], p["isJoined"], p["state"]) for p in record["participants"]}
    assert states == {
        ("alice", True, "ended"),
        ("bob", True, "ended"),
        ("carol", False, "rejected"),
        ("dave", False, "unanswered"),
    }
    for p in record["participants"]:
        if not p["isJoined"]:
            assert set(p) == {"uid", "totalAudioMinutes", "totalVideoMinutes", "isJoined", "state", "totalDuration"}
            assert p["totalDuration"] == 0
    assert record["totalParticipants"] == 2


def test_call_rejected_marks_the_receiver_of_a_direct_call() -> None:
    record = derive([initiated(), event("call.rejected", 1004)])
    assert record is not None
    assert record["participants"] == [
        {
            "uid": "bob",
            "totalAudioMinutes": 0,
            "totalVideoMinutes": 0,
            "isJoined": False,
            "state": "rejected",
            "totalDuration": 0,
        }
    ]


def test_each_device_is_a_participant_and_rejoins_are_paired() -> None:
    record = derive(
        [
            initiated(),
            event("call.started", 1000),
            event("participant.joined", 1000, uid="alice", deviceId="phone"),
            event("participant.left", 1030, uid="alice", deviceId="phone"),
            event("participant.joined", 1040, uid="alice", deviceId="phone"),
            event("participant.left", 1100, uid="alice", deviceId="phone"),
            event("participant.joined", 1010, uid="alice", deviceId="laptop"),
            event("participant.joined", 1001, uid="bob"),
            event("call.ended", 1120),
        ]
    )
    assert record is not None
    by_device = {p["deviceId"]: p for p in record["participants"]}
    assert by_device["phone"]["joinedAt"] == 1000 and by_device["phone"]["leftAt"] == 1100
    assert by_device["phone"]["totalAudioMinutes"] == 90 / 60
    # still connected when the call ended: leaves at endedAt
    assert by_device["laptop"]["leftAt"] == 1120 and by_device["laptop"]["totalDuration"] == 110 / 60
    assert by_device["bob"]["uid"] == "bob"  # deviceId defaults to the uid
    assert record["totalParticipants"] == 3
    assert [p["deviceId"] for p in record["participants"]] == ["phone", "bob", "laptop"]


def test_device_in_an_ongoing_call_has_no_left_at() -> None:
    record = derive([initiated(), event("participant.joined", 1000, uid="alice")])
    assert record is not None
    (alice,) = [p for p in record["participants"] if p["isJoined"]]
    assert alice["state"] == "ongoing" and "leftAt" not in alice and alice["totalDuration"] == 0


def test_late_leave_is_clamped_to_the_end_of_the_call() -> None:
    record = derive(
        [
            initiated(),
            event("participant.joined", 1000, uid="alice"),
            event("call.ended", 1060),
            event("participant.left", 1090, uid="alice"),
        ]
    )
    assert record is not None
    (alice,) = [p for p in record["participants"] if p["isJoined"]]
    assert alice["leftAt"] == 1060 and alice["totalDuration"] == 1


# -- media, minutes, recordings, updates ---------------------------------------------------------


def test_minutes_split_by_media_type_over_time() -> None:
    record = derive(
        [
            initiated(),
            event("call.started", 1000),
            event("participant.joined", 1000, uid="alice"),
            event("participant.joined", 1030, uid="bob"),
            event("call.type_changed", 1060, callType="video"),
            event("participant.left", 1090, uid="bob"),
            event("call.ended", 1120),
        ]
    )
    assert record is not None
    assert record["type"] == "video"
    assert (record["totalAudioMinutes"], record["totalVideoMinutes"]) == (1, 1)
    bob = next(p for p in record["participants"] if p["uid"] == "bob")
    assert (bob["totalAudioMinutes"], bob["totalVideoMinutes"]) == (0.5, 0.5)


def test_media_timeline_split() -> None:
    timeline = MediaTimeline("audio", [(10, "video"), (20, "audio")])
    assert timeline.split(0, 30) == (20, 10)
    assert timeline.split(12, 18) == (0, 6)
    assert timeline.split(25, 25) == (0, 0)
    assert timeline.final == "audio"


@pytest.mark.parametrize("initial", ["audio", "video"])
def test_media_timeline_without_changes_splits_as_the_loop_does(initial: str) -> None:
    # A timeline that never changes takes a shortcut; one with a change at its end (outside every
    # span below) still runs the loop, and both must agree.
    plain, looped = MediaTimeline(initial, []), MediaTimeline(initial, [(10**9, initial)])
    for start, end in ((0, 30), (5, 5), (30, 10), (-4, 7)):
        assert plain.split(start, end) == looped.split(start, end)
    assert plain.split(0, 30) == ((30, 0) if initial == "audio" else (0, 30))


@given(st.text(max_size=80))
def test_meeting_id_is_the_uuid5_of_the_session(session_id: str) -> None:
    assert meeting_id(session_id) == str(uuid.uuid5(uuid.UUID("6f0e2b1c-9d55-4b8e-a3c1-5a3f0d2c7e41"), session_id))


def test_fractional_times_keep_millisecond_minutes_and_round_duration() -> None:
    record = derive([initiated(1000.2), event("call.started", 1000.6), event("call.ended", 1019.4)])
    assert record is not None
    assert record["startedAt"] == 1000 and record["endedAt"] == 1019
    assert record["totalDurationInMinutes"] == 18800 / 60000
    assert record["totalDuration"] == "00:00:19"


def test_recordings_listed_once_per_rid_with_minutes() -> None:
    ready = {"rid": "r1", "startTime": 1000, "endTime": 1090, "recording_url": "https://x/r1.mp4"}
    record = derive(
        [
            initiated(),
            event("recording.ready", 1100, "rec-a", **ready),
            event("recording.ready", 1101, "rec-b", **(ready | {"recording_url": "https://x/r1-v2.mp4"})),
        ]
    )
    assert record is not None
    assert record["hasRecording"] is True
    assert record["recordings"] == [
        {"rid": "r1", "duration": 1.5, "startTime": 1000, "endTime": 1090, "recording_url": "https://x/r1-v2.mp4"}
    ]


def test_call_without_recordings_has_no_recordings_field() -> None:
    record = derive([initiated()])
    assert record is not None and "recordings" not in record and record["hasRecording"] is False


def test_latest_update_wins_per_field() -> None:
    record = derive(
        [
            initiated(metaData={"a": 1}, tags=["x"]),
            event("call.updated", 1200, "u2", tags=["z"]),
            event("call.updated", 1100, "u1", metaData={"b": 2}, tags=["y"]),
        ]
    )
    assert record is not None
    assert record["metaData"] == {"b": 2} and record["tags"] == ["z"]


def test_long_call_duration_format() -> None:
    record = derive([initiated(), event("call.started", 0 + 1000), event("call.ended", 1000 + 100 * 3600 + 61)])
    assert record is not None and record["totalDuration"] == "100:01:01"
