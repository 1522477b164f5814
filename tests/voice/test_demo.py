"""The telephony demo generator: valid, deterministic, realistic and complete."""

from __future__ import annotations

import collections
from typing import Any

import pytest

from calltrail.kernel.instants import parse_rfc3339 as ms
from calltrail.voice.demo import LIVE_STATUSES, OUTCOMES, generate_calls
from calltrail.voice.events import parse_batch
from calltrail.voice.fold import fold
from calltrail.voice.vocabulary import STATUSES, TERMINAL_STATUSES

CHANNEL = "a739d30b-8171-471c-9df4-591d4dd7bee5"
OTHER = "db53c357-92e3-4f3d-babe-159573940a50"


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    folded = []
    for events in generate_calls(CHANNEL, count=3000, seed=7):
        parsed = parse_batch(events, CHANNEL)  # every event passes the API's own validation
        assert len({event.call_id for event in parsed}) == 1
        record = fold(parsed[0].call_id, CHANNEL, parsed)
        assert record is not None
        folded.append(record)
    return folded


def test_count_is_exact_and_ids_are_unique(records: list[dict[str, Any]]) -> None:
    assert len(records) == 3000 == len({r["id"] for r in records})
    for count in (1, 2, 5, 7, 11):
        assert len(list(generate_calls(CHANNEL, count=count))) == count


def test_deterministic_per_seed_and_channel() -> None:
    first = list(generate_calls(CHANNEL, count=300, seed=3))
    assert first == list(generate_calls(CHANNEL, count=300, seed=3))
    assert first != list(generate_calls(CHANNEL, count=300, seed=4))
    ids = {events[0]["callId"] for events in first}
    assert ids.isdisjoint(events[0]["callId"] for events in generate_calls(OTHER, count=300, seed=3))


def test_every_status_type_and_direction_occurs(records: list[dict[str, Any]]) -> None:
    assert {r["status"] for r in records} == set(STATUSES)
    assert {(r["type"], r["direction"]) for r in records} == {
        (t, d) for t in ("pstn", "sip", "webrtc") for d in ("incoming", "outgoing")
    }
    # The newest calls are the live ones.
    tail = [r["status"] for r in records[-len(LIVE_STATUSES) :]]
    assert set(tail) <= set(LIVE_STATUSES)


def test_hangup_details_fit_the_outcome(records: list[dict[str, Any]]) -> None:
    for record in records:
        status = record["status"]
        if status not in TERMINAL_STATUSES:
            assert "endedAt" not in record and "hangupCauseCode" not in record
            continue
        code = record["sipInsights"]["hangupSipCode"]
        if status == "failed":
            assert record["hangupCauseCode"] in (1, 34, 38, 41, 127) and code[0] in "45" and record["reason"]
        else:
            assert (record["hangupCauseCode"], code) == OUTCOMES[status][1:]
        answered = status == "completed"
        assert (record["qualityInsights"]["mos"] != "0.00") == answered
        assert (record["duration"] > 0) == answered
        assert ms(record["createdAt"]) <= ms(record["endedAt"]) < ms(record["updatedAt"])


def test_realistic_extras_occur(records: list[dict[str, Any]]) -> None:
    counts = collections.Counter(key for r in records for key in r)
    for key in ("callFlow", "tags", "parentId", "amdResult", "notification", "sipType", "scheduledFor"):
        assert counts[key] > 0, key
    # Some no-answer calls were answered by an IVR, as in spec file 004.
    assert any(r["status"] == "no-answer" and "answeredAt" in r for r in records)
    by_id = {r["id"]: r for r in records}
    for leg in (r for r in records if "parentId" in r):
        parent = by_id[leg["parentId"]]
        assert parent["direction"] == "incoming" and leg["direction"] == "outgoing"
        assert ms(parent["createdAt"]) < ms(leg["createdAt"]) and ms(leg["endedAt"]) <= ms(parent["endedAt"])
        assert ms(leg["answeredAt"]) < ms(leg["endedAt"])
        assert "bridge" in [c["command"] for c in parent["callFlow"]["commands"]]
