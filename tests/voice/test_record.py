"""Whole records sent with PUT: validation, defaults, and the row that indexes a record."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from calltrail.kernel.errors import InvalidRequest
from calltrail.voice.fields import RECORD_FIELDS
from calltrail.voice.record import row_from_record, validate_record
from tests.voice.spec004 import example, example_calls

CALL = "4fc2edf7-68f5-437a-89eb-3ce0095409d6"
CHANNEL = "a739d30b-8171-471c-9df4-591d4dd7bee5"


def spec_call() -> dict[str, Any]:
    return copy.deepcopy(example("example1")["results"][0])


def problems(body: object, call: str = CALL, channel: str = CHANNEL) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as caught:
        validate_record(body, call_id=call, channel_id=channel)
    return caught.value.details


@pytest.mark.parametrize("record", [*example_calls(), *example("schema_example")["results"]], ids=lambda r: r["id"][:8])
def test_every_spec_record_is_valid_and_kept_as_sent(record: dict[str, Any]) -> None:
    kept = validate_record(copy.deepcopy(record), call_id=record["id"], channel_id=record["channelId"])
    assert orjson.dumps(kept) == orjson.dumps(record)


def test_the_schema_example_uses_every_field() -> None:
    assert set(example("schema_example")["results"][0]) == set(RECORD_FIELDS)


def test_id_and_channel_default_to_the_url_and_come_first() -> None:
    body = spec_call()
    del body["id"], body["channelId"]
    kept = validate_record(body, call_id=CALL, channel_id=CHANNEL)
    assert list(kept)[:2] == ["id", "channelId"] and (kept["id"], kept["channelId"]) == (CALL, CHANNEL)


def test_id_and_channel_must_match_the_url_in_any_case() -> None:
    body = spec_call() | {"id": CALL.upper()}
    assert validate_record(body, call_id=CALL, channel_id=CHANNEL)["id"] == CALL.upper()
    assert problems(spec_call(), call="85d18e36-a741-46eb-baa7-525e576abbc8") == {
        "id": ["must equal the callId in the URL"]
    }
    assert problems(spec_call(), channel="db53c357-92e3-4f3d-babe-159573940a50") == {
        "channelId": ["must equal the channelId in the URL"]
    }


@pytest.mark.parametrize(
    "required", ["from", "to", "originator", "direction", "status", "type", "createdAt", "updatedAt"]
)
def test_required_fields(required: str) -> None:
    body = spec_call()
    del body[required]
    assert problems(body) == {required: ["is required"]}


def test_receiver_is_optional() -> None:
    body = spec_call()
    del body["receiver"]
    assert "receiver" not in validate_record(body, call_id=CALL, channel_id=CHANNEL)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("status", "queued"),
        ("type", "voice"),
        ("direction", "in"),
        ("duration", -1),
        ("duration", "6"),
        ("hangupCauseCode", 1.5),
        ("createdAt", "2023-10-26"),
        ("endedAt", 1698334007),
        ("parentId", "parent"),
        ("sipType", "sip"),
        ("tags", "vip"),
        ("qualityInsights", {"mos": 4.47}),
        ("callFlow", {"commands": "say"}),
        ("amdResult", {"result": None}),
    ],
)
def test_bad_values_are_named(field: str, bad: Any) -> None:
    details = problems(spec_call() | {field: bad})
    assert details and all(key.startswith(field) for key in details), details


def test_nested_paths_are_named() -> None:
    body = spec_call()
    body["originator"]["number"]["type"] = "fax"
    body["receiver"]["number"]["colour"] = "blue"
    details = problems(body)
    assert set(details) == {"originator.number.type", "receiver.number.colour"}


def test_unknown_fields_and_nulls_are_rejected_except_a_null_hangup_source() -> None:
    assert problems(spec_call() | {"colour": "blue"}) == {"colour": ["is not a field of a call record"]}
    assert "null" in problems(spec_call() | {"reason": None})["reason"][0]
    assert (
        validate_record(spec_call() | {"hangupSource": None}, call_id=CALL, channel_id=CHANNEL)["hangupSource"] is None
    )


def test_updated_must_not_precede_created() -> None:
    assert problems(spec_call() | {"updatedAt": "2023-10-26T15:26:46.542Z"}) == {
        "updatedAt": ["must not be before createdAt"]
    }


def test_body_must_be_an_object() -> None:
    assert problems([spec_call()]) == {"body": ["must be a JSON object (a call record)"]}


def test_every_problem_is_reported_at_once() -> None:
    assert set(problems({"status": "x", "type": "y"})) >= {"status", "type", "from", "to", "createdAt"}


def test_row_columns_equal_what_the_record_shows() -> None:
    record = spec_call() | {"tags": ["VIP", "vip", "Sales"]}
    row = row_from_record(record, "import")
    assert (row.call_id, row.channel_id, row.source) == (CALL, CHANNEL, "import")
    assert (row.created_at, row.status, row.type, row.direction) == (1698334006543, "completed", "webrtc", "incoming")
    assert (row.call_from, row.call_to, row.duration) == (record["from"], "351927549927", 6)
    assert row.tags == ("sales", "vip")
    assert orjson.loads(row.body) == record


def test_row_of_a_live_call_has_no_duration_and_ids_are_lower_cased() -> None:
    record = spec_call() | {"id": CALL.upper()}
    del record["duration"]
    row = row_from_record(record, "events")
    assert row.duration is None and row.call_id == CALL
