"""Export formats: exact bytes, RFC 4180 quoting, and chunked streaming."""

from __future__ import annotations

import csv
import io

import orjson

from calltrail.exports import csv as csv_format
from calltrail.exports.registry import FORMATS

RECORDS = [
    {"sessionId": "a", "status": "ended", "hasRecording": True, "participants": [{"uid": "x"}]},
    {"sessionId": 'b,"c"', "status": "busy", "hasRecording": False, "note": "line\nbreak"},
]


def test_ndjson_is_one_record_per_line_exactly() -> None:
    body = b"".join(FORMATS["ndjson"].encode(RECORDS, ["sessionId"]))
    assert [orjson.loads(line) for line in body.splitlines()] == RECORDS
    assert body.endswith(b"\n") and body.count(b"\n") == 2


def test_csv_has_a_header_quotes_what_it_must_and_round_trips() -> None:
    body = b"".join(FORMATS["csv"].encode(RECORDS, ["sessionId", "status", "hasRecording", "note", "missing"]))
    assert body.startswith(b"sessionId,status,hasRecording,note,missing\r\n")
    assert b'"b,""c"""' in body
    rows = list(csv.reader(io.StringIO(body.decode(), newline="")))
    assert rows[1] == ["a", "ended", "true", "", ""]
    assert rows[2] == ['b,"c"', "busy", "false", "line\nbreak", ""]


def test_csv_streams_in_chunks() -> None:
    many = [{"sessionId": str(index)} for index in range(csv_format.ROWS_PER_CHUNK * 2 + 1)]
    chunks = list(FORMATS["csv"].encode(many, ["sessionId"]))
    assert len(chunks) == 3
    assert b"".join(chunks).count(b"\r\n") == len(many) + 1
