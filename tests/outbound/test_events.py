"""Which change raises which event."""

from __future__ import annotations

from typing import Any

import orjson

from calltrail.outbound.events import (
    CALL_ENDED,
    CALL_MISSED,
    CALL_UPDATED,
    RECORDING_READY,
    VOICE_CALL_ENDED,
    Raised,
    body,
    session_events,
    voice_events,
    wanted,
)

RECORDING = {"rid": "r1", "duration": 1, "startTime": 1, "endTime": 61, "recording_url": "https://x/r1.mp4"}


def record(status: str = "ended", **fields: Any) -> dict[str, Any]:
    return {"sessionId": "s1", "status": status, "initiator": "ann", "receiver": "ben", **fields}


def types(raised: list[Raised]) -> list[str]:
    return [event.type for event in raised]


def test_a_call_reaching_a_final_status_for_the_first_time_ends() -> None:
    for status in ("ended", "unanswered", "rejected", "busy", "cancelled"):
        assert types(session_events(None, record(status))) == [CALL_ENDED]
        assert types(session_events(record("ongoing"), record(status))) == [CALL_ENDED]
    assert session_events(None, record("ongoing")) == []
    assert session_events(record("initiated"), record("ongoing")) == []
    assert session_events(None, record())[0].data == record()


def test_an_ended_call_that_changes_is_updated_once_per_change() -> None:
    assert types(session_events(record("unanswered"), record("ended"))) == [CALL_UPDATED]
    assert types(session_events(record(tags=[]), record(tags=["x"]))) == [CALL_UPDATED]
    assert session_events(record(), record()) == []


def test_each_user_who_newly_missed_the_call_raises_missed() -> None:
    raised = session_events(None, record("unanswered"), missed_after=["ben", "cat"])
    assert types(raised) == [CALL_ENDED, CALL_MISSED, CALL_MISSED]
    assert raised[1].data == {"uid": "ben", "call": record("unanswered")}
    again = session_events(record("unanswered"), record("unanswered", x=1), {"ben"}, ["ben", "cat"])
    assert [(e.type, e.data.get("uid")) for e in again] == [(CALL_UPDATED, None), (CALL_MISSED, "cat")]


def test_each_new_recording_is_ready_once() -> None:
    with_one = record(recordings=[RECORDING])
    raised = session_events(record(), with_one)
    assert types(raised) == [CALL_UPDATED, RECORDING_READY]
    assert raised[1].data == {"sessionId": "s1", "recording": RECORDING}
    assert types(session_events(with_one, record(recordings=[RECORDING, {**RECORDING, "rid": "r2"}]))) == [
        CALL_UPDATED,
        RECORDING_READY,
    ]
    # a recording of a call still going on is ready too
    assert types(session_events(None, record("ongoing", recordings=[RECORDING]))) == [RECORDING_READY]


def test_a_phone_call_ends_once() -> None:
    assert types(voice_events(None, {"status": "completed"})) == [VOICE_CALL_ENDED]
    assert types(voice_events({"status": "ongoing"}, {"status": "no-answer"})) == [VOICE_CALL_ENDED]
    assert voice_events({"status": "completed"}, {"status": "completed", "x": 1}) == []
    assert voice_events(None, {"status": "ringing"}) == []


def test_subscriptions_and_bodies() -> None:
    assert wanted(("*",), CALL_MISSED) and wanted((CALL_MISSED,), CALL_MISSED)
    assert not wanted((CALL_ENDED,), CALL_MISSED)
    sent = orjson.loads(body(Raised(CALL_ENDED, {"a": 1}), 1_700_000_000_250))
    assert sent == {"type": CALL_ENDED, "timestamp": "2023-11-14T22:13:20.25Z", "data": {"a": 1}}
