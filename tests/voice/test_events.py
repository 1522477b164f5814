"""Validating status events: what each field accepts and rejects, and batch rules."""

from __future__ import annotations

from typing import Any

import pytest

from calltrail.kernel.errors import InvalidRequest
from calltrail.voice.events import MAX_BATCH, command_id, parse_batch

CALL = "4fc2edf7-68f5-437a-89eb-3ce0095409d6"
CHANNEL = "a739d30b-8171-471c-9df4-591d4dd7bee5"


def ev(**fields: Any) -> dict[str, Any]:
    return {"id": "e-1", "callId": CALL, "status": "ringing", "at": "2023-10-26T15:26:47.77Z"} | fields


def problems(body: object) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as caught:
        parse_batch(body, CHANNEL)
    return caught.value.details


def test_a_minimal_event() -> None:
    (event,) = parse_batch(ev(), CHANNEL)
    assert (event.id, event.call_id, event.status, event.at_ms, dict(event.data)) == (
        "e-1",
        CALL,
        "ringing",
        1698334007770,
        {},
    )


def test_call_ids_are_read_case_insensitively() -> None:
    (event,) = parse_batch(ev(callId=CALL.upper()), CHANNEL)
    assert event.call_id == CALL


@pytest.mark.parametrize(
    "status",
    [
        "accepted",
        "scheduled",
        "starting",
        "ringing",
        "ongoing",
        "completed",
        "no-answer",
        "busy",
        "failed",
        "cancelled",
    ],
)
def test_every_bird_status_is_accepted(status: str) -> None:
    assert parse_batch(ev(status=status), CHANNEL)[0].status == status


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"id": ""}, "events[0].id"),
        ({"id": 5}, "events[0].id"),
        ({"id": "x" * 256}, "events[0].id"),
        ({"callId": "call-1"}, "events[0].callId"),
        ({"callId": None}, "events[0].callId"),
        ({"status": "queued"}, "events[0].status"),
        ({"status": "canceled"}, "events[0].status"),
        ({"at": "yesterday"}, "events[0].at"),
        ({"at": "2023-10-26T15:26:47"}, "events[0].at"),
        ({"at": True}, "events[0].at"),
        ({"channelId": "db53c357-92e3-4f3d-babe-159573940a50"}, "events[0].channelId"),
        ({"channelId": "nope"}, "events[0].channelId"),
    ],
)
def test_common_fields_are_checked(fields: dict[str, Any], key: str) -> None:
    assert key in problems(ev(**fields))


@pytest.mark.parametrize("missing", ["id", "callId", "status", "at"])
def test_common_fields_are_required(missing: str) -> None:
    raw = ev()
    del raw[missing]
    assert f"events[0].{missing}" in problems(raw)


def test_a_matching_channel_id_is_allowed() -> None:
    assert parse_batch(ev(channelId=CHANNEL.upper()), CHANNEL)


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("direction", "incoming", "inbound"),
        ("type", "webrtc", "whatsapp"),
        ("from", "+351910648518", 351910648518),
        ("to", "client:abc", "x" * 256),
        ("parentId", "41bd96c0-1fbc-4ef7-b7bf-7571015b0380", "41bd96c0"),
        ("reason", "number unallocated", ["no"]),
        ("duration", 7, -1),
        ("duration", 0, 7.5),
        ("duration", 3, True),
        ("hangupCauseCode", 16, "16"),
        ("hangupSource", "media-timeout", "phone"),
        ("hangupSipCode", "480", 480),
        ("sipType", "byoc", "trunk"),
        ("sipInsights", {"hangupSipCode": "200"}, {"hangupSipCode": 200}),
        ("qualityInsights", {"mos": "4.47"}, ["4.47"]),
        ("amdResult", {"result": "human"}, "human"),
        ("notification", {"url": "https://example.com/hook"}, {"url": "x", "secret": "y"}),
        ("notification", {"url": "https://example.com/hook"}, {"url": ""}),
        ("tags", ["vip"], ["a"] * 11),
        ("tags", ["vip"], [""]),
        ("scheduledFor", "2025-05-29T09:29:21.011Z", "tomorrow"),
        ("originator", {"number": {"type": "pstn", "number": "+1"}}, {"number": {"type": "fax"}}),
        ("originator", {"number": {"anonymous": True}}, {"number": {"anonymous": "yes"}}),
        ("receiver", {"contact": {"id": "c", "identifierKey": "k", "identifierValue": "v"}}, {"contact": {"x": "y"}}),
        ("receiver", {"number": {"countryIsoCode": "PT"}}, {"phone": {}}),
        ("callFlow", {"commands": [{"command": "say"}]}, {"commands": [{"status": "accepted"}]}),
        ("callFlow", {"id": "89d22003-4276-4a67-a9f6-102da61e44c9"}, {"id": "flow-1"}),
        (
            "callFlow",
            {"commands": [{"command": "say", "conditions": [{"variable": "keys", "operator": "eq", "value": "1"}]}]},
            {"commands": [{"command": "say", "conditions": [{"variable": 1}]}]},
        ),
    ],
)
def test_record_fields_accept_their_type_and_reject_others(field: str, good: Any, bad: Any) -> None:
    (event,) = parse_batch(ev(**{field: good}), CHANNEL)
    assert field in event.data
    details = problems(ev(**{field: bad}))
    assert all(key.startswith(f"events[0].{field}") for key in details), details


@pytest.mark.parametrize("derived", ["createdAt", "updatedAt", "ringingAt", "answeredAt", "endedAt"])
def test_derived_timestamps_cannot_be_sent(derived: str) -> None:
    assert "derived" in problems(ev(**{derived: "2023-10-26T15:26:47.77Z"}))[f"events[0].{derived}"][0]


def test_unknown_fields_and_nulls_are_rejected() -> None:
    assert problems(ev(colour="red")) == {"events[0].colour": ["is not a field of a status event"]}
    assert "null" in problems(ev(reason=None))["events[0].reason"][0]


def test_tags_are_lower_cased_and_deduplicated() -> None:
    (event,) = parse_batch(ev(tags=["VIP", "vip", "Sales"]), CHANNEL)
    assert event.data["tags"] == ["vip", "sales"]


def test_commands_get_ids_and_the_call_id() -> None:
    (event,) = parse_batch(
        ev(callFlow={"commands": [{"command": "say"}, {"command": "hangup", "id": CHANNEL}]}), CHANNEL
    )
    assert event.data["callFlow"]["commands"] == [
        {"id": command_id("e-1", 0), "callId": CALL, "command": "say"},
        {"id": CHANNEL, "callId": CALL, "command": "hangup"},
    ]
    assert command_id("e-1", 0) == command_id("e-1", 0) != command_id("e-2", 0)


def test_a_batch_is_all_or_nothing_and_names_every_bad_event() -> None:
    details = problems([ev(), ev(id="e-2", status="?"), "nope", ev(id="e-4", at=None)])
    assert set(details) == {"events[1].status", "events[2]", "events[3].at"}


def test_batch_size_limits() -> None:
    assert problems([]) == {"events": ["must contain at least one event"]}
    assert "at most" in problems([ev(id=str(i)) for i in range(MAX_BATCH + 1)])["events"][0]
    assert len(parse_batch([ev(id=str(i)) for i in range(MAX_BATCH)], CHANNEL)) == MAX_BATCH


def test_an_absurdly_large_number_of_seconds_is_out_of_range_not_a_crash() -> None:
    assert "outside" in problems(ev(at=1e308))["events[0].at"][0]
