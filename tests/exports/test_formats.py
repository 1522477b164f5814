"""Export formats: exact bytes, RFC 4180 quoting, and chunked streaming."""

from __future__ import annotations

import csv
import io

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _writer(table: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(table)
    return buffer.getvalue()


# Cells drawn mostly from the characters CSV treats specially, so both paths get exercised.
_CELLS = st.text(alphabet=st.sampled_from(list(',"\r\n\\ ab\x00é\u2028')), max_size=6) | st.text(max_size=8)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda width: st.lists(st.lists(_CELLS, min_size=width, max_size=width))))
def test_csv_rows_are_the_writers_bytes(table: list[list[str]]) -> None:
    names = [f"c{index}" for index in range(len(table[0]) if table else 1)]
    records = [dict(zip(names, row, strict=True)) for row in table]
    assert FORMATS["csv"].page(records, names) == _writer(table).encode()
    assert csv_format.rows_text(table) == _writer(table)


_VALUES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5) | _CELLS


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_VALUES, min_size=3, max_size=3), min_size=1) | st.lists(st.just([1.5, None, True])))
def test_csv_columns_are_cells(values: list[list[object]]) -> None:
    """Converting a page column by column gives each cell as :func:`cell` does, whatever mix of
    types a column holds."""
    records = [dict(zip("abc", row, strict=True)) for row in values]
    expected = [[csv_format.cell(record.get(name)) for name in "abcd"] for record in records]
    assert FORMATS["csv"].page(records, "abcd") == _writer(expected).encode()
