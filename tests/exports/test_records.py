"""A CSV row of a call decodes its record without the participant entries and recordings: every
other field must come out exactly as decoding the whole record gives it."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from calltrail.exports.records import CALL_COLUMNS, call_scalars, encode_page, without_list
from calltrail.exports.registry import FORMATS

LISTS = ("participants", "recordings")
PARTICIPANTS = b',"participants":['

# Pieces that could fool a byte search: the marker itself, brackets, quotes, backslashes.
_TRICKY = st.lists(
    st.sampled_from([',"participants":[', ',"recordings":[', "]", "[", "}", "{", '"', "\\", ",", ":", "a", "é"]),
    max_size=5,
).map("".join)
_TEXT = _TRICKY | st.text(max_size=6)
_KEYS = st.sampled_from([*LISTS, "sessionId", "mid", "status", "hasRecording"]) | _TEXT
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_VALUES = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3), max_leaves=10
)


def _same_scalars(record: dict[str, Any], decoded: dict[str, Any]) -> None:
    assert set(record) - set(LISTS) <= set(decoded) <= set(record)
    for key, value in decoded.items():
        assert value == record[key], key


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_any_record_keeps_every_other_field(record: dict[str, Any]) -> None:
    _same_scalars(record, call_scalars(orjson.dumps(record)))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["sessionId", "mid", "status", "x"]), _SCALARS, max_size=4),
    st.lists(st.dictionaries(st.sampled_from(["uid", "deviceId", "state"]), _TEXT, max_size=3), max_size=3),
    st.dictionaries(st.sampled_from(["endedAt", "hasRecording", "y"]), _SCALARS, max_size=3),
)
def test_a_flat_record_with_scalars_after_its_participants(
    before: dict[str, Any], participants: list[dict[str, Any]], after: dict[str, Any]
) -> None:
    """Fields after the participants (an imported record's order) are kept too."""
    record = {"sessionId": "s", **before, "participants": participants, **after}
    document = orjson.dumps(record)
    _same_scalars(record, call_scalars(document))
    head = orjson.dumps({"sessionId": "s", **before})[1:]
    entries = orjson.dumps(participants)[1:-1]
    if not any(mark in head for mark in b"[{") and not any(mark in entries for mark in b"[]\\"):
        assert b'"participants"' not in without_list(document, PARTICIPANTS)  # the fast way was taken


def test_records_the_byte_search_must_leave_whole() -> None:
    cases: list[dict[str, Any]] = [
        # participants first: no comma before the key
        {"participants": [{"uid": "a"}], "sessionId": "s", "mid": "m"},
        # a nested "participants" list comes first
        {"sessionId": "s", "custom": {"x": 1, "participants": [1]}, "participants": [{"uid": "b"}], "mid": "m"},
        # a bracket, a quote or a backslash inside the entries
        {"sessionId": "s", "participants": [{"uid": "a]b"}], "mid": "m"},
        {"sessionId": "s", "participants": [{"uid": 'a"],"mid":"x'}], "mid": "m"},
        {"sessionId": "s", "participants": [{"uid": "a\\"}], "mid": "m"},
        {"sessionId": "s", "participants": [{"uid": "a", "tags": ["t"]}], "mid": "m"},
        # the marker inside a string before the list
        {"sessionId": 's,"participants":[', "participants": [], "mid": "m"},
        {"sessionId": "s", "participants": "not a list", "mid": "m"},
    ]
    for record in cases:
        _same_scalars(record, call_scalars(orjson.dumps(record)))


def test_a_call_page_as_csv_is_the_whole_records_cells() -> None:
    records = [
        {
            "sessionId": f"s{index}",
            "status": "ended",
            "mid": 'a,"b"' if index % 2 else "m",
            "participants": [{"uid": "u", "totalAudioMinutes": 1.5}],
            "hasRecording": bool(index % 3),
            "recordings": [{"rid": "r"}],
            "endedAt": 1_700_000_000 + index,
        }
        for index in range(5)
    ]
    documents = [orjson.dumps(record) for record in records]
    assert encode_page("csv", "calls", documents) == FORMATS["csv"].page(records, CALL_COLUMNS)
    assert encode_page("ndjson", "calls", documents) == b"".join(document + b"\n" for document in documents)
