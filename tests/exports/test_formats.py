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


# Values as a record's column may hold them: JSON scalars of every kind (floats of every
# magnitude, where orjson's text and Python's str differ below 1e-4), text CSV must quote or JSON
# must escape, and nested values.
_COLUMN_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e-05, 1.5e-07, -2.5e-05, 0.0001, 1e16, 5e-324, 0.0, -0.0, 0])
    | _CELLS
    | st.text(max_size=5)
    | st.sampled_from(["null", "true", "[x]", "{y}", "0.00001", "e-5,", "a]"])
    | st.lists(st.integers(-9, 9), max_size=2)
    | st.dictionaries(st.text(max_size=2), st.integers(-9, 9), max_size=2)
)


def _cells(table: list[list[object]]) -> bytes:
    return _writer([[csv_format.cell(value) for value in row] for row in table]).encode()


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5).flatmap(lambda width: st.lists(st.lists(_COLUMN_VALUES, min_size=width, max_size=width))))
def test_value_arrays_are_the_writers_bytes(table: list[list[object]]) -> None:
    """Value arrays (compact JSON, as the database and orjson write them) become the bytes the
    writer gives for each value's :func:`cell`, whether a page is plain or not."""
    width = len(table[0]) if table else 2
    arrays = [orjson.dumps(row) for row in table]
    assert csv_format.values_page(arrays, width, orjson.loads) == _cells(table)


def test_a_page_of_plain_values_is_written_without_decoding() -> None:
    table: list[list[object]] = [
        [f"v1.us.app.{index}", "ended", None, 1_770_000_000 + index, 3.1677333333333335, 0, True, "é-e-5"]
        for index in range(100)
    ]
    table[7][2] = "x"
    arrays = [orjson.dumps(row) for row in table]
    assert csv_format.plain_page(arrays, 8) == _cells(table)

    def never(array: bytes) -> list[object]:
        raise AssertionError("a plain page needs no decoding")

    assert csv_format.values_page(arrays, 8, never) == _cells(table)


def test_documents_among_value_arrays_are_decoded() -> None:
    """A database that cannot read a record gives the document back: that row is decoded."""
    columns = ("a", "b")
    records: list[dict[str, object]] = [{"a": "x", "b": 1}, {"b": "nul\u0000", "a": 'q"'}, {"a": None}]
    texts = [orjson.dumps(["x", 1]), orjson.dumps(records[1]), orjson.dumps([None, None])]

    def decode(text: bytes) -> list[object]:
        found = orjson.loads(text)
        return found if isinstance(found, list) else [found.get(name) for name in columns]

    expected = _cells([[record.get(name) for name in columns] for record in records])
    assert csv_format.values_page(texts, 2, decode) == expected
