"""The demo generator: deterministic, realistic, valid."""

from __future__ import annotations

from collections import Counter
from typing import Any

from calltrail.sessions.demo import build_world, generate_calls
from calltrail.sessions.events import parse_batch
from calltrail.sessions.fold import derive_record


def _calls(count: int, seed: int = 1) -> list[list[dict[str, Any]]]:
    return list(generate_calls(build_world(seed), app_id="demo", count=count, seed=seed))


def test_same_seed_same_events_and_different_seed_different_events() -> None:
    assert _calls(50) == _calls(50)
    assert _calls(50, seed=2) != _calls(50)


def test_events_are_valid_and_cover_every_kind_of_call() -> None:
    calls = _calls(1500)
    records = []
    event_ids: set[str] = set()
    for events in calls:
        parsed = parse_batch(events)  # raises if the generator emits anything invalid
        event_ids.update(e.id for e in parsed)
        record = derive_record(parsed[0].session_id, parsed)
        assert record is not None
        records.append(record)
    assert len(event_ids) == sum(len(events) for events in calls)  # ids unique
    statuses = Counter(r["status"] for r in records)
    assert set(statuses) >= {"ended", "unanswered", "rejected", "busy", "cancelled", "ongoing"}
    assert {r["receiverType"] for r in records} == {"user", "group"}
    assert {r["type"] for r in records} == {"audio", "video"}
    assert {r["mode"] for r in records} == {"call", "meet", "presenter"}
    assert any(r["hasRecording"] for r in records)
    assert any(r["totalAudioMinutes"] and r["totalVideoMinutes"] for r in records)  # switched media
    assert any(
        len({p["deviceId"] for p in r["participants"] if p["uid"] == r["initiator"] and p["isJoined"]}) > 1
        for r in records
    )  # multi-device
    assert any(p["state"] == "rejected" for r in records for p in r["participants"])
    assert len({r["initiator"] for r in records}) > 200
    times = [r["initiatedAt"] for r in records]
    assert times == sorted(times) and times[-1] - times[0] > 150 * 86400


def test_newest_calls_are_still_ringing_or_live() -> None:
    statuses = []
    for events in _calls(1000)[-3:]:
        parsed = parse_batch(events)
        record = derive_record(parsed[0].session_id, parsed)
        assert record is not None
        statuses.append(record["status"])
    assert statuses[1:] == ["ongoing", "initiated"] and statuses[0] != "initiated"
