"""CSV (RFC 4180, UTF-8, a header row): one row per record with its scalar fields."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

#: Rows encoded per chunk: large enough to amortise the writer, small enough to stream.
ROWS_PER_CHUNK = 500


def cell(value: Any) -> str:
    """A field as a CSV cell: absent is empty, booleans are ``true``/``false`` as in the JSON."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


class CSV:
    """Comma-separated values with CRLF line ends and quoting where a cell needs it."""

    extension = "csv"
    media_type = "text/csv; charset=utf-8"

    def encode(self, records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[bytes]:
        """The header row, then each record's ``columns`` (nested objects are left to NDJSON)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        for rows, record in enumerate(records, start=1):
            writer.writerow([cell(record.get(column)) for column in columns])
            if rows % ROWS_PER_CHUNK == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()

    def header(self, columns: Sequence[str]) -> bytes:
        """The header row: the column names."""
        return self.page([{column: column for column in columns}], columns)

    def page(self, records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
        """Some records' rows, without the header."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerows([cell(record.get(column)) for column in columns] for record in records)
        return buffer.getvalue().encode()
