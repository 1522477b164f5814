"""Record formats, import validation and the record-to-row mapping."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from calltrail.kernel.errors import InvalidRequest
from calltrail.sessions.record import (
    hhmmss,
    merge_record,
    minutes,
    record_json,
    row_from_record,
    split_record,
    validate_record,
)
from tests.sessions.spec_calls import spec_get_response, spec_list_response


def test_minutes_and_hhmmss() -> None:
    assert minutes(0) == 0 and isinstance(minutes(0), int)
    assert minutes(19000) == 0.31666666666666665
    assert hhmmss(19000) == "00:00:19"
    assert hhmmss(19499) == "00:00:19" and hhmmss(19500) == "00:00:20"
    assert hhmmss(3600 * 1000 * 2 + 61000) == "02:01:01"


def test_split_and_merge_round_trip() -> None:
    record = spec_get_response()["data"]
    summary, extra = split_record(record)
    assert "metaData" not in orjson.loads(summary) and orjson.loads(extra or b"{}") == {"metaData": [], "tags": []}
    assert merge_record(summary, extra) == record


def test_record_json_splices_the_parts_as_merge_record_then_orjson_would() -> None:
    records = [*spec_list_response()["data"], spec_get_response()["data"]]
    records += [{**record, "metaData": {"é": [1.5, None]}, "tags": ["a"]} for record in records]
    for record in records:
        summary, extra = split_record(record)
        assert record_json(summary, extra) == orjson.dumps(merge_record(summary, extra))
    assert record_json(b'{"a":1}', b"{}") == b'{"a":1}' and record_json(b"{}", b'{"b":2}') == b'{"b":2}'


def test_spec_records_validate_unchanged() -> None:
    for record in spec_list_response()["data"]:
        assert validate_record(record) == record
    wrapped = spec_get_response()
    assert validate_record(wrapped) == wrapped["data"]


def test_session_id_comes_from_the_url_and_must_match() -> None:
    record = {k: v for k, v in spec_get_response()["data"].items() if k != "sessionId"}
    assert validate_record(record, "abc")["sessionId"] == "abc"
    with pytest.raises(InvalidRequest) as info:
        validate_record({**record, "sessionId": "other"}, "abc")
    assert "sessionId" in info.value.details


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"initiator": None}, "initiator"),
        ({"status": "exploded"}, "status"),
        ({"type": "fax"}, "type"),
        ({"initiatedAt": "yesterday"}, "initiatedAt"),
        ({"initiatedAt": -1}, "initiatedAt"),
        ({"totalAudioMinutes": "1"}, "totalAudioMinutes"),
        ({"hasRecording": "yes"}, "hasRecording"),
        ({"participants": {}}, "participants"),
        ({"participants": [{"isJoined": True}]}, "participants[0].uid"),
        ({"participants": [{"uid": "a", "state": "sleeping"}]}, "participants[0].state"),
        ({"recordings": [{"duration": 1}]}, "recordings[0].rid"),
        ({"tags": "x"}, "tags"),
        ({"mode": "party"}, "mode"),
    ],
)
def test_invalid_records_name_the_field(change: dict[str, Any], key: str) -> None:
    record = {**spec_get_response()["data"], **change}
    record = {k: v for k, v in record.items() if v is not None}
    with pytest.raises(InvalidRequest) as info:
        validate_record(record)
    assert key in info.value.details, info.value.details


def test_not_an_object() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_record([1, 2])
    assert "body" in info.value.details


def test_row_columns_equal_what_the_record_shows() -> None:
    record = spec_list_response()["data"][0]
    row = row_from_record(record, "import")
    assert (row.session_id, row.initiated_at, row.status, row.type, row.mode) == (
        record["sessionId"],
        1692368168,
        "ended",
        "audio",
        "call",
    )
    assert (row.receiver_type, row.started_at, row.ended_at) == ("group", 1692368180, 1692368199)
    assert row.duration == record["totalDurationInMinutes"] and row.audio_minutes == record["totalAudioMinutes"]
    assert (row.total_participants, row.participants_count, row.has_recording) == (2, 5, False)
    members = {m.uid: m for m in row.members}
    assert set(members) == {"superhero8", "superhero2", "superhero4", "superhero7", "superhero6"}
    assert members["superhero8"].is_initiator and not members["superhero8"].missed
    assert members["superhero4"].missed and not members["superhero2"].missed


def test_row_normalises_aliases_but_keeps_the_record_as_sent() -> None:
    record = validate_record(
        {
            "sessionId": "s",
            "initiator": "a",
            "receiver": "b",
            "receiverType": "user",
            "type": "voice",
            "status": "canceled",
            "initiatedAt": 5,
        }
    )
    row = row_from_record(record, "import")
    assert (row.type, row.status, row.mode) == ("audio", "cancelled", "call")
    assert orjson.loads(row.summary)["type"] == "voice"
    members = {m.uid: m for m in row.members}
    assert members["b"].missed and not members["a"].missed  # a cancelled call the receiver never joined
